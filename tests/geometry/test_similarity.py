"""Similarity measures against independent references, and their nulls.

References are written from the papers' formulas (or taken from scipy /
scikit-learn where those compute the same thing) along a different route
than the implementation: Gram matrices instead of feature products,
covariance whitening instead of orthonormal bases, full distance matrices
instead of kNN graphs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import pdist
from scipy.stats import kstest, spearmanr

from workbench.geometry.compare import linear_cka
from workbench.geometry.similarity import (
    MEASURES,
    cka_debiased,
    mutual_knn,
    procrustes_distance,
    pwcca,
    rsa,
    similarity,
    svcca,
)
from workbench.geometry.similarity.kernel import _cka_null
from workbench.geometry.similarity.mutual_knn import _graphs, _mutual_knn_null
from workbench.geometry.uncertainty import permutations


def _related(n: int, dx: int, dy: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dx))
    y = x @ rng.normal(size=(dx, dy)) + noise * rng.normal(size=(n, dy))
    return x, y


def _unbiased_hsic_gram(k: np.ndarray, l_: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, on Gram matrices with their diagonals zeroed."""
    n = k.shape[0]
    k, l_ = k.copy(), l_.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l_, 0)
    one = np.ones(n)
    return (
        np.trace(k @ l_)
        + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * (one @ k @ l_ @ one)
    ) / (n * (n - 3))


def test_debiased_cka_matches_the_unbiased_hsic_of_gram_matrices():
    x, y = _related(60, 7, 5, 1.0, 0)
    xc, yc = x - x.mean(0), y - y.mean(0)
    k, l_ = xc @ xc.T, yc @ yc.T
    expected = _unbiased_hsic_gram(k, l_) / np.sqrt(_unbiased_hsic_gram(k, k) * _unbiased_hsic_gram(l_, l_))
    assert cka_debiased(x, y) == pytest.approx(expected, abs=1e-10)


def test_debiased_cka_removes_the_small_sample_bias_of_linear_cka():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(100, 500)), rng.normal(size=(100, 500))
    assert linear_cka(x, y) > 0.5  # biased: unrelated spaces look alike
    assert abs(cka_debiased(x, y)) < 0.05


def test_svcca_equals_the_mean_canonical_correlation_of_scikit_learn():
    from sklearn.cross_decomposition import CCA

    x, y = _related(400, 4, 4, 2.0, 2)
    cca = CCA(n_components=4, max_iter=5000, tol=1e-10, scale=False).fit(x, y)
    xs, ys = cca.transform(x, y)
    expected = np.mean([np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(4)])
    assert svcca(x, y, keep=1.0) == pytest.approx(expected, abs=1e-4)


def test_svcca_keeps_only_the_directions_that_carry_the_variance():
    rng = np.random.default_rng(3)
    signal = rng.normal(size=(300, 3))
    x = np.hstack([10 * signal, 1e-4 * rng.normal(size=(300, 20))])
    y = np.hstack([signal @ rng.normal(size=(3, 3)), 1e-4 * rng.normal(size=(300, 20))])
    assert svcca(x, y) == pytest.approx(1.0, abs=1e-6)
    assert svcca(x, y, keep=1.0) < 0.9  # the noise directions correlate only by chance


def test_pwcca_matches_the_covariance_whitening_route():
    x, y = _related(300, 3, 6, 1.5, 4)
    xc, yc = x - x.mean(0), y - y.mean(0)

    def inv_sqrt(m):
        w, v = np.linalg.eigh(m)
        return v @ np.diag(w**-0.5) @ v.T

    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    u, rho, _ = np.linalg.svd(inv_sqrt(sxx) @ sxy @ inv_sqrt(syy), full_matrices=False)
    variates = xc @ inv_sqrt(sxx) @ u
    basis, _ = np.linalg.qr(variates)
    weights = np.abs(basis.T @ xc).sum(1)
    expected = float((weights / weights.sum() * rho).sum())
    assert pwcca(x, y) == pytest.approx(expected, abs=1e-8)
    assert pwcca(y, x) == pytest.approx(expected, abs=1e-8)  # the narrower side weighs


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_rsa_is_spearman_between_the_distance_matrices(metric):
    x, y = _related(80, 5, 9, 3.0, 5)
    expected = spearmanr(pdist(x, metric), pdist(y, metric)).statistic
    assert rsa(x, y, metric=metric) == pytest.approx(expected, abs=1e-10)


