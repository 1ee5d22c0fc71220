"""Encoding straight into a sharded store, batch by batch, resumably.

:func:`encode_to_shards` is ``workbench.encode`` for data whose vectors do not
fit in memory, or whose encoding takes long enough to be interrupted: the
model is loaded once, the rows are encoded ``shard_rows`` at a time through
the very same encoder, and each batch's vectors go to disk as an atomic shard
(:mod:`workbench.streaming.shards`). Run the same call again after an
interruption and it continues after the last complete shard; run it on a
finished store and it returns at once.

:class:`~workbench.encoders.plan.EncodingPlan` (the planner every entry point
shares, :mod:`workbench.distributed` too) decides what to encode; its key,
which is exactly the key ``workbench.encode`` caches the same encoding under,
marks the store, so a resumed run continues only the same encoding.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from workbench.encoders.plan import EncodingPlan
from workbench.encoders.reporting import warn
from workbench.space import LayerStack
from workbench.streaming.shards import ShardWriter
from workbench.streaming.sink import ShardSink
from workbench.streaming.streamed import StreamedStack, open_stack

__all__ = ["encode_to_shards"]

# provenance entries that describe one batch, not the whole encoding
_PER_BATCH = ("dataset", "skipped", "truncated")


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

    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    plan = EncodingPlan.resolve(model, data, layers=layers, pooling=pooling, batch_size=batch_size, column=column,
                                modality=modality, device=device, dtype=dtype, options=options)  # fmt: skip
    frame = plan.frame(data)
    dataset = plan.dataset_hash(frame)
    writer = ShardWriter(out, job=plan.key(dataset), overwrite=overwrite)
    if writer.complete:
        return open_stack(out)
    encoder = plan.encoder()
    sink = ShardSink(writer, shard_rows)
    start = writer.inputs_done
    with tqdm(total=len(frame), initial=start, desc="encoding to shards", unit="row", disable=not progress) as bar:
        for begin in range(start, len(frame), shard_rows):
            batch = frame.iloc[begin : begin + shard_rows]
            stack = plan.encode(encoder, batch, cache=False, progress=False)  # the store is the record
            if writer.layers is None:
                writer.name, writer.layer_info = stack.name, layer_info(stack, dataset)
            sink.add({key: space.numpy() for key, space in stack.items()}, stack.meta, begin + len(batch))
            bar.update(len(batch))
    sink.close(len(frame))
    return open_stack(out)


def __getattr__(name: str) -> Any:
    if name == "EncodingJob":  # the plan used to live here, under this name
        warn(
            "workbench.streaming.EncodingJob is deprecated; use workbench.encoders.EncodingPlan "
            "(EncodingJob.plan(...) is EncodingPlan.resolve(..., options={...}))",
            DeprecationWarning,
        )
        return EncodingPlan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
