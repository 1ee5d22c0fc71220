"""Emotion label sets and the maps between them.

- Parrott's three-tier tree (2001): 6 primary emotions, 25 secondary, ~135
  tertiary words. Fine labels roll up to their primary with :func:`roll_up`.
- Ekman's six basic emotions (1992).
- GoEmotions' 27 emotions + neutral (Demszky et al., 2020) and the dataset's
  own grouping into Ekman's six (:data:`GOEMOTIONS_TO_EKMAN`).
- Valence / arousal / dominance coordinates of the primaries, disgust and neutral
  (NRC-VAD, Mohammad 2018) through :func:`vad`.

The data live in ``workbench/_data/taxonomy.json`` with their sources.

Examples
--------
>>> from workbench import taxonomy
>>> taxonomy.roll_up("exasperation")
'anger'
>>> taxonomy.roll_up(["glee", "dread"], to="secondary").tolist()
['cheerfulness', 'nervousness']
>>> taxonomy.roll_up("disgust")   # Ekman's disgust sits under anger in Parrott's tree
'anger'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Literal, overload

import numpy as np
import pandas as pd

__all__ = [
    "PRIMARY",
    "EKMAN",
    "GOEMOTIONS",
    "GOEMOTIONS_TO_EKMAN",
    "NEUTRAL",
    "parrott_tree",
    "tier",
    "tiers_of",
    "roll_up",
    "goemotions_to_ekman",
    "vad",
    "sources",
]

Tier = Literal["primary", "secondary", "tertiary"]
_TIERS: tuple[Tier, ...] = ("primary", "secondary", "tertiary")
NEUTRAL = "neutral"


@lru_cache(maxsize=1)
def _data() -> dict:
    text = resources.files("workbench").joinpath("_data/taxonomy.json").read_text(encoding="utf-8")
    return json.loads(text)


def parrott_tree() -> dict[str, dict[str, list[str]]]:
    """Parrott's tree as ``{primary: {secondary: [tertiary, ...]}}`` (a copy)."""
    return json.loads(json.dumps(_data()["parrott"]["tree"]))


PRIMARY: tuple[str, ...] = tuple(_data()["parrott"]["tree"])
EKMAN: tuple[str, ...] = tuple(_data()["ekman"]["labels"])
GOEMOTIONS: tuple[str, ...] = tuple(_data()["goemotions"]["labels"])
GOEMOTIONS_TO_EKMAN: dict[str, str] = {
    fine: coarse for coarse, fines in _data()["goemotions"]["to_ekman"].items() for fine in fines
}


@lru_cache(maxsize=1)
def _parents() -> dict[Tier, dict[str, tuple[str, str]]]:
    """For every tier, label -> (primary, secondary) it belongs to."""
    parents: dict[Tier, dict[str, tuple[str, str]]] = {t: {} for t in _TIERS}
    for primary, secondaries in _data()["parrott"]["tree"].items():
        parents["primary"][primary] = (primary, "")
        for secondary, words in secondaries.items():
            parents["secondary"][secondary] = (primary, secondary)
            for word in words:
                parents["tertiary"][word] = (primary, secondary)
    return parents


def tier(level: Tier) -> list[str]:
    """All labels of one tier, in the tree's order.

    Examples
    --------
    >>> len(tier("primary")), len(tier("secondary"))
    (6, 25)
    """
    if level not in _TIERS:
        raise ValueError(f"tier must be one of {_TIERS}; got {level!r}")
    return list(_parents()[level])


def tiers_of(label: str) -> list[Tier]:
    """The tiers a label appears in (a word can be, e.g., both secondary and tertiary)."""
    return [t for t in _TIERS if label in _parents()[t]]


def _roll_one(label: object, to: Tier, unknown: str) -> object:
    if not isinstance(label, str):
        if unknown == "keep":
            return label
        raise TypeError(f"emotion labels must be strings; got {label!r}")
    key = label.strip().lower()
    tiers = tiers_of(key)
    if not tiers:
        if key == NEUTRAL or unknown == "keep":
            return label
        raise KeyError(
            f"{label!r} is not in Parrott's tree; pass unknown='keep' to leave such labels as they are"
        )
    if to in tiers:
        return key
    highest = tiers[0]  # otherwise a label is read at its most general tier
    if _TIERS.index(highest) < _TIERS.index(to):
        raise ValueError(f"{label!r} is a {highest} emotion; it cannot be rolled up to the {to} tier")
    primary, secondary = _parents()[highest][key]
    return primary if to == "primary" else secondary


@overload
def roll_up(labels: str, to: Tier = ..., *, unknown: str = ...) -> str: ...
@overload
def roll_up(labels: Iterable, to: Tier = ..., *, unknown: str = ...) -> np.ndarray: ...


def roll_up(labels, to: Tier = "primary", *, unknown: Literal["raise", "keep"] = "raise"):
    """Map fine emotion labels to a coarser tier of Parrott's tree.

    Parameters
    ----------
    labels : str or array-like of str
        Labels at any tier (case-insensitive). ``"neutral"`` stays ``"neutral"``.
    to : {"primary", "secondary"}, default "primary"
    unknown : {"raise", "keep"}, default "raise"
        What to do with a label that is not in the tree.

    Returns
    -------
    str, or ndarray of shape (n_labels,) and dtype object

    Examples
    --------
    >>> roll_up(["rage", "longing", "neutral"]).tolist()
    ['anger', 'love', 'neutral']
    """
    if to not in ("primary", "secondary"):
        raise ValueError(f"to must be 'primary' or 'secondary'; got {to!r}")
    if isinstance(labels, str):
        return _roll_one(labels, to, unknown)
    series = pd.Series(np.asarray(list(labels), dtype=object))
    mapping = {value: _roll_one(value, to, unknown) for value in series.unique()}
    return np.asarray(series.map(mapping), dtype=object)


def goemotions_to_ekman(labels):
    """Map GoEmotions labels (names) to Ekman's six plus neutral, as the dataset does.

    Examples
    --------
    >>> goemotions_to_ekman(["gratitude", "nervousness"]).tolist()
    ['joy', 'fear']
    """
    def one(label: str) -> str:
        try:
            return GOEMOTIONS_TO_EKMAN[label]
        except KeyError:
            raise KeyError(f"{label!r} is not a GoEmotions label; they are {list(GOEMOTIONS)}") from None

    if isinstance(labels, str):
        return one(labels)
    return np.asarray([one(label) for label in labels], dtype=object)


def vad(label: str) -> tuple[float, float, float]:
    """Valence, arousal, dominance (0..1) of a label's primary emotion (or neutral).

    Examples
    --------
    >>> vad("fury")   # rolls up to anger
    (0.167, 0.865, 0.657)
    """
    values = _data()["vad"]["values"]
    key = label.strip().lower()
    primary = key if key in values else roll_up(key)
    return tuple(values[primary])  # type: ignore[return-value]


def sources() -> dict[str, str]:
    """Where each label set and coordinate table comes from."""
    data = _data()
    return {name: data[name]["source"] for name in ("parrott", "ekman", "goemotions", "vad")}
