"""How faithful a 2-D or 3-D map is to the space it draws.

- :func:`trustworthiness`: are the map's neighbours true neighbours
  (Venna & Kaski), the measure umap-learn's tests use;
- :func:`neighbor_preservation`: the share of each point's ``k`` nearest
  neighbours in the space that stay among its ``k`` nearest on the map.

Both use the shared neighbour graph of the space
(:func:`workbench.geometry.neighbors.neighbor_graph`), so a map's quality
costs one search per space, not one per map.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from workbench._checks import Data, check_matrix, warn
from workbench.device import chunk_rows, compute_dtype, resolve_device
from workbench.geometry.neighbors import KNNGraph, knn, neighbor_graph

__all__ = ["trustworthiness", "neighbor_preservation", "neighbour_preservation"]




def _as_coords(coords: Any, n: int) -> torch.Tensor:
    tensor = check_matrix(coords, "coords")
    if tensor.shape[0] != n:
        raise ValueError(f"coords have {tensor.shape[0]} rows but the space has {n}")
    return tensor


def _neighbours_of_rows(data: torch.Tensor, rows: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Indices of the ``k`` nearest neighbours of ``data[rows]`` among all rows, self excluded."""
    if len(rows) == data.shape[0]:
        return knn(data, k, metric=metric).indices.cpu().numpy()
    index = torch.as_tensor(rows, device=data.device)
    found = knn(data, k + 1, metric=metric, queries=data.index_select(0, index)).indices.cpu().numpy()
    # a query is usually its own first neighbour; with duplicates it may sit
    # anywhere (or be pushed out), so drop it wherever it is, else drop the last
    is_self = found == rows[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(found, order, axis=1)[:, :k]


def _sample_rows(n: int, sample: int | None, seed: int) -> np.ndarray:
    if sample is None or n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=int(sample), replace=False))


