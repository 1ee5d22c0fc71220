"""The k-nearest-neighbour graph every consumer shares.

A :class:`KNNGraph` is what local intrinsic dimension, UMAP
(``precomputed_knn``), neighbour panels and space comparison all need; the
workbench computes it once per (space, k, metric) (:mod:`.cache`) and passes
it around.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch

from workbench._checks import check_int

__all__ = ["KNNGraph", "Metric", "METRICS", "check_k", "check_metric"]

Metric = Literal["euclidean", "cosine"]
METRICS = ("euclidean", "cosine")
_METRICS = METRICS


def check_metric(metric: str) -> str:
    """``metric`` itself, or ValueError naming the ones there are."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    return metric


@dataclass(frozen=True)
class KNNGraph:
    """The k nearest neighbours of every row.

    Attributes
    ----------
    indices : torch.Tensor of shape (n_queries, k), int64
        Row positions of the neighbours, nearest first. A point is never its
        own neighbour when the graph was computed on one set of rows.
    distances : torch.Tensor of shape (n_queries, k), float
        Euclidean distances, or cosine distances ``1 - cos``, ascending.
    metric : {"euclidean", "cosine"}
    backend : str
        What computed it: ``"torch"`` (exact), ``"faiss-flat"`` (exact),
        ``"faiss-ivf"`` or ``"faiss-hnsw"`` (approximate).
    """

    indices: torch.Tensor
    distances: torch.Tensor
    metric: str
    backend: str = "torch"

    def __post_init__(self) -> None:
        if self.indices.shape != self.distances.shape or self.indices.ndim != 2:
            raise ValueError("indices and distances must both have shape (n_queries, k)")
        if self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}; got {self.metric!r}")

    @property
    def n(self) -> int:
        """Number of query rows."""
        return self.indices.shape[0]

    @property
    def k(self) -> int:
        """Neighbours per row."""
        return self.indices.shape[1]

    def __repr__(self) -> str:
        return (
            f"KNNGraph(n={self.n}, k={self.k}, metric={self.metric!r}, backend={self.backend!r}, "
            f"device={self.indices.device})"
        )

    def truncate(self, k: int) -> KNNGraph:
        """The graph of the ``k`` nearest neighbours only (k <= self.k)."""
        if not 1 <= k <= self.k:
            raise ValueError(f"k must be between 1 and {self.k}; got {k}")
        return replace(self, indices=self.indices[:, :k], distances=self.distances[:, :k])

    def cpu(self) -> KNNGraph:
        return replace(self, indices=self.indices.cpu(), distances=self.distances.cpu())

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, distances)`` as NumPy arrays of shape (n_queries, k)."""
        distances = self.distances
        if distances.dtype in (torch.float16, torch.bfloat16):
            distances = distances.float()
        return self.indices.cpu().numpy(), distances.cpu().numpy()

    def for_umap(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, distances)`` with each point as its own first neighbour,
        the form ``umap.UMAP(precomputed_knn=...)`` expects: shape (n, k + 1)."""
        indices, distances = self.numpy()
        own = np.arange(self.n)[:, None]
        return np.hstack([own, indices]), np.hstack([np.zeros((self.n, 1), distances.dtype), distances])


def check_k(k: int, n: int, self_search: bool) -> int:
    """``k`` as an int, or ValueError when ``n`` rows cannot give k neighbours."""
    k = check_int(k, "k")
    available = n - 1 if self_search else n
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    if k > available:
        raise ValueError(
            f"k={k} is too large: there are only {available} other points"
            + (" (a point is not its own neighbour)" if self_search else "")
        )
    return k
