import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

from workbench import LatentSpace, LayerStack
from workbench.geometry.compare import compare, compare_layers, linear_cka, match_rows
from workbench.geometry.relative import RelativeProjection


def _meta(n, prefix="s"):
    return pd.DataFrame({"id": [f"{prefix}{i}" for i in range(n)]})


def _cka_direct(x, y):
    """HSIC form with an explicit centring matrix, straight from Kornblith et al."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    return np.sum(k * l_) / (np.linalg.norm(k) * np.linalg.norm(l_))


def _relreps_retrieval(a, b, k):
    """Jaccard@k and MRR as relreps computes them, with scikit-learn's brute-force search."""
    index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(b)
    target = index.kneighbors(b, return_distance=False)  # b_i itself first
    found = index.kneighbors(a, return_distance=False)
    jaccard = np.mean([len(set(t) & set(f)) / len(set(t) | set(f)) for t, f in zip(target, found)])
    mrr = np.mean([1 / (list(f).index(i) + 1) if i in f else 0.0 for i, f in enumerate(found)])
    return jaccard, mrr


# ----------------------------------------------------------------------------
# CKA
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(80, 5, 7), (30, 60, 40)])  # feature form and Gram form
def test_linear_cka_matches_the_direct_formula(rng, shape):
    n, dx, dy = shape
    x = rng.normal(size=(n, dx))
    y = x[:, :3] @ rng.normal(size=(3, dy)) + rng.normal(size=(n, dy))
    assert linear_cka(x, y) == pytest.approx(_cka_direct(x, y), rel=1e-10)
    assert 0.0 < linear_cka(x, y) < 1.0


def test_linear_cka_invariant_to_orthogonal_maps_and_scale(rng):
    x = rng.normal(size=(100, 12)) + 3.0
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    assert linear_cka(x, 4.2 * x @ q) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, rng.normal(size=(100, 12))) < 0.3


def test_linear_cka_errors():
    with pytest.raises(ValueError, match="same rows"):
        linear_cka(np.ones((5, 2)) + np.arange(5)[:, None], np.arange(12.0).reshape(6, 2))
    with pytest.raises(ValueError, match="every row of y is the same vector"):
        linear_cka(np.arange(10.0).reshape(5, 2), np.ones((5, 3)))


# ----------------------------------------------------------------------------
# compare
# ----------------------------------------------------------------------------


def test_a_space_against_itself_scores_one(rng):
    space = LatentSpace(rng.normal(size=(150, 8)), _meta(150), name="x")
    result = compare(space, space, k=10, metrics=("jaccard", "mrr", "cosine", "cka", "overlap"))
    np.testing.assert_allclose(result.to_numpy(), 1.0, atol=1e-9)
    assert result.name == "x vs x" and result.attrs["n"] == 150


def test_retrieval_matches_relreps_with_sklearn(rng):
    b = rng.normal(size=(200, 10))
    a = b + 0.6 * rng.normal(size=b.shape)
    result = compare(a, b, k=7, metrics=("jaccard", "mrr"))
    jaccard, mrr = _relreps_retrieval(a, b, 7)
    assert result["jaccard"] == pytest.approx(jaccard, abs=1e-3)  # ties aside
    assert result["mrr"] == pytest.approx(mrr, abs=1e-3)
    assert 0.05 < jaccard < 0.95 and 0.05 < mrr < 0.95  # a test that can tell


def test_overlap_and_cosine_by_hand(rng):
    a, b = rng.normal(size=(60, 4)), rng.normal(size=(60, 4))
    result = compare(a, b, k=5, metrics=("overlap", "cosine"))
    na = NearestNeighbors(n_neighbors=6, metric="cosine").fit(a).kneighbors(a, return_distance=False)[:, 1:]
    nb = NearestNeighbors(n_neighbors=6, metric="cosine").fit(b).kneighbors(b, return_distance=False)[:, 1:]
    overlap = np.mean([len(set(x) & set(y)) / len(set(x) | set(y)) for x, y in zip(na, nb)])
    cosine = np.mean((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))
    assert result["overlap"] == pytest.approx(overlap, abs=1e-3)
    assert result["cosine"] == pytest.approx(cosine, abs=1e-9)


def test_rows_are_matched_by_id(rng):
    x = rng.normal(size=(100, 6))
    a = LatentSpace(x, _meta(100))
    order = rng.permutation(100)[:80]  # b holds 80 of the samples, shuffled
    b = LatentSpace(x[order], pd.DataFrame({"id": [f"s{i}" for i in order]}))
    sa, sb = match_rows(a, b)
    assert sa.n == 80 and np.array_equal(sa.ids, sb.ids)
    result = compare(a, b, k=5)
    np.testing.assert_allclose(result.to_numpy(), 1.0, atol=1e-9)
    assert result.attrs["n"] == 80


