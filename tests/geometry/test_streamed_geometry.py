"""Geometry on spaces read chunk by chunk from disk gives what it gives in memory."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA

from workbench import LatentSpace
from workbench.geometry.neighbors.chunked import InMemoryVectors, as_chunked, is_chunked
from workbench.geometry.neighbors import knn
from workbench.geometry.views.pca import StreamingPCA
from workbench.streaming import ShardWriter


@pytest.fixture
def stored(tmp_path, rng):
    x = (rng.normal(size=(600, 20)) * np.linspace(3, 0.5, 20) + 40).astype(np.float32)
    x[10] = x[11]  # a duplicate pair
    root = tmp_path / "store"
    with ShardWriter(root, name="tokens", provenance={"layer": 3}) as writer:
        for start in range(0, 600, 130):
            rows = slice(start, min(start + 130, 600))
            writer.write(x[rows], pd.DataFrame({"id": np.arange(600)[rows]}))
    return x, LatentSpace.open(root)


def test_protocol():
    tensor = torch.zeros(5, 2)
    assert not is_chunked(tensor) and not is_chunked(np.zeros((2, 2))) and not is_chunked(None)
    wrapped = as_chunked(tensor)
    assert is_chunked(wrapped) and wrapped.n == 5 and [c.shape[0] for c in wrapped.iter_chunks(2)] == [2, 2, 1]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_chunked_exact_knn_equals_in_memory(stored, metric, monkeypatch):
    x, space = stored
    assert is_chunked(space)
    expected = knn(x, 7, metric=metric, backend="torch", device="cpu")
    # small query and database chunks force many merges across shard boundaries
    monkeypatch.setattr("workbench.geometry.neighbors.chunked_exact.DATABASE_CHUNK_ROWS", 97)
    graph = knn(space, 7, metric=metric, backend="torch", chunk_size=50, device="cpu")
    assert graph.backend == "torch"
    assert (graph.indices == expected.indices).float().mean() > 0.999
    np.testing.assert_allclose(graph.distances.numpy(), expected.distances.numpy(), rtol=1e-5, atol=1e-6)
    assert not bool((graph.indices == torch.arange(600)[:, None]).any())
    assert set(graph.indices[10, :1].tolist()) == {11} and float(graph.distances[10, 0]) < 1e-6


def test_chunked_queries_and_faiss_on_a_stored_space(stored, rng):
    pytest.importorskip("faiss")
    x, space = stored
    queries = rng.normal(size=(40, 20)).astype(np.float32) + 40
    expected = knn(x, 5, queries=queries, backend="torch", device="cpu")
    chunked = knn(space, 5, queries=InMemoryVectors(torch.from_numpy(queries)), backend="torch", device="cpu")
    np.testing.assert_array_equal(chunked.indices.numpy(), expected.indices.numpy())
    flat = knn(space, 5, queries=queries, backend="faiss", device="cpu")
    np.testing.assert_array_equal(flat.indices.numpy(), expected.indices.numpy())
    np.testing.assert_allclose(flat.distances.numpy(), expected.distances.numpy(), rtol=1e-5)


def test_streaming_pca_equals_sklearn(stored):
    x, space = stored
    reference = PCA(n_components=3, svd_solver="full").fit(x.astype(np.float64))
    for data in (space, x):
        pca = StreamingPCA(n_components=3, chunk_size=101).fit(data)
        np.testing.assert_allclose(pca.components_, reference.components_, atol=1e-6)
        np.testing.assert_allclose(pca.explained_variance_, reference.explained_variance_, rtol=1e-6)
        np.testing.assert_allclose(pca.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-6)
        np.testing.assert_allclose(pca.mean_, reference.mean_, rtol=1e-6)
    projected = StreamingPCA(n_components=3, chunk_size=101).fit_transform(space)
    assert isinstance(projected, LatentSpace) and projected.ids.tolist() == list(range(600))
    assert projected.provenance == {"layer": 3, "projection": "PCA(3)"}
    np.testing.assert_allclose(projected.numpy(), reference.transform(x.astype(np.float64)), atol=1e-3)
    assert isinstance(StreamingPCA().fit_transform(x), np.ndarray)


def test_streaming_pca_errors(rng):
    with pytest.raises(ValueError, match="n_components"):
        StreamingPCA(n_components=5).fit(rng.normal(size=(10, 3)))
    with pytest.raises(RuntimeError, match="not fitted"):
        StreamingPCA().transform(rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match="fitted on 3"):
        StreamingPCA().fit(rng.normal(size=(10, 3))).transform(rng.normal(size=(10, 4)))


def test_in_memory_only_functions_say_so(stored):
    from workbench.geometry.neighbors import as_matrix

    with pytest.raises(TypeError, match=r"data.load\(\)"):
        as_matrix(stored[1])


@pytest.mark.parametrize("estimator", ["twonn", "mle"])
def test_lid_on_a_stored_space_equals_in_memory(tmp_path, rng, estimator):
    from workbench.geometry.intrinsic import LocalIntrinsicDimension

    # a curved 3-D sheet in 24-D, with exact copies, as token vectors have
    latent = rng.uniform(size=(900, 3))
    x = np.hstack([latent, np.sin(3 * latent), latent**2]) @ rng.normal(size=(9, 24))
    x = x.astype(np.float32)
    x[100:110] = x[5]
    root = tmp_path / "store"
    with ShardWriter(root) as writer:
        for start in range(0, 900, 250):
            writer.write(x[start : start + 250], pd.DataFrame({"id": np.arange(start, min(start + 250, 900))}))
    space = LatentSpace.open(root)
    with pytest.warns(UserWarning):  # the copies are reported either way
        streamed = LocalIntrinsicDimension(n_neighbors=20, estimator=estimator).fit(space)
    with pytest.warns(UserWarning):
        memory = LocalIntrinsicDimension(n_neighbors=20, estimator=estimator).fit(x)
    assert streamed.n_duplicates_ == memory.n_duplicates_ == 10
    np.testing.assert_array_equal(streamed.distinct_rows_, memory.distinct_rows_)
    np.testing.assert_allclose(streamed.lid_, memory.lid_, rtol=1e-5)
    assert 2.0 < float(np.median(streamed.lid_)) < 4.5
    if estimator == "twonn":  # some members were measured from rows read off the disk
        assert streamed.n_direct_ == memory.n_direct_ > 0
