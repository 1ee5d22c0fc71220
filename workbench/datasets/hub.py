"""Public datasets in: Hugging Face ``datasets`` -> the standard frame.

:func:`from_hf` loads through ``datasets.load_dataset`` (a hub id, or a local
folder in the hub's layout such as ``data/train-00000-of-00001.parquet``) or
``datasets.load_from_disk`` (a folder written by ``save_to_disk``), then maps
the columns through a :mod:`~workbench.datasets.recipes` recipe.

Media are never decoded by ``datasets`` itself: its audio decoding needs
``torchcodec`` (and FFmpeg), which many machines lack. Audio and Image
columns are read undecoded (``{"bytes", "path"}``) and turned into what the
encoders read: audio into mono float32 arrays at ``sampling_rate`` (with
``soundfile``, resampled with ``soxr``), images into RGB PIL images; or, with
``media_dir=``, into files there, one per row, referenced by path.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench import taxonomy
from workbench._format import atomic_file
from workbench.datasets.recipes import Recipe, canonical, find_recipe, to_parrott
from workbench.datasets.schema import check_frame
from workbench.extras import require

__all__ = ["from_hf", "MULTI_LABEL_POLICIES"]

MULTI_LABEL_POLICIES = ("unanimous", "first", "explode")
_GENERIC_SAMPLE = {"text": ("text", "sentence", "utterance"), "audio": ("audio",), "image": ("image", "img")}
_GENERIC_LABEL = ("label", "labels", "emotion")


def _load(datasets: Any, name_or_path: str | os.PathLike, split: str, config: str | None, revision: str | None, **kwargs: Any):
    path = Path(name_or_path).expanduser()
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ValueError(f"{path} has no split {split!r}; its splits are {sorted(loaded)}")
            loaded = loaded[split]
        return loaded
    try:
        return datasets.load_dataset(str(name_or_path), config, split=split, revision=revision, **kwargs)
    except (ValueError, FileNotFoundError, ConnectionError, OSError) as exc:
        # datasets' own message says what went wrong (unknown split, no such id, offline); say for what
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"could not load the dataset {str(name_or_path)!r} (split {split!r}): {first}") from exc


def _pick(title: str, what: str, candidates: tuple[str, ...], columns: list[str], *, required: bool = True) -> str | None:
    for candidate in candidates:
        if candidate in columns:
            return candidate
    if required:
        raise ValueError(f"{title}: no {what} column; looked for {list(candidates)}, the data has {columns}")
    return None


def _generic(title: str, columns: list[str]) -> Recipe:
    for modality, candidates in _GENERIC_SAMPLE.items():
        if any(c in columns for c in candidates):
            return Recipe("generic", title, (), modality, candidates, _GENERIC_LABEL)
    raise ValueError(
        f"{title}: no text, audio or image column ({columns}); pass recipe= one of the recipes "
        "(workbench.datasets.recipes.RECIPES) or rename the column"
    )


def _label_names(feature: Any, values: pd.Series, recipe: Recipe, title: str) -> pd.Series:
    """Label cells as names (or lists of names), through the ClassLabel or the recipe's codes."""
    inner = getattr(feature, "feature", None)
    names = getattr(feature, "names", None) or getattr(inner, "names", None) or list(recipe.codes) or None

    def one(value: Any) -> Any:
        if isinstance(value, (int, np.integer)):
            if names is None or not 0 <= int(value) < len(names):
                raise ValueError(f"{title}: label code {value} has no name (codes known: {names})")
            return names[int(value)]
        return value

    if recipe.multi_label:
        return values.map(lambda cell: [one(v) for v in (cell if hasattr(cell, "__iter__") and not isinstance(cell, str) else [cell])])
    return values.map(one)


def _multi(frame: pd.DataFrame, policy: str, title: str) -> pd.DataFrame:
    """One emotion per row from lists of GoEmotions labels (see :func:`from_hf`)."""
    for labels in frame["label"]:
        unknown = [label for label in labels if label not in taxonomy.GOEMOTIONS_TO_EKMAN]
        if unknown:
            raise ValueError(f"{title}: labels {unknown} are not GoEmotions labels")
    frame = frame[frame["label"].map(len) > 0]
    if policy == "explode":
        frame = frame.explode("label", ignore_index=True)
        frame["id"] = frame["id"].astype(str) + ":" + frame["label"]
        frame["emotion"] = taxonomy.goemotions_to_ekman(frame["label"].tolist())
        return frame
    ekman = frame["label"].map(lambda labels: sorted(set(taxonomy.goemotions_to_ekman(labels))))
    if policy == "unanimous":
        keep = ekman.map(len) == 1
        dropped = int((~keep).sum())
        frame, ekman = frame[keep].copy(), ekman[keep]
        frame.attrs["dropped"] = dropped
        frame["emotion"] = ekman.map(lambda labels: labels[0])
    else:  # first
        frame = frame.copy()
        frame["emotion"] = frame["label"].map(lambda labels: taxonomy.GOEMOTIONS_TO_EKMAN[labels[0]])
    frame["label"] = frame["label"].map(",".join)
    return frame