def test_absolute_spaces_differ_where_relative_ones_agree(rng):
    x = rng.normal(size=(300, 12))
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    a, b = LatentSpace(x, _meta(300)), LatentSpace(x @ q * 2.0, _meta(300))
    absolute = compare(a, b)
    assert absolute["jaccard"] < 0.2 and absolute["mrr"] < 0.2 and absolute["cka"] == pytest.approx(1.0)
    ids = a.ids[:40]
    rel = compare(RelativeProjection(anchors=ids).fit_transform(a), RelativeProjection(anchors=ids).fit_transform(b))
    np.testing.assert_allclose(rel.to_numpy(), 1.0, atol=1e-6)


def test_different_widths_give_nan_and_say_why(rng):
    a, b = rng.normal(size=(50, 8)), rng.normal(size=(50, 5))
    with pytest.warns(UserWarning, match="need equal widths .* use 'cka' / 'overlap'"):
        result = compare(a, b, k=5, metrics=("jaccard", "mrr", "cosine", "cka", "overlap"))
    assert result[["jaccard", "mrr", "cosine"]].isna().all()
    assert np.isfinite(result[["cka", "overlap"]]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare(a, b, metrics=("cka",))  # width-free metrics do not warn


def test_relative_spaces_on_different_anchors_warn(rng):
    space = LatentSpace(rng.normal(size=(50, 6)), _meta(50))
    ra = RelativeProjection(anchors=["s1", "s2", "s3"]).fit_transform(space)
    rb = RelativeProjection(anchors=["s4", "s5", "s6"]).fit_transform(space)
    with pytest.warns(UserWarning, match="different anchors"):
        compare(ra, rb, k=5)


def test_compare_errors(rng):
    a = LatentSpace(rng.normal(size=(20, 3)), _meta(20, "a"))
    b = LatentSpace(rng.normal(size=(20, 3)), _meta(20, "b"))
    with pytest.raises(ValueError, match="share no ids"):
        compare(a, b)
    with pytest.raises(ValueError, match="k must be between 1 and 19"):
        compare(a, a, k=20)
    with pytest.raises(ValueError, match="metrics must be among"):
        compare(a, a, metrics=("cca",))
    with pytest.raises(TypeError, match="is a LayerStack; pick one layer"):
        compare(LayerStack({0: a}), a)
    zeros = np.zeros((20, 3))
    with pytest.raises(ValueError, match="zero vectors"):
        compare(zeros, zeros, metrics=("cosine",))


# ----------------------------------------------------------------------------
# layer × layer
# ----------------------------------------------------------------------------


def _stack(rng, n=120):
    x = rng.normal(size=(n, 10))
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    layers = {0: x, 1: 3 * x @ q, 2: x + 0.8 * rng.normal(size=x.shape), 3: rng.normal(size=(n, 10))}
    return LayerStack(layers, meta=_meta(n), name="model")


def test_cka_layer_matrix(rng):
    stack = _stack(rng)
    matrix = compare_layers(stack, progress=False)
    assert matrix.shape == (4, 4) and list(matrix.index) == [0, 1, 2, 3]
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T, atol=1e-12)
    assert matrix.loc[0, 1] == pytest.approx(1.0) and matrix.loc[0, 3] < 0.3
    for i, j in [(0, 2), (2, 3)]:
        assert matrix.loc[i, j] == pytest.approx(linear_cka(stack[i], stack[j]), rel=1e-9)
    assert matrix.attrs["metric"] == "cka"


def test_cka_matrix_pair_by_pair_path_agrees(rng, monkeypatch):
    import workbench.geometry.compare as module

    stack = _stack(rng)
    gram = compare_layers(stack, progress=False)
    monkeypatch.setattr(module, "_GRAM_BYTES", 0)
    np.testing.assert_allclose(compare_layers(stack, progress=False).to_numpy(), gram.to_numpy(), atol=1e-10)


def test_neighbour_layer_matrices(rng):
    stack = _stack(rng)
    overlap = compare_layers(stack, metric="overlap", k=5, progress=False)
    assert overlap.loc[0, 1] == pytest.approx(1.0) and overlap.loc[0, 3] < 0.2
    jaccard = compare_layers(stack, metric="jaccard", k=5, progress=False)
    np.testing.assert_allclose(np.diag(jaccard), 1.0)
    assert jaccard.loc[0, 1] < 0.2 < jaccard.loc[0, 2]  # rotated coordinates vs noisy copy
    assert jaccard.loc[0, 2] == pytest.approx(compare(stack[0], stack[2], k=5)["jaccard"])


def test_two_models_on_shared_ids(rng):
    stack = _stack(rng)
    other = LayerStack(
        {"a": rng.normal(size=(60, 4)), "b": stack[0].numpy()[::2] @ rng.normal(size=(10, 6))},
        meta=pd.DataFrame({"id": stack.ids[::2]}),
        name="other",
    )
    matrix = compare_layers(stack, other, progress=False)
    assert matrix.shape == (4, 2) and matrix.index.name == "model" and matrix.columns.name == "other"
    assert matrix.attrs["n"] == 60 and matrix.loc[0, "b"] > matrix.loc[0, "a"]
    with pytest.warns(UserWarning, match="need equal widths"):
        compare_layers(stack, other, metric="cosine", progress=False)
    with pytest.raises(TypeError, match="needs LayerStacks"):
        compare_layers(stack[0])
