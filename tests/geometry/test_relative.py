import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from workbench import LatentSpace
from workbench.geometry.relative.anchors import anchor_positions, select_anchors
from workbench.geometry.relative import RelativeProjection


def _space(rng, n=200, d=16, classes=4, offset=0.0):
    meta = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "label": np.arange(n) % classes})
    return LatentSpace(rng.normal(size=(n, d)) + offset, meta, name="abs", provenance={"model": "m", "layer": 3})


def _orthogonal(rng, d):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


# ----------------------------------------------------------------------------
# anchors
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["random", "fps", "kmeans", "stratified"])
def test_strategies_return_distinct_ids_of_the_space(rng, strategy):
    space = _space(rng)
    ids = select_anchors(space, 12, strategy=strategy, by="label", seed=3, device="cpu")
    assert len(ids) == 12 and len(set(ids.tolist())) == 12
    assert set(ids.tolist()) <= set(space.ids.tolist())
    again = select_anchors(space, 12, strategy=strategy, by="label", seed=3, device="cpu")
    np.testing.assert_array_equal(ids, again)  # seeded


def test_stratified_cycles_through_classes(rng):
    space = _space(rng, classes=4)
    ids = select_anchors(space, 10, strategy="stratified", by="label")
    labels = space.subset(ids).labels("label")
    assert sorted(pd.Series(labels).value_counts().tolist()) == [2, 2, 3, 3]
    # round-robin: the first four anchors are one per class
    assert len(set(labels[:4].tolist())) == 4


def test_fps_spreads_over_directions(rng):
    # two tight directions plus one lone point: FPS must reach all three
    x = np.vstack([rng.normal([10, 0, 0], 0.01, size=(50, 3)), rng.normal([0, 10, 0], 0.01, size=(50, 3)), [[0, 0, 10]]])
    space = LatentSpace(x)
    picked = select_anchors(space, 3, strategy="fps", seed=0, device="cpu")
    groups = {0 if i < 50 else 1 if i < 100 else 2 for i in picked.tolist()}
    assert groups == {0, 1, 2}


