"""Encoding on many workers with Ray Data, into a store that ``LatentSpace.open`` reads.

:func:`encode` runs the workbench's own encoder (the one ``workbench.encode``
uses, built from the same :class:`~workbench.encoders.plan.EncodingPlan`,
which the driver resolves once and ships to every actor) as a callable class
inside ``ray.data.Dataset.map_batches``: an actor
pool where each actor loads the model once, takes ``num_gpus`` GPUs when the
cluster has them, and encodes batches of rows. The driver receives the
vectors in input order and writes them as shards
(:mod:`workbench.streaming.shards`), so the result is the same sharded store
as :func:`workbench.streaming.encode_to_shards` writes in-process, with the
same vectors, readable by ``LatentSpace.open`` / ``LayerStack.open``, and
resumable after an interruption (for DataFrame input).

The same code runs on a laptop and on a cluster: without a running Ray it
starts a local one (left running for later calls; ``ray.shutdown()`` stops
it); to use a cluster, connect first with
``ray.init(address="auto")`` (on a node of the cluster) or
``ray.init("ray://head:10001")``. On a cluster, ``model`` must be a hub id,
or a folder every worker can read, and only the driver writes ``out``.

Install with ``pip install 'latent-workbench[ray]'``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np
import pandas as pd

from workbench.extras import require
from workbench.encoders.plan import EncodingPlan
from workbench.streaming.encode import layer_info
from workbench.streaming.shards import ShardWriter
from workbench.streaming.sink import ShardSink
from workbench.streaming.streamed import StreamedStack, open_stack

__all__ = ["encode"]

log = logging.getLogger(__name__)

# columns the actors add to their output besides the vectors and the meta
_STOP = "__stop__"
_PROVENANCE = "__provenance__"
_LAYER = "__layer__."


class _EncodeBatches:
    """The Ray actor: one encoder (model loaded once), many batches.

    Its output per batch: a column ``__layer__.<key>`` of shape (rows, dim)
    per layer, the rows' meta columns, ``__stop__`` (input rows done once the
    batch is done) and ``__provenance__`` (the layers' provenance as JSON in
    the first row, empty after: the driver needs it once, and a column
    costs nothing when it is empty).
    """

    def __init__(self, plan: EncodingPlan) -> None:
        import torch

        self.plan = plan
        # Ray gives each CPU actor num_cpus threads' worth of CPU; torch should agree
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
        self.encoder = plan.encoder()

    def __call__(self, batch: pd.DataFrame) -> dict[str, np.ndarray]:
        stop = int(batch[_STOP].max()) if _STOP in batch.columns else -1
        frame = batch.drop(columns=[_STOP], errors="ignore").reset_index(drop=True)
        stack = self.plan.encode(self.encoder, frame, cache=False, progress=False)  # the store is the record
        meta = stack.meta
        out: dict[str, np.ndarray] = {
            f"{_LAYER}{json.dumps(key)}": space.numpy() for key, space in stack.items()
        }
        for name in meta.columns:
            values = meta[name].to_numpy()
            out[name] = values.astype(object) if values.dtype.kind not in "biufcM" else values
        out[_STOP] = np.full(len(meta), stop, dtype=np.int64)
        provenance = np.full(len(meta), "", dtype=object)
        if len(meta):
            described = [[key, info] for key, info in layer_info(stack, None).items()]
            provenance[0] = json.dumps({"name": stack.name, "layers": described})
        out[_PROVENANCE] = provenance
        return out


def _unpack(batch: dict[str, np.ndarray]) -> tuple[dict, pd.DataFrame, np.ndarray, list | None]:
    vectors = {json.loads(name[len(_LAYER) :]): np.asarray(value) for name, value in batch.items()
               if name.startswith(_LAYER)}  # fmt: skip
    meta = pd.DataFrame({name: value for name, value in batch.items()
                         if not name.startswith(_LAYER) and name not in (_STOP, _PROVENANCE)})  # fmt: skip
    written = [text for text in batch[_PROVENANCE] if text]
    return vectors, meta, np.asarray(batch[_STOP]), json.loads(written[0]) if written else None


def _resources(ray: Any, num_gpus: float | None, num_cpus: float, concurrency: int | None) -> tuple[float, int]:
    """GPUs per actor (one each when the cluster has GPUs) and the number of actors."""
    available = ray.cluster_resources()
    gpus = float(available.get("GPU", 0))
    if num_gpus is None:
        num_gpus = 1.0 if gpus >= 1 else 0.0
    if concurrency is None:
        if num_gpus > 0:
            concurrency = max(1, int(gpus // num_gpus))
        else:
            concurrency = max(1, int(float(available.get("CPU", 1)) // max(num_cpus, 1e-9)))
    return float(num_gpus), int(concurrency)


def _blocks(frame: pd.DataFrame, start: int, batch_size: int) -> list[pd.DataFrame]:
    """The rows still to encode, as one block per batch, each row tagged with its batch's stop."""
    blocks = []
    for begin in range(start, len(frame), batch_size):
        block = frame.iloc[begin : begin + batch_size].copy()
        block[_STOP] = begin + len(block)
        blocks.append(block)
    return blocks


