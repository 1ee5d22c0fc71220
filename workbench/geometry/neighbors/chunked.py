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

from workbench._checks import FiniteChunks, check_matrix

__all__ = [
    "ChunkedVectors",
    "InMemoryVectors",
    "RowSubset",
    "as_chunked",
    "is_chunked",
    "iter_row_chunks",
    "rows_at",
    "subset_rows",
    "exact_copy_labels",
]


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
    shape : (int, int)
        ``(n, dim)``, so that code written for a matrix's ``shape`` reads it too.

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
    shape: tuple[int, int]

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
        self.shape = (self.n, self.dim)
        self.dtype = tensor.dtype

    def iter_chunks(self, rows: int) -> Iterator[torch.Tensor]:
        for start in range(0, self.n, max(int(rows), 1)):
            yield self.tensor[start : start + rows]

    def vectors_at(self, positions: np.ndarray | torch.Tensor) -> torch.Tensor:
        positions = torch.as_tensor(np.asarray(positions) if not isinstance(positions, torch.Tensor) else positions)
        return self.tensor[positions.to(self.tensor.device)]

    def __repr__(self) -> str:
        return f"InMemoryVectors(n={self.n}, dim={self.dim})"


class RowSubset:
    """Some rows of a chunked source (e.g. the distinct ones), still read on demand.

    Parameters
    ----------
    source : ChunkedVectors
    positions : int array of shape (n_rows,)
        Rows of ``source``, in the order they take here.
    """

    def __init__(self, source: ChunkedVectors, positions: np.ndarray) -> None:
        self.source = source
        self.positions = np.asarray(positions, dtype=np.int64)
        self.n, self.dim, self.dtype = len(self.positions), source.dim, source.dtype
        self.shape = (self.n, self.dim)

    def iter_chunks(self, rows: int) -> Iterator[torch.Tensor]:
        for start in range(0, self.n, max(int(rows), 1)):
            yield self.source.vectors_at(self.positions[start : start + rows])

    def vectors_at(self, positions: np.ndarray | torch.Tensor) -> torch.Tensor:
        if isinstance(positions, torch.Tensor):
            positions = positions.detach().cpu().numpy()
        return self.source.vectors_at(self.positions[np.asarray(positions, dtype=np.int64)])

    def __repr__(self) -> str:
        return f"RowSubset(n={self.n} of {self.source!r})"


def rows_at(data: torch.Tensor | ChunkedVectors, positions: torch.Tensor) -> torch.Tensor:
    """``data[positions]`` for a matrix or a chunked source (then read from it, on the CPU)."""
    if is_chunked(data):
        return data.vectors_at(positions.cpu())
    return data[positions]


def subset_rows(data: torch.Tensor | ChunkedVectors, positions: np.ndarray) -> torch.Tensor | ChunkedVectors:
    """The rows at ``positions``: a tensor of a tensor, a :class:`RowSubset` of a chunked source."""
    if is_chunked(data):
        return RowSubset(data, positions)
    return data[torch.as_tensor(positions, device=data.device)]


def exact_copy_labels(source: ChunkedVectors, rows: int = 65536, seed: int = 0) -> np.ndarray:
    """A label per row, equal for rows that are equal in every coordinate, in one pass over chunks.

    Each row's bytes (after turning -0.0 into 0.0, which compares equal) are
    hashed with a random linear hash modulo 2**64, in integer arithmetic, so
    equal rows always get equal hashes; two different rows share one with
    probability about 2**-64 per pair. Labels number the distinct hashes.

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    rng = np.random.default_rng(seed)
    itemsize = torch.empty(0, dtype=source.dtype).element_size()
    word = np.uint16 if itemsize == 2 else np.uint32
    words = source.dim * itemsize // np.dtype(word).itemsize
    multipliers = rng.integers(1, 2**63, size=words, dtype=np.uint64) | np.uint64(1)
    hashes = np.empty(source.n, dtype=np.uint64)
    start = 0
    for chunk in source.iter_chunks(rows):
        values = np.ascontiguousarray((chunk + 0.0).cpu().numpy())
        as_words = values.view(word).reshape(len(values), words).astype(np.uint64)
        hashes[start : start + len(values)] = (as_words * multipliers).sum(1)  # wraps modulo 2**64
        start += len(values)
    _, labels = np.unique(hashes, return_inverse=True)
    return labels.astype(np.int64).reshape(-1)


def is_chunked(data: Any) -> bool:
    """True for data that is read in chunks rather than held as one matrix."""
    return data is not None and not isinstance(data, (torch.Tensor, np.ndarray)) and isinstance(data, ChunkedVectors)


def as_chunked(data: Any, what: str = "data") -> ChunkedVectors:
    """Chunked rows whose every chunk is checked as it is read, or a checked matrix wrapped.

    A chunked source is wrapped in :class:`workbench._checks.FiniteChunks`,
    so NaN/Inf on disk is refused (naming the row) on the one pass the
    algorithm makes anyway; in-memory data goes through
    :func:`workbench._checks.check_matrix` and :class:`InMemoryVectors`.
    """
    if isinstance(data, (InMemoryVectors, FiniteChunks)):
        return data
    if is_chunked(data):
        if data.n < 1:
            raise ValueError(f"{what} has no rows")
        return FiniteChunks(data, what)
    return InMemoryVectors(check_matrix(data, what))


def iter_row_chunks(source: ChunkedVectors, rows: int) -> Iterator[tuple[int, torch.Tensor]]:
    """``(start, chunk)`` pairs: each chunk with the position of its first row."""
    start = 0
    for chunk in source.iter_chunks(rows):
        yield start, chunk
        start += chunk.shape[0]
    if start != source.n:
        raise RuntimeError(f"the data yielded {start} rows but says it has {source.n}; was it changed while being read?")
