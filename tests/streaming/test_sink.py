import numpy as np
import pandas as pd
import pytest

from workbench import LatentSpace
from workbench.streaming import ShardWriter, read_manifest
from workbench.streaming.sink import ShardSink, source_positions


def _tokens(inputs, offset, rng):
    """Per-step output like per-token pooling: 0 to 3 rows per input row, with sample_id."""
    counts = rng.integers(0, 4, len(inputs))
    sample = np.repeat(inputs["id"].to_numpy(), counts)
    step = np.concatenate([np.arange(c) for c in counts]) if counts.sum() else np.zeros(0, int)
    meta = pd.DataFrame({"id": [f"{s}:{t}" for s, t in zip(sample, step)], "sample_id": sample, "position": step})
    vectors = np.column_stack([np.repeat(np.arange(offset, offset + len(inputs)), counts), step]).astype(np.float32)
    return {0: vectors}, meta


def test_shards_end_between_input_rows_whatever_the_batches(tmp_path, rng):
    inputs = pd.DataFrame({"id": [f"s{i}" for i in range(60)]})
    sink = ShardSink(ShardWriter(tmp_path / "s"), shard_rows=7)
    start = 0
    for size in [5, 1, 13, 2, 9, 30]:  # uneven batches, as Ray may deliver them
        batch = inputs.iloc[start : start + size]
        vectors, meta = _tokens(batch, start, rng)
        sink.add(vectors, meta, source_positions(meta, batch, start))
        start += size
    sink.close(total_inputs=len(inputs))
    info = read_manifest(tmp_path / "s")
    assert info["complete"] and info["shards"][-1]["source_stop"] == 60
    space = LatentSpace.open(tmp_path / "s")
    vectors = space.load().numpy()
    assert all(shard["rows"] >= 7 for shard in info["shards"][:-1])
    # no input row is split across a shard boundary, and the recorded stops say how far each shard got
    ends = np.cumsum([s["rows"] for s in info["shards"]])
    for end, shard in zip(ends[:-1], info["shards"][:-1]):
        assert vectors[end - 1, 0] < shard["source_stop"] <= vectors[end, 0]
    assert np.all(np.diff(vectors[:, 0]) >= 0)


def test_source_positions(rng):
    inputs = pd.DataFrame({"id": ["a", "b", "c"]})
    assert source_positions(pd.DataFrame({"id": ["c", "a"]}), inputs, 10).tolist() == [12, 10]
    with pytest.raises(ValueError, match="not in the input batch"):
        source_positions(pd.DataFrame({"id": ["z"]}), inputs, 0)
    with pytest.raises(ValueError, match="at least 1"):
        ShardSink(None, 0)
