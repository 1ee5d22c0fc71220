"""A shard store's manifest and a safetensors header are data: every field is checked, named when refused."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest

from workbench import LatentSpace
from workbench.streaming import ShardWriter, open_stack
from workbench.streaming.shards import MANIFEST
from workbench.streaming.tensor_map import map_tensors


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "store"
    with ShardWriter(root) as writer:
        for k in range(2):
            writer.write(np.full((3, 2), k, np.float32), pd.DataFrame({"id": [f"{k}-{i}" for i in range(3)]}))
    return root


def _edit(root, change):
    info = json.loads((root / MANIFEST).read_text())
    change(info)
    (root / MANIFEST).write_text(json.dumps(info))


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda m: m["shards"][0].update(name="../../outside"), "name"),
        (lambda m: m["shards"][0].update(name="/etc"), "name"),
        (lambda m: m["shards"].append(dict(m["shards"][0])), "listed twice"),
        (lambda m: m["shards"][0].update(rows=-3), "rows"),
        (lambda m: m["layers"][0].update(dtype="load"), "dtype"),
        (lambda m: m["layers"][0].update(dtype=["float32"]), "dtype"),
        (lambda m: m["layers"][0].update(dim=-1), "dim"),
        (lambda m: m["layers"].append(dict(m["layers"][0])), "repeats"),
        (lambda m: m.update(shards="shard-000000"), "shards"),
        (lambda m: m.update(complete="yes"), "complete"),
    ],
)
def test_manifest_fields_are_refused_with_file_and_field(store, change, field):
    _edit(store, change)
    with pytest.raises(ValueError) as info:
        LatentSpace.open(store, partial=True).load()
    assert str(store / MANIFEST) in str(info.value) and field in str(info.value)


def _rewrite_header(path, change):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    change(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + length :])


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda h: h["layer.0"].update(data_offsets=[-8, 16]), "data_offsets"),
        (lambda h: h["layer.0"].update(data_offsets=[24, 0]), "data_offsets"),
        (lambda h: h["layer.0"].update(shape=[-1, 2]), "shape"),
        (lambda h: h["layer.0"].update(dtype="load"), "dtype"),
        (lambda h: h.update({"alias": dict(h["layer.0"])}), "overlap"),
    ],
)
def test_safetensors_header_is_checked(store, change, words):
    path = store / "shards" / "shard-000000" / "vectors.safetensors"
    _rewrite_header(path, change)
    with pytest.raises(ValueError) as info:
        map_tensors(path)
    assert str(path) in str(info.value) and words in str(info.value)


def test_nan_on_disk_is_refused_as_in_memory(store):
    path = store / "shards" / "shard-000001" / "vectors.safetensors"
    data = bytearray(path.read_bytes())
    data[-4:] = np.float32(np.nan).tobytes()
    path.write_bytes(bytes(data))
    space = open_stack(store)[0]
    with pytest.raises(ValueError, match=r"shard-000001.*NaN or Inf"):
        list(space.iter_chunks(2))
    with pytest.raises(ValueError, match="NaN or Inf"):
        space.vectors_at([5])
    assert space.vectors_at([0, 1]).shape == (2, 2)  # the healthy shard still reads


def test_shard_meta_without_ids_is_refused(store):
    meta = store / "shards" / "shard-000000" / "meta.parquet"
    pd.DataFrame({"text": ["a", "b", "c"]}).to_parquet(meta)
    with pytest.raises(ValueError, match=r"meta\.parquet has no 'id' column"):
        open_stack(store).meta


def _stack_with_edited_manifest(tmp_path, change):
    from workbench import LayerStack

    space = LatentSpace(np.arange(6.0).reshape(3, 2), pd.DataFrame({"id": list("abc")}))
    folder = LayerStack({0: space, "mlp": space.with_vectors(-space.vectors)}).save(tmp_path / "stack")
    info = json.loads((folder / "stack.json").read_text())
    change(info)
    info.pop("files")  # as a save from before checksums: the key check alone must catch it
    (folder / "stack.json").write_text(json.dumps(info))
    return folder


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda m: m["layers"][1].update(key=1), "names the layers [0, 1] but"),
        (lambda m: m["layers"].reverse(), "names the layers ['mlp', 0] but"),
        (lambda m: m["layers"].pop(), "lists 1 layer(s) but"),
    ],
)
def test_a_stack_manifest_cannot_rename_or_drop_the_layers_its_vectors_hold(tmp_path, change, words):
    from workbench import LayerStack

    folder = _stack_with_edited_manifest(tmp_path, change)
    with pytest.raises(ValueError, match=r"stack\.json") as error:
        LayerStack.load(folder)
    assert words in str(error.value) and "vectors.safetensors" in str(error.value)
