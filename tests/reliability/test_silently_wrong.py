"""What used to give a wrong result without a word now gives a clear error (or the right result)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LatentSpace, LayerStack
from workbench.cli import main


def test_float16_cast_that_overflows_is_refused(small_frame):
    space = LatentSpace(torch.full((6, 2), 1e6), small_frame, name="big")
    with pytest.raises(ValueError, match=r"'big'.*overflows to Inf.*1e\+06"):
        space.to(dtype=torch.float16)
    assert space.to(dtype=torch.float64).dtype == torch.float64


def test_complex_and_text_vectors_are_refused(small_frame):
    with pytest.raises(TypeError, match="vectors must be real"):
        LatentSpace(np.ones((6, 2)) * (1 + 2j), small_frame)
    with pytest.raises(TypeError, match="vectors must be real"):
        LatentSpace(torch.ones(6, 2, dtype=torch.complex64), small_frame)
    with pytest.raises(TypeError, match="vectors must be real"):
        LatentSpace(np.array([["a", "b"]] * 6), small_frame)


def test_saved_meta_that_lost_its_ids_is_refused(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    small_space.meta.drop(columns="id").to_parquet(path / "meta.parquet")
    with pytest.raises(ValueError, match=r"meta\.parquet"):
        LatentSpace.load(path)


def _without_checksums(path, name):
    info = json.loads((path / name).read_text())
    info.pop("files")
    return info


def test_saved_meta_without_ids_is_refused_even_without_checksums(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    small_space.meta.drop(columns="id").to_parquet(path / "meta.parquet")
    (path / "space.json").write_text(json.dumps(_without_checksums(path, "space.json")))
    with pytest.raises(ValueError, match=r"meta\.parquet has no 'id' column"):
        LatentSpace.load(path)


def test_a_repeated_layer_key_is_refused(tmp_path, small_space):
    stack = LayerStack({0: small_space, 1: small_space.with_vectors(small_space.vectors * 2)})
    path = stack.save(tmp_path / "stack")
    info = _without_checksums(path, "stack.json")
    info["layers"][1]["key"] = 0
    (path / "stack.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"stack\.json.*\[.0.\] appear more than once"):
        LayerStack.load(path)
    # a JSON object that repeats a key: parsers keep the last one silently
    (path / "stack.json").write_text('{"format": "workbench.LayerStack", "format": "other", "format_version": 1}')
    with pytest.raises(ValueError, match=r"stack\.json repeats the key\(s\) \['format'\]"):
        LayerStack.load(path)


def test_a_flipped_byte_in_saved_vectors_is_named(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    data = bytearray((path / "vectors.safetensors").read_bytes())
    data[-1] ^= 0x01  # still a finite float32, silently different
    (path / "vectors.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"vectors\.safetensors does not match the checksum"):
        LatentSpace.load(path)


def test_cli_keeps_texts_that_look_like_missing_values_or_numbers(tmp_path, capsys):
    csv = tmp_path / "s.csv"
    csv.write_text("id,text,intensity\n1,NA,0.5\n2,null,\n3,None,1\n4,007,2\n")
    out = tmp_path / "out"
    assert main(["encode", "default", str(csv), "-o", str(out), "--layers", "-1", "--no-cache", "-q"]) == 0
    meta = LayerStack.load(out).meta
    assert meta["text"].tolist() == ["NA", "null", "None", "007"]
    assert meta["intensity"].isna().tolist() == [False, True, False, False]  # other columns as before


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_embd=16, n_layer=12, n_head=2, vocab_size=50, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


@pytest.mark.parametrize("layers", ["12", b"12", [1.0], True])
def test_steer_refuses_layers_that_are_not_ints(layers):
    from workbench.steering import steer

    with pytest.raises(TypeError, match="layers"):
        with steer(_gpt2(), torch.ones(16), layers=layers):
            pass


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), -float("inf")])
def test_steer_refuses_a_non_finite_alpha(alpha):
    from workbench.steering import steer

    with pytest.raises(ValueError, match="alpha must be finite"):
        with steer(_gpt2(), torch.ones(16), layers=[1], alpha=alpha):
            pass


def test_batch_size_zero_is_refused(tiny_models):
    import workbench as wb

    frame = pd.DataFrame({"id": [1, 2, 3], "text": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="batch_size"):
        wb.encode(tiny_models("bert"), frame, batch_size=0, cache=False, progress=False, device="cpu")
