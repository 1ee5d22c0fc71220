"""Careless input gets a clear error, never a silently wrong result (issue 14, in memory and chunked).

Every case here gave a wrong answer or a raw traceback before geometry took
its input through one door (:mod:`workbench._checks`).
"""

import json
import struct
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from workbench import LatentSpace
from workbench._checks import check_matrix, layer_key, layer_keys
from workbench.geometry.compare import compare
from workbench.geometry.directions import Directions
from workbench.geometry.intrinsic import LocalIntrinsicDimension, TwoNN
from workbench.geometry.neighbors import knn
from workbench.geometry.relative import RelativeProjection, select_anchors
from workbench.geometry.views import StreamingPCA
from workbench.streaming import ShardWriter


def _poison_store(root, row: int, column: int, dim: int) -> None:
    """Write NaN into one value of a stored shard, as a damaged or foreign file would hold."""
    path = next(root.glob("shards/*/vectors.safetensors"))
    raw = bytearray(path.read_bytes())
    header_size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + header_size])
    tensor = next(value for key, value in header.items() if key != "__metadata__")
    start = 8 + header_size + tensor["data_offsets"][0] + (row * dim + column) * 4
    raw[start : start + 4] = struct.pack("<f", float("nan"))
    path.write_bytes(bytes(raw))


@pytest.fixture
def poisoned(tmp_path, rng):
    """A space on disk whose row 77 holds a NaN that the writer never saw."""
    x = rng.normal(size=(120, 6)).astype(np.float32)
    root = tmp_path / "store"
    with ShardWriter(root, name="poisoned") as writer:
        writer.write(x, pd.DataFrame({"id": np.arange(120)}))
    _poison_store(root, 77, 2, 6)
    return LatentSpace.open(root)


@pytest.mark.parametrize("backend", ["torch", "faiss"])
def test_knn_on_a_store_refuses_nan_and_names_the_row(poisoned, backend):
    if backend == "faiss":
        pytest.importorskip("faiss")
    with pytest.raises(ValueError, match="NaN or Inf.*row 77"):
        knn(poisoned, 5, backend=backend, device="cpu")


def test_lid_on_a_store_refuses_nan(poisoned):
    with pytest.raises(ValueError, match="NaN or Inf.*row 77"):
        LocalIntrinsicDimension(n_neighbors=10, device="cpu").fit(poisoned)


def test_streaming_pca_on_a_store_refuses_nan(poisoned):
    with pytest.raises(ValueError, match="NaN or Inf.*row 77"):
        StreamingPCA(n_components=2, chunk_size=32).fit(poisoned)


def test_nan_in_memory_names_count_and_first_row(rng):
    x = rng.normal(size=(30, 3))
    x[[7, 20], 1] = np.inf
    for call in (lambda: knn(x, 3), lambda: TwoNN().fit(x), lambda: LocalIntrinsicDimension(n_neighbors=5).fit(x)):
        with pytest.raises(ValueError, match=r"2 row\(s\), the first at row 7"):
            call()


@pytest.mark.parametrize("k", [2.5, 3.0, True, "3"])
def test_knn_refuses_a_k_that_is_not_an_integer(rng, k):
    with pytest.raises(TypeError, match="k must be an integer"):
        knn(rng.normal(size=(20, 3)), k)


def test_complex_input_is_refused_not_cut_to_its_real_part(rng):
    z = rng.normal(size=(20, 3)) + 1j * rng.normal(size=(20, 3))
    for call in (
        lambda: knn(z, 3),
        lambda: knn(torch.as_tensor(z), 3),
        lambda: TwoNN().fit(z),
        lambda: RelativeProjection(anchors=5).fit(z),
        lambda: Directions().fit(z, ["a", "b"] * 10),
    ):
        with pytest.raises(TypeError, match="complex"):
            call()


def test_float64_stays_float64_through_directions(rng):
    # a signal of 0.5 on an offset of 1e8: float32 (spacing 8 there) would erase it
    x = 1e8 + rng.normal(scale=1e-3, size=(40, 4))
    x[:20, 0] += 0.5
    labels = ["joy"] * 20 + ["neutral"] * 20
    direction = Directions().fit(x, labels).vector("joy")
    assert float(direction[0]) > 0.99
    assert check_matrix(x).dtype == torch.float64 and check_matrix(np.ones((2, 2), np.float16)).dtype == torch.float32


def _space(ids, rng):
    return LatentSpace(rng.normal(size=(len(ids), 4)), pd.DataFrame({"id": ids}), name=f"s{len(ids)}")


def test_compare_of_partly_shared_ids_says_how_many_were_used(rng):
    a, b = _space(np.arange(40), rng), _space(np.arange(25, 85), rng)
    with pytest.warns(UserWarning, match="share 15 ids; only those 15 rows are compared"):
        compare(a, b, metrics=["cka"])


def test_compare_of_fully_shared_ids_is_silent(rng):
    a = _space(np.arange(30), rng)
    b = LatentSpace(rng.normal(size=(30, 4)), pd.DataFrame({"id": np.arange(30)[::-1]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare(a, b, metrics=["cka"])


def test_compare_of_disjoint_ids_is_refused(rng):
    with pytest.raises(ValueError, match="share no ids"):
        compare(_space(np.arange(20), rng), _space(np.arange(100, 120), rng), metrics=["cka"])


def test_stratified_anchors_on_an_all_missing_column_say_so(rng):
    space = LatentSpace(rng.normal(size=(20, 3)), pd.DataFrame({"id": np.arange(20), "emotion": [np.nan] * 20}))
    with pytest.raises(ValueError, match="all 20 of its values are missing"):
        select_anchors(space, 4, strategy="stratified", by="emotion")


def test_stratified_anchors_leave_rows_without_a_class_out(rng):
    labels = ["joy", "fear", None, np.nan] * 10
    space = LatentSpace(rng.normal(size=(40, 3)), pd.DataFrame({"id": np.arange(40), "emotion": labels}))
    with pytest.warns(UserWarning, match="20 rows have no class"):
        ids = select_anchors(space, 6, strategy="stratified", by="emotion")
    chosen = pd.Series(labels, index=np.arange(40))[ids]
    assert chosen.notna().all() and sorted(set(chosen)) == ["fear", "joy"]


def test_not_fitted_is_scikit_learns_error(rng):
    for estimator, call in (
        (Directions(), lambda e: e.transform(np.zeros((2, 2)))),
        (RelativeProjection(), lambda e: e.transform(np.zeros((2, 2)))),
        (StreamingPCA(), lambda e: e.transform(np.zeros((2, 2)))),
    ):
        with pytest.raises(NotFittedError):
            call(estimator)


def test_layer_key_never_reads_a_string_as_its_characters():
    assert layer_key(-1, [0, 6, 12]) == 12
    assert layer_keys("12", ["12", 1, 2]) == ["12"]
    with pytest.raises(KeyError, match="no layer '12'"):
        layer_keys("12", [1, 2])
    with pytest.raises(TypeError):
        layer_key(True, [0, 1])
