"""Text encoders: the real MiniLM against sentence-transformers, tiny GPT-2 / Llama / BERT through the public path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.encoders import TextEncoder


def _reference_hidden(folder, text: str) -> tuple[torch.Tensor, list[int]]:
    """All hidden states of one text run alone (no padding), straight through transformers."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    encoded = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**encoded, output_hidden_states=True).hidden_states
    return torch.stack(hidden)[:, 0], encoded["input_ids"][0].tolist()


@pytest.mark.slow
def test_minilm_final_layer_equals_sentence_transformers(minilm_path, texts):
    from sentence_transformers import SentenceTransformer

    sentences = [*texts["text"], "a much longer sentence that goes on and on, with commas, clauses and more words than the rest"]
    frame = pd.DataFrame({"text": sentences})
    # batch_size 3: several batches of different padded lengths, bucketed
    stack = wb.encode(minilm_path, frame, batch_size=3, cache=False, progress=False)
    ours = torch.nn.functional.normalize(stack[-1].vectors, dim=1)
    reference = SentenceTransformer(str(minilm_path), device="cpu").encode(sentences, convert_to_tensor=True, batch_size=4)
    assert stack.layers == list(range(7)) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, reference.cpu(), atol=1e-5, rtol=0)
    assert stack[-1].provenance["model"] == wb.encoders.DEFAULT_TEXT_MODEL_ID
    assert stack[-1].provenance["max_length"] == 256  # from sentence_bert_config.json


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
@pytest.mark.parametrize("pooling", ["mean", "last", "cls"])
def test_each_row_equals_its_text_alone(tiny_models, texts, kind, pooling, device):
    """Bucketed, right-padded batches give every row the vectors of its text run alone (left-padding llama too)."""
    folder = tiny_models(kind)
    stack = wb.encode(folder, texts, pooling=pooling, batch_size=3, cache=False, progress=False, device=device)
    for row in (0, 2, 3):
        hidden, _ = _reference_hidden(folder, texts["text"][row])
        expected = {"mean": hidden.mean(dim=1), "last": hidden[:, -1], "cls": hidden[:, 0]}[pooling]
        torch.testing.assert_close(stack.tensor()[:, row], expected, atol=2e-5, rtol=1e-4)


