"""Interrupted saves leave the previous version loadable and nothing half-written."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LatentSpace
from workbench._format import atomic_directory, recover_directory


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_failure_mid_write_keeps_previous_version(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    # A real failure after the vectors are written: parquet cannot store a
    # column that mixes numbers and lists.
    broken = small_space.with_vectors(torch.ones(6, 4)).assign(mixed=[1, [2], "x", 4.0, None, {}])
    with pytest.raises(TypeError, match="parquet"):
        broken.save(path, overwrite=True)
    again = LatentSpace.load(path)
    assert torch.equal(again.vectors, small_space.vectors)
    assert _leftovers(tmp_path) == []


def test_killed_save_keeps_previous_version(tmp_path):
    """SIGKILL a process in the middle of a large save; the old space still loads."""
    path = tmp_path / "space"
    LatentSpace(np.zeros((10, 3)), pd.DataFrame({"id": range(10)}), name="old").save(path)
    script = textwrap.dedent(
        f"""
        import numpy as np, torch, pandas as pd
        from workbench import LatentSpace
        space = LatentSpace(torch.ones(4_000_000, 64), pd.DataFrame({{"id": np.arange(4_000_000)}}), name="new")
        print("ready", flush=True)
        space.save({str(path)!r}, overwrite=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert process.stdout.readline().strip() == b"ready"
    deadline = time.time() + 60
    while not list(tmp_path.glob(".space.tmp-*")) and time.time() < deadline:
        time.sleep(0.005)
    assert list(tmp_path.glob(".space.tmp-*")), "the save never started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    loaded = LatentSpace.load(path)
    assert loaded.name == "old" and loaded.shape == (10, 3)


def test_crash_between_renames_is_recovered(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    aside = tmp_path / ".space.old-abc"
    # what a crash between the two renames leaves: the complete new version, the old one set aside
    shutil.copytree(path, tmp_path / ".space.tmp-abc")
    os.rename(path, aside)
    assert LatentSpace.load(path).name == "small"
    assert not aside.exists()


def test_atomic_directory_refuses_files_and_overwrite(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        with atomic_directory(tmp_path / "file"):
            pass
    (tmp_path / "dir").mkdir()
    with pytest.raises(FileExistsError):
        with atomic_directory(tmp_path / "dir", overwrite=False):
            pass
    assert recover_directory(tmp_path / "dir") is False
