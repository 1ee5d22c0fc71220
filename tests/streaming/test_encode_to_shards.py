"""Encoding into shards: a run really killed part-way resumes to the uninterrupted result."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench import LayerStack
from workbench.streaming import encode_to_shards, read_manifest

ROWS, SHARD = 60, 8

# The child encodes into a store and is killed (SIGKILL: no cleanup, no exception handling) in the
# middle of writing its third shard, after the vectors file is written and before the shard folder
# is renamed into place.
_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import safetensors.torch
    import workbench as wb
    from workbench.streaming import encode_to_shards

    real_save, calls = safetensors.torch.save_file, []

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)

    safetensors.torch.save_file = save_then_die
    data = wb.load_emotion_sentences().head(int(sys.argv[3]))
    encode_to_shards(sys.argv[1], data, sys.argv[2], shard_rows=int(sys.argv[4]), layers=[0, -1], progress=False)
    """
)


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, tiny_models):
    model = tiny_models("bert")
    data = wb.load_emotion_sentences().head(ROWS)
    root = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(wb.__file__).parent.parent), "HF_HUB_OFFLINE": "1"}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(model), str(root), str(ROWS), str(SHARD)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    info = read_manifest(root)
    assert not info["complete"] and [s["source_stop"] for s in info["shards"]] == [SHARD, 2 * SHARD]
    # the third shard died half-written: its folder exists only under a temporary name
    leftovers = [p.name for p in (root / "shards").iterdir()]
    assert any(name.startswith(".shard-000002.tmp-") for name in leftovers) and "shard-000002" not in leftovers
    # what a reader sees of the killed run: only whole shards, and never by accident
    with pytest.raises(ValueError, match="incomplete"):
        LayerStack.open(root)
    assert LayerStack.open(root, partial=True).n == 2 * SHARD
    first = root / "shards" / "shard-000000" / "vectors.safetensors"
    first_written = first.stat().st_mtime_ns

    resumed = encode_to_shards(model, data, root, shard_rows=SHARD, layers=[0, -1], progress=False)
    assert first.stat().st_mtime_ns == first_written  # the shards already there were kept, not redone
    assert not list((root / "shards").glob(".*"))  # the half-written shard was cleared away
    straight = encode_to_shards(model, data, tmp_path / "straight", shard_rows=SHARD, layers=[0, -1],
                                progress=False)  # fmt: skip
    assert resumed.complete and resumed.n == straight.n == ROWS
    assert resumed.meta["id"].tolist() == straight.meta["id"].tolist() == data["id"].tolist()
    for key in resumed.layers:
        np.testing.assert_allclose(resumed[key].load().numpy(), straight[key].load().numpy(), atol=1e-6)
    assert resumed[-1].provenance == straight[-1].provenance
    # and both equal the in-memory encoding (other batches, so other padding: rounding only)
    memory = wb.encode(model, data, layers=[0, -1], cache=False, progress=False)
    np.testing.assert_allclose(resumed[-1].load().numpy(), memory[-1].numpy(), atol=1e-5)


def test_finished_store_is_reused_and_other_jobs_refused(tmp_path, tiny_models):
    model = tiny_models("bert")
    data = wb.load_emotion_sentences().head(12)
    root = tmp_path / "s"
    store = encode_to_shards(model, data, root, shard_rows=5, layers=[-1], progress=False)
    assert store.n == 12 and [s["rows"] for s in read_manifest(root)["shards"]] == [5, 5, 2]
    assert store[-1].provenance["pooling"] == "mean" and store.name
    stamp = (root / "manifest.json").stat().st_mtime_ns
    again = encode_to_shards(model, data, root, shard_rows=5, layers=[-1], progress=False)
    assert (root / "manifest.json").stat().st_mtime_ns == stamp and again.n == 12
    with pytest.raises(ValueError, match="another job"):
        encode_to_shards(model, data.head(6), root, shard_rows=5, layers=[-1], progress=False)
    with pytest.raises(ValueError, match="another job"):
        encode_to_shards(model, data, root, shard_rows=5, layers=[-1], pooling="cls", progress=False)
    redone = encode_to_shards(model, data.head(6), root, shard_rows=5, layers=[-1], progress=False, overwrite=True)
    assert redone.n == 6
    with pytest.raises(TypeError, match="DataFrame"):
        encode_to_shards(model, data["text"], root, progress=False)
