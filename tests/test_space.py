import json

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LatentSpace, LayerStack
from workbench.space import FORMAT_VERSION


def test_rejects_non_finite_and_names_the_row(small_frame):
    vectors = torch.zeros(6, 3)
    vectors[4, 1] = float("nan")
    vectors[2, 0] = float("inf")
    with pytest.raises(ValueError, match=r"2 row\(s\).*'r2', 'r4'"):
        LatentSpace(vectors, small_frame)


@pytest.mark.parametrize(
    "vectors, meta, message",
    [
        (np.zeros((6,)), None, "2-D"),
        (np.zeros((2, 3, 4)), None, "2-D"),
        (np.zeros((5, 3)), pd.DataFrame({"id": range(6)}), "6 rows but there are 5 vectors"),
        (np.zeros((3, 2)), pd.DataFrame({"id": [1, 1, 2]}), "unique"),
        (np.zeros((2, 2)), pd.DataFrame({"id": [1, None]}), "missing"),
        (np.array([[1, 2], [3]], dtype=object), None, "numeric"),
    ],
)
def test_validation_messages(vectors, meta, message):
    with pytest.raises((ValueError, TypeError), match=message):
        LatentSpace(vectors, meta)


def test_ids_are_added_and_ints_become_float():
    space = LatentSpace(np.arange(6).reshape(3, 2))
    assert space.ids.tolist() == [0, 1, 2]
    assert space.dtype == torch.float32
    assert space.shape == (3, 2) and len(space) == 3


def test_subset_by_mask_and_ids_and_labels(small_space):
    joy = small_space.subset(small_space.labels("emotion") == "joy")
    assert joy.ids.tolist() == ["r0", "r2", "r5"]
    assert torch.equal(joy.vectors, small_space.vectors[[0, 2, 5]])
    picked = small_space.subset(["r5", "r1"])
    assert picked.ids.tolist() == ["r5", "r1"]
    assert torch.equal(picked.vectors[0], small_space.vectors[5])
    with pytest.raises(KeyError, match="not in this space"):
        small_space.subset(["nope"])
    with pytest.raises(ValueError, match="length 6"):
        small_space.subset(np.array([True, False]))
    labels = small_space.labels("emotion")
    assert labels.dtype == object
    with pytest.raises(KeyError, match="columns are"):
        small_space.labels("colour")


def test_labels_are_plain_objects_for_sklearn(small_space):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=200).fit(small_space.numpy(), small_space.labels("emotion"))
    assert set(model.classes_) == {"joy", "fear", "anger"}


def test_to_and_assign_keep_meta(small_space, device):
    half = small_space.to(device, torch.float64)
    assert half.dtype == torch.float64 and half.meta is small_space.meta
    assert half.vectors.device.type == torch.device(device).type
    marked = small_space.assign(score=np.arange(6))
    assert "score" not in small_space.meta and marked.meta["score"].tolist() == list(range(6))
    with pytest.raises(ValueError, match="id"):
        small_space.assign(id=range(6))


def test_save_load_round_trip(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    loaded = LatentSpace.load(path)
    assert torch.equal(loaded.vectors, small_space.vectors)
    pd.testing.assert_frame_equal(loaded.meta, small_space.meta, check_dtype=False)
    assert loaded.name == "small" and loaded.provenance == {"layer": 1}
    assert sorted(p.name for p in path.iterdir()) == ["meta.parquet", "space.json", "vectors.safetensors"]


def test_save_keeps_bfloat16(tmp_path, small_space):
    space = small_space.to(dtype=torch.bfloat16)
    assert LatentSpace.load(space.save(tmp_path / "bf")).dtype == torch.bfloat16


def test_load_refuses_newer_format_and_foreign_folders(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    info = json.loads((path / "space.json").read_text())
    info["format_version"] = FORMAT_VERSION + 1
    (path / "space.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="newer than this workbench"):
        LatentSpace.load(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="space.json is missing"):
        LatentSpace.load(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no saved"):
        LatentSpace.load(tmp_path / "absent")


def test_load_never_unpickles(tmp_path, small_space):
    """A pickle planted in the folder is never opened: only the named plain files are read."""
    path = small_space.save(tmp_path / "space")
    (path / "vectors.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(Exception) as info:
        LatentSpace.load(path)
    # the message names the file, whose path holds this test's name ("...unpickles0")
    assert "pickle" not in str(info.value).lower().replace(str(tmp_path).lower(), "")


def test_provenance_must_be_json(tmp_path, small_frame):
    space = LatentSpace(np.zeros((6, 2)), small_frame, provenance={"bad": object()})
    with pytest.raises(TypeError, match="JSON"):
        space.save(tmp_path / "x")
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------
# LayerStack
# ----------------------------------------------------------------------------


@pytest.fixture
def stack(small_frame):
    generator = torch.Generator().manual_seed(1)
    return LayerStack(
        {layer: torch.randn(6, 4, generator=generator) for layer in range(4)},
        meta=small_frame,
        name="tiny",
        provenance={"model": "random"},
    )


def test_stack_indexing(stack):
    assert stack.layers == [0, 1, 2, 3] and len(stack) == 4
    assert stack[-1] is stack[3] and stack[0].name == "layer 0"
    assert stack[1:3].layers == [1, 2]
    assert stack[[3, 0]].layers == [3, 0]
    assert stack.tensor().shape == (4, 6, 4)
    with pytest.raises(KeyError, match=r"layers are \[0, 1, 2, 3\]"):
        stack[7]
    assert all(space.meta is stack.meta for space in stack)


def test_stack_validation(small_frame, small_space):
    with pytest.raises(ValueError, match="at least one layer"):
        LayerStack({})
    other = small_space.subset(small_space.ids[::-1])
    with pytest.raises(ValueError, match="same ids in the same order"):
        LayerStack([small_space, other])
    with pytest.raises(ValueError, match="meta="):
        LayerStack({0: np.zeros((6, 2))})
    ragged = LayerStack({0: np.zeros((6, 2)), 1: np.zeros((6, 3))}, meta=small_frame)
    with pytest.raises(ValueError, match="different widths"):
        ragged.tensor()


def test_stack_subset_assign_and_round_trip(tmp_path, stack):
    part = stack.subset(["r3", "r0"])
    assert part.ids.tolist() == ["r3", "r0"]
    assert torch.equal(part[2].vectors[1], stack[2].vectors[0])
    marked = stack.assign(lid=np.arange(6.0))
    assert all("lid" in space.meta for space in marked)
    loaded = LayerStack.load(marked.save(tmp_path / "stack"))
    assert loaded.layers == [0, 1, 2, 3] and loaded.provenance == {"model": "random"}
    assert torch.equal(loaded.tensor(), stack.tensor())
    assert loaded.meta["lid"].tolist() == list(np.arange(6.0))


def test_stack_with_string_keys_round_trips(tmp_path, small_frame):
    stack = LayerStack({"attn.3": np.ones((6, 2)), "mlp.3": np.zeros((6, 2))}, meta=small_frame)
    assert LayerStack.load(stack.save(tmp_path / "s")).layers == ["attn.3", "mlp.3"]
