"""Parallel triples: one item as a sentence, a spoken clip and a face.

Comparing a text, a speech and a vision model needs the *same items* in all
three modalities. Here every item is a sentence of the built-in corpus, the
synthetic clip that speaks it (:mod:`workbench.datasets.speech`) and a
synthetic face showing its emotion at its intensity
(:mod:`workbench.datasets.faces`); the three share ``id``, ``emotion`` and
``intensity``. Encode each column with its own model, and the spaces line up
row for row by ``id`` -- the parallel anchors that a shared relative view
(:func:`workbench.geometry.relative.shared_view.shared_view`) needs.

What carries the emotion differs by modality, by design: words in the text,
prosody in the speech (the words are there too, for a model that
understands them), expression in the face. Nuisance factors are independent
of the emotion in each: the situation (``context``) in the text, the
``speaker`` in the speech, the person (``identity``) in the face.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd

from workbench.datasets.faces import faces_for
from workbench.datasets.schema import check_frame
from workbench.datasets.speech import load_speech

__all__ = ["load_parallel"]


def load_parallel(
    *,
    emotions: Iterable[str] | None = None,
    split: str | None = None,
    speech: str | os.PathLike | None = None,
    face_seed: int = 0,
    face_size: int = 96,
    faces_by: str = "id",
    progress: bool = False,
) -> pd.DataFrame:
    """Load parallel (text, speech, face) triples.

    Parameters
    ----------
    emotions : iterable of str, optional
        Keep only these emotions.
    split : {"train", "test"}, optional
        Keep one split of the corpus (by situation).
    speech : path, optional
        A folder written by :func:`~workbench.datasets.make_speech`. Default:
        the 210 clips shipped with workbench (30 situations x 7 emotions).
    face_seed : int
        Seed of the face identities; same seed, same pixels.
    face_size : int
        Side of the face images in pixels.
    faces_by : str
        Column that picks the person in the face: ``"id"`` (default, every
        item a different person) or ``"speaker"`` (one face per voice).
    progress : bool
        Show a progress bar while drawing faces.

    Returns
    -------
    DataFrame
        One row per item with the three modality columns ``text``, ``audio``
        (absolute path of a 16 kHz clip) and ``image`` (PIL image), the shared
        ``id, emotion, intensity``, the corpus columns (``context, split,
        secondary, ...``), the voice (``speaker`` and the prosody used) and
        the face (``identity`` and the expression parameters). Pick a column
        when encoding, e.g. ``encode(model, frame, column="audio")``.

    Examples
    --------
    >>> items = load_parallel(emotions=["joy", "sadness"])
    >>> len(items), bool(items[["text", "audio", "image"]].notna().all().all())
    (60, True)
    """
    frame = load_speech(speech, emotions=emotions)
    if split is not None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
        if "split" not in frame.columns:
            raise ValueError("this speech folder has no split column; load it without split=")
        frame = frame[frame["split"] == split]
        if frame.empty:
            raise ValueError(f"no clips in split {split!r}")
    frame = faces_for(frame, seed=face_seed, size=face_size, identity_by=faces_by, progress=progress)
    return check_frame(frame, modality="text", require=("audio", "image", "emotion", "intensity"))
