"""Intrinsic dimension across scales: does the estimate depend on the neighbourhood size?

Local LID is read at one neighbourhood size ``k``, and a reader should know
whether another ``k`` would tell another story: noise inflates the dimension
at the smallest scales, curvature and clusters change it at the largest.
GRIDE (Denti, Doimo, Laio & Mira, Sci. Rep. 2022) generalises TwoNN from the
ratio of the 2nd to the 1st neighbour distance to the ratio
``mu = r_{n2} / r_{n1}`` of any two neighbour ranks, whose law given the
dimension ``d`` is known:

``f(mu) = d (mu^d - 1)^(n2 - n1 - 1) / (B(n2 - n1, n1) mu^((n2 - 1) d + 1))``, ``mu > 1``.

Doubling the ranks (``n1 = 1, 2, 4, ...``, ``n2 = 2 n1``) walks through the
scales; at each, the maximum-likelihood ``d`` and its standard error from the
Fisher information give a dimension with an interval. This follows DADApy's
``Data.return_id_scaling_gride`` (its conventions: the ``N - 1`` in the
likelihood, ratios beyond ``q50 + 20 (q95 - q50)`` dropped as overlapping
points, bisection on the score between ``d_min`` and ``d_max``), on a
:class:`~workbench.geometry.neighbors.KNNGraph` computed once, all scales in
one vectorised pass.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from workbench._checks import Data
from workbench.geometry.neighbors import KNNGraph, knn

__all__ = ["id_scaling"]


def _ranks(max_rank: int) -> list[int]:
    return [2**i for i in range(int(math.log2(max_rank)) + 1)]


def _score(d: torch.Tensor, log_mu: torch.Tensor, valid: torch.Tensor, n1: torch.Tensor, n2: torch.Tensor) -> torch.Tensor:
    """Minus the derivative of the log-likelihood in ``d``, per scale; positive past the maximum."""
    one_minus = (1.0 - torch.exp(-d[:, None] * log_mu)).clamp(min=2e-7)
    terms = ((1 - n2 + n1)[:, None] / one_minus + (n2 - 1)[:, None]) * log_mu
    count = valid.sum(1).to(d.dtype)
    return torch.where(valid, terms, torch.zeros_like(terms)).sum(1) - (count - 1) / d


def id_scaling(
    data: Data | KNNGraph,
    *,
    max_rank: int = 64,
    d_min: float = 1e-3,
    d_max: float = 1e3,
    device: str | torch.device = "auto",
) -> pd.DataFrame:
    """Intrinsic dimension at neighbour ranks 1-2, 2-4, 4-8, ... up to ``max_rank`` (GRIDE).

    Parameters
    ----------
    data : LatentSpace, tensor, array of shape (n_samples, n_features), or KNNGraph
        A Euclidean :class:`KNNGraph` with at least ``max_rank`` neighbours
        is used as is (computed once, shared with LID).
    max_rank : int, default 64
        Largest neighbour rank; the scales are the powers of two up to it.
    d_min, d_max : float
        Search interval for the dimension.
    device : {"auto", "cpu", "cuda", ...}, default "auto"

    Returns
    -------
    DataFrame, one row per scale, with columns ``n1``, ``n2`` (the two
    neighbour ranks), ``distance`` (mean distance of those neighbours: the
    length scale), ``dimension``, ``std_error`` (from the Fisher
    information), ``ci_low`` / ``ci_high`` (95 %, normal), ``n_ratios``
    (ratios used after dropping copies and outliers).

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(4000, 3, generator=torch.Generator().manual_seed(0))
    >>> table = id_scaling(x, max_rank=16, device="cpu")
    >>> table["n1"].tolist()
    [1, 2, 4, 8]
    >>> bool(((table.dimension - 3).abs() < 0.4).all())
    True
    """
    if isinstance(max_rank, bool) or not isinstance(max_rank, (int, np.integer)) or max_rank < 2:
        raise ValueError(f"max_rank must be a whole number >= 2; got {max_rank!r}")
    ranks = _ranks(int(max_rank))
    if isinstance(data, KNNGraph):
        graph = data
        if graph.metric != "euclidean":
            raise ValueError(f"GRIDE's law holds for Euclidean distances; this graph is {graph.metric!r}")
        if graph.k < ranks[-1]:
            raise ValueError(f"the graph has k={graph.k} neighbours but max_rank={max_rank} needs {ranks[-1]}")
    else:
        graph = knn(data, ranks[-1], metric="euclidean", device=device)
    distances = graph.distances.to(torch.float64)
    # column r - 1 is the r-th neighbour (the point itself is not in the graph)
    near = distances[:, [r - 1 for r in ranks[:-1]]]
    far = distances[:, [r - 1 for r in ranks[1:]]]
    log_mu, valid = _log_ratios(near, far)
    n1 = torch.tensor(ranks[:-1], dtype=torch.float64, device=distances.device)
    n2 = 2 * n1

    low = torch.full((len(n1),), float(d_min), dtype=torch.float64, device=distances.device)
    high = torch.full_like(low, float(d_max))
    at_high = _score(high, log_mu.T, valid.T, n1, n2)
    for _ in range(int(math.ceil(math.log2((d_max - d_min) / 1e-7)))):
        middle = (low + high) / 2
        same_side = _score(middle, log_mu.T, valid.T, n1, n2) * at_high > 0
        high = torch.where(same_side, middle, high)
        low = torch.where(same_side, low, middle)
    dimension = (low + high) / 2

    count = valid.sum(0).to(torch.float64)
    mu_d = torch.exp(-dimension[None, :] * log_mu)
    one_minus = (1 - mu_d).clamp(min=5 * torch.finfo(torch.float32).eps)
    fisher = count / dimension**2 + ((n2 - n1 - 1)[None, :] * torch.where(valid, (log_mu / one_minus) ** 2 * mu_d, 0.0)).sum(0)
    error = fisher.rsqrt()
    table = pd.DataFrame(
        {
            "n1": [int(r) for r in ranks[:-1]],
            "n2": [int(r) for r in ranks[1:]],
            "distance": ((near + far) / 2).mean(0).cpu().numpy(),
            "dimension": dimension.cpu().numpy(),
            "std_error": error.cpu().numpy(),
        }
    )
    table["ci_low"] = table["dimension"] - 1.959964 * table["std_error"]
    table["ci_high"] = table["dimension"] + 1.959964 * table["std_error"]
    table["n_ratios"] = count.cpu().numpy().astype(int)
    return table


def _log_ratios(near: torch.Tensor, far: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log(r_n2 / r_n1) per point and scale, and which ratios the fit may use."""
    defined = near > 0  # a copy at distance 0 has no ratio
    mu = torch.where(defined, far / torch.where(defined, near, torch.ones_like(near)), torch.ones_like(near))
    # DADApy nudges ratios of exactly 1 off the singularity of the likelihood
    mu = torch.where(mu == 1, mu + 10 * torch.finfo(torch.float64).eps, mu)
    valid = defined.clone()
    for s in range(mu.shape[1]):
        column = mu[defined[:, s], s]
        if column.numel() == 0:
            continue
        q95, q50 = torch.quantile(column, torch.tensor([0.95, 0.5], dtype=column.dtype, device=column.device))
        valid[:, s] &= mu[:, s] < 20 * (q95 - q50) + q50
    return torch.log(mu), valid
