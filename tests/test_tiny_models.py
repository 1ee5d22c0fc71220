"""The tiny models the other tests load are what they claim to be."""

import pytest
from transformers import AutoConfig, AutoTokenizer


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_tiny_tokenizers_know_their_words(tiny_models, kind):
    tokenizer = AutoTokenizer.from_pretrained(tiny_models(kind))
    ids = tokenizer("I am so happy today", add_special_tokens=False)["input_ids"]
    assert ids and tokenizer.unk_token_id not in ids


def test_tiny_llama_pads_on_the_left(tiny_models):
    assert AutoTokenizer.from_pretrained(tiny_models("llama")).padding_side == "left"
    assert AutoConfig.from_pretrained(tiny_models("llama")).num_hidden_layers == 3
