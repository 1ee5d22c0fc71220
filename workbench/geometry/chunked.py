"""The little that geometry needs from data too large to hold: rows in chunks.

Neighbour search, PCA and LID only ever need three things from a set of
vectors: how many rows (``n``), how wide (``dim``), the rows in consecutive
chunks (``iter_chunks``) and, for re-ranking candidates, the rows at given
positions (``vectors_at``). :class:`ChunkedVectors` names that protocol. A
sharded space on disk (:class:`workbench.streaming.StreamedSpace`) satisfies
it without importing anything from here, and :func:`as_chunked` wraps
in-memory data so that one algorithm serves both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

__all__ = ["ChunkedVectors", "InMemoryVectors", "as_chunked", "is_chunked", "iter_row_chunks"]


@runtime_checkable
class ChunkedVectors(Protocol):
    """Rows of vectors that can be read a chunk at a time.

    Attributes
    ----------
    n : int
        Number of rows.
    dim : int
        Number of features per row.
    dtype : torch.dtype
        Floating dtype the chunks come in.

    Methods
    -------
    iter_chunks(rows)
        Consecutive tensors of shape (<= rows, dim), in row order, covering
        every row once.
    vectors_at(positions)
        Tensor of shape ``positions.shape + (dim,)``: the rows at the given
        integer positions.
    """

    n: int
    dim: int
    dtype: torch.dtype

    def iter_chunks(self, rows: int) -> Iterator[torch.Tensor]: ...

    def vectors_at(self, positions: np.ndarray | torch.Tensor) -> torch.Tensor: ...


class InMemoryVectors:
    """A tensor seen through the :class:`ChunkedVectors` protocol.

    Parameters
    ----------
    tensor : torch.Tensor of shape (n_samples, n_features)
        Already validated (finite, floating).
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self.n, self.dim = int(tensor.shape[0]), int(tensor.shape[1])
        self.dtype = tensor.dtype

    def iter_chunks(self, rows: int) -> Iterator[torch.Tensor]:
        for start in range(0, self.n, max(int(rows), 1)):
            yield self.tensor[start : start + rows]

    def vectors_at(self, positions: np.ndarray | torch.Tensor) -> torch.Tensor:
        positions = torch.as_tensor(np.asarray(positions) if not isinstance(positions, torch.Tensor) else positions)
        return self.tensor[positions.to(self.tensor.device)]

    def __repr__(self) -> str:
        return f"InMemoryVectors(n={self.n}, dim={self.dim})"


def is_chunked(data: Any) -> bool:
    """True for data that is read in chunks rather than held as one matrix."""
    return data is not None and not isinstance(data, (torch.Tensor, np.ndarray)) and isinstance(data, ChunkedVectors)


def as_chunked(data: Any, what: str = "data") -> ChunkedVectors:
    """``data`` itself when it is chunked, else its matrix wrapped in :class:`InMemoryVectors`."""
    if is_chunked(data):
        if data.n < 1:
            raise ValueError(f"{what} has no rows")
        return data
    from workbench.geometry.neighbors import as_matrix

    return InMemoryVectors(as_matrix(data, what))


def iter_row_chunks(source: ChunkedVectors, rows: int) -> Iterator[tuple[int, torch.Tensor]]:
    """``(start, chunk)`` pairs: each chunk with the position of its first row."""
    start = 0
    for chunk in source.iter_chunks(rows):
        yield start, chunk
        start += chunk.shape[0]
    if start != source.n:
        raise RuntimeError(f"the data yielded {start} rows but says it has {source.n}; was it changed while being read?")
