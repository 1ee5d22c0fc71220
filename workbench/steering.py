"""Add or remove directions inside a running language model.

Two context managers, both built on :class:`workbench.encoders.hooks.Hooks`:

- :func:`steer` adds ``alpha * v`` (``scale="raw"``, repeng and
  steering-vectors) or ``alpha * v * rms(h)`` (``scale="rms"``, "Do LLMs
  Feel?" 2025, where ``rms(h)`` is the root mean square of each position's
  hidden state) to the residual stream at the chosen layers and positions;
- :func:`ablate` removes the component along ``v``:
  ``h - ((h - c) . v) v`` with ``v`` unit length and ``c`` the fitted center
  of a :class:`~workbench.geometry.directions.Directions` (the origin for a
  bare vector, which is the refusal-direction operator ``h - (h . v) v``).

Both work with ``model.generate``. With a KV cache every forward step after
the prompt sees one new token, so ``positions="last"`` steers the last prompt
token and every generated token, and ``positions="all"`` every token.
``"last"`` is each row's last *real* token, read from the ``attention_mask``
the model is called with, so a right-padded batch is steered where a
left-padded one is (and where ``pooling="last"`` reads). Integer
and slice positions count from the first token of the (padded) prompt across
cache steps (steering-vectors' token indices break under a KV cache; these do
not). Hooks are removed when the ``with`` block ends, also when it raises.

Layers use the numbering of ``output_hidden_states`` everywhere in workbench:
layer ``k >= 1`` is the output of decoder block ``k - 1``
(``model.model.layers[k - 1]`` for Llama, ``model.transformer.h[k - 1]`` for
GPT-2); layer 0 is the input of block 0. A paper's "decoder layers 11-20" are
layers 12-21 here. :func:`block_outputs` reads hidden states at exactly these
sites (the last one before the final norm), and :func:`extract_directions`
fits directions on them, so the vectors are added where they were found.

**One reading site.** Which tokens a text is read at is the ``pooling``
(``"last"`` or ``"mean"``), the same name and the same default as
:func:`workbench.encode`: :func:`~workbench.encoders.pooling.default_pooling`
reads a causal LM at its last real token. So
``extract_directions(model, tokenizer, frame, layers=ks)`` and
``Directions().fit(workbench.encode(model, frame, layers=ks))`` fit the same
vectors (up to the last layer, which ``hidden_states`` reports after the
final norm), and every fitted layer keeps its ``provenance["pooling"]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from workbench.encoders.hooks import Hooks, block_for_layer, find_blocks
from workbench.encoders.residual import block_outputs
from workbench.geometry.directions import Directions, DirectionSet

__all__ = ["steer", "ablate", "Steering", "block_outputs", "extract_directions"]

Positions = Union[str, int, slice, Sequence[int]]
DirectionsLike = Union[Directions, DirectionSet, Mapping, torch.Tensor, np.ndarray]


@dataclass(frozen=True)
class Steering:
    """What a :func:`steer` or :func:`ablate` block does (returned by its ``with``).

    ``pooling`` is where the directions were read (``"last"``, ``"mean"``),
    from a fitted ``Directions``' provenance; None for bare vectors.
    """

    operation: str
    layers: tuple
    alpha: float | None
    scale: str | None
    positions: Any
    pooling: str | None = None


# ----------------------------------------------------------------------------
# turning the many accepted inputs into {layer: (vector, center)}
# ----------------------------------------------------------------------------


def _hidden_size(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    config = getattr(config, "get_text_config", lambda: config)() if config is not None else None
    for name in ("hidden_size", "n_embd", "d_model"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def _as_vector(value: Any, what: str) -> torch.Tensor:
    tensor = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value, dtype=np.float32))
    if tensor.ndim != 1:
        raise ValueError(f"{what} must be one vector of shape (hidden_size,); got shape {tuple(tensor.shape)}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{what} contains NaN or Inf")
    return tensor.float()


def _layer_list(layers: Any, default: Sequence) -> list:
    if layers is None:
        return list(default)
    if isinstance(layers, (str, bytes)):
        # list("12") would steer layers 1 and 2
        raise TypeError(f"layers must be an int or a list of ints (hidden_states indices); got the string {layers!r}")
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        return [layers]
    try:
        listed = list(layers)
    except TypeError:
        raise TypeError(f"layers must be an int or a list of ints; got {type(layers).__name__}") from None
    for layer in listed:
        if isinstance(layer, (bool, float, np.floating)):
            raise TypeError(f"layers must be ints (hidden_states indices); got {layer!r} in {listed!r}")
    return listed


def _finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number; got {value!r}") from None
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite; got {number}")
    return number


def _plan(directions: DirectionsLike, layers: Any, label: str | None) -> dict[int, tuple[torch.Tensor, torch.Tensor | None]]:
    """``{layer: (vector, center or None)}`` for every layer to hook."""
    if isinstance(directions, (Directions, DirectionSet)):
        sets = directions.directions_ if isinstance(directions, Directions) else {directions.layer: directions}
        if isinstance(directions, Directions):
            directions._check_fitted()
        first = next(iter(sets.values()))
        if label is None:
            if len(first.labels) != 1:
                raise ValueError(f"pass label= to choose a direction; labels are {list(first.labels)}")
            label = first.labels[0]
        plan = {}
        for layer in _layer_list(layers, sets):
            if layer not in sets:
                raise KeyError(f"no direction fitted for layer {layer!r}; fitted layers are {list(sets)}")
            if not isinstance(layer, (int, np.integer)):
                raise TypeError(f"steering needs integer layers (hidden_states indices); got {layer!r}")
            fitted = sets[layer]
            plan[int(layer)] = (fitted[label].float(), fitted.center.float())
        return plan
    if label is not None:
        raise ValueError("label= only applies to a fitted Directions or a DirectionSet")
    if isinstance(directions, Mapping):
        wanted = _layer_list(layers, directions)
        missing = [k for k in wanted if k not in directions]
        if missing:
            raise KeyError(f"no vector for layer(s) {missing}; the mapping has {list(directions)}")
        return {int(k): (_as_vector(directions[k], f"the vector for layer {k}"), None) for k in wanted}
    vector = _as_vector(directions, "the direction")
    if layers is None:
        raise ValueError("a bare vector needs layers= (which hidden_states indices to steer)")
    return {int(k): (vector, None) for k in _layer_list(layers, [])}


def _read_pooling(directions: DirectionsLike) -> str | None:
    """Where fitted directions were read, from the provenance their spaces carried (None if unknown)."""
    if isinstance(directions, Directions):
        sets = list(getattr(directions, "directions_", {}).values())
    elif isinstance(directions, DirectionSet):
        sets = [directions]
    else:
        return None
    # stacks saved before the pooling had one name recorded block_outputs' reading site as "position"
    found = {s.provenance.get("pooling", s.provenance.get("position")) for s in sets}
    return found.pop() if len(found) == 1 else None


def _check_plan(model: nn.Module, plan: Mapping[int, tuple]) -> dict[int, tuple]:
    """Validate every layer and width before any hook is registered; resolve negative layers."""
    width = _hidden_size(model)
    n_blocks = len(find_blocks(model))
    checked = {}
    for layer, (vector, center) in plan.items():
        block_for_layer(model, layer)  # raises IndexError with the valid range
        if width is not None and vector.shape[0] != width:
            raise ValueError(
                f"the direction for layer {layer} has width {vector.shape[0]} but the model's hidden size is {width}"
            )
        checked[layer + n_blocks + 1 if layer < 0 else layer] = (vector, center)
    return checked


# ----------------------------------------------------------------------------
# positions
# ----------------------------------------------------------------------------


def _cache_length(kwargs: Mapping) -> int:
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    try:  # legacy tuple of (key, value) per layer
        return int(cache[0][0].shape[-2])
    except (TypeError, IndexError, AttributeError):
        return 0


class _PositionMask:
    """Which positions of the current forward call to touch: a 0/1 factor shaped like ``hidden[..., :1]``, or None for all."""

    def __init__(self, positions: Positions) -> None:
        self.kind = positions if isinstance(positions, str) else "absolute"
        if isinstance(positions, str) and positions not in ("all", "last"):
            raise ValueError(f"positions must be 'all', 'last', an int, a slice or a list of ints; got {positions!r}")
        self.wanted: set | slice | None = None
        if isinstance(positions, slice):
            for bound in (positions.start, positions.stop):
                if bound is not None and bound < 0:
                    raise ValueError("slice positions count from the first prompt token and must not be negative")
            self.wanted = positions
        elif not isinstance(positions, str):
            values = [positions] if isinstance(positions, (int, np.integer)) else list(positions)
            if any(int(v) < 0 for v in values):
                raise ValueError("integer positions count from the first prompt token and must not be negative; use 'last'")
            self.wanted = {int(v) for v in values}
        self.offset = 0
        self.attention: torch.Tensor | None = None

    def observe(self, _args: tuple, kwargs: dict) -> None:
        self.offset = _cache_length(kwargs)
        attention = kwargs.get("attention_mask")
        self.attention = attention if isinstance(attention, torch.Tensor) and attention.ndim == 2 else None

    def _last(self, hidden: torch.Tensor) -> torch.Tensor:
        """(rows, seq) bool: each row's last real token of this call (the last step without a 2-D mask)."""
        seq_len = hidden.shape[-2]
        rows = hidden.shape[0] if hidden.ndim == 3 else 1
        attention = self.attention
        if attention is None or attention.shape[0] != rows or attention.shape[1] < seq_len:
            mask = torch.zeros(rows, seq_len, dtype=torch.bool, device=hidden.device)
            mask[:, -1] = True
            return mask
        # with a KV cache the mask covers past and current steps; this call's steps are its last columns
        current = attention[:, -seq_len:].to(hidden.device).bool()
        last = (current * torch.arange(seq_len, device=hidden.device)).argmax(dim=1)
        mask = torch.zeros_like(current)
        mask[torch.arange(rows, device=hidden.device), last] = True
        return mask & current  # a row with no real step in this call is left alone

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor | None:
        if self.kind == "all":
            return None
        if self.kind == "last":
            where = self._last(hidden)
            where = where if hidden.ndim == 3 else where[0]
            return where[..., None].to(hidden.dtype)
        seq_len, device = hidden.shape[-2], hidden.device
        absolute = torch.arange(self.offset, self.offset + seq_len, device=device)
        if isinstance(self.wanted, slice):
            start, stop, step = self.wanted.start or 0, self.wanted.stop, self.wanted.step or 1
            mask = (absolute >= start) & ((absolute - start) % step == 0)
            mask = mask if stop is None else mask & (absolute < stop)
        else:
            mask = torch.isin(absolute, torch.as_tensor(sorted(self.wanted), device=device))
        return mask[:, None].to(hidden.dtype)


