"""One encoding plan for every door: same arguments, same plan, same cache key, same vectors."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.encoders import EncodingPlan, TextEncoder
from workbench.encoders.hooks import find_blocks
from workbench.streaming import encode_to_shards
from workbench.streaming.shards import read_manifest

PACKAGE = Path(wb.__file__).parent


def _entry_keys(cache_dir: Path) -> set[str]:
    return {path.parent.name for path in cache_dir.glob("*/*/entry.json")}


@pytest.fixture(scope="module")
def gpt2(tiny_models):
    """A tiny causal LM whose tokenizer pads on the left, as generation wants."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_models("gpt2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    return folder, AutoModelForCausalLM.from_pretrained(folder).eval(), tokenizer


def test_every_door_plans_the_same_encoding(gpt2, texts, cache_dir, tmp_path):
    folder, _, _ = gpt2
    arguments = {"layers": [0, -1], "pooling": "last"}
    plan = EncodingPlan.resolve(folder, texts, **arguments)
    assert (plan.column, plan.modality, plan.layers, plan.pooling) == ("text", "text", [0, -1], "last")
    key = plan.key(plan.dataset_hash(plan.frame(texts)))

    stack = wb.encode(folder, texts, cache_dir=cache_dir, progress=False, **arguments)
    assert _entry_keys(cache_dir) == {key}
    # the encoder class, called directly, finds the entry workbench.encode stored: same plan, same key
    again = TextEncoder(folder, device="cpu").encode(texts, cache_dir=cache_dir, progress=False, **arguments)
    assert _entry_keys(cache_dir) == {key}
    assert stack.layers == again.layers == [0, len(find_blocks(gpt2[1]))]
    torch.testing.assert_close(again[-1].vectors, stack[-1].vectors)
    # the sharded store is marked with the very same key
    store = encode_to_shards(folder, texts, tmp_path / "store", shard_rows=3, progress=False, **arguments)
    assert read_manifest(tmp_path / "store")["job"] == key
    assert store.layers == stack.layers
    torch.testing.assert_close(store.load()[-1].vectors, stack[-1].vectors, atol=1e-4, rtol=1e-4)


def test_what_decides_the_vectors_changes_the_key(gpt2, texts):
    folder, _, _ = gpt2
    frame = EncodingPlan.resolve(folder, texts).frame(texts)

    def key(**arguments) -> str:
        plan = EncodingPlan.resolve(folder, texts, **arguments)
        return plan.key(plan.dataset_hash(frame))

    plain = key()
    # a causal LM is read at its last token unless told otherwise (the one default, issue 17)
    assert plain == key(layers="all", pooling="last", options={"max_length": None}, batch_size=2, device="cpu")
    changed = [key(layers=[1]), key(pooling="mean"), key(options={"max_length": 4}), key(dtype="bfloat16")]
    assert len({plain, *changed}) == 5


def test_a_plan_survives_pickling_as_ray_ships_it(gpt2, texts):
    folder, _, _ = gpt2
    plan = EncodingPlan.resolve(folder, texts, layers=-1, options={"max_length": 8})
    shipped = pickle.loads(pickle.dumps(plan))
    dataset = plan.dataset_hash(plan.frame(texts))
    assert shipped.key(dataset) == plan.key(dataset)
    assert shipped.encoder().options == plan.encoder().options


def test_the_plan_names_what_is_wrong(gpt2, texts):
    folder, _, _ = gpt2
    with pytest.raises(TypeError, match=r"TextEncoder does not take \['max_seconds'\]"):
        EncodingPlan.resolve(folder, texts, options={"max_seconds": 3})
    with pytest.raises(ValueError, match="pooling 'frames' is not available for text"):
        EncodingPlan.resolve(folder, texts, pooling="frames")
    with pytest.raises(TypeError, match="layers must be"):
        EncodingPlan.resolve(folder, texts, layers=1.5)
    with pytest.raises(ValueError, match="no 'sentence' column"):
        EncodingPlan.resolve(folder, texts, column="sentence")


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_block_outputs_read_what_encode_pools(gpt2, texts, pooling):
    """steering reads hidden states through the encoders' pooling: same vectors, left padding or right."""
    from workbench.steering import block_outputs

    _, model, tokenizer = gpt2
    n_blocks = len(find_blocks(model))
    layers = list(range(n_blocks))  # the last hidden state is after the final norm in encode, before it here
    read = block_outputs(model, tokenizer, texts, layers=layers, pooling=pooling, batch_size=3, progress=False)
    encoded = wb.encode(model, texts, processor=tokenizer, layers=layers, pooling=pooling, cache=False, progress=False)
    assert read.layers == encoded.layers == layers
    for layer in layers:
        torch.testing.assert_close(read[layer].vectors, encoded[layer].vectors, atol=1e-4, rtol=1e-4)
    # negative layers follow the same layer-key rule
    assert block_outputs(model, tokenizer, texts[:2], layers=[-1], progress=False).layers == [n_blocks]


def test_no_module_outside_encoders_imports_an_encoders_private_name():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "encoders" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench.encoders"):
                offenders += [f"{path.name}: {alias.name}" for alias in node.names if alias.name.startswith("_")]
    assert offenders == []


def test_one_media_error():
    from workbench.encoders import MediaError as from_encoders
    from workbench.media import MediaError
    from workbench.widgets.panel import MediaError as from_panel

    assert from_encoders is MediaError and from_panel is MediaError
    defined = [path.name for path in PACKAGE.rglob("*.py") if "class MediaError" in path.read_text()]
    assert defined == ["media.py"]


def test_the_old_plan_name_still_works_with_a_warning():
    import workbench.streaming

    with pytest.warns(DeprecationWarning, match="EncodingPlan"):
        assert workbench.streaming.EncodingJob is EncodingPlan


def test_a_frame_without_the_column(gpt2):
    folder, _, _ = gpt2
    with pytest.raises(ValueError, match="the data needs one of the columns"):
        EncodingPlan.resolve(folder, pd.DataFrame({"id": [1]}))
