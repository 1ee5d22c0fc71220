"""How each public emotion dataset maps onto the standard frame.

A :class:`Recipe` names, for one dataset on the Hugging Face hub, where its
sample (text, audio or image), its label, its id and its context live, and
how its label names map to workbench's vocabulary. Column names are lists of
candidates, because the hub's copies of one dataset spell them differently
(``label`` / ``labels`` / ``emotion`` / ``Emotion``).

Every recipe yields two label columns:

``emotion``
    the dataset's classes under the canonical names of
    :mod:`workbench.taxonomy` (``happy`` -> ``joy``, ``ANG`` -> ``anger``):
    Ekman's six plus ``neutral`` where the dataset uses them, its own
    classes (``calm``, ``awe``, ``love``...) otherwise;
``parrott``
    the primary emotion of Parrott's tree (:func:`workbench.taxonomy.roll_up`),
    so that datasets with different label sets share one colouring. Ekman's
    disgust sits under anger there; ``calm`` goes to ``neutral`` and ``awe``
    to ``surprise`` (workbench's choice: neither is in the tree).

The dataset's own label stays in ``label``.

GoEmotions is multi-label: see :func:`workbench.datasets.from_hf` for the
policy when a comment carries several labels.

Examples
--------
>>> find_recipe("dair-ai/emotion").name
'emotion'
>>> to_parrott(["happy", "disgust", "calm", "gratitude"]).tolist()
['joy', 'anger', 'neutral', 'joy']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from workbench import taxonomy

__all__ = ["Recipe", "RECIPES", "find_recipe", "to_parrott"]

#: labels outside Parrott's tree and outside GoEmotions: where workbench puts them
_PARROTT_CHOICES = {"calm": "neutral", "awe": "surprise"}

#: spellings the datasets use for the canonical names
_CANONICAL = {
    "happy": "joy", "happiness": "joy", "hap": "joy",
    "sad": "sadness", "sad.": "sadness",
    "angry": "anger", "ang": "anger",
    "fearful": "fear", "fea": "fear",
    "surprised": "surprise", "sur": "surprise",
    "disgusted": "disgust", "dis": "disgust",
    "neu": "neutral",
}


def _parrott_one(label: str) -> str:
    key = canonical(label)
    if key in _PARROTT_CHOICES:
        return _PARROTT_CHOICES[key]
    if key == taxonomy.NEUTRAL or taxonomy.tiers_of(key):
        return taxonomy.roll_up(key)
    if key in taxonomy.GOEMOTIONS_TO_EKMAN:  # admiration, approval... reach the tree through Ekman
        return taxonomy.roll_up(taxonomy.GOEMOTIONS_TO_EKMAN[key])
    raise KeyError(f"{label!r} has no place in Parrott's tree")


def to_parrott(labels: Iterable[str]) -> np.ndarray:
    """Parrott primary (or ``neutral``) of labels from any of the recipes' vocabularies.

    Returns
    -------
    ndarray of shape (n_labels,) and dtype object
    """
    return np.asarray([_parrott_one(label) for label in labels], dtype=object)


def canonical(label: object) -> str:
    """A dataset's label name under workbench's spelling (``happy`` -> ``joy``)."""
    key = str(label).strip().lower()
    return _CANONICAL.get(key, key)


@dataclass(frozen=True)
class Recipe:
    """Where one dataset keeps its parts.

    Parameters
    ----------
    name : str
        The recipe's name (``from_hf(..., recipe=name)``).
    title : str
        The dataset's name in messages.
    hub_ids : tuple of str
        Hub ids this recipe is chosen for automatically.
    modality : {"text", "audio", "image"}
    sample : tuple of str
        Candidate columns holding the sample.
    label : tuple of str
        Candidate columns holding the label (names, class indices, or lists of either).
    codes : tuple of str
        Label names by integer code, for columns that store bare integers.
    id, context : tuple of str
        Candidate columns for the row id and the context (speaker, dialogue...).
    multi_label : bool
        The label column holds lists (GoEmotions).
    """

    name: str
    title: str
    hub_ids: tuple[str, ...]
    modality: str
    sample: tuple[str, ...]
    label: tuple[str, ...]
    codes: tuple[str, ...] = ()
    id: tuple[str, ...] = ("id",)
    context: tuple[str, ...] = ()
    multi_label: bool = False
    keep: tuple[str, ...] = field(default=())


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "go_emotions", "GoEmotions", ("google-research-datasets/go_emotions", "go_emotions"),
            "text", ("text",), ("labels", "label"), codes=taxonomy.GOEMOTIONS, multi_label=True,
        ),
        Recipe(
            "emotion", "dair-ai/emotion", ("dair-ai/emotion", "emotion"),
            "text", ("text",), ("label", "labels", "emotion"),
            codes=("sadness", "joy", "love", "anger", "fear", "surprise"),
        ),
        Recipe(
            "cremad", "CREMA-D", ("confit/cremad-demo", "myleslinder/crema-d", "crema-d", "cremad"),
            "audio", ("audio", "file", "path"), ("label", "emotion", "labels"),
            codes=("anger", "disgust", "fear", "joy", "neutral", "sadness"),
            context=("speaker_id", "actor", "speaker", "sentence"),
        ),
        Recipe(
            "ravdess", "RAVDESS", ("narad/ravdess", "ravdess"),
            "audio", ("audio", "file", "path"), ("labels", "label", "emotion"),
            # RAVDESS's file-name codes 01..08, shifted to 0..7
            codes=("neutral", "calm", "joy", "sadness", "anger", "fear", "disgust", "surprise"),
            context=("speaker_id", "actor", "speaker"),
        ),
        Recipe(
            "meld", "MELD", ("declare-lab/MELD", "meld"),
            "text", ("Utterance", "utterance", "text"), ("Emotion", "emotion", "label"),
            codes=("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"),
            id=("Sr No.", "id"), context=("Dialogue_ID", "dialogue_id", "Speaker", "speaker"),
            keep=("Speaker", "Sentiment"),
        ),
        Recipe(
            "emoset", "EmoSet", ("Woleek/EmoSet-118K", "emoset", "emoset-118k"),
            "image", ("image", "img", "path"), ("label", "emotion", "labels"),
            codes=("amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"),
        ),
    )
}


def find_recipe(name_or_path: str, recipe: str | Recipe | None = None) -> Recipe | None:
    """The recipe named, or the one whose hub id (or last path part) matches; None when none does.

    Raises
    ------
    KeyError
        For a recipe name that does not exist, listing those that do.
    """
    if isinstance(recipe, Recipe):
        return recipe
    if recipe is not None:
        try:
            return RECIPES[recipe]
        except KeyError:
            raise KeyError(f"no recipe {recipe!r}; the recipes are {sorted(RECIPES)}") from None
    text = str(name_or_path).rstrip("/").lower()
    for candidate in RECIPES.values():
        ids = [hub_id.lower() for hub_id in candidate.hub_ids]
        if text in ids or text.rsplit("/", 1)[-1] in ids:
            return candidate
    return None