@contextmanager
def _hooked(model: nn.Module, plan: Mapping, positions: Positions, make_edit) -> Iterator[None]:
    mask = _PositionMask(positions)
    hooks = Hooks()
    try:
        if mask.kind != "all":
            hooks.on_call(model, mask.observe)
        for layer, (vector, center) in plan.items():
            # edits run before any hook already on the block, so observers (output_hidden_states included) see them
            hooks.on_layer(model, layer, make_edit(layer, vector, center, mask), prepend=True)
        yield
    finally:
        hooks.remove()


def _runtime_width(hidden: torch.Tensor, vector: torch.Tensor, layer: int) -> None:
    if hidden.shape[-1] != vector.shape[0]:
        raise ValueError(f"layer {layer} carries width {hidden.shape[-1]} but its direction has width {vector.shape[0]}")


# ----------------------------------------------------------------------------
# the public context managers
# ----------------------------------------------------------------------------


@contextmanager
def steer(
    model: nn.Module,
    directions: DirectionsLike,
    *,
    layers: int | Sequence[int] | None = None,
    alpha: float = 1.0,
    scale: str = "rms",
    positions: Positions = "all",
    label: str | None = None,
) -> Iterator[Steering]:
    """Add a direction to the residual stream while the ``with`` block runs.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face causal LM (or any model :func:`~workbench.encoders.hooks.find_blocks` understands).
    directions : Directions, DirectionSet, dict of layer -> vector, or a vector of shape (hidden_size,)
        A fitted :class:`~workbench.geometry.directions.Directions` needs
        ``label=`` (unless it has a single label); its vector for each layer is
        used at that layer.
    layers : int or list of int, optional
        hidden_states indices to steer (layer k = output of block k-1).
        Default: every layer the directions have (required for a bare vector).
    alpha : float, default 1.0
        Strength. With ``scale="rms"`` it is relative to each position's
        hidden-state RMS (the paper used 8 on layers 11-20 of Llama-3.2-3B).
        ``alpha=0`` leaves the model's outputs exactly as they are.
    scale : {"rms", "raw"}, default "rms"
        Add ``alpha * v * rms(h)`` or ``alpha * v``.
    positions : "all", "last", int, slice or list of int, default "all"
        Which tokens to steer (see the module notes about the KV cache).
        ``"last"`` is each row's last real token, the token
        ``pooling="last"`` (a causal LM's default reading site) reads.
    label : str, optional

    Notes
    -----
    Directions fitted on a stack from :func:`workbench.encode` match these
    sites except at the last layer, which Hugging Face reports after the
    model's final norm; :func:`extract_directions` reads exactly the sites
    steered here. Both read a causal LM at its last real token by default
    (``pooling="last"``); the returned :class:`Steering` says where fitted
    directions were read.

    Yields
    ------
    Steering
        A record of what is applied.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=50, bos_token_id=0, eos_token_id=0)).eval()
    >>> v = torch.nn.functional.normalize(torch.randn(16), dim=0)
    >>> with steer(model, v, layers=[1], alpha=4.0):
    ...     steered = model(torch.tensor([[1, 2, 3]])).logits
    >>> plain = model(torch.tensor([[1, 2, 3]])).logits
    >>> bool((steered - plain).abs().max() > 0), len(model.transformer.h[0]._forward_hooks)
    (True, 0)
    """
    if scale not in ("rms", "raw"):
        raise ValueError(f"scale must be 'rms' or 'raw'; got {scale!r}")
    alpha = _finite(alpha, "alpha")
    plan = _check_plan(model, _plan(directions, layers, label))

    def make_edit(layer, vector, _center, mask):
        cache: dict = {}

        def edit(hidden: torch.Tensor) -> torch.Tensor:
            _runtime_width(hidden, vector, layer)
            key = (hidden.device, hidden.dtype)
            if key not in cache:
                cache[key] = (alpha * vector).to(device=hidden.device, dtype=hidden.dtype)
            delta = cache[key]
            if scale == "rms":
                delta = delta * hidden.float().pow(2).mean(dim=-1, keepdim=True).sqrt().to(hidden.dtype)
            where = mask(hidden)
            if where is not None:
                delta = delta * where
            return hidden + delta

        return edit

    with _hooked(model, plan, positions, make_edit):
        yield Steering("steer", tuple(plan), alpha, scale, positions, _read_pooling(directions))


