"""Standard errors, intervals and nulls of the local intrinsic dimension, on data of known dimension."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LayerStack
from workbench.geometry.intrinsic import LocalIntrinsicDimension, TwoNN, lid_profile, token_lid
from workbench.geometry.intrinsic.mle import levina_bickel, levina_bickel_standard_error
from workbench.geometry.intrinsic.profile import _permute_columns
from workbench.geometry.uncertainty import half_samples
from workbench.geometry.intrinsic.twonn import DEPENDENCE_FACTOR, twonn_dimension, twonn_standard_error
from workbench.geometry.uncertainty import COLUMNS


def _rotate(points, width, rng):
    rotation, _ = np.linalg.qr(rng.normal(size=(width, points.shape[1])))
    return points @ rotation.T


def _torus(n, d, width, rng):
    """A flat d-torus (constant density, no boundary) turned into ``width`` dimensions:
    every point's local estimate has the same distribution, so the spread over points
    is the spread of one point's estimate over samples of the data."""
    angles = rng.uniform(0, 2 * np.pi, size=(n, d))
    return _rotate(np.hstack([np.cos(angles), np.sin(angles)]), width, rng)


def _gaussian(n, d, width, rng):
    return _rotate(rng.normal(size=(n, d)), width, rng)


@pytest.mark.parametrize(("method", "cdf"), [("linear", "corrected"), ("linear", "skdim-0.3"), ("mle", "corrected")])
def test_twonn_standard_error_is_the_spread_under_the_pareto_model(method, cdf):
    """Independent Pareto ratios: the derived coefficient of variation (before the
    dependence factor) is the one of the fit, over many simulated data sets."""
    rng = np.random.default_rng(0)
    n_sets, n_ratios, d = 4000, 128, 5.0
    r2 = torch.as_tensor(np.exp(rng.exponential(1 / d, size=(n_sets, n_ratios))))
    dimension, _ = twonn_dimension(torch.ones_like(r2), r2, method=method, cdf=cdf)
    predicted = twonn_standard_error(dimension, np.full(n_sets, n_ratios), method=method, cdf=cdf) / DEPENDENCE_FACTOR
    spread = float(dimension.std())
    assert np.nanmean(predicted) == pytest.approx(spread, rel=0.06)


def test_levina_bickel_standard_error_is_the_spread_under_the_poisson_model():
    rng = np.random.default_rng(1)
    n_sets, k, d = 4000, 24, 4.0
    # radii of a Poisson process in d dimensions around a point: R^d uniform given R_k
    radii = np.sort(rng.uniform(size=(n_sets, k)) ** (1 / d), axis=1)
    dimension, _ = levina_bickel(torch.as_tensor(radii))
    predicted = levina_bickel_standard_error(dimension, np.full(n_sets, k))
    assert np.nanmean(predicted) == pytest.approx(float(dimension.std()), rel=0.06)


def test_global_twonn_standard_error_matches_its_spread_over_samples():
    fits = [TwoNN(device="cpu").fit(_torus(400, 3, 6, np.random.default_rng(seed))) for seed in range(60)]
    estimates = np.array([fit.dimension_ for fit in fits])
    errors = np.array([fit.standard_error_ for fit in fits])
    assert 0.8 < errors.mean() / estimates.std() < 1.2


@pytest.mark.parametrize(("estimator", "n_neighbors"), [("twonn", 64), ("mle", 32)])
def test_lid_se_matches_the_spread_of_local_estimates(estimator, n_neighbors):
    """On a 3-D torus in 20-D, the mean per-point standard error is within 20 % of the
    standard deviation of the estimates over points and seeded samples."""
    lids, errors = [], []
    for seed in range(2):
        model = LocalIntrinsicDimension(n_neighbors=n_neighbors, estimator=estimator, device="cpu")
        model.fit(_torus(2500, 3, 20, np.random.default_rng(seed)))
        lids.append(model.lid_)
        errors.append(model.lid_se_)
    lid, se = np.concatenate(lids), np.concatenate(errors)
    assert se.shape == lid.shape and np.isfinite(se).all()
    assert 0.8 < se.mean() / lid.std() < 1.2
    assert np.corrcoef(se, lid)[0, 1] > 0.9  # the error scales with the estimate


def test_lid_se_of_a_copy_is_the_one_of_the_row_it_repeats(rng):
    x = _gaussian(300, 3, 10, rng)
    with pytest.warns(UserWarning, match="copies|duplicate"):
        model = LocalIntrinsicDimension(n_neighbors=20, device="cpu").fit(np.vstack([x, x[:5]]))
    assert model.lid_se_[300:] == pytest.approx(model.lid_se_[:5])


