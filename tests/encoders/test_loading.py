"""Naming a model: hub ids offline, folders (plain and sentence-transformers), loaded models; clear errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import workbench as wb


def test_unknown_hub_id_offline_says_so(texts):
    with pytest.raises(OSError, match=r"cannot load model 'nobody/no-such-model'.*hub is offline"):
        wb.encode("nobody/no-such-model", texts, progress=False)
    with pytest.raises(FileNotFoundError, match="no model folder at './not/here'"):
        wb.encode("./not/here", texts, progress=False)


def test_hub_id_resolves_through_the_local_hub_cache(tiny_models, texts, tmp_path):
    """The real hub code path, offline: a hub-cache layout with a commit, as a download leaves it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-bert"
    shutil.copytree(tiny_models("bert"), repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    stack = wb.encode("someone/tiny-bert", texts, hub_kwargs={"cache_dir": str(tmp_path / "hub")}, cache=False, progress=False)
    assert stack.provenance["model"] == "someone/tiny-bert" and stack.provenance["revision"] == commit
    direct = wb.encode(tiny_models("bert"), texts, cache=False, progress=False)
    torch.testing.assert_close(stack.tensor(), direct.tensor())


def test_folder_without_weights_or_config(tiny_models, texts, tmp_path):
    no_weights = tmp_path / "no-weights"
    shutil.copytree(tiny_models("bert"), no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"no-weights has a config.json but no weights"):
        wb.encode(no_weights, texts, progress=False)
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    with pytest.raises(FileNotFoundError, match="no-config is not a model folder: it has no config.json"):
        wb.encode(no_config, texts, progress=False)


def test_sentence_transformers_folder_with_a_transformer_subfolder(tiny_models, texts, tmp_path):
    folder = tmp_path / "st-model"
    shutil.copytree(tiny_models("bert"), folder / "0_Transformer")
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (folder / "0_Transformer" / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 13}))
    with pytest.warns(UserWarning, match=r"1 text\(s\) are longer than max_length=13 tokens.*\['t6'\]"):
        stack = wb.encode(folder, texts, cache=False, progress=False)
    assert stack.provenance["max_length"] == 13
    assert stack.provenance["truncated"] == 1  # the one 14-token sentence


def test_missing_weights_are_warned(tiny_models, texts, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "partial"
    shutil.copytree(tiny_models("bert"), folder)
    weights = load_file(folder / "model.safetensors")
    dropped = next(k for k in weights if "encoder.layer.1.output.dense.weight" in k)
    del weights[dropped]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.warns(UserWarning, match=r"1 weight\(s\) .* initialised at random"):
        wb.encode(folder, texts, cache=False, progress=False)


def test_data_and_model_must_match(tiny_models, texts, rng):
    with pytest.raises(ValueError, match=r"has no tokenizer, so it cannot encode text data; it takes audio data"):
        wb.encode(tiny_models("wav2vec2"), texts, progress=False)
    with pytest.raises(ValueError, match="the data has no rows"):
        wb.encode(tiny_models("bert"), texts.iloc[:0], progress=False)
    with pytest.raises(ValueError, match=r"needs one of the columns \('text', 'audio', 'image'\)"):
        wb.encode(tiny_models("bert"), texts.rename(columns={"text": "sentence"}), progress=False)
    with pytest.raises(ValueError, match="the data has no 'caption' column"):
        wb.encode(tiny_models("bert"), texts, column="caption", progress=False)
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        wb.encode(tiny_models("bert"), ["a", "b"], progress=False)
    with pytest.raises(TypeError, match=r"TextEncoder does not take \['sampling_rate'\]; its options are"):
        wb.encode(tiny_models("bert"), texts, sampling_rate=8000, progress=False)
    with pytest.raises(ValueError, match="pooling 'frames' is not available for text models"):
        wb.encode(tiny_models("bert"), texts, pooling="frames", progress=False)
    with pytest.raises(ValueError, match=r"2 row\(s\) have no text"):
        wb.encode(tiny_models("bert"), texts.assign(text=[None, "a", None, "b", "c", "d", "e"]), progress=False)


def test_the_model_picks_among_several_modality_columns(tiny_models, texts, rng):
    both = texts.assign(audio=[rng.normal(0, 0.1, 4000).astype(np.float32) for _ in range(len(texts))])
    speech = wb.encode(tiny_models("wav2vec2"), both, cache=False, progress=False)
    text = wb.encode(tiny_models("bert"), both, cache=False, progress=False)
    assert speech.provenance["modality"] == "audio" and text.provenance["modality"] == "text"
    renamed = texts.rename(columns={"text": "sentence"})
    by_name = wb.encode(tiny_models("bert"), renamed, column="sentence", cache=False, progress=False)
    torch.testing.assert_close(by_name.tensor(), text.tensor())
    assert by_name.provenance["column"] == "sentence"


def test_workbench_exports(tiny_models):
    assert wb.encode is wb.encoders.encode
    assert {"encode", "TextEncoder", "SpeechEncoder", "VisionEncoder"} <= set(dir(wb))
    assert "TextEncoder('" in repr(wb.TextEncoder(tiny_models("bert"), device="cpu"))
