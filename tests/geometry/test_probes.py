"""probe_sweep: agreement with scikit-learn, the layer curve, folds that respect contexts, errors, the plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.geometry.synthetic_emotions import emotion_stack
from workbench import LatentSpace, LayerStack, plot_probe_sweep, probe_sweep
from workbench.geometry.directions.heldout import cv_folds
from workbench.geometry.directions.probes import _macro_f1, fit_logistic


@pytest.fixture(scope="module")
def stack():
    return emotion_stack()[0]


@pytest.fixture(scope="module")
def sweep(stack):
    return probe_sweep(stack, progress=False)


def test_the_sweep_is_a_tidy_curve_over_layers_peaking_where_the_signal_is(sweep):
    assert sweep["layer"].tolist() == [0, 1, 2, 3]
    assert {"accuracy", "accuracy_std", "macro_f1", "macro_f1_std", "chance_majority", "chance_uniform"} <= set(sweep)
    assert sweep["chance_majority"].iloc[0] == pytest.approx(0.25)
    assert sweep["chance_uniform"].iloc[0] == pytest.approx(0.25)
    assert sweep["n_classes"].iloc[0] == 4 and sweep["folds"].iloc[0] == 5
    accuracy = sweep.set_index("layer")["accuracy"]
    assert accuracy.idxmax() == 2  # the planted signal is strongest at layer 2
    assert accuracy[2] > 0.7 and accuracy[0] < 0.45
    assert (sweep["macro_f1"] <= sweep["accuracy"] + 0.1).all()


def test_auto_groups_keep_contexts_together(stack, sweep):
    assert (sweep["groups"] == "context").all()
    codes = pd.factorize(stack.labels("emotion"))[0]
    contexts = stack.labels("context")
    tests = cv_folds(codes, contexts, 5, seed=0)
    assert sorted(np.concatenate(tests).tolist()) == list(range(stack.n))  # a partition
    for test in tests:
        train = np.setdiff1d(np.arange(stack.n), test)
        assert not set(contexts[test]) & set(contexts[train])
    plain = probe_sweep(stack, groups=None, cv=3, progress=False)
    assert (plain["groups"] == "none").all() and plain["folds"].iloc[0] == 3


def test_agrees_with_scikit_learn_fold_by_fold(rng):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n, dim = 300, 12
    labels = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, dim))
    layers = {k: rng.normal(size=(n, dim)) + 0.4 * k * centres[labels] for k in range(3)}
    meta = pd.DataFrame({"label": np.array(["a", "b", "c"])[labels]})
    result = probe_sweep(LayerStack(layers, meta=meta), by="label", cv=4, seed=3, progress=False)
    tests = cv_folds(labels, None, 4, seed=3)
    for k in range(3):
        accuracy, f1 = [], []
        for test in tests:
            train = np.setdiff1d(np.arange(n), test)
            model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
            predicted = model.fit(layers[k][train], labels[train]).predict(layers[k][test])
            accuracy.append(np.mean(predicted == labels[test]))
            f1.append(f1_score(labels[test], predicted, average="macro"))
        assert result["accuracy"][k] == pytest.approx(np.mean(accuracy), abs=0.02)
        assert result["macro_f1"][k] == pytest.approx(np.mean(f1), abs=0.02)


def test_the_engine_matches_scikit_learn_coefficients(rng):
    from sklearn.linear_model import LogisticRegression

    X = rng.normal(size=(200, 6)) * [1, 2, 3, 4, 5, 0.5] + 3
    labels = (X[:, 0] + rng.normal(size=200) > 3).astype(int) + (X[:, 1] > 3)
    coef, intercept = fit_logistic(
        torch.as_tensor(X, dtype=torch.float64)[None], torch.as_tensor(labels), torch.ones(1, 200),
        n_classes=3, C=0.5, max_iter=500, tol=1e-9,
    )
    mean, std = X.mean(0), X.std(0)
    reference = LogisticRegression(C=0.5, tol=1e-10, max_iter=5000).fit((X - mean) / std, labels)
    logits = X @ coef[0, 0].numpy() + intercept[0, 0].numpy()
    expected = ((X - mean) / std) @ reference.coef_.T + reference.intercept_
    # softmax logits are defined up to a per-row constant
    np.testing.assert_allclose(logits - logits.mean(1, keepdims=True), expected - expected.mean(1, keepdims=True), atol=1e-3)


def test_macro_f1_matches_scikit_learn(rng):
    from sklearn.metrics import f1_score

    truth = rng.integers(0, 4, 60)
    pred = np.where(rng.random(60) < 0.6, truth, rng.integers(0, 3, 60))  # class 3 is never predicted
    test = rng.random(60) < 0.5
    ours = _macro_f1(torch.as_tensor(pred)[None, None], torch.as_tensor(truth), torch.as_tensor(test)[None], 4)
    assert float(ours) == pytest.approx(f1_score(truth[test], pred[test], average="macro"), abs=1e-6)


def test_labels_roll_up_and_single_spaces_work(stack):
    rolled = probe_sweep(stack[1:3], by="secondary", tier="primary", progress=False)
    assert rolled["n_classes"].iloc[0] == 4 and rolled["layer"].tolist() == [1, 2]
    one = probe_sweep(stack[2], cv=3, progress=False)
    assert one["layer"].tolist() == [2] and one["accuracy"].iloc[0] > 0.6


def test_clear_errors(stack, small_space):
    with pytest.raises(ValueError, match="at least 2 rows"):
        probe_sweep(small_space, progress=False)  # 'anger' has one row
    with pytest.raises(ValueError, match="cv must be at least 2"):
        probe_sweep(stack, cv=1, progress=False)
    with pytest.raises(ValueError, match="at least 50 groups"):
        probe_sweep(stack, cv=50, progress=False)
    with pytest.raises(ValueError, match="rarest has"):
        probe_sweep(stack, cv=50, groups=None, progress=False)
    with pytest.raises(KeyError, match="no column 'speaker'"):
        probe_sweep(stack, groups="speaker", progress=False)
    labels = LatentSpace(np.zeros((4, 2)), pd.DataFrame({"emotion": ["joy"] * 4}))
    with pytest.raises(ValueError, match="2 distinct labels"):
        probe_sweep(labels, progress=False)


def test_plot_draws_both_metrics_chance_and_best_layer(sweep, stack):
    import plotly.graph_objects as go

    fig = plot_probe_sweep(sweep)
    assert isinstance(fig, go.Figure)
    names = [trace.name for trace in fig.data if trace.showlegend is not False]
    assert names == ["accuracy", "macro-f1"]
    stars = [t for t in fig.data if t.marker is not None and t.marker.symbol == "star"]
    assert [s.x[0] for s in stars] == ["2", "2"]
    assert any("chance" in (a.text or "") for a in fig.layout.annotations)
    both = plot_probe_sweep({"grouped": sweep, "stratified": probe_sweep(stack, groups=None, progress=False)})
    assert len([t for t in both.data if t.showlegend is not False]) == 4
    assert len(both.layout.shapes) == 1  # one chance line for sweeps over the same labels
