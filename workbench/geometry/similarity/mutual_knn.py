"""Mutual k-nearest-neighbour alignment, and its permutation null on fixed graphs."""

from __future__ import annotations

import torch

from workbench._checks import Data
from workbench.device import resolve_device
from workbench.geometry.neighbors import knn
from workbench.geometry.similarity.matched import Metric, pair

__all__ = ["mutual_knn", "shared_entries"]


def shared_entries(sorted_a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row, how many of ``b``'s entries the row-sorted ``sorted_a`` holds (rows of distinct indices).

    Parameters
    ----------
    sorted_a : tensor of shape (..., n, k_a), each row sorted ascending
    b : tensor of shape (..., n, k_b)

    Returns
    -------
    tensor of shape (..., n), float64

    Examples
    --------
    >>> shared_entries(torch.tensor([[1, 4, 7]]), torch.tensor([[7, 2, 1]])).tolist()
    [2.0]
    """
    k = sorted_a.shape[-1]
    if k <= 32:  # k^2 comparisons per row beat a binary search at small k
        found = (sorted_a.unsqueeze(-1) == b.unsqueeze(-2)).any(-2)
    else:
        position = torch.searchsorted(sorted_a, b.contiguous()).clamp_(max=k - 1)
        found = sorted_a.gather(-1, position) == b
    return found.sum(-1).to(torch.float64)


def _overlap(sorted_a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row fraction of ``b``'s entries found in ``sorted_a``: the mutual-kNN agreement of each row."""
    return shared_entries(sorted_a, b) / sorted_a.shape[-1]


def _graphs(x: torch.Tensor, y: torch.Tensor, k: int, metric: Metric, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    indices_x = knn(x, k, metric=metric, device=device).indices
    indices_y = knn(y, k, metric=metric, device=device).indices
    return indices_x.sort(dim=1).values, indices_y


def mutual_knn(x: Data, y: Data, *, k: int = 10, metric: Metric = "cosine", device: str | torch.device = "auto") -> float:
    """Mutual k-nearest-neighbour alignment (Huh et al., "The Platonic Representation Hypothesis", 2024).

    For every row, the fraction of its ``k`` nearest neighbours in ``x``
    that are also among its ``k`` nearest neighbours in ``y``, averaged over
    rows. 1 when both spaces agree on every neighbourhood; about ``k / n``
    for unrelated spaces. Built on :func:`workbench.geometry.neighbors.knn`
    (memory ``O(n k)``, not the reference code's dense ``n x n`` mask).

    Parameters
    ----------
    x, y : LatentSpaces, tensors or arrays of shapes (n_samples, n_features_x) and (n_samples, n_features_y)
    k : int, default 10
    metric : {"cosine", "euclidean"}, default "cosine"
    device : {"auto", "cpu", "cuda", ...}, default "auto"

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    Scaling a space changes no neighbourhood:

    >>> import numpy as np
    >>> points = np.random.default_rng(0).normal(size=(200, 8))
    >>> mutual_knn(points, 3 * points, k=5)
    1.0
    """
    a, b = pair(x, y)
    where = resolve_device(device)
    sorted_a, b_idx = _graphs(a, b, k, metric, where)
    return float(_overlap(sorted_a, b_idx).mean())


def _mutual_knn_null(sorted_a: torch.Tensor, b_idx: torch.Tensor, perms: torch.Tensor, chunk: int) -> torch.Tensor:
    # y's rows shuffled by p: row i of the shuffled y is row p[i] of y, so its
    # neighbours are p^-1 of the neighbours of p[i].
    inverse = perms.argsort(dim=1)
    n, k = b_idx.shape
    out = []
    for start in range(0, perms.shape[0], chunk):
        p, p_inv = perms[start : start + chunk], inverse[start : start + chunk]
        relabelled = p_inv.gather(1, b_idx[p].reshape(p.shape[0], n * k)).reshape(p.shape[0], n, k)
        out.append(_overlap(sorted_a.expand(p.shape[0], n, k).contiguous(), relabelled).mean(-1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)
