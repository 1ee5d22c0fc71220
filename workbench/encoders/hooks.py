"""Forward hooks on the blocks of a transformer, removed even when the wrapped code raises.

Reading and editing the residual stream of a Hugging Face model comes down to
three things this module does once for every caller:

- find the list of transformer blocks, whatever the architecture calls it
  (GPT-2 ``transformer.h``, Llama / Qwen / Mistral / Gemma ``model.layers``,
  OPT ``model.decoder.layers``, GPT-NeoX ``gpt_neox.layers``, BERT
  ``encoder.layer``...), with a generic fallback;
- hand the hook the hidden-state tensor whether the block returns a tensor
  (transformers >= 4.57 for most decoders) or a tuple whose first item is the
  hidden state (older versions, many encoders), and put an edited tensor back
  into the same structure;
- remove every hook it registered when the ``with`` block ends, also when the
  code inside raises, so a failed experiment never leaves a model steered.

Layer numbering follows ``output_hidden_states``: layer ``k >= 1`` is the
output of block ``k - 1`` and layer ``0`` is the input of block 0 (the
embeddings). For the last layer this is the block's own output, *before* the
final norm that Hugging Face applies to ``hidden_states[-1]``.

Examples
--------
>>> import torch
>>> blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(2)])
>>> seen = []
>>> with Hooks() as hooks:
...     hooks.on_output(blocks[0], lambda hidden: seen.append(hidden.shape))
...     _ = blocks[0](torch.zeros(3, 4))
>>> seen, len(blocks[0]._forward_hooks)
([torch.Size([3, 4])], 0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from workbench.encoders.layers import resolve_layers

__all__ = ["Hooks", "find_blocks", "block_for_layer", "hidden_of", "with_hidden"]

#: Where the common architectures keep their blocks, most specific first.
_BLOCK_PATHS = (
    "model.language_model.layers",  # multimodal wrappers (Gemma 3, Qwen-VL, Llava in transformers 5)
    "model.layers",  # Llama, Qwen, Mistral, Gemma, Phi-3
    "model.decoder.layers",  # OPT, Whisper decoder
    "transformer.h",  # GPT-2, GPT-J, Falcon, Bloom
    "transformer.layers",
    "transformer.blocks",  # MPT
    "gpt_neox.layers",  # Pythia, GPT-NeoX
    "language_model.model.layers",
    "layers",  # a base model (LlamaModel) passed directly
    "h",  # GPT2Model passed directly
    "decoder.layers",
    "encoder.layer",  # BERT-like encoders
    "encoder.layers",  # wav2vec 2.0, CLIP, ViT-like encoders
    "bert.encoder.layer",
)

HiddenFn = Callable[[torch.Tensor], "torch.Tensor | None"]


def _resolve(module: nn.Module, path: str) -> Any:
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def find_blocks(model: nn.Module) -> nn.ModuleList:
    """The list of transformer blocks of ``model``.

    Known attribute paths are tried first; otherwise the shortest-named
    ``ModuleList`` of identical modules whose length equals the config's
    number of layers (or, without a config, the longest such list) is taken.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face model (``*ForCausalLM``, a base model, an encoder) or
        any module that holds its blocks in a ``ModuleList``.

    Returns
    -------
    torch.nn.ModuleList

    Raises
    ------
    ValueError
        When no block list can be found.
    """
    for path in _BLOCK_PATHS:
        found = _resolve(model, path)
        if isinstance(found, nn.ModuleList) and len(found) > 0:
            return found
    config = getattr(model, "config", None)
    expected = None
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        expected = getattr(config, name, None) if config is not None else None
        if isinstance(expected, int):
            break
    candidates = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            if len({type(child) for child in module}) == 1 and (expected is None or len(module) == expected):
                candidates.append((name, module))
    if candidates:
        if expected is None:
            candidates.sort(key=lambda item: (-len(item[1]), item[0].count("."), item[0]))
        else:
            candidates.sort(key=lambda item: (item[0].count("."), item[0]))
        return candidates[0][1]
    raise ValueError(
        f"could not find the transformer blocks of {type(model).__name__}: none of "
        f"{', '.join(_BLOCK_PATHS[:6])}... exists and no ModuleList of identical blocks matches "
        "the config's number of layers"
    )


def block_for_layer(model: nn.Module, layer: int) -> tuple[nn.Module, str]:
    """The module and the site (``"input"`` / ``"output"``) that hold layer ``layer``.

    Layer ``k >= 1`` is the output of block ``k - 1``; layer ``0`` is the
    input of block 0. Negative layers count from the end (``-1`` = last
    block), by the encoders' one layer-key rule
    (:func:`workbench.encoders.layers.resolve_layers`).

    Raises
    ------
    TypeError
        When ``layer`` is not an int.
    IndexError
        When the layer is outside ``0..n_blocks`` (or ``-(n_blocks + 1)..-1``).
    """
    blocks = find_blocks(model)
    n_layers = len(blocks) + 1
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TypeError(f"layers must be integers (hidden_states indices); got {layer!r}")
    try:
        (layer,) = resolve_layers(layer, n_layers)
    except ValueError:
        raise IndexError(
            f"layer {layer} is out of range: {type(model).__name__} has {len(blocks)} blocks, so layers "
            f"0..{len(blocks)} (0 = embeddings, k = output of block k-1) or -{n_layers}..-1"
        ) from None
    if layer == 0:
        return blocks[0], "input"
    return blocks[layer - 1], "output"


def hidden_of(output: Any) -> torch.Tensor:
    """The hidden-state tensor inside a block's output (tensor, tuple, or ModelOutput)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    for name in ("last_hidden_state", "hidden_states"):
        hidden = getattr(output, name, None)
        if isinstance(hidden, torch.Tensor):
            return hidden
    raise TypeError(
        f"cannot find the hidden states in a block output of type {type(output).__name__}; "
        "expected a tensor or a tuple whose first item is a tensor"
    )


