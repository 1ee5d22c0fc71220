"""The built-in English emotion corpus.

728 hand-written sentences: 104 everyday situations (13 in each of 8 domains),
each written once with every one of Parrott's six primary emotions and once
neutral. Because every situation appears with every emotion, the situation
(``context``) can be removed from emotion directions. See ``data/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["load_emotion_sentences", "corpus_path"]

_FILE = "emotion_sentences.csv"


def corpus_path() -> Path:
    """Path of the corpus CSV: inside the installed package, else the repository's ``data/``."""
    packaged = Path(str(resources.files("workbench").joinpath("_data", _FILE)))
    if packaged.is_file():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "data" / _FILE
    if source_tree.is_file():
        return source_tree
    raise FileNotFoundError(
        f"the built-in corpus {_FILE} was not found in the package ({packaged.parent}) "
        f"nor in the source tree ({source_tree.parent}); reinstall workbench"
    )


def load_emotion_sentences(
    split: str | None = None,
    *,
    emotions: Iterable[str] | None = None,
    domains: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Load the built-in emotion corpus in the standard shape.

    Parameters
    ----------
    split : {"train", "test"}, optional
        Keep one split (assigned by situation, so test situations are unseen).
    emotions, domains : iterable of str, optional
        Keep only these emotions / domains.

    Returns
    -------
    DataFrame
        One row per sentence with columns ``id, text, emotion, secondary,
        intensity, domain, context, situation, explicit, split``.

    Examples
    --------
    >>> df = load_emotion_sentences()
    >>> len(df), df["emotion"].nunique()
    (728, 7)
    >>> len(load_emotion_sentences("test", emotions=["joy"]))
    24
    """
    frame = pd.read_csv(corpus_path(), dtype={"intensity": "int64", "explicit": "bool"}, keep_default_na=False)
    if split is not None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
        frame = frame[frame["split"] == split]
    for column, wanted in (("emotion", emotions), ("domain", domains)):
        if wanted is None:
            continue
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        unknown = sorted(set(wanted) - set(frame[column].unique()))
        if unknown:
            raise ValueError(f"unknown {column}(s) {unknown}; the corpus has {sorted(frame[column].unique())}")
        frame = frame[frame[column].isin(wanted)]
    return frame.reset_index(drop=True)
