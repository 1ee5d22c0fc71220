import logging

import numpy as np
import pytest
import torch

from workbench.geometry.neighbors import dispatch as backends
from workbench.geometry.neighbors.chunked import InMemoryVectors
from workbench.geometry.neighbors.faiss_index import default_nlist, default_nprobe
from workbench.geometry.neighbors import knn

pytest.importorskip("faiss")


def _clustered(n, dim=32, clusters=50, seed=0):
    """A Gaussian mixture on a low-dimensional subspace: the shape of real embedding clouds."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, 12)) * 3
    latent = centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, 12))
    basis = np.linalg.qr(rng.normal(size=(dim, 12)))[0]
    return (latent @ basis.T + 0.1 * rng.normal(size=(n, dim))).astype(np.float32)


def _recall(found, truth):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found.numpy(), truth.numpy())])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("with_queries", [False, True])
def test_flat_agrees_with_torch(rng, metric, with_queries):
    x = rng.normal(size=(400, 24)).astype(np.float32)
    queries = rng.normal(size=(50, 24)).astype(np.float32) if with_queries else None
    exact = knn(x, 10, metric=metric, queries=queries, backend="torch", device="cpu")
    flat = knn(x, 10, metric=metric, queries=queries, backend="faiss", device="cpu")
    assert flat.backend == "faiss-flat" and exact.backend == "torch"
    assert (flat.indices == exact.indices).float().mean() > 0.999  # ties aside
    # distances are recomputed from the differences, as in the torch backend
    np.testing.assert_allclose(flat.distances.numpy(), exact.distances.numpy(), rtol=1e-5, atol=1e-6)


def test_float64_keeps_float64_distances(rng):
    x = rng.normal(size=(200, 8))
    flat = knn(x, 5, backend="faiss", device="cpu")
    exact = knn(x, 5, backend="torch", device="cpu")
    assert flat.distances.dtype == torch.float64
    np.testing.assert_allclose(flat.distances.numpy(), exact.distances.numpy(), rtol=1e-10)


@pytest.mark.parametrize("index", ["flat", "ivf", "hnsw"])
def test_self_removed_by_index_even_among_duplicates(rng, index):
    # 30 copies of one row: FAISS may list a twin before the query itself
    x = rng.normal(size=(300, 8)).astype(np.float32)
    x[:30] = x[0]
    graph = knn(x, 10, backend="faiss", index=index, device="cpu")
    own = graph.indices == torch.arange(300)[:, None]
    assert not bool(own.any())
    assert float(graph.distances[:30].max()) == 0.0
    assert bool((graph.indices[:30] < 30).all())


@pytest.mark.slow
def test_ivf_and_hnsw_reach_their_recall_on_clustered_data():
    x = _clustered(20000)
    queries = x[:500]
    truth = knn(x, 10, queries=queries, backend="torch", device="cpu").indices
    ivf = knn(x, 10, queries=queries, backend="faiss", index="ivf", device="cpu")
    hnsw = knn(x, 10, queries=queries, backend="faiss", index="hnsw", device="cpu")
    assert ivf.backend == "faiss-ivf" and hnsw.backend == "faiss-hnsw"
    assert _recall(ivf.indices, truth) >= 0.95  # the defaults' recall stated in faiss_index
    assert _recall(hnsw.indices, truth) >= 0.95
    # visiting every cell makes IVF exhaustive, hence exact
    nlist = default_nlist(len(x))
    everything = knn(x, 10, queries=queries, backend="faiss", index="ivf", nlist=nlist, nprobe=nlist, device="cpu")
    assert _recall(everything.indices, truth) >= 0.999
    # and visiting one cell is measurably worse: the parameters are really applied
    one = knn(x, 10, queries=queries, backend="faiss", index="ivf", nprobe=1, device="cpu")
    assert _recall(one.indices, truth) < _recall(ivf.indices, truth)


def test_rows_ivf_leaves_short_are_searched_exactly(rng, caplog):
    # tiny cells and one probe: many rows see fewer than k + 1 points
    x = rng.normal(size=(400, 6)).astype(np.float32)
    exact = knn(x, 8, backend="torch", device="cpu")
    with caplog.at_level(logging.INFO, logger="workbench.geometry.neighbors.faiss_index"):
        graph = knn(x, 8, backend="faiss", index="ivf", nlist=100, nprobe=1, device="cpu")
    assert "searching those exactly" in caplog.text
    assert bool(torch.isfinite(graph.distances).all())
    assert bool((graph.indices >= 0).all()) and not bool((graph.indices == torch.arange(400)[:, None]).any())
    assert bool((graph.distances[:, 1:] >= graph.distances[:, :-1]).all())
    assert bool((graph.distances >= exact.distances - 1e-6).all())  # never closer than the true neighbours


def test_auto_says_what_it_chose(rng, monkeypatch, caplog):
    x = _clustered(3000, dim=16)
    with caplog.at_level(logging.INFO, logger="workbench.geometry.neighbors.dispatch"):
        small = knn(x, 5, device="cpu")
    assert small.backend == "torch" and "exact torch search" in caplog.text
    monkeypatch.setattr(backends, "AUTO_FAISS_WORK", 1000)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="workbench.geometry.neighbors.dispatch"):
        large = knn(x, 5, device="cpu")
    assert large.backend == "faiss-flat"  # never approximate unless asked
    assert "FAISS flat" in caplog.text and "approximate" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="workbench.geometry.neighbors.dispatch"):
        assert knn(x, 5, device="cpu", index="hnsw").backend == "faiss-hnsw"
    assert "approximate" in caplog.text
    monkeypatch.setattr(backends, "_faiss_installed", lambda: False)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="workbench.geometry.neighbors.dispatch"):
        fallback = knn(x, 5, device="cpu")
    assert fallback.backend == "torch" and "not installed" in caplog.text


def test_chunked_input_gives_the_same_graph(rng):
    x = rng.normal(size=(500, 12)).astype(np.float32)
    direct = knn(x, 6, backend="faiss", index="ivf", nlist=10, nprobe=3, device="cpu")
    chunked = knn(InMemoryVectors(torch.from_numpy(x)), 6, backend="faiss", index="ivf", nlist=10, nprobe=3, device="cpu")
    np.testing.assert_array_equal(direct.indices.numpy(), chunked.indices.numpy())


def test_clear_errors(rng, monkeypatch):
    x = rng.normal(size=(100, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="backend must be one of"):
        knn(x, 3, backend="annoy")
    with pytest.raises(ValueError, match="FAISS index"):
        knn(x, 3, backend="torch", index="ivf")
    with pytest.raises(ValueError, match="index must be one of"):
        knn(x, 3, backend="faiss", index="lsh")
    with pytest.raises(ValueError, match="nprobe must be between"):
        knn(x, 3, backend="faiss", index="ivf", nlist=4, nprobe=5)
    with pytest.raises(ValueError, match="only 99 other points"):
        knn(x, 100, backend="faiss")
    with pytest.raises(ValueError, match="zero vectors"):
        knn(np.vstack([x, np.zeros((1, 4), np.float32)]), 3, backend="faiss", metric="cosine")
    monkeypatch.setitem(__import__("sys").modules, "faiss", None)
    with pytest.raises(ImportError, match=r"pip install 'latent-workbench\[faiss\]'"):
        knn(x, 3, backend="faiss")


def test_default_parameters():
    assert default_nlist(1_000_000) == 4000 and default_nprobe(4000) == 64
    assert default_nlist(100) == 2  # at least 39 rows per cell for k-means
