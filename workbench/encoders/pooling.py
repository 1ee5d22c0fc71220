"""Pooling hidden states into one vector per sample (or one per token / frame).

All functions take one layer's hidden states for a batch, ``(batch, steps,
width)``, and a boolean ``mask`` of shape ``(batch, steps)`` marking the real
(non-padding) steps. The encoders pad on the right, so the real steps of row
``i`` are ``0 .. lengths[i] - 1``; :func:`workbench.steering.block_outputs`
keeps a generation tokenizer's left padding and pools through the same
:func:`pool` with the mask alone.

========  ===================================================================
``mean``  average over the real steps (sentence-transformers' mean pooling:
          special tokens such as [CLS]/[SEP] count, padding does not)
``cls``   the first step ([CLS] for BERT-like models and ViT; the first token,
          often BOS, for causal LMs)
``last``  the last real step (for a causal LM, the only token that has seen
          the whole text)
``tokens`` / ``frames``  every selected step as its own row
========  ===================================================================

**Where a model is read by default** is decided here, once, by
:func:`default_pooling`: a causal LM at its ``last`` real token, every other
model (BERT-like encoders, speech, vision) by its ``mean``. A causal LM's
token ``i`` has seen only tokens ``0 .. i``, so its mean mixes states that
saw a word with states that never did; the last token is the one state that
read the whole text, where repeng, the emotion-circuit papers and
:func:`workbench.steering.steer`'s ``positions="last"`` read and write.
:func:`workbench.encode` (through the encoding plan),
:func:`workbench.steering.block_outputs` and
:func:`workbench.steering.extract_directions` all take their default from it,
and record the pooling they used in ``provenance["pooling"]``, which a fitted
:class:`~workbench.geometry.directions.Directions` keeps with every layer.

Half-precision hidden states are pooled in float32, so a bf16 run loses no
more precision in pooling than the model itself did.
"""

from __future__ import annotations

from typing import Any

import torch

from workbench.encoders.loading import is_causal_lm

__all__ = ["POOLINGS", "pool", "select_steps", "check_pooling", "default_pooling"]

#: pooling names each modality accepts
POOLINGS: dict[str, tuple[str, ...]] = {
    "text": ("mean", "cls", "last", "tokens"),
    "audio": ("mean", "frames"),
    "image": ("mean", "cls"),
}

#: poolings that give one row per token / frame instead of one per sample
PER_STEP = ("tokens", "frames")


def default_pooling(modality: str, config: Any = None) -> str:
    """Where a model is read when the caller names no pooling: the one rule every entry point uses.

    Parameters
    ----------
    modality : {"text", "audio", "image"}
    config : transformers.PretrainedConfig, optional
        The model's config; it tells a causal LM from an encoder.

    Returns
    -------
    str
        ``"last"`` for a causal LM's text (the last real token, the only one
        that has seen the whole text), ``"mean"`` for everything else.

    Examples
    --------
    >>> from transformers import BertConfig, GPT2Config
    >>> default_pooling("text", GPT2Config()), default_pooling("text", BertConfig()), default_pooling("audio")
    ('last', 'mean', 'mean')
    """
    if modality == "text" and config is not None and is_causal_lm(config):
        return "last"
    return "mean"


def check_pooling(pooling: str, modality: str) -> str:
    """Validate a pooling name for a modality and return it."""
    allowed = POOLINGS[modality]
    if pooling not in allowed:
        raise ValueError(f"pooling {pooling!r} is not available for {modality} models; use one of {allowed}")
    return pooling


def _float(hidden: torch.Tensor) -> torch.Tensor:
    return hidden.float() if hidden.dtype in (torch.float16, torch.bfloat16) else hidden


def pool(hidden: torch.Tensor, how: str, *, mask: torch.Tensor | None = None, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """One vector per row of a batch.

    Parameters
    ----------
    hidden : tensor of shape (batch, steps, width), or (batch, channels, height, width)
        One layer's hidden states. 4-D feature maps (ConvNeXt, ResNet) are
        mean-pooled over space.
    how : {"mean", "cls", "last"}
    mask : bool tensor of shape (batch, steps), optional
        Real steps; all steps when omitted.
    lengths : long tensor of shape (batch,), optional
        Number of real steps per row (the row sums of ``mask``), for right
        padding. ``last`` without ``lengths`` takes the mask's last real
        step, so left padding (a generation tokenizer's) works too.

    Returns
    -------
    tensor of shape (batch, width)

    Examples
    --------
    >>> h = torch.arange(12.0).reshape(1, 4, 3)
    >>> pool(h, "mean", mask=torch.tensor([[True, True, False, False]])).tolist()
    [[1.5, 2.5, 3.5]]
    >>> pool(h, "last", lengths=torch.tensor([2])).tolist()
    [[3.0, 4.0, 5.0]]
    >>> pool(h, "last", mask=torch.tensor([[False, False, True, True]])).tolist()  # left padding
    [[9.0, 10.0, 11.0]]
    """
    if hidden.ndim == 4:
        if how != "mean":
            raise ValueError(f"this model's hidden states are feature maps (no tokens); only 'mean' pooling applies, not {how!r}")
        return _float(hidden).mean(dim=(2, 3))
    if hidden.ndim != 3:
        raise ValueError(f"hidden states must be (batch, steps, width); got shape {tuple(hidden.shape)}")
    if how == "cls":
        return _float(hidden[:, 0])
    if how == "last":
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        if lengths is not None:
            return _float(hidden[rows, lengths.to(hidden.device) - 1])
        if mask is not None:  # padding on either side: the last real step is the mask's last True
            mask = mask.to(hidden.device)
            last = (mask * torch.arange(mask.shape[1], device=hidden.device)).argmax(dim=1)
            return _float(hidden[rows, last])
        return _float(hidden[:, -1])
    if how == "mean":
        hidden = _float(hidden)
        if mask is None:
            return hidden.mean(dim=1)
        mask = mask.to(hidden.device)
        weights = mask.to(hidden.dtype)
        counts = weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        # one batched matrix product per layer; reducing a masked copy over the middle axis costs ~10x more
        mean = torch.bmm(weights.unsqueeze(1), hidden).squeeze(1) / counts
        if not bool(torch.isfinite(mean).all()):
            # a NaN/Inf in a padding step leaks through 0 * x; zero the padding first
            mean = hidden.masked_fill(~mask.unsqueeze(-1), 0.0).sum(dim=1) / counts
        return mean
    raise ValueError(f"unknown pooling {how!r}")


def select_steps(hidden: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The kept steps of every row, row by row then step by step.

    Parameters
    ----------
    hidden : tensor of shape (batch, steps, width)
    keep : bool tensor of shape (batch, steps)

    Returns
    -------
    tensor of shape (keep.sum(), width)
    """
    return _float(hidden[keep.to(hidden.device)])
