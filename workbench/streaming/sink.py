"""Encoded batches, in input order, into shards that a resumed run can trust.

An encoding run turns batches of input rows (sentences, clips, images) into
output rows (one per sample, or one per token / frame with per-step pooling).
Every output row carries the *stop* of the batch that produced it: the number
of input rows done once that batch is done. The sink buffers output rows,
writes a shard once it holds ``shard_rows`` of them, and records with each
shard the stop it reaches (``source_stop`` in the manifest). A resumed run
starts there: every input row before it is in the store whole, none after it
is in at all.

When the producer cannot promise that a batch arrived whole (Ray may split an
actor's output into several blocks), the sink holds back the rows of the
latest batch until rows of a later batch show that it is finished.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from workbench.streaming.shards import ShardWriter

__all__ = ["ShardSink"]


class ShardSink:
    """Buffer encoded rows and write shards that end on finished batches.

    Parameters
    ----------
    writer : ShardWriter
    shard_rows : int
        Output rows per shard (a shard may hold more, to end on a finished batch).
    """

    def __init__(self, writer: ShardWriter, shard_rows: int) -> None:
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be at least 1; got {shard_rows}")
        self.writer = writer
        self.shard_rows = int(shard_rows)
        self._vectors: dict = {}
        self._meta: list[pd.DataFrame] = []
        self._stops: list[np.ndarray] = []
        self._held = 0

    def add(self, vectors: Mapping, meta: pd.DataFrame, stop: int | np.ndarray, *, whole: bool = True) -> None:
        """Append output rows.

        Parameters
        ----------
        vectors : mapping layer -> array of shape (rows, dim)
        meta : DataFrame with ``rows`` rows
        stop : int or int array of shape (rows,)
            Input rows done once the batch behind each row is done
            (non-decreasing along the rows and across calls).
        whole : bool, default True
            Whether the batch behind the last row is complete with this call.
        """
        if len(meta) == 0:
            return
        stops = np.broadcast_to(np.asarray(stop, dtype=np.int64), (len(meta),))
        for key, value in vectors.items():
            self._vectors.setdefault(key, []).append(np.asarray(value))
        self._meta.append(meta.reset_index(drop=True))
        self._stops.append(stops)
        self._held += len(meta)
        if self._held >= self.shard_rows:
            self._write(whole=whole)

    def close(self, total_inputs: int) -> None:
        """Write what is left (all ``total_inputs`` input rows are done) and mark the store complete."""
        if self._held:
            self._write(whole=True, stop=total_inputs)
        self.writer.finish()

    def _write(self, *, whole: bool, stop: int | None = None) -> None:
        stops = np.concatenate(self._stops)
        self._stops = [stops]
        cut = len(stops) if whole else int(np.searchsorted(stops, stops[-1], side="left"))
        if cut == 0 or (stop is None and cut < self.shard_rows):
            return  # wait for the batch behind the held rows to finish
        vectors = {key: np.concatenate(parts) for key, parts in self._vectors.items()}
        meta = pd.concat(self._meta, ignore_index=True)
        reached = int(stops[cut - 1]) if stop is None else int(stop)
        self.writer.write({key: value[:cut] for key, value in vectors.items()}, meta.iloc[:cut], source_stop=reached)
        self._vectors = {key: [value[cut:]] for key, value in vectors.items()}
        self._meta = [meta.iloc[cut:].reset_index(drop=True)]
        self._stops = [stops[cut:]]
        self._held = len(stops) - cut
