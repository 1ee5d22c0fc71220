"""probe_sweep's interval and label null: a planted signal is found, noise gives uniform p-values, intervals cover."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from tests.geometry.synthetic_emotions import weak_and_strong_layers
from workbench import LayerStack, plot_probe_sweep, probe_sweep
from workbench.geometry.directions.heldout import bootstrap_scores, permuted_codes
from workbench.geometry.uncertainty import COLUMNS


@pytest.fixture(scope="module")
def stack():
    return weak_and_strong_layers()


@pytest.fixture(scope="module")
def tested(stack):
    return probe_sweep(stack, progress=False, n_permutations=39, n_bootstrap=300)


def test_a_planted_signal_beats_its_null_and_the_observed_columns_do_not_move(stack, tested):
    strong = tested.set_index("layer").loc[2]
    assert strong["p_value"] < 0.05
    assert strong["accuracy"] > strong["null_q95"] and strong["ci_low"] > strong["null_q95"]
    assert strong["ci_low"] <= strong["accuracy"] <= strong["ci_high"]
    assert strong["macro_f1_ci_low"] <= strong["macro_f1"] <= strong["macro_f1_ci_high"]
    # shuffled labels sit near chance (4 balanced classes)
    assert (tested["null_mean"] - 0.25).abs().max() < 0.08
    plain = probe_sweep(stack, progress=False)
    pd.testing.assert_frame_equal(plain, tested[plain.columns], check_exact=True)
    assert not set(COLUMNS) & set(plain)  # absent when not asked, as compare() does


def test_the_part_not_asked_is_nan(stack):
    only_boot = probe_sweep(stack[2], progress=False, n_bootstrap=50)
    assert only_boot[["null_mean", "null_q95", "p_value"]].isna().all().all()
    assert only_boot[["ci_low", "ci_high", "macro_f1_ci_low"]].notna().all().all()
    assert (only_boot["n_permutations"] == 0).all() and (only_boot["n_bootstrap"] == 50).all()
    with pytest.raises(ValueError, match="n_permutations must be at least 0"):
        probe_sweep(stack[2], progress=False, n_permutations=-1)


def test_noise_labels_give_uniform_p_values():
    # 100 independent noise layers share one labelling: given the labels, each layer's p-value is an independent draw
    rng = np.random.default_rng(1)
    n_layers, n_contexts = 100, 30
    labels = np.tile(["a", "b"], n_contexts)
    meta = pd.DataFrame({"label": labels, "context": np.repeat(np.arange(n_contexts), 2).astype(str)})
    stack = LayerStack({k: rng.normal(size=(2 * n_contexts, 3)).astype(np.float32) for k in range(n_layers)}, meta=meta)
    p = probe_sweep(stack, by="label", cv=3, progress=False, n_permutations=19, max_iter=30)["p_value"].to_numpy()
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert (p <= 0.05).mean() <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / n_layers)
    assert (p <= 0.5).mean() == pytest.approx(0.5, abs=0.2)


def test_bootstrap_interval_covers_the_true_accuracy():
    # two Gaussian classes one unit from the boundary: the best linear rule scores Phi(1) exactly
    rng = np.random.default_rng(2)
    n_trials, n = 150, 200
    labels = np.repeat(["a", "b"], n // 2)
    sign = np.where(labels == "a", -1.0, 1.0)
    layers = {k: np.c_[sign + rng.normal(size=n), rng.normal(size=n)].astype(np.float32) for k in range(n_trials)}
    sweep = probe_sweep(LayerStack(layers, meta=pd.DataFrame({"label": labels})), by="label", progress=False,
                        n_bootstrap=400, max_iter=30)
    truth = stats.norm.cdf(1.0)
    covered = ((sweep["ci_low"] <= truth) & (truth <= sweep["ci_high"])).mean()
    assert covered >= 0.9


def test_grouped_shuffles_keep_each_group_mix_and_grouped_resamples_take_whole_groups():
    codes = np.array([0, 1, 2, 0, 1, 2, 0, 0])
    groups = np.array(["x", "x", "x", "y", "y", "y", "z", "z"])
    shuffled = permuted_codes(codes, 50, groups=groups, seed=3)
    for g in np.unique(groups):
        rows = groups == g
        assert (np.sort(shuffled[:, rows], axis=1) == np.sort(codes[rows])).all()
    assert len({tuple(row) for row in shuffled}) > 5  # they do shuffle
    assert len({tuple(row) for row in permuted_codes(codes, 50, seed=3)}) > 20
    predicted = torch.as_tensor(codes)[None]
    accuracy, f1 = bootstrap_scores(predicted, torch.as_tensor(codes), 3, 20, groups=groups)
    assert torch.all(accuracy == 1) and torch.all(f1 == 1)


def test_the_plot_draws_the_interval_and_the_null_line(tested):
    fig = plot_probe_sweep(tested)
    band = fig.data[0]
    assert np.allclose(band.y[: len(tested)], tested["ci_high"])
    null_lines = [trace for trace in fig.data if "shuffled" in (trace.name or "")]
    assert len(null_lines) == 1 and np.allclose(null_lines[0].y, tested["null_q95"])
