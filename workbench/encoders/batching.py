"""The hot loop's helpers: length buckets, background prefetch, preallocated outputs.

Speed comes from three things, none of them per-sample Python in the loop:

- **bucketing**: samples are sorted by length (longest first, so an
  out-of-memory shows in the first batch and not after an hour) and cut into
  batches, so a batch pads to lengths that are close; rows are written back
  at their input positions, so the result comes out in input order with no
  sort at the end;
- **prefetch**: reading and preprocessing the next batch of audio or images
  (file decoding, resampling, feature extraction release the GIL) runs in a
  background thread while the model runs the current one;
- **preallocated outputs**: one float32 buffer per layer, filled with
  ``index_copy_`` from one host transfer per batch; no list of per-batch
  tensors to concatenate, no copy at the end.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np
import torch

__all__ = ["plan_batches", "prefetch", "LayerBuffers", "ranges_index"]

T = TypeVar("T")
R = TypeVar("R")


def plan_batches(lengths: Sequence[int] | np.ndarray, batch_size: int, *, sort: bool = True) -> list[np.ndarray]:
    """Cut row positions into batches, longest first when ``sort``.

    Parameters
    ----------
    lengths : array of shape (n_samples,)
        Cost of each sample (tokens, audio samples).
    batch_size : int
    sort : bool, default True
        Bucket by length (stable, so equal lengths keep input order).

    Returns
    -------
    list of int64 arrays
        Row positions of each batch; together a permutation of ``range(n)``.

    Examples
    --------
    >>> [b.tolist() for b in plan_batches([3, 9, 1, 9], 2)]
    [[1, 3], [0, 2]]
    >>> [b.tolist() for b in plan_batches([3, 9, 1, 9], 3, sort=False)]
    [[0, 1, 2], [3]]
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable") if sort else np.arange(len(lengths))
    return [order[start : start + batch_size] for start in range(0, len(order), int(batch_size))]


def ranges_index(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``range(starts[i], starts[i] + counts[i])`` for all i, vectorised.

    Examples
    --------
    >>> ranges_index(np.array([10, 3]), np.array([2, 3])).tolist()
    [10, 11, 3, 4, 5]
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64), counts) + (np.arange(total) - np.repeat(firsts, counts))


_DONE = object()


def prefetch(function: Callable[[T], R], items: Iterable[T], *, depth: int = 2) -> Iterator[R]:
    """``map(function, items)`` computed ``depth`` items ahead in a background thread.

    Exceptions raised by ``function`` surface in the consumer, at the item
    that raised. Closing the iterator early stops the worker.
    """
    results: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                results.put((True, function(item)))
        except BaseException as exc:  # handed to the consumer
            results.put((False, exc))
            return
        results.put((True, _DONE))

    worker = threading.Thread(target=work, name="workbench-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, value = results.get()
            if not ok:
                raise value
            if value is _DONE:
                return
            yield value
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting on a full queue
            try:
                results.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


class LayerBuffers:
    """One preallocated (n_rows, width) tensor per layer, filled batch by batch.

    Parameters
    ----------
    n_rows : int
        Rows of the final result.
    device, dtype
        Where and how the result is kept (default: CPU float32).
    """

    def __init__(self, n_rows: int, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.n_rows = int(n_rows)
        self.device = torch.device(device)
        self.dtype = dtype
        self.buffers: list[torch.Tensor] | None = None

    def write(self, rows: np.ndarray, pooled: Sequence[torch.Tensor]) -> None:
        """Put ``pooled[l]`` (shape (len(rows), width_l)) at ``rows`` of layer l."""
        if self.buffers is None:
            # every row is written exactly once (rows of skipped samples are dropped in result())
            self.buffers = [
                torch.empty((self.n_rows, p.shape[-1]), device=self.device, dtype=self.dtype) for p in pooled
            ]
        index = torch.as_tensor(rows, dtype=torch.long, device=self.device)
        widths = {p.shape[-1] for p in pooled}
        if len(widths) == 1:
            # one transfer for all layers of the batch
            moved: Iterable[torch.Tensor] = torch.stack(list(pooled)).to(self.device, self.dtype).unbind(0)
        else:
            moved = (p.to(self.device, self.dtype) for p in pooled)
        for buffer, values in zip(self.buffers, moved):
            buffer.index_copy_(0, index, values)

    def result(self, keep: np.ndarray | None = None) -> list[torch.Tensor]:
        """The filled buffers; ``keep`` (bool mask over rows) drops rows that failed."""
        if self.buffers is None:
            raise RuntimeError("no batch was encoded")
        if keep is None or bool(np.all(keep)):
            return self.buffers
        index = torch.as_tensor(np.flatnonzero(keep), dtype=torch.long, device=self.device)
        return [buffer.index_select(0, index) for buffer in self.buffers]

