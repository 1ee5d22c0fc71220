"""The encoding plan: what an encoding is, decided once for every entry point.

``workbench.encode``, ``Encoder.encode``,
``workbench.streaming.encode_to_shards`` and the Ray path
(``workbench.distributed.encode``) all answer the same questions before any
model runs, in the same order:

1. **model**: a hub id, a folder or a loaded model, resolved to a
   :class:`~workbench.encoders.loading.ModelRef` (config only);
2. **column**: the DataFrame column to encode and its modality (``text``,
   ``audio``, ``image``), from the arguments, the frame's columns or the
   model's processor;
3. **options**: the modality encoder's own options, completed with its
   defaults (unknown names raise ``TypeError``);
4. **layers**: their form (see :mod:`workbench.encoders.layers`);
5. **pooling**: checked against the modality; when none is named,
   :func:`~workbench.encoders.pooling.default_pooling` decides (``last`` for
   a causal LM, ``mean`` otherwise), the same rule
   :func:`workbench.steering.extract_directions` follows;
6. **cache key**: everything above that decides the vectors, plus the
   model's identity, the compute dtype and a hash of the data.

:class:`EncodingPlan` holds the answers; each entry point builds one with
:meth:`EncodingPlan.resolve` and reads the key from :meth:`EncodingPlan.key`,
so the same arguments give the same key, whichever door they came through.
A plan is picklable (Ray ships it to its actors, which rebuild the same
encoder with :meth:`EncodingPlan.encoder`).

The modality -> encoder class table, :data:`ENCODERS`, is filled by the
encoder classes themselves as they are defined (``Encoder.__init_subclass__``),
so this module needs none of them and ``Encoder.encode`` can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import pandas as pd
import torch

from workbench.datasets import MODALITY_COLUMNS, check_frame, fingerprint
from workbench.device import resolve_dtype
from workbench.encoders.cache import cache_key
from workbench.encoders.layers import Layers, check_layers
from workbench.encoders.loading import (
    ModelRef,
    load_processor,
    model_modalities,
    parameter_fingerprint,
    processor_fingerprint,
    resolve_model,
    tower,
)
from workbench.encoders.pooling import check_pooling, default_pooling
from workbench.media import media_digest
from workbench.space import LatentSpace, LayerStack

__all__ = ["ENCODERS", "EncodingPlan", "attach_meta", "choose_column", "data_hash"]


class EncoderLike(Protocol):
    """What a plan needs of an encoder: its modality and ``encode``.

    :class:`workbench.encoders.base.Encoder` is one; its subclasses register
    themselves in :data:`ENCODERS` as they are defined, so this module imports
    none of them (``base`` imports this module).
    """

    modality: ClassVar[str]

    def encode(self, frame: pd.DataFrame, **settings: Any) -> LayerStack: ...


#: modality (= its DataFrame column) -> encoder class; filled as the classes are defined
ENCODERS: dict[str, type[EncoderLike]] = {}


def choose_column(
    data: pd.DataFrame, column: str | None, modality: str | None, ref: ModelRef, processor: Any = None
) -> tuple[str, str]:
    """The column to encode and its modality: from the arguments, the frame's columns, or the model.

    Parameters
    ----------
    data : DataFrame
        The data, or any frame with its columns (only the names are read).
    column, modality : str, optional
        What the caller named.
    ref : ModelRef
        The model, asked which kinds of data its processor takes when the
        columns alone do not tell.
    processor : optional
        A processor the caller passed.

    Returns
    -------
    (column, modality) : tuple of str
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    if modality is not None and modality not in MODALITY_COLUMNS:
        raise ValueError(f"modality must be one of {sorted(MODALITY_COLUMNS)}; got {modality!r}")
    if column is not None:
        if column not in data.columns:
            raise ValueError(f"the data has no {column!r} column; columns are {list(data.columns)}")
        if modality is None:
            modality = column if column in MODALITY_COLUMNS else None
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


def _encoder_column(data: pd.DataFrame, column: str | None, modality: str) -> str:
    """The column an encoder of ``modality`` reads: the one named, else the modality's own."""
    column = column or modality
    if isinstance(data, pd.DataFrame) and column not in data.columns:
        raise ValueError(
            f"the data has no {column!r} column to encode with this {modality} model; "
            f"columns are {list(data.columns)} (name the column with column=...)"
        )
    return column