def test_procrustes_distance_matches_scipy_orthogonal_procrustes():
    x, y = _related(100, 6, 6, 1.0, 6)
    a, b = x - x.mean(0), y - y.mean(0)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    rotation, _ = orthogonal_procrustes(a, b)
    expected = np.linalg.norm(a @ rotation - b) ** 2
    assert procrustes_distance(x, y) == pytest.approx(expected, abs=1e-10)


def test_procrustes_distance_pads_the_narrower_space():
    x, y = _related(100, 3, 6, 1.0, 7)
    padded = np.hstack([x, np.zeros((100, 3))])
    assert procrustes_distance(x, y) == pytest.approx(procrustes_distance(padded, y), abs=1e-10)


def test_mutual_knn_matches_set_intersection_of_full_distance_rankings():
    x, y = _related(120, 5, 5, 2.0, 8)

    def neighbours(m):
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        d = 1 - unit @ unit.T
        np.fill_diagonal(d, np.inf)
        return np.argsort(d, axis=1)[:, :7]

    nx, ny = neighbours(x), neighbours(y)
    expected = np.mean([len(set(a) & set(b)) / 7 for a, b in zip(nx, ny)])
    assert mutual_knn(x, y, k=7, device="cpu") == pytest.approx(expected, abs=1e-12)


def test_vectorised_nulls_equal_recomputing_on_shuffled_rows():
    x, y = (torch.as_tensor(v) for v in _related(90, 6, 4, 1.0, 9))
    perms = permutations(90, 5, seed=3)
    sorted_a, b_idx = _graphs(x, y, 6, "cosine", torch.device("cpu"))
    knn_null = _mutual_knn_null(sorted_a, b_idx, perms, chunk=2)
    cka_null = _cka_null(x, y, perms)
    for i, p in enumerate(perms):
        assert knn_null[i].item() == pytest.approx(mutual_knn(x, y[p], k=6, device="cpu"), abs=1e-12)
        assert cka_null[i].item() == pytest.approx(cka_debiased(x, y[p]), abs=1e-5)


@pytest.mark.parametrize("measure", ["mutual_knn", "cka_debiased"])
def test_permutation_p_values_of_independent_data_are_uniform(measure):
    p_values = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x, y = rng.normal(size=(40, 4)), rng.normal(size=(40, 4))
        p_values.append(similarity(x, y, measure, k=5, n_permutations=49, seed=seed, device="cpu").p_value)
    p_values = np.asarray(p_values)
    assert kstest(p_values, "uniform").pvalue > 0.01
    assert 0.01 <= (p_values <= 0.05).mean() <= 0.10


@pytest.mark.parametrize("measure", sorted(MEASURES))
def test_a_planted_relation_is_detected(measure):
    x, y = _related(120, 5, 6, 1.0, 10)
    result = similarity(x, y, measure, k=8, n_permutations=99, n_bootstrap=50, device="cpu")
    assert result.p_value == pytest.approx(0.01)
    assert result.ci_low <= result.ci_high
    if MEASURES[measure].higher_is_closer:
        assert result.value > result.null_q95
    else:
        assert result.value < result.null_q95


def test_bootstrap_interval_of_debiased_cka_covers_the_population_value():
    # x ~ N(0, I_2), y = x + e with e ~ N(0, I_2): population CKA = 1 / (1 + 1) = 0.5
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        x = rng.normal(size=(100, 2))
        y = x + rng.normal(size=(100, 2))
        result = similarity(x, y, "cka_debiased", n_bootstrap=100, seed=seed, device="cpu")
        covered += result.ci_low <= 0.5 <= result.ci_high
    assert covered >= 180


