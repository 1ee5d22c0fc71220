"""The shared uncertainty vocabulary: permutations, bootstrap intervals, p-values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.geometry.uncertainty import (
    COLUMNS,
    bootstrap_indices,
    bootstrap_interval,
    estimate,
    permutation_p_value,
    permutations,
)


def test_permutations_are_permutations_and_follow_the_seed():
    p = permutations(30, 20, seed=4)
    assert p.shape == (20, 30)
    assert all(sorted(row.tolist()) == list(range(30)) for row in p)
    assert (permutations(30, 20, seed=4) == p).all()
    assert not (permutations(30, 20, seed=5) == p).all()


def test_percentile_bootstrap_of_a_mean_covers_the_true_mean():
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        sample = rng.exponential(2.0, size=80)  # true mean 2, skewed
        means = [sample[i.numpy()].mean() for i in bootstrap_indices(80, 300, seed=seed)]
        low, high = bootstrap_interval(means)
        covered += low <= 2.0 <= high
    assert covered >= 180


def test_group_bootstrap_resamples_whole_groups():
    groups = np.repeat(["a", "b", "c"], [2, 3, 5])
    for draw in bootstrap_indices(10, 20, seed=0, groups=groups):
        drawn = groups[draw.numpy()]
        for g, size in (("a", 2), ("b", 3), ("c", 5)):
            assert (drawn == g).sum() % size == 0
    with pytest.raises(ValueError, match="one value per row"):
        bootstrap_indices(10, 2, groups=groups[:5])


def test_p_value_is_never_zero_and_counts_ties_as_extreme():
    assert permutation_p_value(5.0, [1.0, 2.0, 3.0]) == pytest.approx(0.25)
    assert permutation_p_value(2.0, [1.0, 2.0, 3.0]) == pytest.approx(0.75)
    assert permutation_p_value(0.0, [1.0, 2.0, 3.0], alternative="less") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="alternative"):
        permutation_p_value(0.0, [1.0], alternative="two-sided")


def test_estimate_fills_only_what_was_asked_for():
    plain = estimate(0.3)
    assert all(math.isnan(plain.as_dict()[c]) for c in COLUMNS)
    full = estimate(0.3, null=np.linspace(0, 0.2, 101), bootstrap=[0.25, 0.3, 0.35])
    assert full.p_value == pytest.approx(1 / 102)
    assert full.null_q95 == pytest.approx(0.19)
    assert full.significant
    assert set(COLUMNS) <= set(full.as_dict())


def test_counts_must_be_whole_numbers():
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_indices(5, 2.5)
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval([1.0, 2.0], level=95)
