import pytest
import torch

from workbench import chunk_rows, resolve_device, resolve_dtype
from workbench.device import free_memory


def test_auto_picks_an_available_device():
    device = resolve_device("auto")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert device.type == expected
    assert resolve_device(None) == device


@pytest.mark.cpu_only
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_unknown_device_and_dtype():
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-ish")
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("float13")
    assert resolve_dtype("auto") is torch.float32
    assert resolve_dtype("fp16") is torch.float16 and resolve_dtype(torch.bfloat16) is torch.bfloat16


def test_chunk_rows_follows_free_memory():
    free = free_memory("cpu")
    assert free > 0
    per_row = 1024
    rows = chunk_rows(per_row, fraction=0.5)
    assert abs(rows - free * 0.5 // per_row) <= free * 0.05 // per_row + 1  # memory moves a little
    assert chunk_rows(per_row, n_rows=7) == 7
    assert chunk_rows(free * 10) == 1  # never zero, even when a row does not fit
    assert chunk_rows(8, max_rows=3) == 3
    with pytest.raises(ValueError):
        chunk_rows(0)
