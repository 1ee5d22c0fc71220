"""The encode cache: hits, misses, refreshed meta, and real corruption of real files."""

from __future__ import annotations

import logging
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.encoders import CacheWarning, EncodeCache


def _entries(cache_dir) -> list:
    return sorted(cache_dir.glob("*/*/entry.json"))


def _count_forwards(model) -> list:
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.fixture
def bert(tiny_models):
    from transformers import AutoModel, AutoTokenizer

    folder = tiny_models("bert")
    return AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def test_second_call_loads_instead_of_recomputing(bert, texts, cache_dir):
    model, tokenizer = bert
    calls = _count_forwards(model)
    first = wb.encode(model, texts, processor=tokenizer, cache_dir=cache_dir, progress=False)
    computed = len(calls)
    assert computed > 0 and len(_entries(cache_dir)) == 1
    second = wb.encode(model, texts, processor=tokenizer, cache_dir=cache_dir, progress=False)
    assert len(calls) == computed, "a cache hit must not run the model"
    torch.testing.assert_close(second.tensor(), first.tensor(), atol=0, rtol=0)
    assert second.provenance == first.provenance and second[-1].provenance["layer"] == 2
    # the encoder object takes the same entry
    wb.TextEncoder(model, tokenizer).encode(texts, cache_dir=cache_dir, progress=False)
    assert len(calls) == computed


def test_hit_from_a_folder_without_loading_the_model(tiny_models, texts, cache_dir, caplog):
    folder = tiny_models("gpt2")
    first = wb.encode(folder, texts, pooling="tokens", cache_dir=cache_dir, progress=False)
    relabelled = texts.assign(emotion=texts["emotion"].str.upper(), extra=range(len(texts)))
    with caplog.at_level(logging.INFO, logger="workbench.encoders"):
        second = wb.encode(folder, relabelled, pooling="tokens", cache_dir=cache_dir, progress=False)
    assert any("loaded encoding from the cache" in r.getMessage() for r in caplog.records)
    torch.testing.assert_close(second.tensor(), first.tensor(), atol=0, rtol=0)
    # vectors from the cache, meta from this call's frame
    assert second.meta[["id", "sample_id", "position", "token"]].equals(first.meta[["id", "sample_id", "position", "token"]])
    assert set(second.meta["emotion"]) == {e.upper() for e in texts["emotion"]}
    assert "extra" in second.meta.columns


def test_what_changes_the_vectors_misses(bert, texts, cache_dir):
    model, tokenizer = bert
    base = wb.encode(model, texts, processor=tokenizer, cache_dir=cache_dir, progress=False)
    wb.encode(model, texts, processor=tokenizer, pooling="cls", cache_dir=cache_dir, progress=False)
    wb.encode(model, texts, processor=tokenizer, layers=[-1], cache_dir=cache_dir, progress=False)
    edited = texts.assign(text=texts["text"].str.replace("happy", "sad"))
    wb.encode(model, edited, processor=tokenizer, cache_dir=cache_dir, progress=False)
    assert len(_entries(cache_dir)) == 4
    with torch.no_grad():  # "fine-tuning" in the notebook
        # not a constant shift: the LayerNorm right after this bias would remove one
        bias = model.encoder.layer[0].output.dense.bias
        bias.add_(torch.linspace(-0.5, 0.5, bias.numel()))
    tuned = wb.encode(model, texts, processor=tokenizer, cache_dir=cache_dir, progress=False)
    assert len(_entries(cache_dir)) == 5
    assert not torch.allclose(tuned[-1].vectors, base[-1].vectors)
    assert tuned.provenance["weights_hash"] != base.provenance["weights_hash"]


def test_rewritten_weights_in_a_folder_miss(tiny_models, texts, cache_dir, tmp_path):
    from transformers import AutoModel

    folder = tmp_path / "bert"
    shutil.copytree(tiny_models("bert"), folder)
    first = wb.encode(folder, texts, cache_dir=cache_dir, progress=False)
    model = AutoModel.from_pretrained(folder)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.mul_(2.0)
    model.save_pretrained(folder)
    second = wb.encode(folder, texts, cache_dir=cache_dir, progress=False)
    assert len(_entries(cache_dir)) == 2
    assert second.provenance["weights_hash"] != first.provenance["weights_hash"]
    assert not torch.allclose(second[0].vectors, first[0].vectors)


def _flip_bytes(path, where: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    at = int(len(data) * where)
    data[at : at + 8] = bytes(b ^ 0xFF for b in data[at : at + 8])
    path.write_bytes(bytes(data))


def _truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("damage", "target"),
    [
        (_flip_bytes, "stack/vectors.safetensors"),
        (_truncate, "stack/vectors.safetensors"),
        (_flip_bytes, "stack/meta.parquet"),
        (lambda path: path.unlink(), "stack/stack.json"),
        (lambda path: path.write_text("{not json"), "entry.json"),
    ],
)
def test_corrupted_entry_is_reported_and_recomputed(tiny_models, texts, cache_dir, damage, target):
    folder = tiny_models("gpt2")
    fresh = wb.encode(folder, texts, cache_dir=cache_dir, progress=False)
    (entry,) = _entries(cache_dir)
    damage(entry.parent / target)
    with pytest.warns(CacheWarning, match=r"encode cache entry .* is corrupted: .* recomputed"):
        again = wb.encode(folder, texts, cache_dir=cache_dir, progress=False)
    torch.testing.assert_close(again.tensor(), fresh.tensor(), atol=1e-6, rtol=1e-5)
    # the entry was rewritten whole: the next call is a clean hit
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        third = wb.encode(folder, texts, cache_dir=cache_dir, progress=False)
    torch.testing.assert_close(third.tensor(), again.tensor(), atol=0, rtol=0)


def test_audio_file_rewritten_on_disk_misses(tiny_models, audio_files, cache_dir, tmp_path):
    import soundfile

    path = tmp_path / "clip.wav"
    shutil.copy(audio_files["mono16k"], path)
    frame = pd.DataFrame({"id": ["a"], "audio": [str(path)]})
    first = wb.encode(tiny_models("wav2vec2"), frame, cache_dir=cache_dir, progress=False)
    samples, rate = soundfile.read(path)
    soundfile.write(path, samples[::-1].copy(), rate)  # same name, same size, other sound
    second = wb.encode(tiny_models("wav2vec2"), frame, cache_dir=cache_dir, progress=False)
    assert len(_entries(cache_dir)) == 2
    assert first.provenance["dataset"] != second.provenance["dataset"]
    assert not torch.allclose(first[-1].vectors, second[-1].vectors)


def test_cache_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "wb"))
    assert wb.encoders.default_cache_dir() == tmp_path / "wb" / "encode"
    cache = EncodeCache()
    stack = wb.LayerStack({0: np.ones((2, 3), np.float32)}, meta=pd.DataFrame({"id": ["x", "y"]}))
    cache.store("ab" * 20, stack, {"model": "m"})
    assert ("ab" * 20) in cache and cache.clear() == 1 and ("ab" * 20) not in cache
