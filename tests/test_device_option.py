"""``pytest --device``: the `device` fixture, the cpu_only marker, and clear refusals."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

PROBE = '''
import pytest

def test_reports_device(device):
    print(f"DEVICE={device}")

@pytest.mark.cpu_only
def test_only_on_cpu():
    pass
'''


def run_pytest(folder: Path, *options: str) -> subprocess.CompletedProcess:
    """A separate pytest run on ``folder`` with the suite's own conftest and markers."""
    # the probe's conftest is the suite's conftest, so the option and fixture are the real ones
    (folder / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n")
    (folder / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(folder), "-p", "no:cacheprovider", "-s", "-rs", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(folder), *options],
        capture_output=True, text=True, env=env, cwd=folder, timeout=300,
    )  # fmt: skip


def test_default_is_cpu_and_cpu_only_tests_run(tmp_path):
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DEVICE=cpu" in result.stdout
    assert "2 passed" in result.stdout


def test_other_device_skips_cpu_only_and_names_the_device(tmp_path):
    # "meta" is a torch device every build has: it stands in for a GPU here
    result = run_pytest(tmp_path, "--device", "meta")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DEVICE=meta" in result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "cpu_only: does not run under --device meta" in result.stdout


def test_unknown_device_is_a_usage_error(tmp_path):
    result = run_pytest(tmp_path, "--device", "tpu-ish")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--device 'tpu-ish' is not a torch device" in result.stderr


@pytest.mark.cpu_only
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on machines without CUDA")
def test_cuda_without_a_gpu_is_refused_before_any_test_runs(tmp_path):
    result = run_pytest(tmp_path, "--device", "cuda")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "torch sees no CUDA GPU" in result.stderr
    assert "DEVICE=" not in result.stdout