@contextmanager
def ablate(
    model: nn.Module,
    directions: DirectionsLike,
    *,
    layers: int | Sequence[int] | None = None,
    positions: Positions = "all",
    label: str | None = None,
) -> Iterator[Steering]:
    """Remove a direction from the residual stream while the ``with`` block runs.

    ``h - ((h - c) . v) v`` with ``v`` the unit direction; ``c`` is the fitted
    center for a ``Directions`` / ``DirectionSet`` (so the model's score on the
    direction becomes exactly 0, the baseline level, as
    :meth:`Directions.ablate` does on a space) and the origin for bare
    vectors. Parameters are those of :func:`steer`.
    """
    plan = _check_plan(model, _plan(directions, layers, label))

    def make_edit(layer, vector, center, mask):
        unit = vector / vector.norm().clamp_min(torch.finfo(vector.dtype).tiny)

        def edit(hidden: torch.Tensor) -> torch.Tensor:
            _runtime_width(hidden, vector, layer)
            d = unit.to(device=hidden.device, dtype=hidden.dtype)
            offset = hidden if center is None else hidden - center.to(device=hidden.device, dtype=hidden.dtype)
            delta = (offset @ d)[..., None] * d
            where = mask(hidden)
            if where is not None:
                delta = delta * where
            return hidden - delta

        return edit

    with _hooked(model, plan, positions, make_edit):
        yield Steering("ablate", tuple(plan), None, None, positions, _read_pooling(directions))


