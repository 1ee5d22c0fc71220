"""direction_accuracy: held-out accuracy of directions, against random and shuffled-label directions scored alike."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests.geometry.synthetic_emotions import weak_and_strong_layers
from workbench import Directions, direction_accuracy
from workbench.geometry.directions.heldout import cv_folds
from workbench.geometry.uncertainty import COLUMNS


@pytest.fixture(scope="module")
def stack():
    return weak_and_strong_layers()


@pytest.fixture(scope="module")
def table(stack):
    return direction_accuracy(stack, n_random=30, n_permutations=39, n_bootstrap=300).set_index("layer")


def test_planted_directions_beat_both_controls(table):
    strong = table.loc[2]
    assert strong["p_value"] < 0.05
    assert strong["accuracy"] > strong["null_q95"] and strong["ci_low"] > strong["null_q95"]
    assert strong["accuracy"] > strong["random_q95"] and strong["random_p_value"] < 0.05
    assert strong["ci_low"] <= strong["accuracy"] <= strong["ci_high"]
    assert (table["groups"] == "context").all() and (table["method"] == "diffmean").all()


def test_random_directions_score_about_chance(table):
    # four balanced classes: whatever random directions predict, they are right about a quarter of the time
    assert (table["random_mean"] - 0.25).abs().max() < 0.1
    assert (table["null_mean"] - 0.25).abs().max() < 0.1


def test_accuracy_is_what_fitting_on_the_training_folds_and_predicting_the_test_fold_gives(stack, table):
    labels = stack.labels("emotion")
    codes = np.unique(labels, return_inverse=True)[1]
    scores = []
    for rows in cv_folds(codes, stack.labels("context"), 5, 0):
        train = np.ones(stack.n, dtype=bool)
        train[rows] = False
        fitted = Directions(method="centered", progress=False).fit(stack.subset(train))
        scores.append((fitted.predict(stack.subset(~train)[2], layer=2) == labels[rows]).mean())
    plain = direction_accuracy(stack, Directions(method="centered"))
    assert plain.set_index("layer").loc[2, "accuracy"] == pytest.approx(np.mean(scores))
    assert not set(COLUMNS) & set(plain) and "random_mean" not in plain  # absent when not asked
    assert (plain["method"] == "centered").all()


def test_clear_errors(stack):
    with pytest.raises(TypeError, match="Directions estimator"):
        direction_accuracy(stack, "diffmean")
    with pytest.raises(ValueError, match="n_random must be at least 0"):
        direction_accuracy(stack, n_random=-2)
    with pytest.raises(ValueError, match="cv=200 folds need at least 200 groups"):
        direction_accuracy(stack, cv=200)


def test_the_batched_rule_is_predict(stack):
    from workbench.geometry.directions.controls import _random_set, predict_many

    fitted = Directions(progress=False).fit(stack)
    generator = torch.Generator().manual_seed(0)
    real = fitted.directions_[2]
    sets = [real, _random_set(real, generator), _random_set(real, generator)]
    many = predict_many(sets, stack[2].vectors)
    for one, row in zip(sets, many):
        twin = copy.copy(fitted)
        twin.directions_ = {2: one}
        assert (np.asarray(one.classes, dtype=object)[row] == twin.predict(stack[2], layer=2)).all()
