"""TwoNN: intrinsic dimension from the ratio of each point's two nearest distances.

For a point with nearest-neighbour distances ``r1 <= r2``, the ratio
``mu = r2 / r1`` follows a Pareto law with shape ``d`` (the intrinsic
dimension) wherever the density is locally constant (Facco et al., 2017).
The estimate sorts the ratios, keeps the smallest ``1 - discard_fraction`` of
them and either fits ``-log(1 - F(mu))`` against ``log mu`` by least squares
through the origin (``method="linear"``, Facco et al.) or takes the closed-form
maximum-likelihood estimate under type-II censoring (``method="mle"``).

The fit here, :func:`twonn_dimension`, works on a whole batch of rows of
ratios at once: the local intrinsic dimension calls it on thousands of
neighbourhoods in one pass. It reproduces scikit-dimension 0.5
``skdim.id.TwoNN`` to rounding error, including its conventions:

* the empirical CDF is ``F_i = i / N`` with ``N`` the number of usable ratios
  (after undefined ratios are dropped), not ``i / (N + 1)``;
* ``int(N * (1 - discard_fraction))`` ratios are kept (Python's truncation,
  with its floating-point product: ``int(128 * 0.9) == 115``);
* a ratio whose ``r1`` is zero (a duplicated point) is undefined and left out.

That last rule is where scikit-dimension's own *behaviour* goes wrong: it
computes distances with the ``|x|^2 + |y|^2 - 2 x.y`` expansion, so an exact
duplicate often comes out at ``r1 ~ 1e-8`` instead of 0, its ratio is kept,
``log mu ~ 18`` dominates the fit and the estimate collapses (200 points in
30-D plus 20 copies: 21.5 instead of 23.7 in 0.5, 0.17 in older versions).
The workbench computes ``r1`` from coordinate differences, so copies are
exactly 0; see :mod:`workbench.geometry.intrinsic.duplicates` for the policies.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator

from workbench._checks import Data, check_matrix
from workbench.device import accumulate_dtype
from workbench.geometry.intrinsic.duplicates import check_policy, report_dropped, report_duplicates, unique_rows
from workbench.geometry.neighbors import knn

__all__ = ["TwoNN", "twonn_dimension", "twonn_standard_error"]

Method = Literal["linear", "mle"]
#: empirical CDF of the sorted ratios: ``i / N`` for i = 1..N (scikit-dimension >= 0.4), or
#: ``(i - 1) / N`` (scikit-dimension 0.3.4, which "Less is More"'s code pins)
CDF = Literal["corrected", "skdim-0.3"]
_CDFS = ("corrected", "skdim-0.3")
#: log-ratios below this are ties at the precision of float32 distances
_TIE = 1e-6
_METHODS = ("linear", "mle")
#: spread of TwoNN estimates over the spread the independent-ratio model
#: predicts. The ratios of two mutual nearest neighbours share their ``r1``, so
#: the ``N`` ratios are not independent (Facco et al. 2017 treat them as if
#: they were). Measured on flat d-tori (constant density, no boundary) embedded
#: in 2d dimensions, 4 000 points, d = 2, 4, 6: global TwoNN on 128 points
#: 1.19-1.24, local TwoNN with L = 32 and 128 1.17-1.31, for both methods.
DEPENDENCE_FACTOR = 1.2


def _fit_dtype(device: torch.device) -> torch.dtype:
    # the ratio fit is cheap (rows x L); float64 keeps it at rounding error
    # from scikit-dimension (float32 on MPS, which has no float64)
    return accumulate_dtype(device)


def twonn_dimension(
    r1: torch.Tensor,
    r2: torch.Tensor,
    *,
    discard_fraction: float = 0.1,
    method: Method = "linear",
    zero_tol: float = 0.0,
    cdf: CDF = "corrected",
) -> tuple[torch.Tensor, torch.Tensor]:
    """TwoNN estimate for every row of nearest-neighbour distances, in one pass.

    Parameters
    ----------
    r1, r2 : tensor of shape (n_rows, n_points)
        First and second nearest-neighbour distances of ``n_points`` points;
        each row is one data set (one neighbourhood) to estimate.
    discard_fraction : float, default 0.1
        Share of the largest ratios left out of the fit.
    method : {"linear", "mle"}, default "linear"
        Least squares through the origin (Facco et al. 2017), or the
        maximum-likelihood estimate ``(k - 1) / (sum log mu + (N - k) log mu_k)``.
    zero_tol : float, default 0.0
        Ratios with ``r1 <= zero_tol`` are undefined (duplicates) and dropped.
    cdf : {"corrected", "skdim-0.3"}, default "corrected"
        The empirical CDF of the sorted ratios in the linear fit: ``i / N``
        (scikit-dimension >= 0.4, PR #28) or ``(i - 1) / N`` (scikit-dimension
        0.3.4, pinned by the code of "Less is More"; use it to reproduce that
        paper's numbers). The first puts the fit's first point at a CDF of
        ``1 / N`` instead of 0; the estimates differ by a few percent at
        ``N ~ 100``.

    Returns
    -------
    dimension : tensor of shape (n_rows,)
        NaN where fewer than 2 ratios are left to fit, or where all kept
        ratios are 1 (a lattice, or copies: the slope is undefined;
        scikit-dimension returns 0 there). Ratios within 1e-6 of 1 count as 1.
    n_dropped : tensor of shape (n_rows,), int64
        Ratios dropped per row because ``r1 <= zero_tol``.

    Examples
    --------
    >>> import torch
    >>> r1 = torch.ones(2, 4)
    >>> r2 = torch.tensor([[2.0, 4.0, 8.0, 16.0], [1.5, 1.2, 1.9, 1.1]])
    >>> dimension, n_dropped = twonn_dimension(r1, r2, discard_fraction=0.25)
    >>> dimension.round(decimals=3).tolist(), n_dropped.tolist()
    ([0.601, 3.463], [0, 0])
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    if cdf not in _CDFS:
        raise ValueError(f"cdf must be one of {_CDFS}; got {cdf!r}")
    if not 0.0 <= discard_fraction < 1.0:
        raise ValueError(f"discard_fraction must be in [0, 1); got {discard_fraction}")
    dtype = _fit_dtype(r1.device)
    r1 = r1.to(dtype)
    r2 = r2.to(dtype)
    n_points = r1.shape[1]
    valid = r1 > zero_tol
    n_valid = valid.sum(1)
    mu = torch.where(valid, r2 / torch.where(valid, r1, torch.ones_like(r1)), torch.full_like(r1, float("inf")))
    log_mu = torch.log(torch.sort(mu, dim=1).values)
    # two members at the same distance (copies of one point, say) read as a
    # ratio of 1 + rounding error when their distances were rounded apart; an
    # all-tie neighbourhood would then give a slope of ~1e15 instead of none.
    # Below _TIE, a ratio is a tie (real ratios that close to 1 are rare, and
    # counting them as ties moves the slope by less than _TIE)
    log_mu = torch.where(log_mu < _TIE, torch.zeros_like(log_mu), log_mu)
    n_total = n_valid.to(dtype)
    # int(N * (1 - f)) exactly as Python computes it: same float64 product, truncated
    n_keep = torch.floor(n_total * (1.0 - discard_fraction))
    rank = torch.arange(1, n_points + 1, device=r1.device, dtype=dtype)
    kept = rank[None, :] <= n_keep[:, None]
    log_mu = torch.where(kept, log_mu, torch.zeros_like(log_mu))
    if method == "linear":
        position = rank if cdf == "corrected" else rank - 1
        empirical = torch.where(kept, position[None, :] / n_total.clamp(min=1)[:, None], torch.zeros_like(log_mu))
        target = -torch.log(1.0 - empirical)
        dimension = (log_mu * target).sum(1) / (log_mu * log_mu).sum(1)
    else:
        last = torch.gather(log_mu, 1, (n_keep.long() - 1).clamp(min=0)[:, None]).squeeze(1)
        dimension = (n_keep - 1.0) / (log_mu.sum(1) + (n_total - n_keep) * last)
    defined = (n_keep >= 2) & torch.isfinite(dimension)
    dimension = torch.where(defined, dimension, torch.full_like(dimension, float("nan")))
    return dimension, n_points - n_valid


def _linear_fit_cv(n_total: int, n_keep: int, cdf: CDF) -> float:
    """Coefficient of variation of the least-squares TwoNN fit on independent ratios (delta method).

    Under the Pareto law ``log mu ~ Exponential(d)``, so the sorted log-ratios
    are ``e_(i) / d`` with ``e_(i)`` the order statistics of ``n_total``
    standard exponentials, and the fit is ``d * sum(y_i e_(i)) / sum(e_(i)^2)``:
    its coefficient of variation does not depend on ``d``. Rényi's
    representation ``e_(i) = sum_{l <= i} Z_l / (n_total - l + 1)``, ``Z_l``
    independent standard exponentials, gives the delta-method variance in
    ``O(n_keep)``.
    """
    rank = np.arange(1, n_keep + 1, dtype=np.float64)
    position = rank if cdf == "corrected" else rank - 1
    target = -np.log1p(-position / n_total)
    spacing = 1.0 / (n_total - rank + 1)  # the weight of Z_l in every later order statistic
    expected = np.cumsum(spacing)
    a, b = float(target @ expected), float(expected @ expected)
    gradient = target / b - 2.0 * a * expected / b**2
    weight = np.cumsum(gradient[::-1])[::-1] * spacing  # d fit / d Z_l
    return float(np.sqrt(weight @ weight) / (a / b))


def twonn_standard_error(
    dimension: torch.Tensor | np.ndarray,
    n_ratios: torch.Tensor | np.ndarray,
    *,
    discard_fraction: float = 0.1,
    method: Method = "linear",
    cdf: CDF = "corrected",
) -> np.ndarray:
    """Asymptotic standard error of TwoNN estimates, one per row.

    Under the TwoNN model the log-ratios ``log mu`` of ``N`` points are
    independent ``Exponential(d)`` draws (Facco et al. 2017), and the fit keeps
    the smallest ``n = int(N * (1 - discard_fraction))`` of them (type-II
    censoring). Then the estimate divided by ``d`` has a distribution free of
    ``d``, so its standard error is the estimate times a coefficient of
    variation that depends only on ``N``, ``n`` and the method:

    * ``method="mle"``: the total time on test ``T = sum_{i<=n} log mu_(i) +
      (N - n) log mu_(n)`` is ``Gamma(n, d)`` (Epstein & Sobel 1953), the
      estimate ``(n - 1) / T`` is unbiased with ``sd = d / sqrt(n - 2)``;
    * ``method="linear"``: the least-squares slope is a smooth function of the
      exponential order statistics; its coefficient of variation follows from
      the delta method with Rényi's representation of their covariance
      (about ``1 / sqrt(n)`` too, 0.095 at ``N = 128``).

    The ratios are not quite independent (mutual nearest neighbours share
    ``r1``), which widens the true spread by about a fifth: the result is
    multiplied by :data:`DEPENDENCE_FACTOR` (1.2, measured on flat tori).

    Parameters
    ----------
    dimension : array-like of shape (n_rows,)
        TwoNN estimates, as :func:`twonn_dimension` returns them.
    n_ratios : array-like of shape (n_rows,)
        Usable ratios per row (points minus those dropped as copies).
    discard_fraction, method, cdf
        As given to :func:`twonn_dimension`.

    Returns
    -------
    ndarray of shape (n_rows,), float64
        NaN where the estimate is NaN or fewer than 3 ratios are kept.

    Examples
    --------
    >>> se = twonn_standard_error(np.array([4.0]), np.array([128]), method="mle")
    >>> round(float(se[0]), 3)  # 1.2 * 4 / sqrt(115 - 2)
    0.452
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    if cdf not in _CDFS:
        raise ValueError(f"cdf must be one of {_CDFS}; got {cdf!r}")
    values = np.asarray(torch.as_tensor(dimension).cpu(), dtype=np.float64)
    counts = np.asarray(torch.as_tensor(n_ratios).cpu(), dtype=np.int64)
    if values.shape != counts.shape:
        raise ValueError(f"dimension and n_ratios must have the same shape; got {values.shape} and {counts.shape}")
    cv = np.full(values.shape, np.nan)
    for n_total in np.unique(counts):  # usually one count: every neighbourhood has L ratios
        n_keep = int(n_total * (1.0 - discard_fraction))
        if n_keep < 3:
            continue
        where = counts == n_total
        cv[where] = 1.0 / np.sqrt(n_keep - 2) if method == "mle" else _linear_fit_cv(int(n_total), n_keep, cdf)
    return DEPENDENCE_FACTOR * cv * values


class TwoNN(BaseEstimator):
    """Global intrinsic dimension by TwoNN (Facco et al. 2017).

    Parameters
    ----------
    discard_fraction : float, default 0.1
        Share of the largest ratios ``r2 / r1`` left out (they come from
        points at the edge of the data or in sparse regions).
    method : {"linear", "mle"}, default "linear"
        ``"linear"``: least-squares slope of ``-log(1 - F)`` against ``log mu``
        through the origin, as in the paper and scikit-dimension.
        ``"mle"``: closed-form maximum likelihood with the discarded ratios
        treated as censored.
    duplicates : {"deduplicate", "drop"}, default "deduplicate"
        What to do with repeated rows; see :mod:`workbench.geometry.intrinsic.duplicates`.
    duplicate_tol : float, default 0.0
        Rows closer than this (Euclidean) count as copies of each other.
    cdf : {"corrected", "skdim-0.3"}, default "corrected"
        Empirical-CDF convention of the linear fit; see :func:`twonn_dimension`.
    device : {"auto", "cpu", "cuda", ...}

    Attributes
    ----------
    dimension_ : float
        The estimate.
    standard_error_ : float
        Its asymptotic standard error (:func:`twonn_standard_error`).
    n_duplicates_ : int
        Rows that repeat another row (removed under ``"deduplicate"``).
    n_dropped_ : int
        Ratios left out because ``r1 <= duplicate_tol``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).uniform(size=(2000, 3)) @ np.random.default_rng(1).normal(size=(3, 10))
    >>> model = TwoNN().fit(x)
    >>> 2.5 < model.dimension_ < 3.5, 0.05 < model.standard_error_ < 0.15
    (True, True)
    """

    def __init__(
        self,
        *,
        discard_fraction: float = 0.1,
        method: Method = "linear",
        duplicates: str = "deduplicate",
        duplicate_tol: float = 0.0,
        cdf: CDF = "corrected",
        device: str = "auto",
    ) -> None:
        self.discard_fraction = discard_fraction
        self.method = method
        self.cdf = cdf
        self.duplicates = duplicates
        self.duplicate_tol = duplicate_tol
        self.device = device

    def fit(self, X: Data, y: object = None) -> TwoNN:
        """Estimate the intrinsic dimension of ``X``.

        Parameters
        ----------
        X : LatentSpace, tensor or array of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        check_policy(self.duplicates)
        x = check_matrix(X, "X")
        self.n_features_in_ = x.shape[1]
        self.n_duplicates_ = 0
        if self.duplicates == "deduplicate":
            groups = unique_rows(x, tol=self.duplicate_tol, device=self.device)
            self.n_duplicates_ = groups.n_duplicates
            report_duplicates(groups.n_duplicates, x.shape[0])
            x = x[torch.as_tensor(groups.keep, device=x.device)]
        if x.shape[0] < 3:
            raise ValueError(f"TwoNN needs at least 3 distinct points; got {x.shape[0]}")
        graph = knn(x, 2, device=self.device)
        dimension, dropped = twonn_dimension(
            graph.distances[None, :, 0],
            graph.distances[None, :, 1],
            discard_fraction=self.discard_fraction,
            method=self.method,
            zero_tol=self.duplicate_tol,
            cdf=self.cdf,
        )
        self.n_dropped_ = int(dropped.sum())
        report_dropped(self.n_dropped_, x.shape[0], policy=self.duplicates, what="points")
        if not bool(torch.isfinite(dimension).all()):
            raise ValueError(
                "fewer than 2 usable ratios r2/r1 are left to fit "
                f"({x.shape[0]} points, {self.n_dropped_} with a zero nearest distance); TwoNN needs more points"
            )
        self.dimension_ = float(dimension[0])
        self.standard_error_ = float(
            twonn_standard_error(
                dimension,
                x.shape[0] - dropped,
                discard_fraction=self.discard_fraction,
                method=self.method,
                cdf=self.cdf,
            )[0]
        )
        return self

    def fit_transform(self, X: Data, y: object = None) -> float:
        """Fit and return :attr:`dimension_`."""
        return self.fit(X).dimension_