def extract_directions(
    model: nn.Module,
    tokenizer,
    data: pd.DataFrame,
    *,
    layers: Sequence[int] | None = None,
    pooling: str | None = None,
    text: str = "text",
    batch_size: int = 16,
    progress: bool = True,
    position: str | None = None,
    **params: Any,
) -> Directions:
    """Fit :class:`~workbench.geometry.directions.Directions` on this model's own hidden states.

    Reads :func:`block_outputs` of the texts in ``data`` (a DataFrame with a
    text column and a label column, e.g. ``workbench.load_emotion_sentences()``)
    and fits directions at every layer, so that :func:`steer` adds each vector
    at the very site it was read from. ``pooling`` is which tokens are read
    (default: ``"last"`` for a causal LM, as for :func:`workbench.encode`;
    ``position`` is its deprecated name), so on the same model and layers
    this equals ``Directions(**params).fit(workbench.encode(model, data,
    layers=layers))``, except at the last layer (after the final norm there).
    ``params`` go to ``Directions`` (``method=``, ``by=``, ``baseline=``...).

    Examples
    --------
    >>> import pandas as pd
    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    >>> vocab = {w: i for i, w in enumerate(["<pad>", "I", "am", "so", "glad", "sad", "happy", "down"])}
    >>> words = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    >>> words.pre_tokenizer = pre_tokenizers.Whitespace()
    >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, pad_token="<pad>")
    >>> model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=len(vocab))).eval()
    >>> frame = pd.DataFrame({"text": ["I am so glad", "I am happy", "I am so sad", "I am down"],
    ...                       "emotion": ["joy", "joy", "sadness", "sadness"]})
    >>> d = extract_directions(model, tokenizer, frame, layers=[1], baseline=None, progress=False)
    >>> d.directions_[1].provenance["pooling"]  # where workbench.encode reads a causal LM too
    'last'
    >>> with steer(model, d, label="joy", alpha=4.0) as steering:
    ...     logits = model(torch.tensor([[1, 2, 3]])).logits
    >>> steering.pooling
    'last'
    """
    stack = block_outputs(
        model, tokenizer, data, layers=layers, pooling=pooling, text=text, batch_size=batch_size, progress=progress,
        position=position,
    )
    return Directions(progress=progress, **params).fit(stack)
