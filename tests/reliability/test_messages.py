"""Damaged files get a message that names the file, what is wrong and what to do; the CLI says it in one line."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from workbench import LayerStack
from workbench.cli import main


@pytest.fixture
def saved(tmp_path, small_space):
    return LayerStack({0: small_space, 1: small_space.with_vectors(small_space.vectors + 1)}).save(tmp_path / "s")


def test_truncated_safetensors_names_the_file(saved):
    file = saved / "vectors.safetensors"
    file.write_bytes(file.read_bytes()[:40])
    info = json.loads((saved / "stack.json").read_text())
    info.pop("files")  # as an older save without checksums: the reader itself must say it
    (saved / "stack.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=rf"{file}.* truncated or not a safetensors file.*save"):
        LayerStack.load(saved)


def test_malformed_json_names_file_and_line(saved):
    (saved / "stack.json").write_text('{\n  "format": "workbench.LayerStack",\n  oops\n}')
    with pytest.raises(ValueError, match=rf"{saved / 'stack.json'} is not valid JSON \(line 3"):
        LayerStack.load(saved)


def test_a_version_from_the_future_names_the_manifest(saved):
    info = json.loads((saved / "stack.json").read_text())
    info["format_version"] = 99
    (saved / "stack.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"stack\.json was written in format version 99.*upgrade workbench"):
        LayerStack.load(saved)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_loading_onto_cuda_without_cuda_says_so(saved):
    with pytest.raises(ValueError, match=rf"cannot load {saved / 'vectors.safetensors'} onto 'cuda'.*no CUDA"):
        LayerStack.load(saved, device="cuda")


@pytest.fixture
def model_copy(tiny_models, tmp_path):
    return lambda: shutil.copytree(tiny_models("bert"), tmp_path / f"m{len(list(tmp_path.iterdir()))}")


def _encode_error(folder) -> OSError:
    import pandas as pd

    import workbench as wb

    with pytest.raises(OSError) as info:
        wb.encode(str(folder), pd.DataFrame({"id": [1], "text": ["a"]}), cache=False, progress=False, device="cpu")
    return info.value


def test_a_broken_model_config_is_named(model_copy):
    folder = model_copy()
    (folder / "config.json").write_text("{broken")
    error = str(_encode_error(folder))
    assert str(folder / "config.json") in error and "no model folder" not in error


def test_truncated_model_weights_are_named(model_copy):
    folder = model_copy()
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert f"{weights} is truncated or damaged" in str(_encode_error(folder))


def test_a_pickle_weight_blocked_by_torch_is_named(model_copy, capsys):
    folder = model_copy()
    os.remove(folder / "model.safetensors")
    torch.save({"payload": _Payload()}, folder / "pytorch_model.bin")
    error = str(_encode_error(folder))
    assert f"{folder / 'pytorch_model.bin'} cannot be loaded safely" in error and "safetensors" in error
    assert "must never run" not in capsys.readouterr().out


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cli_prints_one_line_with_the_path(saved, capsys):
    (saved / "vectors.safetensors").write_bytes(b"\x00" * 3)
    assert main(["lid", str(saved), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(saved / "vectors.safetensors") in err[0]
