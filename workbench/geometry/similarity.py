"""Representational similarity measures the field expects, each with its null.

Every measure takes two representations of the *same* rows (row ``i`` of
``x`` and of ``y`` is one sample; match spaces by id first) of any two widths
and returns one number. :func:`similarity` adds a permutation null (the rows
of ``y`` shuffled, which breaks the pairing and nothing else) and a bootstrap
interval, in the vocabulary of :mod:`workbench.geometry.uncertainty`.

========================  =========================================  =============
name                      what it is                                 higher means
========================  =========================================  =============
``"mutual_knn"``          mean fraction of each row's k neighbours   more alike
                          shared by both spaces (Huh et al. 2024)
``"cka_debiased"``        linear CKA from the unbiased HSIC          more alike
                          estimator (Song et al. 2012; Kornblith
                          et al. 2019), unbiased at small N / high D
``"svcca"``               mean canonical correlation after keeping   more alike
                          99 % of each space's variance (Raghu et
                          al. 2017)
``"pwcca"``               canonical correlations weighted by how     more alike
                          much of ``x`` they explain (Morcos et al.
                          2018)
``"rsa"``                 Spearman correlation of the two distance   more alike
                          matrices' upper triangles (Kriegeskorte
                          et al. 2008)
``"procrustes"``          orthogonal Procrustes distance of the      *less* alike
                          centred, unit-norm spaces, in [0, 2]
                          (Ding et al. 2021)
========================  =========================================  =============

Why nulls matter: Gröger et al. (2026) show that global spectral measures
(CKA and relatives) of two unrelated models sit far above zero at realistic
N and D, and that most apparent "convergence" vanishes against a permutation
null, while mutual-kNN agreement survives. Read a measure next to its
``null_q95`` and ``p_value``.

Permutation nulls are vectorised for the two measures one runs most:
``mutual_knn`` keeps both kNN graphs and only relabels one (``O(P n k log
k)``), and ``cka_debiased`` keeps every permutation-invariant term and
recomputes only ``|X^T Y_p|_F^2`` as batched float32 products (float64 for
the observed value), on the GPU when there is one. The others recompute the
measure per permutation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from workbench.device import resolve_device
from workbench._checks import Data, check_matrix
from workbench.geometry.neighbors import knn
from workbench.geometry.uncertainty import Estimate, bootstrap_indices, estimate, permutations

__all__ = [
    "MEASURES",
    "cka_debiased",
    "mutual_knn",
    "procrustes_distance",
    "pwcca",
    "rsa",
    "similarity",
    "svcca",
]

Metric = Literal["euclidean", "cosine"]


def _pair(x: Data, y: Data, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = check_matrix(x, "x"), check_matrix(y, "y")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"x and y must hold the same rows (row i = one sample in both); got {a.shape[0]} and {b.shape[0]} rows"
        )
    if a.shape[0] < 4:
        raise ValueError(f"comparing representations needs at least 4 rows; got {a.shape[0]}")
    if device is not None:
        a, b = a.to(device), b.to(device)
    return a, b


def _centred64(x: torch.Tensor) -> torch.Tensor:
    x = x.to(torch.float64)
    return x - x.mean(0, keepdim=True)


# ---------------------------------------------------------------- mutual kNN


def _overlap(sorted_a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row fraction of ``b``'s entries found in the row-sorted ``sorted_a``; shapes (..., n, k)."""
    k = sorted_a.shape[-1]
    if k <= 32:  # k^2 comparisons per row beat a binary search at small k
        found = (sorted_a.unsqueeze(-1) == b.unsqueeze(-2)).any(-2)
    else:
        position = torch.searchsorted(sorted_a, b.contiguous()).clamp_(max=k - 1)
        found = sorted_a.gather(-1, position) == b
    return found.sum(-1).to(torch.float64) / k


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
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)
    k : int, default 10
    metric : {"cosine", "euclidean"}, default "cosine"
    device : {"auto", "cpu", "cuda", ...}, default "auto"

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    >>> mutual_knn(x, 3 * x, k=5)
    1.0
    """
    a, b = _pair(x, y)
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


# ---------------------------------------------------------------- debiased CKA


@dataclass(frozen=True)
class _HsicTerms:
    """The permutation-invariant parts of the unbiased HSIC of two centred spaces."""

    n: int
    row_norms_x: torch.Tensor  # |x_i|^2, shape (n,)
    row_norms_y: torch.Tensor
    hsic_xx: float
    hsic_yy: float

    def hsic_xy(self, squared_cross: torch.Tensor, row_dot: torch.Tensor) -> torch.Tensor:
        """Unbiased HSIC from ``|X^T Y|_F^2`` and ``sum_i |x_i|^2 |y_i|^2`` (any batch shape)."""
        n = self.n
        total = self.row_norms_x.sum() * self.row_norms_y.sum()
        return squared_cross - n / (n - 2) * row_dot + total / ((n - 1) * (n - 2))


def _hsic_terms(x: torch.Tensor, y: torch.Tensor) -> _HsicTerms:
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"debiased CKA needs at least 4 rows; got {n}")
    kx, ky = (x * x).sum(1), (y * y).sum(1)

    def self_hsic(m: torch.Tensor, norms: torch.Tensor) -> float:
        gram = m.T @ m if m.shape[1] <= n else m @ m.T
        return float(gram.pow(2).sum() - n / (n - 2) * norms.pow(2).sum() + norms.sum() ** 2 / ((n - 1) * (n - 2)))

    return _HsicTerms(n, kx, ky, self_hsic(x, kx), self_hsic(y, ky))


def _squared_cross(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    n, dx, dy = x.shape[0], x.shape[1], y.shape[1]
    if n * n * (dx + dy) < n * dx * dy:  # the Gram form is cheaper for wide spaces
        return ((x @ x.T) * (y @ y.T)).sum()
    return (x.T @ y).pow(2).sum()


def _cka_from(terms: _HsicTerms, cross: torch.Tensor) -> torch.Tensor:
    denominator = math.sqrt(terms.hsic_xx * terms.hsic_yy) if terms.hsic_xx > 0 and terms.hsic_yy > 0 else math.nan
    return cross / denominator


def cka_debiased(x: Data, y: Data) -> float:
    """Linear CKA computed from the unbiased HSIC estimator.

    Plain linear CKA (:func:`workbench.geometry.compare.linear_cka`) is biased
    upwards when N is small against D: two independent Gaussian spaces with
    N = 100, D = 500 score about 0.8. The unbiased HSIC estimator (Song et
    al., 2012) drops every term that pairs a row with itself; in feature form
    for centred ``X``, ``Y`` (Kornblith et al., 2019, their debiased variant):

    ``HSIC_u = |X^T Y|^2 - n/(n-2) sum_i |x_i|^2 |y_i|^2 + (sum|x_i|^2)(sum|y_i|^2)/((n-1)(n-2))``

    and ``CKA_u = HSIC_u(X, Y) / sqrt(HSIC_u(X, X) HSIC_u(Y, Y))``. Near 0 for
    unrelated spaces (it can be slightly negative), 1 for spaces equal up to
    a rotation and a scale. Computed in float64.

    Parameters
    ----------
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)
        ``n_samples >= 4``.

    Returns
    -------
    float

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(300, 10, generator=g)
    >>> round(cka_debiased(x, 2 * x), 6)
    1.0
    >>> abs(cka_debiased(x, torch.randn(300, 10, generator=g))) < 0.05
    True
    """
    a, b = _pair(x, y)
    a, b = _centred64(a), _centred64(b)
    terms = _hsic_terms(a, b)
    cross = terms.hsic_xy(_squared_cross(a, b), (terms.row_norms_x * terms.row_norms_y).sum())
    return float(_cka_from(terms, cross))


def _cka_null(x: torch.Tensor, y: torch.Tensor, perms: torch.Tensor, chunk_bytes: int = 1 << 28) -> torch.Tensor:
    x, y = _centred64(x), _centred64(y)
    terms = _hsic_terms(x, y)
    x32, y32 = x.to(torch.float32), y.to(torch.float32)
    n, dy = y.shape
    chunk = max(1, chunk_bytes // max(1, n * dy * 4))
    out = []
    for start in range(0, perms.shape[0], chunk):
        p = perms[start : start + chunk]
        cross = torch.einsum("nd,pne->pde", x32, y32[p]).pow(2).sum((1, 2)).to(torch.float64)
        row_dot = (terms.row_norms_x.unsqueeze(0) * terms.row_norms_y[p]).sum(1)
        out.append(_cka_from(terms, terms.hsic_xy(cross, row_dot)))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)


# ---------------------------------------------------------------- CCA family


def _basis(x: torch.Tensor, keep: float | None) -> torch.Tensor:
    """Orthonormal basis of the centred columns' span (truncated to ``keep`` of the variance)."""
    u, s, _ = torch.linalg.svd(_centred64(x), full_matrices=False)
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
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)
    keep : float, default 0.99
        Share of variance each SVD keeps.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    >>> round(svcca(x, x @ torch.randn(6, 6, generator=torch.Generator().manual_seed(1))), 6)
    1.0
    """
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1]; got {keep!r}")
    a, b = _pair(x, y)
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
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    >>> round(pwcca(x, -x), 6)
    1.0
    """
    a, b = _pair(x, y)
    if a.shape[1] > b.shape[1]:
        a, b = b, a
    qx, u, rho = _canonical(a, b, None)
    variates = qx @ u[:, : rho.numel()]
    weights = (variates.T @ _centred64(a)).abs().sum(1)
    weights = weights / weights.sum()
    return float((weights * rho).sum())


