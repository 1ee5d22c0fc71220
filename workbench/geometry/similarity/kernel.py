"""Kernel alignment: linear CKA and debiased CKA (unbiased HSIC), with a vectorised permutation null."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from workbench._checks import Data
from workbench.geometry.similarity.matched import centred, pair

__all__ = ["cka_debiased", "linear_cka"]


def linear_cka(x: Data, y: Data) -> float:
    """Linear centred kernel alignment between two representations of the same rows.

    ``CKA = |Yc^T Xc|_F^2 / (|Xc^T Xc|_F |Yc^T Yc|_F)`` with column-centred
    ``Xc``, ``Yc`` -- equal to the HSIC form ``<HKH, HLH> / (|HKH| |HLH|)``
    with ``K = X X^T``, ``L = Y Y^T``. Computed in float64, in whichever of
    the two forms is cheaper.

    Parameters
    ----------
    x, y : LatentSpaces, tensors or arrays of shapes (n_samples, n_features_x) and (n_samples, n_features_y)
        Row ``i`` of ``y`` is the same sample as row ``i`` of ``x`` (use
        :func:`match_rows` for spaces with ids).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    >>> round(linear_cka(x, 2 * x), 6)
    1.0
    """
    xs, ys = centred(x, "x"), centred(y, "y")
    if xs.shape[0] != ys.shape[0]:
        raise ValueError(f"x and y must have the same rows; got {xs.shape[0]} and {ys.shape[0]}")
    n, dx, dy = xs.shape[0], xs.shape[1], ys.shape[1]
    if n * n * (dx + dy) < n * (dx * dy + dx * dx + dy * dy):
        k, l_ = xs @ xs.T, ys @ ys.T
        value = (k * l_).sum() / (k.norm() * l_.norm())
    else:
        value = (ys.T @ xs).pow(2).sum() / ((xs.T @ xs).norm() * (ys.T @ ys).norm())
    return float(value)






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
    x, y : LatentSpaces, tensors or arrays of shapes (n_samples, n_features_x) and (n_samples, n_features_y)
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
    a, b = pair(x, y)
    a, b = centred(a), centred(b)
    terms = _hsic_terms(a, b)
    cross = terms.hsic_xy(_squared_cross(a, b), (terms.row_norms_x * terms.row_norms_y).sum())
    return float(_cka_from(terms, cross))


def _cka_null(x: torch.Tensor, y: torch.Tensor, perms: torch.Tensor, chunk_bytes: int = 1 << 28) -> torch.Tensor:
    x, y = centred(x), centred(y)
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
