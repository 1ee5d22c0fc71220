"""Measures on the spaces' distances: RSA and the orthogonal Procrustes distance."""

from __future__ import annotations

import torch

from workbench._checks import Data
from workbench.geometry.similarity.matched import Metric, centred, pair

__all__ = ["procrustes_distance", "rsa"]


def _distances(x: torch.Tensor, metric: Metric) -> torch.Tensor:
    x = x.to(torch.float64)
    if metric == "cosine":
        unit = torch.nn.functional.normalize(x, dim=1)
        return 1 - unit @ unit.T
    return torch.cdist(x, x)


def _ranks(values: torch.Tensor) -> torch.Tensor:
    ranks = torch.empty_like(values)
    ranks[values.argsort()] = torch.arange(values.numel(), dtype=values.dtype, device=values.device)
    return ranks


def rsa(x: Data, y: Data, *, metric: Metric = "euclidean", max_rows: int = 3000, seed: int = 0) -> float:
    """Representational similarity analysis (Kriegeskorte et al., 2008).

    The Spearman correlation between the upper triangles of the two spaces'
    distance matrices: do both spaces order the pairs of samples alike by
    distance, whatever their coordinates?

    Parameters
    ----------
    x, y : LatentSpaces, tensors or arrays of shapes (n_samples, n_features_x) and (n_samples, n_features_y)
    metric : {"euclidean", "cosine"}, default "euclidean"
    max_rows : int, default 3000
        The distance matrices grow as ``n^2``; above ``max_rows`` rows a
        seeded random subset of that many rows is used (the same in both).
    seed : int, default 0

    Returns
    -------
    float in [-1, 1]

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    >>> round(rsa(x, 5 * x + 1), 6)
    1.0
    """
    a, b = pair(x, y)
    if a.shape[0] > max_rows:
        keep = torch.randperm(a.shape[0], generator=torch.Generator().manual_seed(seed))[:max_rows]
        a, b = a[keep.to(a.device)], b[keep.to(b.device)]
    rows, cols = torch.triu_indices(a.shape[0], a.shape[0], offset=1, device=a.device)
    ra = _ranks(_distances(a, metric)[rows, cols])
    rb = _ranks(_distances(b, metric)[rows, cols])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def procrustes_distance(x: Data, y: Data) -> float:
    """Orthogonal Procrustes distance (Ding, Denain & Steinhardt, 2021).

    Both spaces are centred and scaled to unit Frobenius norm; the distance
    is ``min_R |X R - Y|_F^2 = 2 - 2 |X^T Y|_*`` over orthogonal ``R`` (the
    narrower space zero-padded), where ``|.|_*`` is the nuclear norm. 0 for
    spaces equal up to a rotation, translation and scale; at most 2.
    **Lower means more alike.**

    Parameters
    ----------
    x, y : LatentSpaces, tensors or arrays of shapes (n_samples, n_features_x) and (n_samples, n_features_y)

    Returns
    -------
    float in [0, 2]

    Examples
    --------
    A rotated, rescaled and shifted copy is at distance 0:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> points = rng.normal(size=(100, 3))
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    >>> round(procrustes_distance(points, 2 * points @ rotation + 1), 6)
    0.0
    """
    a, b = pair(x, y)
    a, b = centred(a), centred(b)
    norm_a, norm_b = a.norm(), b.norm()
    if norm_a == 0 or norm_b == 0:
        raise ValueError("the Procrustes distance is undefined for a representation whose rows are all equal")
    nuclear = torch.linalg.matrix_norm((a / norm_a).T @ (b / norm_b), ord="nuc")
    return float((2 - 2 * nuclear).clamp(min=0))