def _trial(seed, *, d=3, n_bootstrap=20):
    rng = np.random.default_rng(seed)
    stack = LayerStack({0: _gaussian(300, d, 12, rng)}, meta=pd.DataFrame({"id": range(300)}))
    return lid_profile(stack, n_neighbors=20, n_bootstrap=n_bootstrap, seed=seed, progress=False, device="cpu").iloc[0]


def test_interval_covers_the_expected_mean_lid():
    """LID is biased (TwoNN reads high dimensions low at finite L), so the interval is
    asked to cover what the estimator converges to on repeated data, the expected
    mean LID at this N and L, not the true dimension."""
    trials = pd.DataFrame([_trial(seed) for seed in range(30)])
    expected = trials["mean"].mean()
    covered = ((trials["ci_low"] <= expected) & (expected <= trials["ci_high"])).mean()
    assert covered >= 0.9
    # and not by being uselessly wide: a 95 % interval of an unbiased normal is ~4 sd
    assert (trials["ci_high"] - trials["ci_low"]).mean() < 7 * trials["mean"].std()


def test_null_separates_a_manifold_but_not_noise():
    manifold = LayerStack({"low": _gaussian(300, 3, 30, np.random.default_rng(0))}, meta=pd.DataFrame({"id": range(300)}))
    low = lid_profile(manifold, n_neighbors=20, n_permutations=19, progress=False, device="cpu").iloc[0]
    assert low["p_value"] == pytest.approx(1 / 20) and low["mean"] < low["null_q95"] < low["null_mean"]
    small = 0
    for seed in range(6):
        noise = np.random.default_rng(seed).normal(size=(300, 8))
        stack = LayerStack({0: noise}, meta=pd.DataFrame({"id": range(300)}))
        row = lid_profile(stack, n_neighbors=20, n_permutations=19, seed=seed, progress=False, device="cpu").iloc[0]
        small += row["p_value"] <= 0.05
    assert small <= 1


def test_profile_columns_groups_and_errors(rng):
    meta = pd.DataFrame({"id": range(240), "sentence": np.repeat(np.arange(24), 10)})
    stack = LayerStack({0: _gaussian(240, 3, 10, rng), 1: _gaussian(240, 5, 10, rng)}, meta=meta)
    profile = lid_profile(stack, n_neighbors=15, n_bootstrap=8, groups="sentence", progress=False, device="cpu")
    assert list(profile.columns[-7:]) == [*COLUMNS, "n_bootstrap", "n_permutations"]
    assert profile[["ci_low", "ci_high"]].notna().all().all() and profile["p_value"].isna().all()
    assert (profile["ci_low"] <= profile["mean"]).all() and (profile["mean"] <= profile["ci_high"]).all()
    with pytest.raises(ValueError, match=r"layer 0: .*half of 120 rows .*n_neighbors=128"), pytest.warns(UserWarning):
        lid_profile(stack, n_neighbors=128, n_bootstrap=2, progress=False)
    with pytest.raises(KeyError, match="'story' is not a meta column"):
        lid_profile(stack, n_neighbors=15, n_bootstrap=2, groups="story", progress=False)
    with pytest.raises(ValueError, match="n_permutations"):
        lid_profile(stack, n_neighbors=15, n_permutations=-1, progress=False)


def test_half_samples_and_column_permutation():
    groups = np.repeat(["a", "b", "c", "d"], [1, 2, 3, 4])
    for half in half_samples(10, 20, seed=3, groups=groups):
        drawn = set(groups[half])
        assert len(drawn) == 2 and len(half) == sum(groups == g for g in drawn).sum()
    halves = half_samples(11, 5, seed=0)
    assert all(len(h) == 5 and len(set(h.tolist())) == 5 for h in halves)
    x = torch.arange(40.0).reshape(10, 4)
    shuffled = _permute_columns(x, seed=1)
    assert torch.equal(shuffled.sort(0).values, x)  # every column keeps its values
    assert not torch.equal(shuffled, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(_permute_columns(x, seed=1), shuffled)  # seeded


def test_token_lid_draws_whole_sentences_for_its_interval(rng):
    meta = pd.DataFrame({"id": range(400), "sample_id": np.repeat(np.arange(40), 10), "token": ["w"] * 400})
    tokens = LayerStack({0: _gaussian(400, 3, 10, rng)}, meta=meta)
    profile = token_lid(tokens, n_neighbors=15, n_bootstrap=6, groups="sample_id", progress=False, device="cpu")
    assert profile["ci_low"][0] <= profile["mean"][0] <= profile["ci_high"][0]
    assert profile["n_bootstrap"][0] == 6 and np.isnan(profile["p_value"][0])