def test_bucketing_returns_rows_in_input_order(tiny_models, texts):
    folder = tiny_models("gpt2")
    shuffled = texts.sample(frac=1.0, random_state=3).reset_index(drop=True)
    bucketed = wb.encode(folder, shuffled, batch_size=2, cache=False, progress=False)
    plain = wb.encode(folder, shuffled, batch_size=2, sort_by_length=False, cache=False, progress=False)
    single = wb.encode(folder, shuffled, batch_size=1, cache=False, progress=False)
    assert bucketed.ids.tolist() == shuffled["id"].tolist()
    assert bucketed.meta["emotion"].tolist() == shuffled["emotion"].tolist()
    torch.testing.assert_close(bucketed.tensor(), single.tensor(), atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(plain.tensor(), single.tensor(), atol=2e-5, rtol=1e-4)
    # and the rows are not all alike: the order is really tested
    assert torch.cdist(single[-1].vectors, single[-1].vectors).max() > 1e-2


@pytest.mark.parametrize("kind", ["bert", "llama"])
def test_token_rows_are_the_non_special_tokens(tiny_models, texts, kind):
    from transformers import AutoTokenizer

    folder = tiny_models(kind)
    frame = texts.head(4)
    stack = wb.encode(folder, frame, pooling="tokens", batch_size=3, cache=False, progress=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    meta = stack.meta
    for sample_id, text in zip(frame["id"], frame["text"]):
        encoded = tokenizer(text, return_special_tokens_mask=True)
        kept = [i for i, special in enumerate(encoded["special_tokens_mask"]) if not special]
        rows = meta[meta["sample_id"] == sample_id]
        assert rows["position"].tolist() == kept
        assert rows["token"].tolist() == tokenizer.convert_ids_to_tokens([encoded["input_ids"][i] for i in kept])
        assert rows["id"].tolist() == [f"{sample_id}:{p}" for p in kept]
        assert set(rows["emotion"]) == set(frame.loc[frame["id"] == sample_id, "emotion"])
        hidden, _ = _reference_hidden(folder, text)
        torch.testing.assert_close(stack.tensor()[:, list(rows.index)], hidden[:, kept], atol=2e-5, rtol=1e-4)
    if kind == "bert":  # [CLS] and [SEP] are special: positions start at 1
        assert meta.groupby("sample_id")["position"].min().eq(1).all()


def test_layer_selection_and_provenance(tiny_models, texts):
    folder = tiny_models("gpt2")
    every = wb.encode(folder, texts, cache=False, progress=False)
    some = wb.encode(folder, texts, layers=[0, -1], cache=False, progress=False)
    assert every.layers == [0, 1, 2, 3] and some.layers == [0, 3]
    torch.testing.assert_close(some[3].vectors, every[3].vectors)
    torch.testing.assert_close(some[0].vectors, every[0].vectors)
    provenance = some[3].provenance
    assert provenance["layer"] == 3 and provenance["pooling"] == "last" and provenance["kind"] == "causal"
    assert provenance["layer_meaning"].startswith("hidden_states[k]: 0 = embeddings")
    assert "after the model's final norm" in provenance["final_layer"]
    assert provenance["dtype"] == "float32" and len(provenance["weights_hash"]) == 32
    assert provenance["dataset"] == wb.datasets.fingerprint(texts, ["id", "text"])
    with pytest.raises(ValueError, match="layer 9 does not exist: the model has 4 hidden states"):
        wb.encode(folder, texts, layers=[9], cache=False, progress=False)
    with pytest.raises(ValueError, match="layers must be 'all'"):
        wb.encode(folder, texts, layers="first", cache=False, progress=False)


def test_chat_template_and_system_prompt(tiny_models, texts):
    from transformers import AutoTokenizer

    folder = tiny_models("llama")
    text = texts["text"][0]
    stack = wb.encode(
        folder, texts.head(2), pooling="last", chat_template=True, system_prompt="Always reply in joy.",
        cache=False, progress=False,
    )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rendered = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Always reply in joy."}, {"role": "user", "content": text}],
        tokenize=False, add_generation_prompt=True,
    )
    assert rendered.endswith("assistant:")
    hidden, _ = _reference_hidden(folder, rendered)
    torch.testing.assert_close(stack.tensor()[:, 0], hidden[:, -1], atol=2e-5, rtol=1e-4)
    assert stack.provenance["system_prompt"] == "Always reply in joy."
    with pytest.raises(ValueError, match="system_prompt needs chat_template=True"):
        wb.encode(folder, texts, system_prompt="hi", cache=False, progress=False)
    with pytest.raises(ValueError, match="has no chat template"):
        wb.encode(tiny_models("bert"), texts, chat_template=True, cache=False, progress=False)


def test_truncation_is_warned_and_counted(tiny_models, texts):
    with pytest.warns(UserWarning, match=r"2 text\(s\) are longer than max_length=8 tokens.*'t3'"):
        stack = wb.encode(tiny_models("bert"), texts, max_length=8, cache=False, progress=False)
    assert stack.provenance["truncated"] == 2
    with pytest.raises(ValueError, match="longer than .* can read"):
        wb.encode(tiny_models("bert"), texts, max_length=10_000, cache=False, progress=False)


def test_bad_text_rows_are_named(tiny_models):
    frame = pd.DataFrame({"id": ["ok", "empty"], "text": ["I miss you", ""]})
    with pytest.raises(ValueError, match=r"give no tokens at all.*'empty'"):
        wb.encode(tiny_models("gpt2"), frame, cache=False, progress=False)
    numbers = pd.DataFrame({"id": ["a", "b"], "text": ["fine", 3.5]}, dtype=object)
    with pytest.raises(TypeError, match=r"must hold strings.*\['b'\]"):
        wb.encode(tiny_models("gpt2"), numbers, cache=False, progress=False)


def test_loaded_model_and_tokenizer(tiny_models, texts):
    from transformers import AutoModel, AutoTokenizer

    folder = tiny_models("bert")
    model = AutoModel.from_pretrained(folder)
    model.train()  # left in training mode by the user: dropout must not reach the vectors
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoder = TextEncoder(model, tokenizer)
    first = encoder.encode(texts, cache=False, progress=False)
    second = encoder.encode(texts, cache=False, progress=False)
    from_folder = wb.encode(folder, texts, cache=False, progress=False)
    torch.testing.assert_close(first.tensor(), second.tensor())
    torch.testing.assert_close(first.tensor(), from_folder.tensor(), atol=1e-6, rtol=1e-5)
    assert model.training, "the user's training mode is restored"
    with pytest.raises(ValueError, match="pass its tokenizer"):
        TextEncoder(model)
    with pytest.raises(ValueError, match="cast an already-loaded model yourself"):
        TextEncoder(model, tokenizer, dtype="bfloat16")


def test_bfloat16_compute_gives_float32_vectors(tiny_models, texts):
    folder = tiny_models("llama")
    exact = wb.encode(folder, texts, layers=[-1], cache=False, progress=False)
    half = wb.encode(folder, texts, layers=[-1], dtype="bfloat16", cache=False, progress=False)
    assert half[-1].dtype == torch.float32 and half.provenance["dtype"] == "bfloat16"
    cosine = torch.nn.functional.cosine_similarity(half[-1].vectors, exact[-1].vectors, dim=1)
    assert cosine.min() > 0.99
    assert not torch.equal(half[-1].vectors, exact[-1].vectors)


def test_output_device_and_dtype(tiny_models, texts):
    stack = wb.encode(tiny_models("bert"), texts, output_dtype=torch.float64, cache=False, progress=False)
    assert stack[-1].dtype == torch.float64 and stack[-1].device.type == "cpu"
    assert np.isfinite(stack[-1].numpy()).all()


def test_default_names_the_bundled_model(minilm_path, texts, tmp_path, monkeypatch):
    # "default" is the bundled model wherever a model is named, without a hub lookup; a folder of that name wins
    frame = texts
    by_name = wb.encode("default", frame, layers=[-1], cache=False, progress=False)
    by_path = wb.encode(minilm_path, frame, layers=[-1], cache=False, progress=False)
    torch.testing.assert_close(by_name[-1].vectors, by_path[-1].vectors)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        wb.encode("default", frame, cache=False, progress=False)
