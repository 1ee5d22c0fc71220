"""Exact neighbours in two or three dimensions with a k-d tree.

The 2-D and 3-D maps of :mod:`workbench.geometry.views` need every point's
neighbours on the map (neighbour preservation, trustworthiness). In so few
dimensions a k-d tree answers in O(n log n) where the brute-force search does
O(n^2) work: about 100x faster at 20 000 points, minutes saved at 100 000.
``backend="auto"`` takes it for Euclidean search in at most
:data:`MAX_KDTREE_DIM` dimensions on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.device import compute_dtype

__all__ = ["kdtree_knn", "MAX_KDTREE_DIM"]

#: widest data ``backend="auto"`` sends to the k-d tree
MAX_KDTREE_DIM = 3


def kdtree_knn(
    data: torch.Tensor, k: int, *, queries: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(indices, distances)`` of shape (n_queries, k), Euclidean, exact.

    Without ``queries`` a point is not its own neighbour, also when it has
    exact copies (the copies are its nearest neighbours, at distance 0).
    """
    from scipy.spatial import cKDTree

    points = data.detach().cpu().double().numpy()
    tree = cKDTree(points)
    if queries is not None:
        distances, indices = tree.query(queries.detach().cpu().double().numpy(), k=k)
        distances, indices = distances.reshape(-1, k), indices.reshape(-1, k)
    else:
        distances, indices = tree.query(points, k=k + 1)
        # drop each row's own index wherever it landed among its copies (or
        # the farthest candidate when copies pushed it out of the k + 1)
        own = indices == np.arange(len(points))[:, None]
        own[~own.any(axis=1), -1] = True
        keep = np.argsort(own, axis=1, kind="stable")[:, :k]
        indices = np.take_along_axis(indices, keep, axis=1)
        distances = np.take_along_axis(distances, keep, axis=1)
    dtype = compute_dtype(data)
    return torch.from_numpy(indices.astype(np.int64)), torch.from_numpy(distances).to(dtype)