def data_hash(frame: pd.DataFrame, column: str, modality: str) -> str:
    """The dataset fingerprint in provenance and cache keys (media files by path, size and mtime)."""
    if modality == "text":
        return fingerprint(frame, ["id", column])
    return fingerprint(frame, ["id"]) + media_digest(frame[column])[:16]


def attach_meta(stack: LayerStack, frame: pd.DataFrame) -> LayerStack:
    """Rebuild the full meta of an encoded stack from its row structure and the data frame.

    The cache stores the row structure only (``id``; ``sample_id``,
    ``position``, ``token`` / ``time`` for per-step rows), so every entry
    point puts the caller's columns back with this one function. Per-sample
    rows take the frame's row with the same ``id``; per-step rows keep their
    structural columns and repeat the sample's other columns.
    """
    rows = stack.meta
    per_step = "sample_id" in rows.columns
    key = rows["sample_id"] if per_step else rows["id"]
    positions = pd.Index(frame["id"]).get_indexer(pd.Index(key))
    if (positions < 0).any():
        raise ValueError("the cached rows do not match the data's ids")
    picked = frame.iloc[positions].reset_index(drop=True)
    if per_step:
        extra = picked.drop(columns=[c for c in picked.columns if c in rows.columns or c == "id"])
        meta = pd.concat([rows.reset_index(drop=True), extra], axis=1)
    else:
        meta = picked
    spaces = {
        key: LatentSpace(space.vectors, meta, name=space.name, provenance=space.provenance)
        for key, space in stack.items()
    }
    return LayerStack(spaces, name=stack.name, provenance=stack.provenance)