def encode(
    dataset: Any,
    model: Any,
    out: str | os.PathLike,
    *,
    layers: Any = "all",
    pooling: str | None = None,
    column: str | None = None,
    modality: str | None = None,
    batch_size: int = 256,
    encoder_batch_size: int | None = None,
    shard_rows: int | None = None,
    concurrency: int | None = None,
    num_gpus: float | None = None,
    num_cpus: float = 1,
    device: str = "auto",
    dtype: Any = None,
    overwrite: bool = False,
    progress: bool = True,
    **options: Any,
) -> StreamedStack:
    """Encode ``dataset`` with ``model`` on a Ray actor pool; write a sharded store at ``out``.

    Parameters
    ----------
    dataset : DataFrame or ray.data.Dataset
        One row per sample with an ``id`` column and the column to encode
        (``text``, ``audio`` or ``image``, or ``column=``). A DataFrame run
        resumes after an interruption; a Dataset run cannot (pass
        ``overwrite=True`` to replace what it left).
    model : str or path
        Hub id or folder (readable by every worker), as for :func:`workbench.encode`.
    out : path-like
        Folder of the store, written by the driver.
    layers, pooling, column, modality, device, dtype, **options
        As for :func:`workbench.encode`.
    batch_size : int, default 256
        Rows per actor call (one Ray batch).
    encoder_batch_size : int, optional
        Rows per forward pass inside an actor (the encoder's ``batch_size``).
    shard_rows : int, optional
        Output rows per shard (default ``batch_size``).
    concurrency : int, optional
        Actors in the pool; default one per GPU, or one per ``num_cpus`` CPUs.
    num_gpus : float, optional
        GPUs per actor; default 1 when the cluster has GPUs, else 0.
    num_cpus : float, default 1
        CPUs per actor.
    overwrite : bool, default False
        Start afresh even if ``out`` holds (part of) an encoding.
    progress : bool, default True

    Returns
    -------
    StreamedStack
        The store, opened (``LayerStack.open(out)`` gives the same).

    Examples
    --------
    >>> import ray, workbench as wb                              # doctest: +SKIP
    >>> ray.init(address="auto")  # a cluster; leave out for a local Ray  # doctest: +SKIP
    >>> store = wb.distributed.encode(wb.load_emotion_sentences(), "sentence-transformers/all-MiniLM-L6-v2",
    ...                               "/shared/minilm", layers=[-1])  # doctest: +SKIP
    >>> wb.LatentSpace.open("/shared/minilm")                     # doctest: +SKIP
    """
    ray = require("ray", feature="workbench.distributed.encode")
    require("ray.data", feature="workbench.distributed.encode")
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    is_frame = isinstance(dataset, pd.DataFrame)
    if not is_frame and not isinstance(dataset, ray.data.Dataset):
        raise TypeError(f"dataset must be a pandas DataFrame or a ray.data.Dataset; got {type(dataset).__name__}")
    columns = dataset if is_frame else pd.DataFrame(columns=dataset.schema().names)
    plan = EncodingPlan.resolve(model, columns, layers=layers, pooling=pooling, batch_size=encoder_batch_size,
                                column=column, modality=modality, device=device, dtype=dtype, options=options)  # fmt: skip
    if is_frame:
        frame = plan.frame(dataset)
        dataset_hash = plan.dataset_hash(frame)
        writer = ShardWriter(out, job=plan.key(dataset_hash), overwrite=overwrite)
        total = len(frame)
    else:
        # no resume without row positions: an existing store is only replaced on request
        writer = ShardWriter(out, resume=False, overwrite=overwrite)
        dataset_hash, total = None, None
    if writer.complete:
        return open_stack(out)
    start = writer.inputs_done
    if is_frame and start >= total:  # killed after the last shard, before the store was marked complete
        writer.finish()
        return open_stack(out)

    if not ray.is_initialized():
        log.info("starting a local Ray (connect to a cluster first with ray.init(address='auto'))")
        ray.init(include_dashboard=False, log_to_driver=False)
    gpus, actors = _resources(ray, num_gpus, num_cpus, concurrency)
    if is_frame:
        source = ray.data.from_pandas(_blocks(frame, start, batch_size))
    else:
        source = dataset
    mapped = source.map_batches(
        _EncodeBatches, fn_constructor_kwargs={"plan": plan}, batch_size=batch_size, batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=actors), num_gpus=gpus, num_cpus=num_cpus,
    )  # fmt: skip
    mapped.context.execution_options.preserve_order = True  # shards follow the input order
    mapped.context.enable_progress_bars = progress
    sink = ShardSink(writer, shard_rows or batch_size)
    seen = 0
    with tqdm(total=total, initial=start, desc=f"encoding on {actors} Ray worker(s)", unit="row",
              disable=not progress) as bar:  # fmt: skip
        # whole blocks as they come: the sink re-cuts them into shards
        for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
            vectors, meta, stops, provenance = _unpack(batch)
            if provenance is not None and writer.layers is None:
                writer.name = provenance["name"]
                writer.layer_info = {key: info for key, info in provenance["layers"]}
                if dataset_hash is not None:
                    for info in writer.layer_info.values():
                        info["provenance"]["dataset"] = dataset_hash
            if is_frame:
                sink.add(vectors, meta, stops, whole=False)
                bar.update(int(stops.max()) - bar.n if len(stops) else 0)
            else:
                seen += len(meta)
                sink.add(vectors, meta, seen)
                bar.update(len(meta))
    sink.close(total if total is not None else seen)
    return open_stack(out)

