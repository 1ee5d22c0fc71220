"""``workbench.encode``: any model, any modality, one call, a LayerStack back.

The door most users take. It asks :class:`~workbench.encoders.plan.EncodingPlan`
what to encode, looks the encoding up in the cache before paying for loading
the model, and otherwise hands the plan to the modality's encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch

from workbench.encoders.cache import EncodeCache
from workbench.encoders.layers import Layers
from workbench.encoders.plan import ENCODERS, EncodingPlan, attach_meta
from workbench.space import LayerStack

__all__ = ["encode", "ENCODERS"]


def encode(
    model: Any,
    data: pd.DataFrame,
    *,
    layers: Layers = "all",
    pooling: str | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype | None = None,
    cache: bool = True,
    cache_dir: str | None = None,
    progress: bool = True,
    column: str | None = None,
    modality: str | None = None,
    processor: Any = None,
    sort_by_length: bool = True,
    revision: str | None = None,
    trust_remote_code: bool = False,
    hub_kwargs: Mapping[str, Any] | None = None,
    output_device: str | torch.device = "cpu",
    output_dtype: torch.dtype = torch.float32,
    **options: Any,
) -> LayerStack:
    """Every layer of a model for every row of a DataFrame: one LatentSpace per layer.

    The modality comes from the data's column (``text``, ``audio`` or
    ``image``; the model decides when there are several) and is checked
    against what the model's processor takes; the matching encoder
    (:class:`TextEncoder`, :class:`SpeechEncoder`, :class:`VisionEncoder`)
    does the work. A cached identical encoding is loaded without loading the
    model.

    Parameters
    ----------
    model : str, path, or transformers model
        Hub id, folder written by ``save_pretrained`` (sentence-transformers
        folders too), or an already-loaded model (then pass ``processor``).
    data : DataFrame
        One row per sample: ``id`` (added when missing) and the modality column.
    layers : "all", int or list of int, default "all"
        ``hidden_states`` indices: 0 = embeddings, k = output of block k-1;
        negative indices count from the end.
    pooling : str, optional
        Text: ``mean`` (mask-aware; the default for BERT-like encoders),
        ``cls``, ``last`` (last real token; the default for causal LMs, the
        site :func:`workbench.steering.extract_directions` reads and
        :func:`workbench.steering.steer` writes), ``tokens`` (one row per
        non-special token). Speech: ``mean``
        (default, over the real frames), ``frames``. Vision: ``mean``
        (default, over patches), ``cls``.
    batch_size : int, optional
        Default 32 (text, vision) or 8 (speech).
    device : str, default "auto"
        Where the model runs (cuda, then mps, then cpu).
    dtype : {"float32", "bfloat16", "float16"}, optional
        Compute precision, float32 by default. Vectors are float32 on the CPU
        whatever the model ran in (see ``output_device`` / ``output_dtype``).
    cache : bool, default True
        Reuse an identical earlier encoding; store this one.
    cache_dir : path, optional
        Default ``$WORKBENCH_CACHE/encode`` or ``~/.cache/workbench/encode``.
    progress : bool, default True
    column : str, optional
        The column to encode when it is not named ``text`` / ``audio`` / ``image``.
    modality : {"text", "audio", "image"}, optional
        Needed only when ``column`` has another name and the model takes several kinds of data.
    processor : optional
        Tokenizer / feature extractor / image processor (or a multimodal processor).
    sort_by_length : bool, default True
        Bucket batches by length; rows come back in input order either way.
    revision, trust_remote_code, hub_kwargs
        Passed to ``from_pretrained``.
    output_device, output_dtype
        Where and how the vectors are kept.
    **options
        Options of the modality's encoder: ``max_length``, ``chat_template``,
        ``system_prompt`` (text); ``sampling_rate``, ``max_seconds``,
        ``on_error`` (speech); ``on_error`` (vision).

    Returns
    -------
    LayerStack
        Keys are the ``hidden_states`` indices; each layer a LatentSpace of
        shape (n_rows, width) with the data's columns as meta and provenance
        ``{"model", "revision" | "weights_hash", "layer", "layer_meaning",
        "final_layer", "pooling", "dataset", "dtype", ...}``.

    Examples
    --------
    >>> import workbench as wb
    >>> sentences = wb.load_emotion_sentences().head(16)
    >>> stack = wb.encode(wb.encoders.default_text_model(), sentences, cache=False, progress=False)
    >>> stack.layers, stack[-1].shape
    ([0, 1, 2, 3, 4, 5, 6], (16, 384))
    """
    plan = EncodingPlan.resolve(
        model, data, column=column, modality=modality, processor=processor, layers=layers, pooling=pooling,
        options=options, dtype=dtype, device=device, batch_size=batch_size, revision=revision,
        trust_remote_code=trust_remote_code, hub_kwargs=hub_kwargs,
    )  # fmt: skip
    frame = plan.frame(data)
    if cache:
        # look the encoding up before paying for loading the model
        hit = EncodeCache(cache_dir).load(plan.key(plan.dataset_hash(frame)))
        if hit is not None:
            return attach_meta(hit, frame)
    return plan.encode(
        plan.encoder(), frame, sort_by_length=sort_by_length, cache=cache, cache_dir=cache_dir, progress=progress,
        output_device=output_device, output_dtype=output_dtype,
    )  # fmt: skip
