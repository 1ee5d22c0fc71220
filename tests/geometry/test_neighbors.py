import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from workbench.geometry.neighbors import KNNGraph, knn


def _sklearn(x, k, metric, queries=None):
    model = NearestNeighbors(n_neighbors=k + (queries is None), metric=metric, algorithm="brute").fit(x)
    distances, indices = model.kneighbors(x if queries is None else queries)
    if queries is None:
        return indices[:, 1:], distances[:, 1:]
    return indices, distances


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_equals_sklearn(rng, metric, chunk_size):
    x = rng.normal(size=(300, 24)).astype(np.float32)
    graph = knn(x, 10, metric=metric, chunk_size=chunk_size, device="cpu")
    indices, distances = _sklearn(x.astype(np.float64), 10, metric)
    ours_i, ours_d = graph.numpy()
    assert (ours_i == indices).mean() > 0.999  # ties aside
    np.testing.assert_allclose(ours_d, distances, rtol=1e-5, atol=1e-5)
    assert graph.metric == metric and graph.k == 10 and graph.n == 300


def test_queries_and_float64(rng, device):
    x = rng.normal(size=(200, 8))
    q = rng.normal(size=(30, 8))
    graph = knn(x, 5, queries=q, device=device)
    indices, distances = _sklearn(x, 5, "euclidean", queries=q)
    assert graph.distances.dtype == torch.float64
    np.testing.assert_array_equal(graph.numpy()[0], indices)
    np.testing.assert_allclose(graph.numpy()[1], distances, rtol=1e-10)


def test_close_neighbours_keep_exact_distances():
    # points 1e-4 apart far from the origin: the |x|^2 expansion alone loses them
    base = np.full((50, 16), 1000.0, dtype=np.float32)
    base += np.arange(50, dtype=np.float32)[:, None] * 1e-3
    graph = knn(base, 2, device="cpu")
    _, distances = _sklearn(base.astype(np.float64), 2, "euclidean")
    np.testing.assert_allclose(graph.distances.numpy(), distances, rtol=1e-3)


def test_never_its_own_neighbour_even_with_duplicates():
    x = np.zeros((5, 3), dtype=np.float32)
    graph = knn(x, 4, device="cpu")
    own = graph.indices == torch.arange(5)[:, None]
    assert not bool(own.any())
    assert float(graph.distances.max()) == 0.0


def test_accepts_spaces_and_helpers(small_space):
    graph = knn(small_space, 3, device="cpu")
    assert graph.truncate(2).k == 2
    umap_i, umap_d = graph.for_umap()
    assert umap_i.shape == (6, 4) and (umap_i[:, 0] == np.arange(6)).all() and (umap_d[:, 0] == 0).all()
    assert "KNNGraph(n=6, k=3" in repr(graph)


def test_clear_errors(rng):
    x = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="only 9 other points"):
        knn(x, 10)
    with pytest.raises(ValueError, match="at least 1"):
        knn(x, 0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        knn(np.array([[0.0, np.nan], [1.0, 1.0], [2, 2]]), 1)
    with pytest.raises(ValueError, match="zero vectors"):
        knn(np.array([[0.0, 0.0], [1.0, 1.0], [2, 2]]), 1, metric="cosine")
    with pytest.raises(ValueError, match="metric"):
        knn(x, 2, metric="manhattan")
    with pytest.raises(ValueError, match="features"):
        knn(x, 2, queries=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="shape"):
        KNNGraph(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 3), "euclidean")


@pytest.mark.parametrize("dim", [2, 3])
def test_low_dimensional_search_uses_an_exact_kdtree(rng, dim):
    x = rng.normal(size=(2000, dim))
    x[5] = x[6] = x[7]  # copies: a point is still never its own neighbour
    graph = knn(x, 15, device="cpu")
    assert graph.backend == "kdtree"
    reference = knn(x, 15, device="cpu", backend="torch")
    np.testing.assert_allclose(graph.numpy()[1], reference.numpy()[1], rtol=1e-9, atol=1e-12)
    assert (graph.numpy()[0] == reference.numpy()[0]).mean() > 0.995  # the copies tie
    assert not bool((graph.indices == torch.arange(2000)[:, None]).any())
    assert set(graph.indices[5, :2].tolist()) == {6, 7} and float(graph.distances[5, 1]) == 0.0
    queries = rng.normal(size=(10, dim))
    np.testing.assert_array_equal(
        knn(x, 3, queries=queries).numpy()[0], knn(x, 3, queries=queries, backend="torch").numpy()[0]
    )
    with pytest.raises(ValueError, match="Euclidean"):
        knn(x, 3, metric="cosine", backend="kdtree")