def _media_file(cell: dict, media_dir: Path, row: Any, suffix: str) -> str:
    source = Path(cell.get("path") or "")
    target = media_dir / f"{row}{source.suffix or suffix}"
    if not target.is_file():
        with atomic_file(target, "wb") as handle:
            handle.write(cell["bytes"])
    return str(target)


def _audio(cell: Any, row: Any, rate: int, title: str) -> np.ndarray:
    soundfile = require("soundfile", feature="from_hf (decoding audio)")
    soxr = require("soxr", feature="from_hf (resampling audio)")
    source = io.BytesIO(cell["bytes"]) if cell.get("bytes") is not None else cell.get("path")
    try:
        array, native = soundfile.read(source, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's own error types; all mean "this clip is unreadable"
        raise ValueError(f"{title}: the audio of row {row!r} ({cell.get('path')}) cannot be decoded: {exc}") from None
    mono = array.mean(axis=1)
    return np.ascontiguousarray(soxr.resample(mono, native, rate) if native != rate else mono, dtype=np.float32)


def _image(cell: Any) -> Any:
    path = cell.get("path")
    if cell.get("bytes") is None and path and Path(path).is_file():
        return path
    Image = require("PIL.Image", feature="from_hf (decoding images)")
    return Image.open(io.BytesIO(cell["bytes"])).convert("RGB")


def from_hf(
    name_or_path: str | os.PathLike,
    split: str = "train",
    recipe: str | Recipe | None = None,
    *,
    config: str | None = None,
    revision: str | None = None,
    limit: int | None = None,
    multi_label: Literal["unanimous", "first", "explode"] = "unanimous",
    sampling_rate: int = 16_000,
    media_dir: str | os.PathLike | None = None,
    **load_kwargs: Any,
) -> pd.DataFrame:
    """Load a Hugging Face dataset as a standard workbench frame.

    Parameters
    ----------
    name_or_path : str or path
        A hub id (``"dair-ai/emotion"``), a local folder in the hub's layout
        (both through ``datasets.load_dataset``), or a folder written by
        ``Dataset.save_to_disk`` (through ``datasets.load_from_disk``).
    split : str, default "train"
    recipe : str or Recipe, optional
        One of :data:`~workbench.datasets.recipes.RECIPES` (``go_emotions``,
        ``emotion``, ``cremad``, ``ravdess``, ``meld``, ``emoset``). By default
        the one whose hub id matches ``name_or_path``; otherwise a generic
        recipe takes the ``text`` / ``audio`` / ``image`` column and a
        ``label`` column when there is one.
    config, revision : str, optional
        Passed to ``datasets.load_dataset``.
    limit : int, optional
        Keep the first ``limit`` rows (before any media is decoded).
    multi_label : {"unanimous", "first", "explode"}, default "unanimous"
        Several labels on one row (GoEmotions). ``unanimous`` keeps a row
        when all its labels roll up to one Ekman emotion (83 % of GoEmotions
        rows carry one label) and drops the others, counting them in
        ``frame.attrs["dropped"]``; ``first`` takes the first listed label;
        ``explode`` gives one row per label, with ids ``"<id>:<label>"``. The
        fine labels stay in ``label``, joined by commas.
    sampling_rate : int, default 16000
        The rate audio arrays are resampled to (``frame.attrs["sampling_rate"]``).
    media_dir : path, optional
        Write audio and images there as files, one per row, and put their
        paths in the frame instead of decoded arrays and images.
    **load_kwargs
        Further arguments of ``datasets.load_dataset``.

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
        ``id``, ``text`` | ``audio`` | ``image``, ``emotion``, ``parrott``,
        ``label`` (the dataset's own), ``split``, and ``context`` where the
        dataset has one.

    Raises
    ------
    ValueError
        Naming the dataset and what is missing (a column, a split, a label).
    ImportError
        When ``datasets`` is not installed, with the pip command.

    Examples
    --------
    >>> import datasets, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> labels = datasets.ClassLabel(names=["sadness", "joy", "love", "anger", "fear", "surprise"])
    >>> datasets.Dataset.from_dict({"text": ["so glad", "so sad"], "label": [1, 0]},
    ...     features=datasets.Features({"text": datasets.Value("string"), "label": labels})).save_to_disk(folder)
    >>> from_hf(folder, recipe="emotion")[["text", "emotion", "parrott"]].values.tolist()
    [['so glad', 'joy', 'joy'], ['so sad', 'sadness', 'sadness']]
    """
    if multi_label not in MULTI_LABEL_POLICIES:
        raise ValueError(f"multi_label must be one of {MULTI_LABEL_POLICIES}; got {multi_label!r}")
    datasets = require("datasets", feature="workbench.datasets.from_hf")
    dataset = _load(datasets, name_or_path, split, config, revision, **load_kwargs)
    if limit is not None:
        dataset = dataset.select(range(min(int(limit), len(dataset))))
    chosen = find_recipe(str(name_or_path), recipe)
    columns = list(dataset.column_names)
    chosen = chosen or _generic(str(name_or_path), columns)
    title = f"{chosen.title} ({name_or_path})" if chosen.title != str(name_or_path) else chosen.title
    sample = _pick(title, chosen.modality, chosen.sample, columns)
    label = _pick(title, "label", chosen.label, columns, required=chosen.name != "generic")
    id_column = _pick(title, "id", chosen.id, columns, required=False)
    context = _pick(title, "context", chosen.context, columns, required=False)
    for column, feature in dataset.features.items():  # see the module docstring: no torchcodec needed
        if type(feature).__name__ in ("Audio", "Image"):
            dataset = dataset.cast_column(column, type(feature)(decode=False))
    wanted = [c for c in dict.fromkeys([sample, label, id_column, context, *chosen.keep]) if c in columns]
    raw = dataset.select_columns(wanted).to_pandas()

    frame = pd.DataFrame({"id": raw[id_column] if id_column else [f"{split}-{i}" for i in range(len(raw))]})
    frame[chosen.modality] = raw[sample]
    if label is not None:
        frame["label"] = _label_names(dataset.features[label], raw[label], chosen, title)
    if context is not None:
        frame["context"] = raw[context]
    for column in chosen.keep:
        if column in raw.columns and column not in (sample, label, id_column, context):
            frame[column] = raw[column]
    frame["split"] = split
    if label is not None:
        if chosen.multi_label:
            frame = _multi(frame, multi_label, title)
        else:
            frame["emotion"] = frame["label"].map(canonical)
        # several GoEmotions labels that agree on Ekman may not agree on Parrott (love, joy): the first decides
        first = frame["label"].str.split(",").str[0] if chosen.multi_label else frame["emotion"]
        try:
            frame["parrott"] = to_parrott(first)
        except KeyError as exc:
            if chosen.name != "generic":
                raise ValueError(f"{title}: label {exc.args[0]}") from None
    frame = _decode_media(frame, chosen.modality, title, sampling_rate, media_dir)
    frame.attrs.update({"dataset": str(name_or_path), "recipe": chosen.name, "split": split})
    if chosen.modality == "audio" and media_dir is None:
        frame.attrs["sampling_rate"] = sampling_rate
    return check_frame(frame, modality=chosen.modality)


def _decode_media(frame: pd.DataFrame, modality: str, title: str, rate: int, media_dir: str | os.PathLike | None) -> pd.DataFrame:
    if modality == "text":
        return frame
    cells = frame[modality]
    if not all(isinstance(cell, dict) for cell in cells):
        return frame  # paths or arrays already
    missing = [row for row, cell in zip(frame["id"], cells) if cell.get("bytes") is None and not cell.get("path")]
    if missing:
        raise ValueError(f"{title}: rows {missing[:5]} have no {modality} (neither bytes nor a path)")
    if media_dir is not None:
        folder = Path(media_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".wav" if modality == "audio" else ".png"
        values = [_media_file(cell, folder, row, suffix) if cell.get("bytes") is not None else cell["path"]
                  for row, cell in zip(frame["id"], cells)]
    elif modality == "audio":
        values = [_audio(cell, row, rate, title) for row, cell in zip(frame["id"], cells)]
    else:
        values = [_image(cell) for cell in cells]
    frame = frame.copy()
    frame[modality] = pd.Series(values, index=frame.index, dtype=object)
    return frame
