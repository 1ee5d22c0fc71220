"""Neighbour search: the :class:`KNNGraph`, its engines, the dispatcher on top, one cache.

- :mod:`.graph`: :class:`KNNGraph`, the result every consumer shares.
- :mod:`.dispatch`: :func:`knn`, the one entry, and which engine answers.
- :mod:`.exact`: the exact torch search over rows held in memory.
- :mod:`.chunked`: rows read a chunk at a time (:class:`ChunkedVectors`).
- :mod:`.chunked_exact`: the exact search over chunks, and the re-ranking FAISS shares.
- :mod:`.faiss_index`: FAISS flat / IVF / HNSW indexes.
- :mod:`.kdtree`: a k-d tree for 2-D and 3-D maps.
- :mod:`.cache`: :func:`neighbor_graph`, a graph computed once per space.

Modules import one way: graph <- exact, chunked <- chunked_exact <- faiss_index
<- dispatch <- cache.
"""

from __future__ import annotations

from typing import Any

import torch

from workbench._checks import Data, check_matrix, warn
from workbench.geometry.neighbors.cache import clear_graphs, neighbor_graph
from workbench.geometry.neighbors.chunked import ChunkedVectors, InMemoryVectors, as_chunked, is_chunked
from workbench.geometry.neighbors.dispatch import knn
from workbench.geometry.neighbors.graph import METRICS, KNNGraph, Metric, check_k

__all__ = [
    "KNNGraph",
    "knn",
    "neighbor_graph",
    "clear_graphs",
    "ChunkedVectors",
    "InMemoryVectors",
    "as_chunked",
    "is_chunked",
    "check_k",
    "Metric",
    "METRICS",
    "Data",
]


def as_matrix(data: Any, what: str = "data") -> torch.Tensor:
    """Deprecated: use :func:`workbench._checks.check_matrix`, the one door for input."""
    warn("as_matrix is deprecated; geometry checks input with workbench._checks.check_matrix",
                  DeprecationWarning)  # fmt: skip
    return check_matrix(data, what)
