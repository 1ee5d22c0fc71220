import json

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LatentSpace, LayerStack
from workbench.streaming import ShardWriter, StreamedSpace, open_stack
from workbench.streaming.shards import MANIFEST


def _frame(start, stop):
    return pd.DataFrame({"id": [f"r{i}" for i in range(start, stop)], "label": [i % 3 for i in range(start, stop)]})


def _write(root, layers, shard_rows, **kwargs):
    n = next(iter(layers.values())).shape[0]
    with ShardWriter(root, name="demo", provenance={"model": "m"}, **kwargs) as writer:
        for start in range(0, n, shard_rows):
            stop = min(start + shard_rows, n)
            writer.write({key: value[start:stop] for key, value in layers.items()}, _frame(start, stop))
    return writer


@pytest.fixture
def layers(rng):
    return {0: rng.normal(size=(50, 6)).astype(np.float32), "top": rng.normal(size=(50, 3))}


def test_round_trip_reads_chunks_across_shards(tmp_path, layers, rng):
    _write(tmp_path / "s", layers, shard_rows=7)
    stack = LayerStack.open(tmp_path / "s")
    assert stack.layers == [0, "top"] and stack.n == 50 and stack.complete
    top = stack[-1]
    assert isinstance(top, StreamedSpace) and top.dim == 3 and top.dtype == torch.float64
    assert top.provenance["model"] == "m"
    chunks = list(top.iter_chunks(11))
    assert [c.shape[0] for c in chunks] == [11, 11, 11, 11, 6]
    np.testing.assert_array_equal(torch.cat(chunks).numpy(), layers["top"])
    positions = rng.integers(0, 50, size=(4, 5))
    np.testing.assert_array_equal(stack[0].vectors_at(positions).numpy(), layers[0][positions])
    part = stack[0].take([49, 0, 7])
    assert part.ids.tolist() == ["r49", "r0", "r7"] and part.labels("label").tolist() == [1, 0, 1]
    spaces = list(stack[0].iter_spaces(20))
    assert [s.ids[0] for s in spaces] == ["r0", "r20", "r40"]
    np.testing.assert_array_equal(spaces[1].numpy(), layers[0][20:40])
    loaded = stack.load()
    assert isinstance(loaded, LayerStack) and loaded.ids.tolist() == [f"r{i}" for i in range(50)]
    np.testing.assert_array_equal(loaded["top"].numpy(), layers["top"])
    with pytest.raises(ValueError, match="pick one with layer="):
        LatentSpace.open(tmp_path / "s")
    assert LatentSpace.open(tmp_path / "s", layer="top").name == "layer top"


def test_interrupted_run_is_invisible_until_resumed(tmp_path, layers):
    root = tmp_path / "s"
    writer = ShardWriter(root, job="job-1")
    writer.write({k: v[:10] for k, v in layers.items()}, _frame(0, 10))
    bad = _frame(10, 20).assign(label=[object()] * 10)  # parquet cannot store this: fails inside the shard
    with pytest.raises(TypeError, match="parquet"):
        writer.write({k: v[10:20] for k, v in layers.items()}, bad)
    # nothing half-written: no temporary folder, no unlisted shard
    assert sorted(p.name for p in (root / "shards").iterdir()) == ["shard-000000"]
    with pytest.raises(ValueError, match="incomplete"):
        LatentSpace.open(root, layer=0)
    assert LatentSpace.open(root, layer=0, partial=True).n == 10
    # a new process picks up after the last complete shard
    resumed = ShardWriter(root, job="job-1")
    assert resumed.rows_written == 10 and not resumed.complete
    for start in (10, 30):
        resumed.write({k: v[start : start + 20] for k, v in layers.items()}, _frame(start, start + 20))
    resumed.finish()
    np.testing.assert_array_equal(LatentSpace.open(root, layer=0).load().numpy(), layers[0])


def test_shard_written_but_not_listed_is_ignored_and_rewritten(tmp_path, layers, monkeypatch):
    root = tmp_path / "s"
    writer = ShardWriter(root)
    writer.write({k: v[:10] for k, v in layers.items()}, _frame(0, 10))
    # die between the shard's rename and the manifest update
    monkeypatch.setattr(ShardWriter, "_save_manifest", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        writer.write({k: v[10:20] + 100 for k, v in layers.items()}, _frame(10, 20))
    monkeypatch.undo()
    assert (root / "shards" / "shard-000001").is_dir()
    assert open_stack(root, partial=True).n == 10
    resumed = ShardWriter(root)
    resumed.write({k: v[10:] for k, v in layers.items()}, _frame(10, 50))
    resumed.finish()
    np.testing.assert_array_equal(LatentSpace.open(root, layer="top").load().numpy(), layers["top"])


def test_guards_against_mixing_jobs_and_bad_rows(tmp_path, layers):
    root = tmp_path / "s"
    _write(root, layers, 25, job="a")
    with pytest.raises(ValueError, match="another job"):
        ShardWriter(root, job="b")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ShardWriter(root, job="a", resume=False)
    with pytest.raises(RuntimeError, match="complete"):
        ShardWriter(root, job="a").write(layers[0][:1], _frame(0, 1))
    fresh = ShardWriter(root, job="b", overwrite=True)
    assert fresh.rows_written == 0
    fresh.write({0: layers[0][:5]}, _frame(0, 5))
    with pytest.raises(ValueError, match="differ from the store"):
        fresh.write({0: layers[0][:5, :2]}, _frame(5, 10))
    with pytest.raises(ValueError, match="NaN or Inf"):
        fresh.write({0: np.full((2, 6), np.nan, np.float32)}, _frame(5, 7))
    fresh.write({0: layers[0][:5]}, _frame(0, 5))  # ids repeated across shards
    fresh.finish()
    with pytest.raises(ValueError, match="unique"):
        LatentSpace.open(root).meta
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a sharded store"):
        ShardWriter(tmp_path / "plain")


def test_clear_errors_on_reading(tmp_path, small_space):
    small_space.save(tmp_path / "saved")
    with pytest.raises(FileNotFoundError, match="LatentSpace.load"):
        LatentSpace.open(tmp_path / "saved")
    root = tmp_path / "s"
    ShardWriter(root).write(np.ones((3, 2), np.float32), _frame(0, 3))
    info = json.loads((root / MANIFEST).read_text())
    info["shards"][0]["rows"] = 4
    (root / MANIFEST).write_text(json.dumps(info))
    with pytest.raises(ValueError, match="corrupted"):
        next(LatentSpace.open(root, partial=True).iter_chunks(2))