def trustworthiness(
    data: Data,
    coords: Any,
    *,
    k: int = 10,
    metric: str = "euclidean",
    sample: int | None = 1000,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> float:
    """How far the neighbours on a map are true neighbours (1 = all are).

    Venna & Kaski's trustworthiness, computed exactly as scikit-learn's
    ``sklearn.manifold.trustworthiness`` when all points are used:
    ``T = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in U_k(i)} (r(i, j) - k)``
    where ``U_k(i)`` are the map neighbours of ``i`` that are not among its
    ``k`` nearest in the space and ``r(i, j)`` is the rank of ``j`` among
    ``i``'s neighbours in the space. Unlike scikit-learn it never builds the
    n×n distance matrix: ranks are counted in chunks on ``device``.

    Parameters
    ----------
    data : LatentSpace, tensor or array of shape (n_samples, n_features)
    coords : array of shape (n_samples, dims)
        The map.
    k : int
        Neighbours, ``k < n_samples / 2``.
    metric : {"euclidean", "cosine"}
        Distance in the space; the map always uses Euclidean distance.
    sample : int or None
        With more rows than this, estimate on this many random query rows.
    seed : int
        Seed of that sample.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 5))
    >>> round(trustworthiness(x, x[:, :2], k=5), 2) < 1.0, trustworthiness(x, x, k=5)
    (True, 1.0)
    """
    matrix = check_matrix(data)
    n = matrix.shape[0]
    low = _as_coords(coords, n)
    k = int(k)
    if not 1 <= k < n / 2:
        raise ValueError(f"k must be between 1 and n/2 = {n / 2:g}; got {k}")
    rows = _sample_rows(n, sample, seed)
    map_neighbours = _neighbours_of_rows(low, rows, k, "euclidean")
    ranks = _ranks(matrix, rows, map_neighbours, metric, resolve_device(device))
    penalty = np.clip(ranks - k, 0, None).sum(dtype=np.float64)
    mean_penalty = penalty / len(rows)
    return float(1.0 - mean_penalty * 2.0 / (k * (2.0 * n - 3.0 * k - 1.0)))


def _ranks(matrix: torch.Tensor, rows: np.ndarray, targets: np.ndarray, metric: str, device: torch.device) -> np.ndarray:
    """Rank (1 = nearest, self excluded) in the space of each ``targets[i, j]`` as a neighbour of ``rows[i]``.

    The rank is 1 + the number of points strictly closer (ties count in the
    target's favour; scikit-learn breaks them in arbitrary argsort order).
    Per chunk of query rows: one distance matrix, one pass keeping the
    distances below the row's farthest target, and a histogram of those
    against the row's sorted targets, instead of one pass per target.
    """
    dtype = compute_dtype(matrix)
    x = matrix.to(device=device, dtype=dtype)
    if metric == "cosine":
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    else:
        x = x - x.mean(0, keepdim=True)
    n, k = x.shape[0], targets.shape[1]
    x_sq = (x * x).sum(1)
    # distances, mask, and at worst every index of the kept ones (two int64) with their bucket
    chunk = chunk_rows(n * (dtype.itemsize * 2 + 1 + 3 * 8), device=device, n_rows=len(rows), max_rows=256)
    out = np.empty(targets.shape, dtype=np.int64)
    rows_t = torch.as_tensor(rows, device=device)
    targets_t = torch.as_tensor(targets, device=device)
    with torch.inference_mode():
        for start in range(0, len(rows), chunk):
            query_rows = rows_t[start : start + chunk]
            b = len(query_rows)
            block = x[query_rows]
            # only the order within a row matters, so the row's own |q|^2 (and
            # the 1 of 1 - cos) are left out: one fused matrix product
            if metric == "cosine":
                dist = torch.mm(block, x.T).neg_()
            else:
                dist = torch.addmm(x_sq.expand(b, n), block, x.T, alpha=-2.0)
            dist[torch.arange(b, device=device), query_rows] = float("inf")  # not its own neighbour
            target_dist, order = torch.gather(dist, 1, targets_t[start : start + chunk]).sort(1)
            row, col = (dist < target_dist[:, -1:]).nonzero(as_tuple=True)
            # bucket = how many of the row's targets are <= the distance; a
            # point closer than the j-th target falls in a bucket <= j
            bucket = torch.searchsorted(target_dist[row], dist[row, col][:, None], right=True).squeeze(1)
            hist = torch.bincount(row * (k + 1) + bucket, minlength=b * (k + 1))
            closer = hist.view(b, k + 1).cumsum(1)[:, :k]
            out[start : start + b] = (1 + torch.empty_like(closer).scatter_(1, order, closer)).cpu().numpy()
    return out


def neighbor_preservation(
    data: Data,
    coords: Any,
    *,
    k: int = 10,
    metric: str = "euclidean",
    graph: KNNGraph | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Per point, the share of its ``k`` nearest neighbours in the space that stay among its ``k`` nearest on the map.

    1 means the map keeps the point's neighbourhood; 0 means its map
    neighbours are all strangers. The mean over points is the "neighbourhood
    hit" of a map.

    Parameters
    ----------
    data : LatentSpace, tensor or array of shape (n_samples, n_features)
    coords : array of shape (n_samples, dims)
    k : int
    metric : {"euclidean", "cosine"}
        Distance in the space.
    graph : KNNGraph, optional
        The space's neighbour graph (at least ``k`` neighbours, same metric);
        by default computed once and cached.

    Returns
    -------
    ndarray of shape (n_samples,), float32, values in {0, 1/k, ..., 1}

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 3))
    >>> float(neighbor_preservation(x, x, k=5).mean())
    1.0
    """
    matrix = check_matrix(data)
    n = matrix.shape[0]
    low = _as_coords(coords, n)
    k = int(k)
    if graph is None or graph.k < k or graph.metric != metric or graph.n != n:
        graph = neighbor_graph(data, k, metric=metric, progress=progress)
    high = graph.truncate(k).indices.cpu().numpy()
    near = knn(low, k, progress=progress).indices.cpu().numpy()
    # both rows hold k distinct indices, so shared ones are the equal
    # neighbours in the sorted concatenation
    both = np.sort(np.hstack([high, near]), axis=1)
    shared = (both[:, 1:] == both[:, :-1]).sum(1)
    return (shared / k).astype(np.float32)


def neighbour_preservation(*args: Any, **kwargs: Any) -> np.ndarray:
    """Deprecated spelling of :func:`neighbor_preservation` (scikit-learn's US spelling)."""
    warn("neighbour_preservation is deprecated; use neighbor_preservation", DeprecationWarning)
    return neighbor_preservation(*args, **kwargs)