def test_similarity_says_what_is_wrong_with_its_input():
    x, y = _related(50, 3, 3, 1.0, 11)
    with pytest.raises(ValueError, match="unknown measure 'cka2'"):
        similarity(x, y, "cka2")
    with pytest.raises(ValueError, match="same rows"):
        similarity(x, y[:40], "rsa")
    with pytest.raises(ValueError, match="n_permutations"):
        similarity(x, y, "rsa", n_permutations=-1)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        similarity(bad, y, "cka_debiased")
    with pytest.raises(ValueError, match="fewer dimensions than rows"):
        svcca(np.random.default_rng(0).normal(size=(6, 10)), np.random.default_rng(1).normal(size=(6, 10)), keep=1.0)


def test_compare_reports_registry_measures_with_their_nulls():
    from workbench import LatentSpace
    from workbench.geometry.compare import compare

    x, y = _related(150, 6, 9, 1.0, 12)
    noise = np.random.default_rng(13).normal(size=(150, 9))
    a, b, c = LatentSpace(x, name="a"), LatentSpace(y, name="b"), LatentSpace(noise, name="c")
    plain = compare(a, b, metrics=["cka", "mutual_knn", "cka_debiased"], k=8, device="cpu")
    assert list(plain.index) == ["cka", "mutual_knn", "cka_debiased"]
    table = compare(a, b, metrics=["mutual_knn", "cka_debiased"], k=8, n_permutations=99, n_bootstrap=30, device="cpu")
    assert list(table.columns[:6]) == ["value", "ci_low", "ci_high", "null_mean", "null_q95", "p_value"]
    assert table["value"].tolist() == pytest.approx(plain[["mutual_knn", "cka_debiased"]].tolist())
    assert (table["p_value"] <= 0.01).all()
    unrelated = compare(a, c, metrics=["cka", "cka_debiased"], n_permutations=99, device="cpu")
    # linear CKA of unrelated spaces is far above 0, but not above its own null
    assert unrelated.loc["cka", "value"] > 0.05 and unrelated.loc["cka", "p_value"] > 0.05
    with pytest.raises(ValueError, match=r"\['jaccard'\] have none here"):
        compare(a, b, metrics=["jaccard", "cka"], n_permutations=10, device="cpu")


def test_compare_layers_gives_a_null_per_layer_pair():
    from workbench import LayerStack
    from workbench.geometry.compare import compare_layers

    x, y = _related(120, 6, 6, 1.0, 14)
    noise = np.random.default_rng(15).normal(size=(120, 6))
    stack = LayerStack({0: x, 1: y, 2: noise}, meta=pd.DataFrame({"id": range(120)}))
    matrix = compare_layers(stack, metric="cka_debiased", n_permutations=99, progress=False, device="cpu")
    p = matrix.attrs["p_value"]
    assert p.shape == (3, 3) and matrix.attrs["null_q95"].shape == (3, 3)
    assert p.loc[0, 1] == pytest.approx(0.01) and p.loc[1, 0] == pytest.approx(0.01)
    assert p.loc[0, 2] > 0.05 and p.loc[2, 1] > 0.05  # the unrelated layer is not above its null
    assert matrix.loc[0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="'overlap' has none here"):
        compare_layers(stack, metric="overlap", n_permutations=5, progress=False)


def test_compare_layers_mutual_knn_null_matches_the_pairwise_null():
    # compare_layers searches each layer's graph once; every pair must still get what similarity() gives it
    from workbench import LayerStack
    from workbench.geometry.compare import compare_layers

    x, y = _related(150, 6, 8, 0.5, 21)
    noise = np.random.default_rng(22).normal(size=(150, 5))
    layers = {0: x, 1: y, 2: noise}
    stack = LayerStack(layers, meta=pd.DataFrame({"id": range(150)}))
    matrix = compare_layers(stack, metric="mutual_knn", k=7, n_permutations=49, seed=3, progress=False, device="cpu")
    for i in layers:
        for j in layers:
            expected = similarity(layers[i], layers[j], "mutual_knn", k=7, n_permutations=49, seed=3, device="cpu")
            assert matrix.loc[i, j] == pytest.approx(expected.value)
            assert matrix.attrs["p_value"].loc[i, j] == pytest.approx(expected.p_value)
            assert matrix.attrs["null_q95"].loc[i, j] == pytest.approx(expected.null_q95)
    assert matrix.attrs["p_value"].loc[0, 1] == pytest.approx(0.02) and matrix.attrs["p_value"].loc[0, 2] > 0.05
