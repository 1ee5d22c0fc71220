"""The one cache of neighbour graphs: a graph is computed once per space.

Graphs are keyed by the identity *and version* of the vectors tensor (a
LatentSpace's ``vectors``, or a tensor itself), so an in-place edit of the
vectors invalidates them, and they disappear with their tensor. A graph
computed for a larger ``k`` is truncated rather than recomputed, so local
intrinsic dimension, UMAP (``n_neighbors - 1``), the preservation score and
space comparison share one search when the largest ``k`` is asked for first.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from workbench.geometry.neighbors.dispatch import knn
from workbench.geometry.neighbors.graph import KNNGraph

__all__ = ["TensorCache", "neighbor_graph", "clear_graphs", "cache_owner"]


class TensorCache:
    """Per-tensor dictionaries that disappear with their tensor.

    A ``WeakKeyDictionary`` cannot be used: looking a tensor up there compares
    tensors with ``==``, which is element-wise.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, dict]] = {}

    def store(self, tensor: torch.Tensor) -> dict:
        key = id(tensor)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is tensor:
            return entry[1]
        entries = self._entries

        def forget(_ref: weakref.ref, key: int = key) -> None:
            entries.pop(key, None)

        store: dict = {}
        entries[key] = (weakref.ref(tensor, forget), store)
        return store

    def clear(self) -> None:
        self._entries.clear()


_GRAPHS = TensorCache()


def clear_graphs() -> None:
    """Forget every cached neighbour graph."""
    _GRAPHS.clear()


def cache_owner(data: Any) -> torch.Tensor | None:
    """The tensor whose identity and version key a cache (None: do not cache)."""
    vectors = getattr(data, "vectors", None)
    if isinstance(vectors, torch.Tensor):
        return vectors
    if isinstance(data, torch.Tensor):
        return data
    return None


def neighbor_graph(
    data: Any, k: int, *, metric: str = "euclidean", device: str | torch.device = "auto", progress: bool = False
) -> KNNGraph:
    """The ``k``-NN graph of ``data`` (a point is not its own neighbour), computed once and reused.

    Parameters
    ----------
    data : LatentSpace, tensor or array of shape (n_samples, n_features)
        Arrays are searched but not cached (they have no identity to key on).
    k : int
    metric : {"euclidean", "cosine"}
    device : device-like
        Where a missing graph is computed.
    progress : bool

    Returns
    -------
    KNNGraph
        On the CPU, ``indices`` and ``distances`` of shape (n_samples, k).

    Examples
    --------
    >>> x = torch.tensor([[0.0], [1.0], [3.0]])
    >>> neighbor_graph(x, 2) is not None and neighbor_graph(x, 1).indices.flatten().tolist()
    [1, 0, 1]
    """
    owner = cache_owner(data)
    store = _GRAPHS.store(owner) if owner is not None else {}
    version = owner._version if owner is not None else None
    cached = store.get(metric)
    if cached is not None and cached[0] == version and cached[1].k >= k:
        return cached[1].truncate(k)
    graph = knn(data, k, metric=metric, device=device, progress=progress).cpu()
    if owner is not None:
        store[metric] = (version, graph)  # per metric, the largest k asked for so far
    return graph
