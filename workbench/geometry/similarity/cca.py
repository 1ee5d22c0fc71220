"""Canonical correlation measures: SVCCA and PWCCA."""

from __future__ import annotations

import torch

from workbench._checks import Data
from workbench.geometry.similarity.matched import centred, pair

__all__ = ["pwcca", "svcca"]


def _basis(x: torch.Tensor, keep: float | None) -> torch.Tensor:
    """Orthonormal basis of the centred columns' span (truncated to ``keep`` of the variance)."""
    u, s, _ = torch.linalg.svd(centred(x), full_matrices=False)
    tol = s.max() * max(x.shape) * torch.finfo(torch.float64).eps if s.numel() else 0.0
    rank = int((s > tol).sum())
    if rank == 0:
        raise ValueError("a representation with every row equal has no variance to correlate")
    if keep is not None:
        share = (s[:rank] ** 2).cumsum(0) / (s[:rank] ** 2).sum()
        rank = int((share < keep).sum()) + 1
    return u[:, :rank]


def _canonical(x: torch.Tensor, y: torch.Tensor, keep: float | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    qx, qy = _basis(x, keep), _basis(y, keep)
    if min(qx.shape[1], qy.shape[1]) >= x.shape[0] - 1:
        raise ValueError(
            f"CCA needs fewer dimensions than rows: {qx.shape[1]} and {qy.shape[1]} kept dimensions for "
            f"{x.shape[0]} rows make every canonical correlation 1; use more rows or fewer dimensions"
        )
    u, s, _ = torch.linalg.svd(qx.T @ qy, full_matrices=False)
    return qx, u, s.clamp(0, 1)


def svcca(x: Data, y: Data, *, keep: float = 0.99) -> float:
    """Singular vector CCA (Raghu et al., 2017).

    Each space is reduced by SVD to the fewest directions that keep ``keep``
    of its variance, then CCA finds the pairs of directions of highest
    correlation; SVCCA is the mean of those canonical correlations. Invariant
    to invertible linear maps of the kept subspaces.

    Parameters
    ----------
    x, y : LatentSpaces, tensors or arrays of shapes (n_samples, n_features_x) and (n_samples, n_features_y)
    keep : float, default 0.99
        Share of variance each SVD keeps.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    An invertible linear map of a space keeps every canonical correlation:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> acts = rng.normal(size=(200, 6))
    >>> round(svcca(acts, acts @ rng.normal(size=(6, 6))), 6)
    1.0
    """
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1]; got {keep!r}")
    a, b = pair(x, y)
    return float(_canonical(a, b, keep)[2].mean())


def pwcca(x: Data, y: Data) -> float:
    """Projection-weighted CCA (Morcos et al., 2018).

    The canonical correlations ``rho_i`` of ``x`` and ``y``, weighted by how
    much of ``x``'s (centred) columns each canonical variate ``h_i`` accounts
    for: ``alpha_i = sum_j |<h_i, x_j>|``, normalised to sum to 1;
    ``PWCCA = sum_i alpha_i rho_i``. As in the authors' code, ``x`` is the
    side with fewer features (the measure is then symmetric in its
    arguments).

    Parameters
    ----------
    x, y : LatentSpaces, tensors or arrays of shapes (n_samples, n_features_x) and (n_samples, n_features_y)

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> acts = np.random.default_rng(0).normal(size=(200, 6))
    >>> round(pwcca(acts, -acts), 6)
    1.0
    """
    a, b = pair(x, y)
    if a.shape[1] > b.shape[1]:
        a, b = b, a
    qx, u, rho = _canonical(a, b, None)
    variates = qx @ u[:, : rho.numel()]
    weights = (variates.T @ centred(a)).abs().sum(1)
    weights = weights / weights.sum()
    return float((weights * rho).sum())
