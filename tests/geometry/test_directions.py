"""Directions: the five recipes, scoring, prediction, edit / ablate, hierarchy, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.geometry.synthetic_emotions import EMOTIONS, emotion_stack
from workbench import Directions, DirectionSet, LatentSpace, LayerStack

METHODS = ("diffmean", "centered", "probe", "svm", "pca_diff")


@pytest.fixture(scope="module")
def data():
    stack, planted = emotion_stack()
    split = stack.labels("split")
    return stack, stack.subset(split == "train"), stack.subset(split == "test"), planted


def _unit(v) -> torch.Tensor:
    v = torch.tensor(np.asarray(v), dtype=torch.float32)
    return v / v.norm()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_classifies_held_out_contexts(data, method):
    _, train, test, _ = data
    d = Directions(method=method, progress=False).fit(train)
    assert d.layers_ == [0, 1, 2, 3]
    assert d.labels_.tolist() == ["anger", "fear", "joy"] and d.baseline_ == "neutral"
    truth = test.labels("emotion")
    accuracy = {k: float((d.predict(test, layer=k) == truth).mean()) for k in d.layers_}
    # chance is 0.25 (four balanced labels); the planted signal is strongest at layer 2
    assert accuracy[2] > 0.65, accuracy
    assert accuracy[2] == max(accuracy.values())
    assert accuracy[0] < accuracy[2] - 0.2


@pytest.mark.parametrize("method", METHODS)
def test_sign_convention_label_rows_score_above_the_baseline(data, method):
    _, train, test, _ = data
    d = Directions(method=method, progress=False).fit(train)
    scores = d.score(test, layer=2)
    emotion = test.labels("emotion")
    fitted = d.directions_[2]
    for label in d.labels_:
        assert scores[label][emotion == label].mean() > scores[label][emotion == "neutral"].mean() + 1.0
        # the stored statistics agree with the training rows
        own = d.score(train, layer=2)[label][train.labels("emotion") == label].mean()
        assert own == pytest.approx(float(fitted.label_score[fitted.index(label)]), abs=1e-3)
    # score 0 is the baseline level
    assert abs(scores.loc[emotion == "neutral"].to_numpy().mean()) < 0.5


def test_diffmean_and_pca_diff_recover_the_planted_directions(data):
    _, train, _, planted = data
    for method in ("diffmean", "pca_diff"):
        d = Directions(method=method, progress=False).fit(train)
        for label, vector in planted.items():
            assert float(d.vector(label, layer=2) @ _unit(vector)) > 0.95, (method, label)


def test_centered_matches_the_emotion_circuits_recipe(data):
    _, train, _, planted = data
    d = Directions(method="centered", progress=False).fit(train)
    # the recipe by hand with pandas: centre per context over the emotions, average, centre, normalise
    X = pd.DataFrame(train[2].numpy())
    meta = train.meta
    keep = (meta["emotion"] != "neutral").to_numpy()
    X, meta = X[keep], meta[keep]
    residual = X - X.groupby(meta["context"].to_numpy()).transform("mean")
    means = residual.groupby(meta["emotion"].to_numpy()).mean()
    expected = means - means.mean()
    for label in d.labels_:
        by_hand = _unit(expected.loc[label].to_numpy())
        assert torch.allclose(d.vector(label, layer=2), by_hand, atol=1e-5)
    # and it points along "this emotion minus the average emotion" of the planted vectors
    average = np.mean(list(planted.values()), axis=0)
    assert float(d.vector("joy", layer=2) @ _unit(planted["joy"] - average)) > 0.9


def test_centered_is_blind_to_context_offsets_even_when_contexts_are_unbalanced(data):
    stack, _, _, _ = data
    rng = np.random.default_rng(1)
    space = stack[2].subset(rng.random(stack.n) > 0.3)  # drop rows: contexts no longer hold every emotion
    contexts = pd.factorize(space.labels("context"))[0]
    shifted = space.with_vectors(space.numpy() + 10 * rng.normal(size=(contexts.max() + 1, space.dim))[contexts])
    centered = [Directions(method="centered").fit(s).directions_[2].vectors for s in (space, shifted)]
    diffmean = [Directions(method="diffmean").fit(s).directions_[2].vectors for s in (space, shifted)]
    assert torch.allclose(centered[0], centered[1], atol=1e-4)
    assert not torch.allclose(diffmean[0], diffmean[1], atol=1e-2)  # the check above could fail


def test_context_can_be_a_list_of_columns_or_an_array(data):
    _, train, _, _ = data
    space = train[2]
    by_column = Directions(method="centered").fit(space).directions_[2].vectors
    by_array = Directions(method="centered").fit(space, context=space.labels("context")).directions_[2].vectors
    by_two = Directions(method="centered", context=["context", "split"]).fit(space).directions_[2].vectors
    by_name = Directions(method="centered").fit(space, context="context").directions_[2].vectors  # fit takes a column too
    assert torch.allclose(by_column, by_array) and torch.allclose(by_column, by_two) and torch.allclose(by_column, by_name)
    with pytest.raises(ValueError, match="context='situations' names no meta column"):
        Directions(method="centered").fit(space, context="situations")


def test_without_a_baseline_every_label_is_contrasted_with_the_rest(data):
    _, train, test, _ = data
    d = Directions(baseline=None, progress=False).fit(train)
    assert d.baseline_ is None and d.labels_.tolist() == sorted(EMOTIONS)
    truth = test.labels("emotion")
    assert float((d.predict(test, layer=2) == truth).mean()) > 0.6
    fitted = d.directions_[2]
    assert bool((fitted.label_score > fitted.reference_score).all())


def test_edit_moves_the_score_by_exactly_alpha(data):
    _, _, test, _ = data
    d = Directions(progress=False).fit(test)
    before = d.score(test, layer=1)
    moved = d.edit(test[1], "fear", alpha=2.5, layer=1)
    after = d.score(moved, layer=1)
    np.testing.assert_allclose(after["fear"] - before["fear"], 2.5, atol=1e-4)
    assert moved.provenance["edits"] == ["edit fear"]
    # one alpha per row
    alphas = np.linspace(-1, 1, test.n)
    after = d.score(d.edit(test[1], "fear", alphas, layer=1), layer=1)
    np.testing.assert_allclose(after["fear"] - before["fear"], alphas, atol=1e-4)


def test_target_intensity_sets_the_relative_intensity(data):
    _, train, test, _ = data
    d = Directions(progress=False).fit(train)
    for target in (0.0, 1.0, 2.0):
        edited = d.edit(test, "joy", target_intensity=target, layer=2)
        np.testing.assert_allclose(d.score(edited, layer=2, intensity=True)["joy"], target, atol=1e-4)
    # on a neutral row, intensity t adds t * (mean(joy) - mean(neutral)): EmoReg's e + i * d
    fitted = d.directions_[2]
    neutral_mean = LatentSpace(fitted.centroids[[fitted.classes.index("neutral")]])
    joy_mean = fitted.centroids[fitted.classes.index("joy")]
    half = d.edit(neutral_mean, "joy", target_intensity=0.5, layer=2).vectors[0]
    expected = fitted.center + 0.5 * (joy_mean - fitted.center)
    assert float(((half - expected) @ d.vector("joy", layer=2)).abs()) < 1e-4


def test_intensity_scores_grow_with_the_planted_intensity(data):
    _, train, test, _ = data
    d = Directions(progress=False).fit(train)
    intensity = d.score(test, layer=2, intensity=True)
    meta = test.meta
    for label in d.labels_:
        rows = (meta["emotion"] == label).to_numpy()
        by_level = intensity[label][rows].groupby(meta["intensity"][rows].to_numpy()).mean()
        assert by_level.is_monotonic_increasing and by_level.iloc[-1] > by_level.iloc[0] + 0.5, by_level


def test_ablate_makes_the_score_zero_and_keeps_the_rest(data):
    _, train, test, _ = data
    d = Directions(progress=False).fit(train)
    space = test[2]
    ablated = d.ablate(space, "anger", layer=2)
    np.testing.assert_allclose(d.score(ablated)["anger"], 0.0, atol=1e-4)
    change = ablated.vectors - space.vectors
    direction = d.vector("anger", layer=2)
    residual = change - (change @ direction)[:, None] * direction
    assert float(residual.abs().max()) < 1e-4  # only the component along the direction moved
    both = d.score(d.ablate(space, ["anger", "fear"], layer=2))
    np.testing.assert_allclose(both[["anger", "fear"]].to_numpy(), 0.0, atol=1e-4)
    assert float(both["joy"].abs().mean()) > 0.1


def test_stacks_are_scored_and_edited_layer_by_layer(data):
    stack, train, test, _ = data
    d = Directions(progress=False).fit(train)
    scores = d.score(test)
    assert scores.columns.names == ["layer", "emotion"]
    assert scores.shape == (test.n, 4 * 3)
    assert list(scores.index[:2]) == list(test.ids[:2])
    edited = d.edit(test, "joy", alpha=1.0)
    assert isinstance(edited, LayerStack) and edited.layers == test.layers
    np.testing.assert_allclose(d.score(edited)[(3, "joy")] - scores[(3, "joy")], 1.0, atol=1e-4)
    # a space keeps its layer in its provenance, so the layer is found without asking
    np.testing.assert_allclose(d.transform(test[1]), d.score(test, layer=1).to_numpy())
    assert d.direction_set(-1).layer == 3


def test_arrays_fit_and_transform_like_scikit_learn(data):
    _, train, _, _ = data
    X, y = train[2].numpy(), train.labels("emotion")
    d = Directions().fit(X, y)
    assert d.transform(X).shape == (train.n, 3)
    assert isinstance(d.directions_[0], DirectionSet) and d.directions_[0].method == "diffmean"
    edited = d.edit(X, "joy", alpha=1.0)
    assert isinstance(edited, np.ndarray) and edited.shape == X.shape
    assert d.get_params()["method"] == "diffmean" and d.set_params(method="svm").method == "svm"


def test_normalize_false_keeps_the_natural_length_but_not_the_scores(data):
    _, train, test, _ = data
    raw = Directions(normalize=False, progress=False).fit(train)
    unit = Directions(progress=False).fit(train)
    fitted = raw.directions_[2]
    joy = fitted.centroids[fitted.classes.index("joy")] - fitted.centroids[fitted.classes.index("neutral")]
    assert torch.allclose(raw.vector("joy", layer=2), joy, atol=1e-4)
    pd.testing.assert_frame_equal(raw.score(test, layer=2), unit.score(test, layer=2), atol=1e-4)


def test_metadata_describes_method_layer_site_and_sign(data):
    stack, _, _, _ = data
    space = stack[1]
    space.provenance = {**space.provenance, "site": "block_output"}
    fitted = Directions(method="svm").fit(space).directions_[1]
    assert fitted.method == "svm" and fitted.layer == 1 and fitted.site == "block_output"
    assert "positive" in fitted.sign and fitted.unit.shape == (3, space.dim)
    assert "svm" in repr(fitted)


def test_secondary_labels_roll_up_to_primaries(data):
    _, train, test, _ = data
    fine = Directions(by="secondary", progress=False).fit(train)
    assert len(fine.labels_) == 6
    coarse = fine.rolled_up("primary")
    assert coarse.labels_.tolist() == ["anger", "fear", "joy"]
    truth = test.labels("emotion")
    assert float((coarse.predict(test, layer=2) == truth).mean()) > 0.65
    # predicting fine labels and rolling the predictions up also works
    assert float((fine.predict(test, layer=2, tier="primary") == truth).mean()) > 0.6
    # the reverse view: every secondary direction is closest to its own primary
    primary = Directions(progress=False).fit(train)
    similarity = fine.similarity(primary, layer=2)
    from workbench.taxonomy import roll_up

    assert (similarity.idxmax(axis=1) == pd.Series(roll_up(similarity.index.tolist()), index=similarity.index)).all()
    # fitting with tier= rolls the labels up before fitting: same as fitting the primary column
    rolled = Directions(by="secondary", tier="primary").fit(train[2])
    assert torch.allclose(rolled.directions_[2].vectors, primary.directions_[2].vectors, atol=1e-5)


def test_clear_errors(data, small_space):
    stack, train, _, _ = data
    with pytest.raises(ValueError, match="at least 2 rows"):
        Directions(by="emotion").fit(small_space)  # 'anger' has one row
    no_context = LatentSpace(train[2].vectors, train.meta.drop(columns="context"))
    with pytest.raises(ValueError, match="context column"):
        Directions(method="centered").fit(no_context)
    with pytest.raises(ValueError, match="context column"):
        Directions(method="pca_diff").fit(no_context)
    with pytest.raises(ValueError, match="method must be one of"):
        Directions(method="magic").fit(train)
    d = Directions(progress=False).fit(train)
    with pytest.raises(KeyError, match="no directions for layer 7"):
        d.score(train, layer=7)
    with pytest.raises(ValueError, match="pass layer="):
        d.predict(LatentSpace(train[2].vectors, train.meta))
    with pytest.raises(ValueError, match="width"):
        d.score(np.zeros((3, 5)), layer=2)
    with pytest.raises(KeyError, match="baseline"):
        d.edit(train, "neutral", alpha=1.0)
    with pytest.raises(ValueError, match="exactly one of"):
        d.edit(train, "joy")
    with pytest.raises(RuntimeError, match="not fitted"):
        Directions().score(train[2])
    with pytest.raises(ValueError, match="labels"):
        Directions().fit(np.zeros((4, 3)))


def test_probe_directions_of_a_stack_match_layer_by_layer_fits(data):
    _, train, _, _ = data
    together = Directions(method="probe", progress=False).fit(train)
    for layer in (1, 2):
        alone = Directions(method="probe").fit(train[layer])
        cosine = (together.directions_[layer].vectors * alone.directions_[layer].vectors).sum(1)
        assert float(cosine.min()) > 0.99, cosine
