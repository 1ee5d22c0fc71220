"""Encoding straight into a sharded store, batch by batch, resumably.

:func:`encode_to_shards` is ``workbench.encode`` for data whose vectors do not
fit in memory, or whose encoding takes long enough to be interrupted: the
model is loaded once, the rows are encoded ``shard_rows`` at a time through
the very same encoder, and each batch's vectors go to disk as an atomic shard
(:mod:`workbench.streaming.shards`). Run the same call again after an
interruption and it continues after the last complete shard; run it on a
finished store and it returns at once.

:class:`EncodingJob` is the plan shared with :mod:`workbench.distributed`:
what to encode with (picklable, so that Ray actors rebuild the same encoder)
and the fingerprint of the job, which is exactly the key ``workbench.encode``
caches the same encoding under.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.space import LayerStack
from workbench.streaming.shards import ShardWriter
from workbench.streaming.sink import ShardSink
from workbench.streaming.streamed import StreamedStack, open_stack

__all__ = ["EncodingJob", "encode_to_shards"]

# provenance entries that describe one batch, not the whole encoding
_PER_BATCH = ("dataset", "skipped", "truncated")


@dataclass
class EncodingJob:
    """Everything that decides an encoding, in a form Ray can ship to its actors.

    Build it with :meth:`plan`; :meth:`encoder` loads the model,
    :meth:`encode` runs one batch, :meth:`key` fingerprints the whole job.
    """

    model: Any
    column: str
    modality: str
    layers: Any = "all"
    pooling: str = "mean"
    batch_size: int | None = None
    device: str = "auto"
    dtype: Any = None
    options: dict = field(default_factory=dict)
    revision: str | None = None
    trust_remote_code: bool = False
    hub_kwargs: dict = field(default_factory=dict)

    @classmethod
    def plan(
        cls,
        model: Any,
        columns: pd.DataFrame,
        *,
        layers: Any = "all",
        pooling: str | None = None,
        batch_size: int | None = None,
        column: str | None = None,
        modality: str | None = None,
        device: str = "auto",
        dtype: Any = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        hub_kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> EncodingJob:
        """Resolve the model (config only), the column, the modality and the options; load nothing heavy.

        ``columns`` is the data, or any frame with its columns (only the
        column names are needed to choose what to encode).
        """
        from workbench.encoders.encode import ENCODERS, choose_column
        from workbench.encoders.encoder import _check_layers_spec, encoder_options
        from workbench.encoders.loading import resolve_model
        from workbench.encoders.pooling import check_pooling

        ref = resolve_model(model, revision=revision, trust_remote_code=trust_remote_code, hub_kwargs=hub_kwargs)
        column, modality = choose_column(columns, column, modality, ref, None)
        encoder_class = ENCODERS[modality]
        return cls(
            model=model,
            column=column,
            modality=modality,
            layers=_check_layers_spec(layers),
            pooling=check_pooling(pooling or encoder_class.default_pooling, modality),
            batch_size=batch_size,
            device=str(device),
            dtype=dtype,
            options=encoder_options(encoder_class, options),
            revision=revision,
            trust_remote_code=trust_remote_code,
            hub_kwargs=dict(hub_kwargs or {}),
        )

    def encoder(self) -> Any:
        """The modality's encoder with the model loaded (once per process or actor)."""
        from workbench.encoders.encode import ENCODERS

        return ENCODERS[self.modality](
            self.model, None, device=self.device, dtype=self.dtype, revision=self.revision,
            trust_remote_code=self.trust_remote_code, hub_kwargs=self.hub_kwargs, **self.options,
        )  # fmt: skip

    def encode(self, encoder: Any, frame: pd.DataFrame) -> LayerStack:
        """One batch through ``encoder``, uncached and silent: the store is the record."""
        return encoder.encode(
            frame, column=self.column, layers=self.layers, pooling=self.pooling, batch_size=self.batch_size,
            cache=False, progress=False,
        )  # fmt: skip

    def key(self, dataset: str) -> str:
        """The job's fingerprint: model identity, data (``dataset_hash``), layers, pooling, options, dtype."""
        from workbench.encoders.cache import cache_key
        from workbench.encoders.encode import cache_identity
        from workbench.encoders.encoder import cache_parts
        from workbench.encoders.loading import resolve_model

        ref = resolve_model(self.model, revision=self.revision, trust_remote_code=self.trust_remote_code,
                            hub_kwargs=self.hub_kwargs)  # fmt: skip
        identity, dtype = cache_identity(ref, self.modality, self.dtype)
        parts = cache_parts(ref.name, identity, None, self.modality, self.options, dtype, dataset, self.column,
                            self.layers, self.pooling)  # fmt: skip
        return cache_key(parts)


    def dataset_hash(self, frame: pd.DataFrame) -> str:
        """The whole data's fingerprint, as ``workbench.encode`` records it in provenance."""
        from workbench.encoders.encoder import data_hash

        return data_hash(frame, self.column, self.modality)