def with_hidden(output: Any, hidden: torch.Tensor) -> Any:
    """``output`` with its hidden-state tensor replaced by ``hidden`` (same structure)."""
    if isinstance(output, torch.Tensor):
        return hidden
    if isinstance(output, tuple):
        return (hidden, *output[1:])
    if isinstance(output, list):
        return [hidden, *output[1:]]
    for name in ("last_hidden_state", "hidden_states"):
        if isinstance(getattr(output, name, None), torch.Tensor):
            output[name] = hidden
            return output
    raise TypeError(f"cannot put hidden states back into a block output of type {type(output).__name__}")


class Hooks:
    """A set of forward hooks that are removed together.

    Use it as a context manager (hooks are removed on exit, whatever
    happened inside) or call :meth:`remove` in a ``finally``.

    Hook functions receive the hidden-state tensor of shape
    ``(batch, seq, width)`` and return an edited tensor, or ``None`` to leave
    it as it is.
    """

    def __init__(self) -> None:
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def __len__(self) -> int:
        return len(self._handles)

    def on_output(self, module: nn.Module, fn: HiddenFn, *, prepend: bool = False) -> None:
        """Call ``fn(hidden)`` on the hidden states ``module`` returns.

        ``prepend=True`` runs it before the hooks already there. Editing hooks
        want that: transformers 5 installs its own hooks on the blocks to
        collect ``output_hidden_states``, and an edit that ran after them
        would be missing from what the model reports.
        """

        def hook(_module, _args, output):
            new = fn(hidden_of(output))
            return None if new is None else with_hidden(output, new)

        self._handles.append(module.register_forward_hook(hook, prepend=prepend))

    def on_input(self, module: nn.Module, fn: HiddenFn, *, prepend: bool = False) -> None:
        """Call ``fn(hidden)`` on the hidden states ``module`` receives (first argument or ``hidden_states=``)."""

        def hook(_module, args, kwargs):
            if args and isinstance(args[0], torch.Tensor):
                new = fn(args[0])
                return None if new is None else ((new, *args[1:]), kwargs)
            if isinstance(kwargs.get("hidden_states"), torch.Tensor):
                new = fn(kwargs["hidden_states"])
                return None if new is None else (args, {**kwargs, "hidden_states": new})
            raise TypeError(f"{type(_module).__name__} was called without a hidden-state tensor to hook")

        self._handles.append(module.register_forward_pre_hook(hook, with_kwargs=True, prepend=prepend))

    def on_layer(self, model: nn.Module, layer: int, fn: HiddenFn, *, prepend: bool = False) -> None:
        """Hook layer ``layer`` of ``model`` (hidden_states numbering; see :func:`block_for_layer`)."""
        module, site = block_for_layer(model, layer)
        (self.on_input if site == "input" else self.on_output)(module, fn, prepend=prepend)

    def on_call(self, module: nn.Module, fn: Callable[[tuple, dict], None]) -> None:
        """Call ``fn(args, kwargs)`` before every call of ``module`` (to observe, not to edit)."""
        self._handles.append(module.register_forward_pre_hook(lambda _m, a, k: fn(a, k), with_kwargs=True))

    def remove(self) -> None:
        """Remove every hook registered here (idempotent)."""
        while self._handles:
            self._handles.pop().remove()

    def __enter__(self) -> Hooks:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.remove()
