"""Encoded batches, in input order, into shards that a resumed run can trust.

An encoding run turns input rows (sentences, clips, images) into output rows
(one per sample, or one per token / frame with per-step pooling). The sink
buffers output rows and writes a shard once it holds ``shard_rows`` of them,
cutting only *between* input rows, and records with each shard how many input
rows it completes (``source_stop``). A resumed run starts at the last shard's
``source_stop``: every input row before it is in the store whole, none after
it is in at all, however the batches were split along the way (Ray may split
or merge blocks).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from workbench.streaming.shards import ShardWriter

__all__ = ["ShardSink", "source_positions"]


def source_positions(meta: pd.DataFrame, inputs: pd.DataFrame, offset: int) -> np.ndarray:
    """Global input row of each output row: by ``sample_id`` (per-step pooling) or ``id``.

    Parameters
    ----------
    meta : DataFrame
        The encoded rows' meta.
    inputs : DataFrame
        The input rows that were encoded, with their ``id`` column.
    offset : int
        Global position of ``inputs``' first row.
    """
    key = meta["sample_id"] if "sample_id" in meta.columns else meta["id"]
    local = pd.Index(inputs["id"]).get_indexer(pd.Index(key))
    if (local < 0).any():
        raise ValueError("the encoded rows name samples that are not in the input batch")
    return local.astype(np.int64) + int(offset)


class ShardSink:
    """Buffer encoded rows and write whole-input-row shards through a :class:`ShardWriter`.

    Parameters
    ----------
    writer : ShardWriter
    shard_rows : int
        Output rows per shard (a shard may hold more, to end on an input row).
    """

    def __init__(self, writer: ShardWriter, shard_rows: int) -> None:
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be at least 1; got {shard_rows}")
        self.writer = writer
        self.shard_rows = int(shard_rows)
        self._vectors: dict = {}
        self._meta: list[pd.DataFrame] = []
        self._sources: list[np.ndarray] = []
        self._held = 0

    def add(self, vectors: Mapping, meta: pd.DataFrame, sources: np.ndarray) -> None:
        """Append output rows: ``vectors`` {layer: (rows, dim)}, their meta, their input rows (ascending)."""
        if len(meta) == 0:
            return
        for key, value in vectors.items():
            self._vectors.setdefault(key, []).append(np.asarray(value))
        self._meta.append(meta.reset_index(drop=True))
        self._sources.append(np.asarray(sources, dtype=np.int64))
        self._held += len(meta)
        if self._held >= self.shard_rows:
            self._write(final_stop=None)

    def close(self, total_inputs: int) -> None:
        """Write what is left (all ``total_inputs`` input rows are done) and mark the store complete."""
        if self._held:
            self._write(final_stop=total_inputs)
        self.writer.finish()

    def _write(self, final_stop: int | None) -> None:
        sources = np.concatenate(self._sources)
        vectors = {key: np.concatenate(parts) for key, parts in self._vectors.items()}
        meta = pd.concat(self._meta, ignore_index=True)
        if final_stop is None:
            # hold back the last input row: more of its rows may still come
            last = sources[-1]
            cut = int(np.searchsorted(sources, last, side="left"))
            stop = int(last)
        else:
            cut, stop = len(sources), int(final_stop)
        if cut > 0:
            self.writer.write({key: value[:cut] for key, value in vectors.items()}, meta.iloc[:cut], source_stop=stop)
        self._vectors = {key: [value[cut:]] for key, value in vectors.items()}
        self._meta = [meta.iloc[cut:].reset_index(drop=True)]
        self._sources = [sources[cut:]]
        self._held = len(sources) - cut
