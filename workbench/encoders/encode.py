"""``workbench.encode``: any model, any modality, one call, a LayerStack back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch

from workbench.datasets import MODALITY_COLUMNS, check_frame
from workbench.device import resolve_dtype
from workbench.encoders.cache import EncodeCache, cache_key
from workbench.encoders.encoder import (
    Encoder,
    Layers,
    _check_layers_spec,
    attach_meta,
    cache_parts,
    data_hash,
    encoder_options,
)
from workbench.encoders.loading import (
    ModelRef,
    load_processor,
    model_modalities,
    parameter_fingerprint,
    resolve_model,
    tower,
)
from workbench.encoders.pooling import check_pooling
from workbench.encoders.speech import SpeechEncoder
from workbench.encoders.text import TextEncoder
from workbench.encoders.vision import VisionEncoder
from workbench.space import LayerStack

__all__ = ["encode", "ENCODERS", "choose_column", "cache_identity"]

#: modality (= its DataFrame column) -> encoder class
ENCODERS: dict[str, type[Encoder]] = {"text": TextEncoder, "audio": SpeechEncoder, "image": VisionEncoder}


def choose_column(data: pd.DataFrame, column: str | None, modality: str | None, ref: ModelRef, processor: Any) -> tuple[str, str]:
    """The column to encode and its modality: from the arguments, the frame's columns, or the model."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    if modality is not None and modality not in ENCODERS:
        raise ValueError(f"modality must be one of {sorted(ENCODERS)}; got {modality!r}")
    if column is not None:
        if column not in data.columns:
            raise ValueError(f"the data has no {column!r} column; columns are {list(data.columns)}")
        if modality is None:
            modality = column if column in ENCODERS else None
        if modality is None:
            offered = model_modalities(ref, processor)
            if len(offered) != 1:
                raise ValueError(
                    f"cannot tell which kind of data column {column!r} holds for model {ref.name!r}; "
                    "pass modality='text', 'audio' or 'image'"
                )
            modality = offered.pop()
        return column, modality
    present = [c for c in MODALITY_COLUMNS if c in data.columns and (modality is None or c == modality)]
    if len(present) > 1:
        # several modality columns (e.g. MELD: text and audio): the model decides
        present = [c for c in present if c in model_modalities(ref, processor)]
    if len(present) != 1:
        wanted = f"a {modality!r} column" if modality else f"one of the columns {MODALITY_COLUMNS}"
        found = [c for c in MODALITY_COLUMNS if c in data.columns]
        raise ValueError(
            f"the data needs {wanted} to encode (it has {found or 'none'}); name the column with column=..."
        )
    return present[0], present[0]


def cache_identity(ref: ModelRef, modality: str, dtype: Any) -> tuple[dict, torch.dtype]:
    """The model's identity and compute dtype for cache keys, without loading a model not loaded yet."""
    if ref.model is not None:
        part = tower(ref.model, modality)
        return {"weights_hash": parameter_fingerprint(part)}, next(part.parameters()).dtype
    return ref.identity, resolve_dtype(dtype)


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
        Text: ``mean`` (default, mask-aware), ``cls``, ``last`` (last real
        token), ``tokens`` (one row per non-special token). Speech: ``mean``
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
    ref = model if isinstance(model, ModelRef) else resolve_model(
        model, revision=revision, trust_remote_code=trust_remote_code, hub_kwargs=hub_kwargs
    )
    column, modality = choose_column(data, column, modality, ref, processor)
    cls = ENCODERS[modality]
    full_options = encoder_options(cls, options)
    frame = check_frame(data, modality=column)
    layers = _check_layers_spec(layers)
    pooling = check_pooling(pooling or cls.default_pooling, modality)
    if cache:
        # look the encoding up before paying for loading the model
        identity, compute_dtype = cache_identity(ref, modality, dtype)
        given = load_processor(ref, modality, processor) if processor is not None else None
        dataset = data_hash(frame, column, modality)
        parts = cache_parts(ref.name, identity, given, modality, full_options, compute_dtype, dataset, column, layers, pooling)
        hit = EncodeCache(cache_dir).load(cache_key(parts))
        if hit is not None:
            return attach_meta(hit, frame)
    encoder = cls(ref, processor, device=device, dtype=dtype, **options)
    return encoder.encode(
        frame, column=column, layers=layers, pooling=pooling, batch_size=batch_size, sort_by_length=sort_by_length,
        cache=cache, cache_dir=cache_dir, progress=progress, output_device=output_device, output_dtype=output_dtype,
    )