# ---------------------------------------------------------------- RSA, Procrustes


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
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)
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
    a, b = _pair(x, y)
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
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)

    Returns
    -------
    float in [0, 2]

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    >>> q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)))
    >>> round(procrustes_distance(x, 2 * x @ q + 1), 6)
    0.0
    """
    a, b = _pair(x, y)
    a, b = _centred64(a), _centred64(b)
    norm_a, norm_b = a.norm(), b.norm()
    if norm_a == 0 or norm_b == 0:
        raise ValueError("the Procrustes distance is undefined for a representation whose rows are all equal")
    nuclear = torch.linalg.matrix_norm((a / norm_a).T @ (b / norm_b), ord="nuc")
    return float((2 - 2 * nuclear).clamp(min=0))


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class Measure:
    """A registered similarity measure.

    Attributes
    ----------
    name : str
    function : callable ``(x, y, **options) -> float``
    higher_is_closer : bool
        False for distances (then the permutation p-value is one-sided
        towards smaller values).
    reference : str
    """

    name: str
    function: Callable[..., float]
    higher_is_closer: bool
    reference: str


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("mutual_knn", mutual_knn, True, "Huh et al., The Platonic Representation Hypothesis, ICML 2024"),
        Measure("cka_debiased", cka_debiased, True, "Song et al. 2012 (unbiased HSIC); Kornblith et al., ICML 2019"),
        Measure("svcca", svcca, True, "Raghu et al., SVCCA, NeurIPS 2017"),
        Measure("pwcca", pwcca, True, "Morcos et al., Insights on representational similarity, NeurIPS 2018"),
        Measure("rsa", rsa, True, "Kriegeskorte et al., Representational similarity analysis, 2008"),
        Measure("procrustes", procrustes_distance, False, "Ding et al., Grounding representation similarity, NeurIPS 2021"),
    )
}


def similarity(
    x: Data,
    y: Data,
    measure: str = "mutual_knn",
    *,
    k: int = 10,
    metric: Metric = "cosine",
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    level: float = 0.95,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> Estimate:
    """One similarity measure with its permutation null and bootstrap interval.

    Parameters
    ----------
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)
        Row ``i`` is the same sample in both.
    measure : str, default "mutual_knn"
        A key of :data:`MEASURES`.
    k : int, default 10
        Neighbours, for ``"mutual_knn"``.
    metric : {"cosine", "euclidean"}, default "cosine"
        Neighbour metric for ``"mutual_knn"``; distance for ``"rsa"``.
    n_permutations : int, default 0
        Rows of ``y`` shuffled this many times to give ``null_mean``,
        ``null_q95`` and ``p_value``.
    n_bootstrap : int, default 0
        Resamples for ``ci_low`` / ``ci_high``. For ``"mutual_knn"`` the
        per-row agreements are resampled (the graphs stay those of the full
        data, since a resample with repeated rows would make copies each
        other's nearest neighbours); for the others the rows are.
    level : float, default 0.95
    seed : int, default 0
    device : {"auto", "cpu", "cuda", ...}, default "auto"

    Returns
    -------
    Estimate

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(300, 16, generator=g)
    >>> e = similarity(x, x + 0.1 * torch.randn(300, 16, generator=g), "cka_debiased", n_permutations=99, device="cpu")
    >>> e.value > 0.9, e.p_value
    (True, 0.01)
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {sorted(MEASURES)}")
    spec = MEASURES[measure]
    where = resolve_device(device)
    a, b = _pair(x, y, where)
    n = a.shape[0]
    options = _options(measure, k=k, metric=metric, seed=seed)
    null = boot = None
    if measure == "mutual_knn":
        sorted_a, b_idx = _graphs(a, b, k, metric, where)
        rows = _overlap(sorted_a, b_idx)
        value = float(rows.mean())
        if n_permutations:
            perms = permutations(n, n_permutations, seed=seed, device=where)
            null = _mutual_knn_null(sorted_a, b_idx, perms, chunk=max(1, (1 << 26) // (n * k * k)))
        if n_bootstrap:
            boot = [float(rows[i].mean()) for i in bootstrap_indices(n, n_bootstrap, seed=seed + 1, device=where)]
    else:
        value = spec.function(a, b, **options)
        if n_permutations:
            perms = permutations(n, n_permutations, seed=seed, device=where)
            if measure == "cka_debiased":
                null = _cka_null(a, b, perms)
            else:
                null = [spec.function(a, b[p], **options) for p in perms]
        if n_bootstrap:
            boot = [_or_nan(spec.function, a[i], b[i], options) for i in bootstrap_indices(n, n_bootstrap, seed=seed + 1, device=where)]
    return estimate(value, null=null, bootstrap=boot, level=level, alternative="greater" if spec.higher_is_closer else "less")


def _options(measure: str, *, k: int, metric: Metric, seed: int) -> dict:
    if measure == "mutual_knn":
        return {"k": k, "metric": metric}
    if measure == "rsa":
        return {"metric": metric, "seed": seed}
    return {}


def _or_nan(function: Callable[..., float], a: torch.Tensor, b: torch.Tensor, options: dict) -> float:
    # A resample can make a measure undefined (e.g. too few distinct rows for
    # CCA); it then counts as missing rather than stopping the whole interval.
    try:
        return function(a, b, **options)
    except ValueError:
        return math.nan
