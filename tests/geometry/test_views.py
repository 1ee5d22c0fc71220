"""2-D/3-D views: projections, their cache, trustworthiness, preservation, alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as sklearn_trustworthiness
from sklearn.neighbors import NearestNeighbors

from workbench import LatentSpace
from workbench.geometry import views
from workbench.geometry.views import align_chain, align_to, project, trustworthiness
from workbench.geometry.views import neighbor_preservation as neighbour_preservation


def blobs(n: int = 300, d: int = 12, centres: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % centres
    return (rng.normal(size=(n, d)) + 4.0 * rng.normal(size=(centres, d))[labels]).astype(np.float32)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_trustworthiness_equals_scikit_learn_when_exact(metric):
    x = blobs(250)
    low = x[:, :2] + np.random.default_rng(1).normal(scale=2.0, size=(250, 2)).astype(np.float32)
    ours = trustworthiness(x, low, k=7, metric=metric, sample=None)
    assert ours == pytest.approx(sklearn_trustworthiness(x, low, n_neighbors=7, metric=metric), abs=1e-9)


def test_sampled_trustworthiness_is_close_to_exact():
    x = blobs(1200, d=8)
    low = PCA(2).fit_transform(x)
    exact = trustworthiness(x, low, k=10, sample=None)
    estimate = trustworthiness(x, low, k=10, sample=300, seed=3)
    assert abs(estimate - exact) < 0.03
    assert trustworthiness(x, x, k=10, sample=300) == pytest.approx(1.0)


def test_neighbour_preservation_counts_shared_neighbours():
    x = blobs(200, d=6)
    low = x[:, :2]
    k = 5
    high_sets = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(return_distance=False)
    low_sets = NearestNeighbors(n_neighbors=k + 1).fit(low).kneighbors(return_distance=False)
    # scikit-learn's kneighbors() without X already leaves each point out
    expected = [len(set(h[:k]) & set(lo[:k])) / k for h, lo in zip(high_sets, low_sets)]
    got = neighbour_preservation(x, low, k=k)
    assert got.shape == (200,) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert neighbour_preservation(x, x, k=k).min() == 1.0


def test_pca_view_matches_scikit_learn_up_to_sign_and_is_cached():
    x = torch.as_tensor(blobs(150))
    space = LatentSpace(x)
    view = project(space, "pca")
    reference = PCA(2).fit_transform(x.numpy())
    assert view.coords.dtype == np.float32 and view.coords.shape == (150, 2)
    np.testing.assert_allclose(np.abs(view.coords), np.abs(reference), atol=1e-3)
    assert 0.5 < view.trustworthiness <= 1.0 and view.sampled is None
    assert project(space, "pca") is view  # same vectors, same parameters
    assert project(space, "pca", dims=3).coords.shape == (150, 3)
    assert project(space, "pca", k=5) is not view
    space.vectors.mul_(2.0)  # an in-place edit must not return the stale map
    assert project(space, "pca") is not view


def test_views_of_large_spaces_estimate_trustworthiness_on_a_sample():
    view = project(blobs(1500, d=6), "pca", sample=200)
    assert view.sampled == 200 and "200 sampled points" in view.describe()


@pytest.mark.slow
def test_tsne_is_reproducible_and_keeps_clusters():
    plane = np.random.default_rng(0).uniform(size=(90, 2))
    x = plane @ np.random.default_rng(1).normal(size=(2, 6))  # a flat 2-D sheet in 6-D
    a = project(x, "tsne", seed=1, max_iter=300, k=5)
    b = project(x, "tsne", seed=1, max_iter=300, k=5, cache=False)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.trustworthiness > 0.9


@pytest.mark.slow
def test_umap_uses_the_shared_exact_graph_and_keeps_clusters():
    views.clear_cache()
    space = LatentSpace(torch.as_tensor(blobs(240, d=10)))
    view = project(space, "umap", seed=0, n_neighbors=12)
    graph = views.neighbour_graph(space, 11)
    assert graph.k == 11  # the graph UMAP was given, cached for the same vectors
    np.testing.assert_array_equal(graph.indices.numpy(), views.knn(space, 11).indices.numpy())
    assert view.coords.shape == (240, 2) and view.trustworthiness > 0.9
    again = project(space, "umap", seed=0, n_neighbors=12, cache=False)
    np.testing.assert_allclose(again.coords, view.coords, atol=1e-5)


def test_align_to_undoes_rotation_reflection_scale_and_shift():
    reference = np.random.default_rng(0).normal(size=(50, 2))
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (reference @ rotation) * np.array([1.0, -1.0]) * 2.5 + 7.0
    np.testing.assert_allclose(align_to(moved, reference), reference, atol=1e-5)
    chain = align_chain([reference, moved, moved * 3])
    for aligned in chain:
        np.testing.assert_allclose(aligned, reference, atol=1e-4)


def test_align_to_leaves_neighbourhoods_alone():
    x = blobs(80, d=2).astype(np.float64)
    other = np.random.default_rng(1).normal(size=(80, 2))
    aligned = align_to(x, other)
    assert neighbour_preservation(x, aligned, k=5).min() == 1.0


def test_clear_errors():
    x = blobs(20)
    with pytest.raises(ValueError, match="method must be one of"):
        project(x, "isomap")
    with pytest.raises(ValueError, match="dims must be 2 or 3"):
        project(x, dims=4)
    with pytest.raises(ValueError, match="at least 4 points"):
        project(x[:3])
    with pytest.raises(ValueError, match="coords have 5 rows"):
        trustworthiness(x, x[:5, :2])
    with pytest.raises(ValueError, match="cannot align"):
        align_to(x[:, :2], x[:10, :2])


def test_pca_of_wide_data_uses_the_gram_matrix_and_still_matches():
    x = np.random.default_rng(0).normal(size=(30, 200)).astype(np.float32)
    view = project(x, "pca", quality=False, dims=3)
    np.testing.assert_allclose(np.abs(view.coords), np.abs(PCA(3).fit_transform(x)), atol=1e-3)
