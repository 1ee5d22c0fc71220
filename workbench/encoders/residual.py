"""Reading a language model's residual stream at the sites steering writes to.

:func:`block_outputs` hooks the blocks that :func:`workbench.steering.steer`
edits (layer ``k >= 1`` is the output of block ``k - 1``, the last one
*before* the final norm; layer 0 the input of block 0) and pools what passes
through them with the encoders' own :func:`~workbench.encoders.pooling.pool`,
at the pooling :func:`~workbench.encoders.pooling.default_pooling` chooses
unless told otherwise: a causal LM is read at its last real token, as
:func:`workbench.encode` reads it. It takes a loaded model and its
tokenizer as they are (either padding side, no pad token needed), which is
what steering experiments have in hand;
:func:`workbench.steering.extract_directions` fits directions on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from workbench.encoders.hooks import Hooks, find_blocks
from workbench.encoders.layers import Layers, resolve_layers
from workbench.encoders.pooling import default_pooling, pool
from workbench.encoders.reporting import warn
from workbench.space import LatentSpace, LayerStack

__all__ = ["block_outputs"]


def _tokenize(tokenizer, texts: list[str], max_length: int | None) -> dict[str, torch.Tensor]:
    """Tokenise and pad by hand: works for tokenizers without a pad token, on either padding side."""
    encoded = tokenizer(texts, truncation=max_length is not None, max_length=max_length, add_special_tokens=True)
    ids = encoded["input_ids"]
    if any(len(row) == 0 for row in ids):
        raise ValueError("a text was tokenised to zero tokens; drop empty texts first")
    longest = max(len(row) for row in ids)
    pad_id = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    input_ids = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(longest - len(row), longest) if left else slice(0, len(row))
        input_ids[i, span] = torch.as_tensor(row)
        mask[i, span] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


#: poolings that give one row per text (``tokens`` gives one per token: use workbench.encode)
_ONE_ROW_POOLINGS = ("last", "mean", "cls")


def _reading_site(model: nn.Module, pooling: str | None, position: str | None) -> str:
    """The pooling asked for (``position`` is its deprecated name), else the one default rule's choice."""
    if position is not None:
        warn("position= is deprecated; use pooling=, the name workbench.encode uses for the same choice", DeprecationWarning)
        if pooling is not None and pooling != position:
            raise ValueError(f"pooling={pooling!r} and position={position!r} disagree; pass pooling= only")
        pooling = position
    if pooling is None:
        return default_pooling("text", getattr(model, "config", None))
    if pooling not in _ONE_ROW_POOLINGS:
        raise ValueError(f"pooling must be one of {_ONE_ROW_POOLINGS} (one row per text); got {pooling!r}")
    return pooling


def block_outputs(
    model: nn.Module,
    tokenizer,
    texts: Sequence[str] | pd.DataFrame,
    *,
    layers: Layers | None = None,
    pooling: str | None = None,
    text: str = "text",
    batch_size: int = 16,
    max_length: int | None = 512,
    progress: bool = True,
    position: str | None = None,
) -> LayerStack:
    """Hidden states at the sites :func:`steer` writes to, one row per text.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face causal LM (or encoder).
    tokenizer : a Hugging Face tokenizer
        Either padding side works; no pad token is needed.
    texts : list of str, or DataFrame with a ``text`` column
        A DataFrame becomes the stack's meta.
    layers : "all", int or list of int, optional
        hidden_states indices (default: all, 0..n_blocks), negative ones
        counting from the end, as for :func:`workbench.encode`. Layer k is
        the output of block k-1 (the last one before the final norm); layer
        0 the input of block 0.
    pooling : {"last", "mean", "cls"}, optional
        Which tokens a text is read at: its last real token (where steering's
        ``positions="last"`` acts, and repeng's reading position), the mean
        over its real tokens, or its first token. Pooled by the encoders' own
        :func:`~workbench.encoders.pooling.pool`, so up to the last layer
        (after the final norm in ``hidden_states``, before it here) the
        vectors equal ``workbench.encode(..., pooling=pooling)``. Default:
        :func:`~workbench.encoders.pooling.default_pooling`, as for
        ``workbench.encode`` (``"last"`` for a causal LM, ``"mean"`` for an
        encoder).
    text : str, default "text"
        The column with the texts when ``texts`` is a DataFrame.
    batch_size : int, default 16
    max_length : int or None, default 512
        Longer texts are truncated.
    progress : bool, default True
    position : str, optional
        Deprecated name of ``pooling``.

    Returns
    -------
    LayerStack
        One LatentSpace of shape (n_texts, hidden_size) per layer, float32 on
        the CPU; provenance names the model, layer, block, site and pooling.

    Examples
    --------
    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    >>> words = Tokenizer(models.WordLevel({"<pad>": 0, "I": 1, "am": 2, "so": 3, "happy": 4}, unk_token="<pad>"))
    >>> words.pre_tokenizer = pre_tokenizers.Whitespace()
    >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, pad_token="<pad>")
    >>> model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=5)).eval()
    >>> stack = block_outputs(model, tokenizer, ["I am so happy", "I am"], layers=[1], progress=False)
    >>> stack[1].shape, stack[1].provenance["pooling"]  # a causal LM is read at its last real token
    ((2, 16), 'last')
    """
    from tqdm.auto import tqdm

    pooling = _reading_site(model, pooling, position)
    if isinstance(texts, pd.DataFrame):
        if text not in texts.columns:
            raise KeyError(f"no column {text!r} with the texts; columns are {list(texts.columns)}")
        meta, items = texts.reset_index(drop=True), [str(t) for t in texts[text]]
    else:
        items = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        meta = pd.DataFrame({"text": items})
    if not items:
        raise ValueError("no texts to encode")
    keys = resolve_layers("all" if layers is None else layers, len(find_blocks(model)) + 1)
    device = next(model.parameters()).device
    accepted = inspect.signature(model.forward).parameters
    takes_positions = "position_ids" in accepted
    extra = {"use_cache": False} if "use_cache" in accepted else {}
    if "logits_to_keep" in accepted:  # the LM head over every position is wasted work here
        extra["logits_to_keep"] = 1
    collected: dict[int, list[torch.Tensor]] = {k: [] for k in keys}
    current: dict[int, torch.Tensor] = {}

    def capture(key):
        def fn(hidden):
            current[key] = hidden.detach()

        return fn

    with Hooks() as hooks, torch.no_grad():
        for key in keys:
            hooks.on_layer(model, key, capture(key))
        starts = range(0, len(items), batch_size)
        for start in tqdm(starts, desc="block outputs", disable=not progress):
            batch = _tokenize(tokenizer, items[start : start + batch_size], max_length)
            batch = {k: v.to(device) for k, v in batch.items()}
            if takes_positions:  # left padding must not shift the real tokens' positions
                batch["position_ids"] = (batch["attention_mask"].cumsum(-1) - 1).clamp_min(0)
            current.clear()
            model(**batch, **extra)
            for key in keys:
                collected[key].append(pool(current[key], pooling, mask=batch["attention_mask"].bool()).cpu())
    name = str(getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__)
    spaces = {
        key: LatentSpace(
            torch.cat(collected[key]), meta, name=f"layer {key}",
            provenance={
                "model": name, "layer": key, "block": key - 1 if key > 0 else 0,
                "site": "block_output" if key > 0 else "block_input", "pooling": pooling,
            },
        )
        for key in keys
    }
    return LayerStack(spaces, name=name, provenance={"model": name, "pooling": pooling})