@dataclass
class EncodingPlan:
    """Everything that decides an encoding, resolved once, before any model runs.

    Build it with :meth:`resolve`. The fields that decide the vectors
    (model, column, modality, options, layers, pooling, dtype, processor)
    make the cache key (:meth:`key`); ``device`` and ``batch_size`` only say
    how to run.

    Attributes
    ----------
    ref : ModelRef
        The resolved model (config only, unless the caller passed a loaded model).
    column, modality : str
        The column to encode and what it holds.
    layers : "all", int or list of int
        Checked in form; ranges are checked on the first batch.
    pooling : str
        As named, or :func:`~workbench.encoders.pooling.default_pooling`'s
        choice (``last`` for a causal LM, ``mean`` otherwise).
    options : dict
        The modality encoder's options, defaults included.
    dtype : str or torch.dtype, optional
        Compute precision as asked (None: float32).
    processor : optional
        The processor the caller passed, reduced to its part for the
        modality (part of the key), or None.
    device : str, default "auto"
    batch_size : int, optional

    Examples
    --------
    >>> import workbench as wb
    >>> frame = wb.load_emotion_sentences().head(4)
    >>> plan = EncodingPlan.resolve(wb.encoders.default_text_model(), frame, layers=[-1])
    >>> plan.column, plan.modality, plan.layers, plan.pooling
    ('text', 'text', [-1], 'mean')
    >>> len(plan.key(plan.dataset_hash(frame)))
    40
    """

    ref: ModelRef
    column: str
    modality: str
    layers: Layers = "all"
    pooling: str = "mean"
    options: dict = field(default_factory=dict)
    dtype: Any = None
    processor: Any = None
    device: str = "auto"
    batch_size: int | None = None

    @classmethod
    def resolve(
        cls,
        model: Any,
        data: pd.DataFrame,
        *,
        column: str | None = None,
        modality: str | None = None,
        encoder: type[EncoderLike] | None = None,
        processor: Any = None,
        layers: Layers = "all",
        pooling: str | None = None,
        options: Mapping[str, Any] | None = None,
        dtype: Any = None,
        device: str | torch.device = "auto",
        batch_size: int | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        hub_kwargs: Mapping[str, Any] | None = None,
    ) -> EncodingPlan:
        """Resolve model -> column -> options -> layers -> pooling; load no weights.

        Parameters
        ----------
        model : str, path, transformers model or ModelRef
        data : DataFrame
            The data, or any frame with its columns (only the column names
            are read here).
        column, modality : str, optional
            As for :func:`workbench.encode`.
        encoder : Encoder subclass, optional
            The encoder class when the caller already is one
            (``Encoder.encode``): its modality is the plan's, and the column
            defaults to the modality's name.
        processor, layers, dtype, device, batch_size
            As for :func:`workbench.encode`.
        pooling : str, optional
            Default: :func:`~workbench.encoders.pooling.default_pooling`.
        options : dict, optional
            The modality encoder's options (``max_length``, ``on_error``...).
        revision, trust_remote_code, hub_kwargs
            Passed to ``from_pretrained`` when ``model`` is a name.

        Returns
        -------
        EncodingPlan
        """
        ref = model if isinstance(model, ModelRef) else resolve_model(
            model, revision=revision, trust_remote_code=trust_remote_code, hub_kwargs=hub_kwargs
        )  # fmt: skip
        if encoder is not None:
            modality = encoder.modality
            column = _encoder_column(data, column, modality)
        else:
            column, modality = choose_column(data, column, modality, ref, processor)
            encoder = ENCODERS[modality]
        if processor is not None:  # the part for the modality (a CLIPProcessor's tokenizer...), as the encoder keeps it
            processor = load_processor(ref, modality, processor)
        return cls(
            ref=ref,
            column=column,
            modality=modality,
            options=encoder.complete_options(options or {}),
            layers=check_layers(layers),
            pooling=check_pooling(pooling or default_pooling(modality, ref.config), modality),
            dtype=dtype,
            processor=processor,
            device=str(device),
            batch_size=batch_size,
        )

    @property
    def encoder_class(self) -> type[EncoderLike]:
        """The encoder class of the plan's modality."""
        return ENCODERS[self.modality]

    def frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """``data`` checked as the standard frame for the plan's column (ids added when missing)."""
        return check_frame(data, modality=self.column)

    def dataset_hash(self, frame: pd.DataFrame) -> str:
        """The data's fingerprint, as provenance records it and the key includes it."""
        return data_hash(frame, self.column, self.modality)

    def identity(self) -> tuple[dict, torch.dtype]:
        """The model's identity and compute dtype, without loading a model not loaded yet.

        A model passed loaded is fingerprinted on every call: it may have
        been trained since the last one.
        """
        if self.ref.model is not None:
            part = tower(self.ref.model, self.modality)
            return {"weights_hash": parameter_fingerprint(part)}, next(part.parameters()).dtype
        return self.ref.identity, resolve_dtype(self.dtype)

    def cache_parts(self, dataset: str, identity: tuple[dict, torch.dtype] | None = None) -> dict:
        """Everything that decides the vectors of this plan on data ``dataset``: the key's source.

        ``identity`` is :meth:`identity`'s answer when the caller has it
        already (fingerprinting a loaded model reads every weight).
        """
        identity, dtype = identity or self.identity()
        return {
            "model": self.ref.name,
            **identity,
            "processor": processor_fingerprint(self.processor) if self.processor is not None else None,
            "modality": self.modality,
            "column": self.column,
            "layers": self.layers,
            "pooling": self.pooling,
            "dtype": str(dtype).replace("torch.", ""),
            "options": dict(self.options),
            "data": dataset,
        }

    def key(self, dataset: str, identity: tuple[dict, torch.dtype] | None = None) -> str:
        """The cache key of this plan on data ``dataset`` (see :meth:`dataset_hash`)."""
        return cache_key(self.cache_parts(dataset, identity))

    def encoder(self) -> EncoderLike:
        """The modality's encoder with the model loaded (once per process or Ray actor)."""
        return self.encoder_class(
            self.ref, self.processor, device=self.device, dtype=self.dtype, **self.options
        )  # fmt: skip

    def encode(self, encoder: EncoderLike, frame: pd.DataFrame, **settings: Any) -> LayerStack:
        """``frame`` through ``encoder`` with this plan's column, layers, pooling and batch size.

        ``settings`` are further arguments of :meth:`Encoder.encode`
        (``cache``, ``progress``, ``output_device``...).
        """
        return encoder.encode(
            frame, column=self.column, layers=self.layers, pooling=self.pooling, batch_size=self.batch_size,
            **settings,
        )  # fmt: skip
