"""Steering and ablation inside tiny random causal LMs (GPT-2 and Llama), and the hook manager."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from workbench.encoders.hooks import Hooks, block_for_layer, find_blocks, hidden_of, with_hidden
from workbench.steering import ablate, block_outputs, extract_directions, steer

WIDTH = 32  # hidden size of both tiny models
TEXTS = {
    "joy": ["I am so happy today", "we won the match", "thank you so much", "what a happy day"],
    "fear": ["I am scared of the dark", "leave me alone", "this is terrible news", "I am scared again"],
    "neutral": ["the meeting starts at nine", "the train is late again", "the meeting is late", "the train starts"],
}


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def lm(request, tiny_models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_models(request.param)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.padding_side != "left":
        tokenizer.padding_side = "left"  # batched generation needs left padding
    return model, tokenizer


@pytest.fixture(scope="module")
def frame():
    rows = [(f"{e}{i}", text, e) for e, texts in TEXTS.items() for i, text in enumerate(texts)]
    return pd.DataFrame(rows, columns=["id", "text", "emotion"])


@pytest.fixture(scope="module")
def directions(lm, frame):
    model, tokenizer = lm
    return extract_directions(model, tokenizer, frame, progress=False)


def _no_workbench_hooks(model: nn.Module) -> bool:
    """No hook of ours is left (transformers 5 leaves its own output-capturing hooks on the blocks)."""
    from workbench.encoders import hooks

    ours = [
        fn for module in model.modules() for fn in [*module._forward_hooks.values(), *module._forward_pre_hooks.values()]
        if getattr(fn, "__module__", "") in (hooks.__name__, "workbench.steering")
    ]
    return not ours


def _generate(model, tokenizer, **kwargs):
    batch = tokenizer(["I am so", "the train"], return_tensors="pt", padding=True)
    out = model.generate(
        **batch, max_new_tokens=6, do_sample=False, output_logits=True, return_dict_in_generate=True,
        pad_token_id=tokenizer.pad_token_id, **kwargs,
    )
    return out.sequences, torch.stack(out.logits, dim=1), batch["input_ids"].shape[1]


def _observe(model, layer, run, **steering) -> list[torch.Tensor]:
    """Hidden states at ``layer`` during ``run()``, seen after the steering hooks (registered first)."""
    seen = []
    with steer(model, **steering) if steering else contextlib.nullcontext(), Hooks() as hooks:
        hooks.on_layer(model, layer, lambda h: seen.append(h.detach()))
        run()
    return seen


def _generated_states(model, tokenizer, layer, **steering):
    """Hidden states at ``layer`` of every generated token (the one-token forward steps of generate)."""
    seen = _observe(model, layer, lambda: _generate(model, tokenizer), **steering)
    return torch.cat([h for h in seen if h.shape[1] == 1], dim=1)  # (batch, new tokens fed back, width)


def test_alpha_zero_reproduces_unsteered_generation_exactly(lm, directions):
    model, tokenizer = lm
    plain_tokens, plain_logits, _ = _generate(model, tokenizer)
    for scale in ("rms", "raw"):
        with steer(model, directions, label="joy", layers=[1, 2], alpha=0.0, scale=scale):
            tokens, logits, _ = _generate(model, tokenizer)
        assert torch.equal(tokens, plain_tokens) and torch.equal(logits, plain_logits)
    assert _no_workbench_hooks(model)


def test_steering_raises_the_projection_of_generated_tokens(lm, directions):
    model, tokenizer = lm
    last = len(find_blocks(model))
    v = directions.vector("joy", layer=1)
    plain = _generated_states(model, tokenizer, last) @ v
    steered = _generated_states(
        model, tokenizer, last, directions=directions, label="joy", layers=[1], alpha=8.0, positions="last"
    ) @ v
    # 6 new tokens: the first comes from the prompt's pass, the next 5 from one-token steps on generated tokens
    assert plain.shape == steered.shape == (2, 5)
    # every generated token, not only the first, moves along the direction, by far more than the
    # projections vary without steering (a random model's hidden states are small: rms ~ 0.05)
    rise = steered - plain
    assert float(rise.min()) > 0, rise
    assert float(rise.mean()) > 3 * float(plain.std()), (rise, plain)
    assert _no_workbench_hooks(model)


def test_positions_last_and_absolute_positions_under_the_kv_cache(lm):
    model, tokenizer = lm
    v = torch.nn.functional.normalize(torch.ones(WIDTH), dim=0)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    seen = [
        _observe(model, 2, lambda: model(ids), **steering)[0]
        for steering in (
            {},
            dict(directions=v, layers=[2], alpha=2.0, scale="raw", positions="last"),
            dict(directions=v, layers=[2], alpha=2.0, scale="raw", positions=slice(1, 4, 2)),
            dict(directions=v, layers=[2], alpha=2.0, scale="rms"),
        )
    ]
    moved_last = ((seen[1] - seen[0]) @ v)[0]
    moved_slice = ((seen[2] - seen[0]) @ v)[0]
    assert torch.allclose(moved_last, torch.tensor([0, 0, 0, 0, 2.0]), atol=1e-4)
    assert torch.allclose(moved_slice, torch.tensor([0, 2.0, 0, 2.0, 0]), atol=1e-4)
    # scale="rms": every position moves by alpha times its own hidden state's root mean square
    rms = seen[0][0].pow(2).mean(-1).sqrt()
    assert torch.allclose(((seen[3] - seen[0]) @ v)[0], 2.0 * rms, atol=1e-4)
    # under generate, positions count across cache steps: steering from token prompt+1 on leaves the
    # first two generated tokens' logits alone (predicted at positions prompt-1 and prompt) and changes the third
    _, plain, prompt = _generate(model, tokenizer)
    with steer(model, v, layers=[1, 2], alpha=6.0, positions=slice(prompt + 1, None)):
        _, steered, _ = _generate(model, tokenizer)
    assert torch.equal(steered[:, :2], plain[:, :2])
    assert not torch.allclose(steered[:, 2], plain[:, 2])


def test_output_hidden_states_report_the_steered_states(lm):
    model, _ = lm
    ids = torch.tensor([[5, 6, 7]])
    v = torch.nn.functional.normalize(torch.ones(WIDTH), dim=0)
    plain = model(ids, output_hidden_states=True).hidden_states  # installs transformers' capturing hooks
    with steer(model, v, layers=[1], alpha=2.0, scale="raw"):
        steered = model(ids, output_hidden_states=True).hidden_states
    assert torch.allclose((steered[1] - plain[1]) @ v, torch.full((1, 3), 2.0), atol=1e-4)
    assert torch.equal(steered[0], plain[0])


def test_hooks_are_removed_even_when_the_block_raises(lm, directions):
    model, _ = lm
    with pytest.raises(RuntimeError, match="boom"):
        with steer(model, directions, label="fear", alpha=2.0):
            assert not _no_workbench_hooks(model)
            raise RuntimeError("boom")
    assert _no_workbench_hooks(model)
    with pytest.raises(RuntimeError, match="inside"):
        with ablate(model, directions, label="fear", positions=[0, 2]):
            raise RuntimeError("inside")
    assert _no_workbench_hooks(model)
    # an error raised by a hook in the middle of a forward pass also leaves nothing behind
    def fail(hidden):
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"):
        with steer(model, torch.ones(WIDTH), layers=[2], alpha=1.0), Hooks() as hooks:
            hooks.on_layer(model, 1, fail)
            model(torch.tensor([[5, 6, 7]]))
    assert _no_workbench_hooks(model)


def test_ablation_zeroes_the_score_at_the_site(lm, directions, frame):
    model, tokenizer = lm
    with ablate(model, directions, label="joy", layers=[2]):
        stack = block_outputs(model, tokenizer, frame, layers=[2], progress=False)
    np.testing.assert_allclose(directions.score(stack[2], layer=2)["joy"], 0.0, atol=1e-4)
    plain = block_outputs(model, tokenizer, frame, layers=[2], progress=False)
    assert float(directions.score(plain[2], layer=2)["joy"].abs().mean()) > 1e-2
    # a bare vector is removed through the origin: h . v becomes 0
    v = directions.vector("fear", layer=3)
    with ablate(model, v, layers=[3]):
        stack = block_outputs(model, tokenizer, frame, layers=[3], progress=False)
    assert float((stack[3].vectors @ v).abs().max()) < 1e-4
    assert _no_workbench_hooks(model)


def test_block_outputs_match_hidden_states_for_both_padding_sides(lm, frame):
    model, tokenizer = lm
    stack = block_outputs(model, tokenizer, frame, batch_size=5, progress=False)
    n_blocks = len(find_blocks(model))
    assert stack.layers == list(range(n_blocks + 1))
    assert stack[2].provenance["site"] == "block_output" and stack[0].provenance["site"] == "block_input"
    assert list(stack.meta["emotion"]) == list(frame["emotion"])
    for row in (0, 7):  # texts of different lengths were padded in their batches
        alone = tokenizer([frame["text"][row]], return_tensors="pt")
        with torch.no_grad():
            hidden = model(**alone, output_hidden_states=True).hidden_states
        for layer in range(n_blocks):  # the last entry of hidden_states is after the final norm
            assert torch.allclose(stack[layer].vectors[row], hidden[layer][0, -1], atol=1e-4)
    mean = block_outputs(model, tokenizer, list(frame["text"][:3]), layers=[1], pooling="mean", progress=False)
    assert mean[1].shape == (3, stack.dim)


def test_directions_are_found_at_the_steered_sites(lm, directions):
    model, _ = lm
    assert directions.layers_ == list(range(len(find_blocks(model)) + 1))
    assert directions.labels_.tolist() == ["fear", "joy"]
    assert directions.directions_[1].site == "block_output"
    # a dict of vectors and a DirectionSet steer the same way as the estimator
    ids = torch.tensor([[5, 6, 7]])
    outs = []
    for source, label in ((directions, "joy"), (directions.directions_[2], "joy"), ({2: directions.vector("joy", 2)}, None)):
        with steer(model, source, layers=[2], label=label, alpha=5.0):
            outs.append(model(ids).logits)
    assert torch.allclose(outs[0], outs[1]) and torch.allclose(outs[0], outs[2])


def test_clear_errors(lm, directions):
    model, _ = lm
    n_blocks = len(find_blocks(model))
    with pytest.raises(IndexError, match="out of range"):
        with steer(model, torch.ones(WIDTH), layers=[n_blocks + 1]):
            pass
    with pytest.raises(ValueError, match="width 7"):
        with steer(model, torch.ones(7), layers=[1]):
            pass
    with pytest.raises(ValueError, match="label="):
        with steer(model, directions, layers=[1]):
            pass
    with pytest.raises(ValueError, match="needs layers="):
        with steer(model, torch.ones(WIDTH)):
            pass
    with pytest.raises(KeyError, match="no direction fitted for layer 9"):
        with steer(model, directions, label="joy", layers=[9]):
            pass
    with pytest.raises(ValueError, match="scale"):
        with steer(model, torch.ones(WIDTH), layers=[1], scale="loud"):
            pass
    with pytest.raises(ValueError, match="must not be negative"):
        with steer(model, torch.ones(WIDTH), layers=[1], positions=[-2]):
            pass
    assert _no_workbench_hooks(model)


class _TupleBlock(nn.Module):
    """A block that returns (hidden, extra), as decoder layers did before transformers 4.57."""

    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)

    def forward(self, hidden):
        return (hidden + self.linear(hidden), "extra")


class _TupleModel(nn.Module):
    def __init__(self, width=8, depth=3):
        super().__init__()
        self.blocks = nn.ModuleList(_TupleBlock(width) for _ in range(depth))

    def forward(self, hidden):
        for block in self.blocks:
            hidden, extra = block(hidden)
            assert extra == "extra"
        return hidden


def test_tuple_outputs_and_generic_block_discovery():
    torch.manual_seed(0)
    model = _TupleModel()
    assert find_blocks(model) is model.blocks  # no known path: the generic search finds it
    x = torch.randn(2, 4, 8)
    v = torch.nn.functional.normalize(torch.randn(8), dim=0)
    seen = []
    with Hooks() as hooks:
        hooks.on_layer(model, 3, lambda h: seen.append(h))
        plain = model(x)
        with steer(model, v, layers=[3], alpha=1.5, scale="raw"):
            steered = model(x)
    assert torch.allclose(steered - plain, 1.5 * v.expand_as(plain), atol=1e-5)
    assert block_for_layer(model, 0) == (model.blocks[0], "input")
    assert block_for_layer(model, -1) == (model.blocks[2], "output")
    assert torch.equal(hidden_of((x, None)), x)
    assert with_hidden((x, "k"), plain)[1] == "k" and with_hidden(x, plain) is plain
    with pytest.raises(ValueError, match="could not find"):
        find_blocks(nn.Linear(2, 2))
    assert _no_workbench_hooks(model)
