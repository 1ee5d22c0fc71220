"""Vision encoders: ViT, CLIP's (or SigLIP's) vision tower, any AutoModel with an image processor.

Images are read as RGB (see :mod:`workbench.media`); file headers
are checked before the first batch so a bad file fails fast, and decoding and
the image processor's resizing run in a background thread while the model
runs. The image processor makes every image the same size, so there is
nothing to bucket.

Pooling: ``cls`` is the first token. ``mean`` averages the patch tokens and
leaves out the leading non-patch tokens (CLS, distillation token, registers:
however many the sequence has beyond ``(image_size / patch_size)²``), as
timm's average pooling does. Convolutional models (ConvNeXt, ResNet) return
feature maps, which ``mean`` averages over space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.encoders.base import Batch, Encoder, Prepared
from workbench.media import MediaError, check_image, check_on_error, read_image, record_failure

__all__ = ["VisionEncoder"]


def _side(value: Any) -> int | None:
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    return int(value) if isinstance(value, (int, np.integer)) else None


class VisionEncoder(Encoder):
    """Every layer of a vision model for a column of images.

    Parameters
    ----------
    model, processor, **loading
        See :class:`~workbench.encoders.base.Encoder` (``device``, ``dtype``,
        ``revision``, ``trust_remote_code``, ``hub_kwargs``); ``processor`` is
        the image processor (or a processor holding one).
    on_error : {"raise", "skip"}, default "raise"
        An unreadable image raises an error naming the row and the path, or
        is skipped with a warning and listed in ``provenance["skipped"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> encoder = VisionEncoder("google/vit-base-patch16-224-in21k")  # doctest: +SKIP
    >>> encoder.encode(pd.DataFrame({"image": ["cat.jpg"]}), pooling="cls")[-1].shape  # doctest: +SKIP
    (1, 768)
    """

    modality = "image"

    def __init__(
        self,
        model: Any,
        processor: Any = None,
        *,
        on_error: str = "raise",
        **loading: Any,
    ) -> None:
        super().__init__(model, processor, **loading)
        self._options = {"on_error": check_on_error(on_error)}
        config = self.model.config
        image, patch = _side(getattr(config, "image_size", None)), _side(getattr(config, "patch_size", None))
        self.patches = (image // patch) ** 2 if image and patch else None

    @property
    def options(self) -> dict:
        return dict(self._options)

    def _mean_start(self, steps: int) -> int:
        return max(steps - self.patches, 0) if self.patches else 0

    def _describe(self) -> dict:
        return {"patches": self.patches} if self.patches else {}

    def _prepare(self, frame: pd.DataFrame, column: str, pooling: str) -> Prepared:
        on_error = self._options["on_error"]
        values, ids = frame[column].tolist(), frame["id"].to_numpy()
        failed: dict[int, str] = {}
        for position, value in enumerate(values):
            try:
                check_image(value, row=ids[position])
            except MediaError as error:
                record_failure(error, failed, position, on_error)

        def load(batch: np.ndarray) -> Batch:
            images, kept, batch_failed = [], [], {}
            for position in batch:
                try:
                    images.append(read_image(values[position], row=ids[position]))
                    kept.append(position)
                except MediaError as error:
                    record_failure(error, batch_failed, int(position), on_error)
            if not images:
                return Batch({}, np.zeros(0, dtype=np.int64), failed=batch_failed)
            pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
            return Batch({"pixel_values": pixels}, np.asarray(kept, dtype=np.int64), failed=batch_failed)

        return Prepared(
            lengths=np.zeros(len(values), dtype=np.int64), rows=pd.DataFrame({"id": ids}),
            row_sample=np.arange(len(values)), load=load, failed=failed, prefetch=True,
        )
