"""Paper parity for LID: scikit-dimension 0.3.4's empirical CDF, and a warning where 'local' is not local."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.geometry.intrinsic import LocalIntrinsicDimension, TwoNN


def _twonn_skdim_034(x: np.ndarray, discard_fraction: float = 0.1) -> float:
    """scikit-dimension 0.3.4's TwoNN (``arange(keep) / N``), written from its source."""
    from sklearn.linear_model import LinearRegression
    from sklearn.neighbors import NearestNeighbors

    n = len(x)
    dist, _ = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)
    mu = np.sort(dist[:, 2] / dist[:, 1])
    keep = int(n * (1 - discard_fraction))
    femp = np.arange(keep) / n
    fit = LinearRegression(fit_intercept=False).fit(np.log(mu[:keep]).reshape(-1, 1), -np.log(1 - femp).reshape(-1, 1))
    return float(fit.coef_[0][0])


def test_skdim_03_convention_reproduces_the_old_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 9))
    old = TwoNN(cdf="skdim-0.3").fit(x).dimension_
    assert old == pytest.approx(_twonn_skdim_034(x), rel=1e-9)
    new = TwoNN().fit(x).dimension_
    assert new != pytest.approx(old, rel=1e-4)  # the two conventions do differ


def test_local_lid_takes_the_convention_per_neighbourhood():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 12))
    old = LocalIntrinsicDimension(n_neighbors=40, cdf="skdim-0.3").fit(x).lid_
    new = LocalIntrinsicDimension(n_neighbors=40).fit(x).lid_
    # the first ratio enters the fit at F = 0 instead of 1/N, so the slope moves, and never to NaN
    assert np.isfinite(old).all() and not np.allclose(old, new)
    with pytest.raises(ValueError, match="cdf must be one of"):
        TwoNN(cdf="0.3.4").fit(x)


def test_large_k_against_n_warns_that_local_is_global():
    x = np.random.default_rng(2).normal(size=(160, 5))
    with pytest.warns(UserWarning, match="n_neighbors=128 on 160 distinct rows"):
        LocalIntrinsicDimension(n_neighbors=128).fit(x)