def layer_info(stack: LayerStack, dataset: str | None) -> dict:
    """Per-layer names and provenance for a store, from one encoded batch."""
    info = {}
    for key, space in stack.items():
        provenance = {k: v for k, v in space.provenance.items() if k not in _PER_BATCH}
        if dataset is not None:
            provenance["dataset"] = dataset
        info[key] = {"name": space.name, "provenance": provenance}
    return info


def encode_to_shards(
    model: Any,
    data: pd.DataFrame,
    out: str | os.PathLike,
    *,
    shard_rows: int = 1024,
    layers: Any = "all",
    pooling: str | None = None,
    batch_size: int | None = None,
    column: str | None = None,
    modality: str | None = None,
    device: str = "auto",
    dtype: Any = None,
    overwrite: bool = False,
    progress: bool = True,
    **options: Any,
) -> StreamedStack:
    """Encode ``data`` into a sharded store at ``out``, resuming an interrupted run.

    Parameters
    ----------
    model : str, path or transformers model
        As for :func:`workbench.encode`.
    data : DataFrame
        One row per sample, with an ``id`` column and the column to encode.
    out : path-like
        The store's folder.
    shard_rows : int, default 1024
        Input rows encoded (and written) per shard.
    layers, pooling, batch_size, column, modality, device, dtype, **options
        As for :func:`workbench.encode` (``batch_size`` is the model's batch).
    overwrite : bool, default False
        Start afresh even if ``out`` holds (part of) this or another encoding.
    progress : bool, default True

    Returns
    -------
    StreamedStack
        The store, opened: ``stack[-1]`` is a :class:`StreamedSpace`;
        ``.load()`` gives the in-memory LayerStack.

    Examples
    --------
    >>> import tempfile, workbench as wb
    >>> from workbench.streaming import encode_to_shards
    >>> sentences = wb.load_emotion_sentences().head(12)
    >>> store = encode_to_shards(wb.encoders.default_text_model(), sentences, tempfile.mkdtemp() + "/s",
    ...                          shard_rows=5, layers=[-1], progress=False)
    >>> store.n, store[-1].dim
    (12, 384)
    """
    from tqdm.auto import tqdm

    from workbench.datasets import check_frame

    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    job = EncodingJob.plan(model, data, layers=layers, pooling=pooling, batch_size=batch_size, column=column,
                           modality=modality, device=device, dtype=dtype, **options)  # fmt: skip
    frame = check_frame(data, modality=job.column)
    dataset = job.dataset_hash(frame)
    writer = ShardWriter(out, job=job.key(dataset), overwrite=overwrite)
    if writer.complete:
        return open_stack(out)
    encoder = job.encoder()
    sink = ShardSink(writer, shard_rows)
    start = writer.inputs_done
    with tqdm(total=len(frame), initial=start, desc="encoding to shards", unit="row", disable=not progress) as bar:
        for begin in range(start, len(frame), shard_rows):
            batch = frame.iloc[begin : begin + shard_rows]
            stack = job.encode(encoder, batch)
            if writer.layers is None:
                writer.name, writer.layer_info = stack.name, layer_info(stack, dataset)
            sink.add({key: space.numpy() for key, space in stack.items()}, stack.meta, begin + len(batch))
            bar.update(len(batch))
    sink.close(len(frame))
    return open_stack(out)