def test_kmeans_picks_real_points_near_centroids(rng):
    centres = np.array([[5, 0], [0, 5], [-5, 0], [0, -5]], dtype=float)
    x = np.vstack([rng.normal(c, 0.2, size=(40, 2)) for c in centres])
    picked = select_anchors(LatentSpace(x), 4, strategy="kmeans", seed=0)
    assert sorted(i // 40 for i in picked.tolist()) == [0, 1, 2, 3]


def test_anchor_errors(rng):
    space = _space(rng, n=20)
    with pytest.raises(ValueError, match="asked for 30 anchors but space 'abs' has only 20"):
        select_anchors(space, 30)
    with pytest.raises(ValueError, match="needs by="):
        select_anchors(space, 5, strategy="stratified")
    with pytest.raises(ValueError, match="strategy must be one of"):
        select_anchors(space, 5, strategy="greedy")
    with pytest.raises(KeyError, match="no column 'nope'"):
        select_anchors(space, 5, strategy="stratified", by="nope")
    with pytest.raises(ValueError, match="2 of 3 anchor ids are not in space 'abs'"):
        anchor_positions(space, ["s1", "x", "y"])
    with pytest.raises(ValueError, match="distinct"):
        anchor_positions(space, ["s1", "s1"])


# ----------------------------------------------------------------------------
# projection
# ----------------------------------------------------------------------------

INVARIANT = [
    dict(similarity="cosine"),
    dict(similarity="cosine", center=True),
    dict(similarity="euclidean", normalize=True),
    dict(similarity="euclidean", normalize=True, center=True),
    dict(similarity="rbf"),
    dict(similarity="rbf", center=True),
]


@pytest.mark.parametrize("options", INVARIANT, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_invariant_to_orthogonal_maps_and_rescaling(rng, options):
    space = _space(rng, offset=0.5)
    moved = space.with_vectors(2.7 * space.numpy() @ _orthogonal(rng, space.dim))
    anchors = select_anchors(space, 30, seed=1)
    rel = RelativeProjection(anchors=anchors, device="cpu", **options).fit_transform(space)
    rel_moved = RelativeProjection(anchors=anchors, device="cpu", **options).fit_transform(moved)
    np.testing.assert_allclose(rel.numpy(), rel_moved.numpy(), atol=1e-5)
    # and the projection is not trivially constant
    assert rel.numpy().std() > 0.05


def test_plain_euclidean_scales_with_the_space(rng):
    space = _space(rng)
    rel = RelativeProjection(anchors=range(10), similarity="euclidean").fit_transform(space.numpy())
    rel_scaled = RelativeProjection(anchors=range(10), similarity="euclidean").fit_transform(3 * space.numpy())
    np.testing.assert_allclose(rel_scaled, 3 * rel, rtol=1e-5, atol=1e-5)


def test_cosine_matches_the_definition_and_anchors_see_themselves(rng):
    space = _space(rng)
    x = space.numpy().astype(np.float64)
    # the paper's setting (no centring), against its formula
    rel = RelativeProjection(anchors=["s3", "s7", "s11"], center=False).fit_transform(space)
    anchors = x[[3, 7, 11]]
    expected = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (anchors / np.linalg.norm(anchors, axis=1, keepdims=True)).T
    np.testing.assert_allclose(rel.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(rel.subset(["s3", "s7", "s11"]).numpy().diagonal(), 1.0, atol=1e-6)


def test_distances_are_exact_at_the_anchors(rng):
    space = _space(rng, offset=100.0)  # far from the origin: the fast expansion cancels
    rel = RelativeProjection(anchors=["s0", "s1"], similarity="euclidean").fit_transform(space)
    assert abs(float(rel.vectors[0, 0])) < 1e-6 and abs(float(rel.vectors[1, 1])) < 1e-6
    direct = np.linalg.norm(space.numpy()[:, None, :] - space.numpy()[[0, 1]][None], axis=2)
    np.testing.assert_allclose(rel.numpy(), direct, rtol=1e-4, atol=1e-4)


def test_l1_and_rbf_values(rng):
    x = rng.normal(size=(30, 5))
    l1 = RelativeProjection(anchors=[0, 1], similarity="l1").fit_transform(x)
    np.testing.assert_allclose(l1, np.abs(x[:, None, :] - x[[0, 1]][None]).sum(2), rtol=1e-5)
    rbf = RelativeProjection(anchors=[0, 1], similarity="rbf", gamma=0.5).fit_transform(x)
    np.testing.assert_allclose(rbf, np.exp(-0.5 * ((x[:, None, :] - x[[0, 1]][None]) ** 2).sum(2)), rtol=1e-5)


def test_centering_uses_the_anchors_statistics(rng):
    space = _space(rng, offset=3.0)
    anchors = ["s0", "s1", "s2", "s3", "s4"]
    projection = RelativeProjection(anchors=anchors, center=True).fit(space)
    mean = space.subset(anchors).numpy().mean(0)
    np.testing.assert_allclose(projection.shift_.numpy(), mean, rtol=1e-5)
    # a sample's projection does not depend on which other samples come with it
    alone = projection.transform(space.subset(["s50"])).numpy()
    np.testing.assert_allclose(alone, projection.transform(space).subset(["s50"]).numpy(), atol=1e-6)


def test_output_kinds_and_provenance(rng):
    space = _space(rng)
    projection = RelativeProjection(anchors=8, strategy="stratified", by="label", seed=2, center=True)
    rel = projection.fit_transform(space)
    assert isinstance(rel, LatentSpace) and rel.shape == (200, 8)
    assert rel.meta.equals(space.meta) and rel.name == "abs (relative)"
    record = rel.provenance["relative"]
    assert record["anchors"] == projection.anchor_ids_.tolist() and record["center"] is True
    assert record["similarity"] == "cosine" and record["source"] == "abs"
    assert rel.provenance["layer"] == 3  # the absolute provenance is kept
    assert isinstance(projection.transform(space.vectors), torch.Tensor)
    assert isinstance(projection.transform(space.numpy()), np.ndarray)
    json.dumps(rel.provenance)  # stays saveable


def test_scikit_learn_contract(rng):
    projection = RelativeProjection(anchors=5, similarity="rbf", seed=4)
    assert projection.get_params()["similarity"] == "rbf"
    copy = clone(projection)
    assert copy.get_params() == projection.get_params() and not hasattr(copy, "anchors_")
    assert projection.fit(_space(rng)) is projection and projection.n_features_in_ == 16


def test_projection_errors(rng):
    space = _space(rng)
    with pytest.raises(RuntimeError, match="not fitted"):
        RelativeProjection().transform(space)
    with pytest.raises(ValueError, match="similarity must be one of"):
        RelativeProjection(similarity="dot").fit(space)
    with pytest.raises(ValueError, match="normalises by definition"):
        RelativeProjection(normalize=False).fit(space)
    with pytest.raises(ValueError, match="anchor ids are not in space"):
        RelativeProjection(anchors=["s1", "missing"]).fit(space)
    with pytest.raises(ValueError, match="asked for 500 anchors"):
        RelativeProjection(anchors=500).fit(space)
    with pytest.raises(ValueError, match="X has 8 features but the anchors have 16"):
        RelativeProjection(anchors=3).fit(space).transform(np.zeros((4, 8)))


def test_zero_vectors_under_cosine_are_named(rng):
    x = rng.normal(size=(20, 4))
    x[[5, 9]] = 0.0
    space = LatentSpace(x, pd.DataFrame({"id": [f"r{i}" for i in range(20)]}))
    with pytest.raises(ValueError, match=r"2 sample vector\(s\) are zero, e.g. ids \['r5', 'r9'\]"):
        RelativeProjection(anchors=["r0", "r1"], center=False).fit_transform(space)
    with pytest.raises(ValueError, match="anchor vector"):
        RelativeProjection(anchors=["r5"], center=False).fit(space)
    # an anchor set whose mean is a sample: zero after centering
    x[2] = (x[0] + x[1]) / 2
    with pytest.raises(ValueError, match="after centering on the anchors' mean"):
        RelativeProjection(anchors=[0, 1], center=True).fit_transform(np.delete(x, [5, 9], axis=0))


def test_half_precision_space_projects_in_float32(rng):
    space = _space(rng).to(dtype=torch.bfloat16)
    rel = RelativeProjection(anchors=4).fit_transform(space)
    assert rel.dtype == torch.float32 and bool(torch.isfinite(rel.vectors).all())


def test_defaults_are_the_measured_ones_centred_on_farthest_point_anchors(rng):
    # benchmarks/relative_defaults.py: centring + fps won in all three situations
    projection = RelativeProjection()
    assert projection.center is True and projection.strategy == "fps" and projection.similarity == "cosine"
    space = _space(rng)
    rel = RelativeProjection(anchors=5).fit_transform(space)
    x = space.numpy().astype(np.float64)
    anchors = x[[list(space.ids).index(i) for i in rel.provenance["relative"]["anchors"]]]
    shifted, centre = x - anchors.mean(0), anchors - anchors.mean(0)
    expected = (shifted / np.linalg.norm(shifted, axis=1, keepdims=True)) @ (centre / np.linalg.norm(centre, axis=1, keepdims=True)).T
    np.testing.assert_allclose(rel.numpy(), expected, atol=1e-5)
