import numpy as np
import pandas as pd
import pytest

from workbench import LatentSpace
from workbench.streaming import ShardWriter, read_manifest
from workbench.streaming.sink import ShardSink


def _tokens(start, stop, rng):
    """Per-step output like per-token pooling: 0 to 3 rows per input row; column 0 is the input row."""
    counts = rng.integers(0, 4, stop - start)
    rows = np.repeat(np.arange(start, stop), counts)
    step = np.concatenate([np.arange(c) for c in counts])
    meta = pd.DataFrame({"id": [f"s{r}:{t}" for r, t in zip(rows, step)], "sample_id": [f"s{r}" for r in rows]})
    return {0: np.column_stack([rows, step]).astype(np.float32)}, meta


@pytest.mark.parametrize("whole", [True, False])
def test_shards_end_on_finished_batches(tmp_path, rng, whole):
    sink = ShardSink(ShardWriter(tmp_path / "s"), shard_rows=7)
    start = 0
    for size in [5, 1, 13, 2, 9, 30]:
        vectors, meta = _tokens(start, start + size, rng)
        if whole:
            sink.add(vectors, meta, start + size)
        else:  # the batch arrives in two pieces, as Ray may deliver it
            half = len(meta) // 2
            sink.add({0: vectors[0][:half]}, meta.iloc[:half], start + size, whole=False)
            sink.add({0: vectors[0][half:]}, meta.iloc[half:], start + size, whole=False)
        start += size
    sink.close(total_inputs=start)
    info = read_manifest(tmp_path / "s")
    shards = info["shards"]
    assert info["complete"] and shards[-1]["source_stop"] == 60
    assert all(shard["rows"] >= 7 for shard in shards[:-1])
    vectors = LatentSpace.open(tmp_path / "s").load().numpy()
    # every input row before a shard's stop is in the shards up to it, none after it
    ends = np.cumsum([shard["rows"] for shard in shards])
    for end, shard in zip(ends, shards):
        assert vectors[end - 1, 0] < shard["source_stop"]
        assert end == len(vectors) or vectors[end, 0] >= shard["source_stop"]


def test_bad_shard_size():
    with pytest.raises(ValueError, match="at least 1"):
        ShardSink(None, 0)
