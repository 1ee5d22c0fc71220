"""One reading site for causal LMs (issue 17): encode, extract_directions, Directions and steer agree.

A causal LM is read at its last real token unless the caller names another
pooling, whichever door the text comes through; steering's ``positions="last"``
writes at that same token, padding on either side.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.encoders import EncodingPlan
from workbench.steering import block_outputs

# texts of different lengths, so every batch is padded; words the tiny tokenizers know
ROWS = [
    ("j0", "I am so happy today", "joy"), ("j1", "we won the match", "joy"),
    ("j2", "thank you so much", "joy"), ("j3", "what a surprise", "joy"),
    ("f0", "I am scared of the dark", "fear"), ("f1", "leave me alone", "fear"),
    ("f2", "this is terrible news", "fear"), ("f3", "I miss you", "fear"),
    ("n0", "the meeting starts at nine", "neutral"), ("n1", "the train is late again", "neutral"),
    ("n2", "the meeting is late", "neutral"), ("n3", "the train", "neutral"),
]
LAYERS = [1, 2]  # below the last layer, which hidden_states reports after the final norm


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["id", "text", "emotion"])


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def lm(request, tiny_models):
    """(folder, model, tokenizer) of a tiny causal LM, loaded by path as a user's hub id is (llama pads left)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_models(request.param)
    return folder, AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def _encode(model, frame, **kwargs):
    return wb.encode(model, frame, cache=False, progress=False, **kwargs)


def test_one_default_rule_for_every_door(tiny_models, frame):
    assert EncodingPlan.resolve(tiny_models("gpt2"), frame).pooling == "last"
    assert EncodingPlan.resolve(tiny_models("llama"), frame).pooling == "last"
    assert EncodingPlan.resolve(tiny_models("bert"), frame).pooling == "mean"


def test_extract_directions_equals_directions_fit_on_encode(lm, frame):
    folder, model, tokenizer = lm
    extracted = wb.extract_directions(model, tokenizer, frame, layers=LAYERS, by="emotion", progress=False)
    encoded = _encode(folder, frame, layers=LAYERS)
    fitted = wb.Directions(by="emotion", progress=False).fit(encoded)
    assert extracted.layers_ == fitted.layers_ == LAYERS
    assert list(extracted.labels_) == list(fitted.labels_)
    for layer in LAYERS:
        ours, theirs = extracted.directions_[layer], fitted.directions_[layer]
        assert ours.provenance["pooling"] == theirs.provenance["pooling"] == "last"
        torch.testing.assert_close(ours.center, theirs.center, atol=1e-5, rtol=1e-5)
        for label in fitted.labels_:
            torch.testing.assert_close(ours[label], theirs[label], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_causal_default_reads_the_last_real_token(lm, frame, side):
    folder, model, tokenizer = lm
    tokenizer.padding_side = side
    batch = tokenizer(list(frame["text"]), return_tensors="pt", padding=True)
    mask = batch["attention_mask"]
    assert not bool(mask.all()), "the texts must differ in length, or nothing is padded"
    positions = (mask.cumsum(-1) - 1).clamp_min(0)  # left padding must not shift GPT-2's absolute positions
    with torch.no_grad():
        hidden = model(**batch, position_ids=positions, output_hidden_states=True).hidden_states
    last = (mask * torch.arange(mask.shape[1])).argmax(dim=1)  # index of each row's last real token
    assert (last < mask.shape[1] - 1).any() if side == "right" else (last == mask.shape[1] - 1).all()
    encoded = _encode(folder, frame, layers=LAYERS)
    read = block_outputs(model, tokenizer, frame, layers=LAYERS, batch_size=5, progress=False)
    for layer in LAYERS:
        expected = hidden[layer][torch.arange(len(frame)), last]
        torch.testing.assert_close(encoded[layer].vectors, expected, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(read[layer].vectors, expected, atol=1e-5, rtol=1e-4)
        assert encoded[layer].provenance["pooling"] == read[layer].provenance["pooling"] == "last"


@pytest.mark.parametrize(("pooling", "positions"), [("last", "last"), ("mean", "all")])
def test_steer_adds_at_the_site_that_was_read(lm, frame, pooling, positions):
    """Steering layer k by alpha * v moves what encode and block_outputs read at layer k by exactly alpha * v."""
    _, model, tokenizer = lm
    layer, alpha = 1, 3.0
    v = torch.nn.functional.normalize(torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0)), dim=0)

    def read_both():
        encoded = _encode(model, frame, processor=tokenizer, layers=[layer - 1, layer], pooling=pooling)
        read = block_outputs(model, tokenizer, frame, layers=[layer], pooling=pooling, batch_size=5, progress=False)
        return encoded, read

    plain, plain_read = read_both()
    with wb.steer(model, v, layers=[layer], alpha=alpha, scale="raw", positions=positions) as steering:
        steered, steered_read = read_both()
    assert steering.pooling is None  # a bare vector does not say where it was read
    shift = alpha * v.expand(len(frame), -1)
    # encode pads on the right whatever the tokenizer says: "last" must find each row's own last token
    torch.testing.assert_close(steered[layer].vectors - plain[layer].vectors, shift, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(steered_read[layer].vectors - plain_read[layer].vectors, shift, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(steered[layer - 1].vectors, plain[layer - 1].vectors)  # the layer below is untouched


def test_steering_reports_where_fitted_directions_were_read(lm, frame):
    _, model, tokenizer = lm
    directions = wb.extract_directions(model, tokenizer, frame, layers=[1], by="emotion", progress=False)
    with wb.steer(model, directions, label="joy", alpha=1.0) as steering:
        pass
    assert steering.pooling == "last" and steering.layers == (1,)
    means = wb.extract_directions(model, tokenizer, frame, layers=[1], pooling="mean", by="emotion", progress=False)
    with wb.steer(model, means, label="joy") as steering:
        pass
    assert steering.pooling == "mean"


def test_position_is_the_deprecated_name_of_pooling(lm, frame):
    _, model, tokenizer = lm
    texts = list(frame["text"][:4])
    with pytest.warns(DeprecationWarning, match="use pooling="):
        old = block_outputs(model, tokenizer, texts, layers=[1], position="mean", progress=False)
    new = block_outputs(model, tokenizer, texts, layers=[1], pooling="mean", progress=False)
    torch.testing.assert_close(old[1].vectors, new[1].vectors)
    with pytest.warns(DeprecationWarning):
        directions = wb.extract_directions(model, tokenizer, frame, layers=[1], position="mean", by="emotion", progress=False)
    assert directions.directions_[1].provenance["pooling"] == "mean"
    with pytest.raises(ValueError, match="disagree"), pytest.warns(DeprecationWarning):
        block_outputs(model, tokenizer, texts, pooling="last", position="mean", progress=False)
    with pytest.raises(ValueError, match=r"one of \('last', 'mean', 'cls'\)"):
        block_outputs(model, tokenizer, texts, pooling="tokens", progress=False)
