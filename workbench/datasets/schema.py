"""The standard shape of a dataset in the workbench.

Every loader returns a pandas DataFrame with one row per sample and these
columns (only ``id`` and one modality column are required):

============  ================================================================
``id``        unique per row; the key that links spaces, views and modalities
``text``      a sentence (text models)
``audio``     a path to a sound file, or a 1-D float array (speech models)
``image``     a path to an image, a PIL image or an array (vision models)
``emotion``   the label (Parrott primary, Ekman or the dataset's own names)
``context``   the situation a sample belongs to, shared across emotions
``intensity`` 1 (mild) .. 3 (strong)
``split``     ``"train"`` / ``"test"``
============  ================================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["MODALITY_COLUMNS", "STANDARD_COLUMNS", "check_frame", "modality_of", "fingerprint"]

MODALITY_COLUMNS: tuple[str, ...] = ("text", "audio", "image")
STANDARD_COLUMNS: tuple[str, ...] = ("id", *MODALITY_COLUMNS, "emotion", "context", "intensity", "split")


def modality_of(frame: pd.DataFrame) -> str:
    """The modality column present in ``frame`` (``text``, ``audio`` or ``image``).

    Raises ValueError when there is none, or more than one (then say which
    one to use).
    """
    present = [column for column in MODALITY_COLUMNS if column in frame.columns]
    if not present:
        raise ValueError(
            f"the data has no modality column; expected one of {MODALITY_COLUMNS}, "
            f"got columns {list(frame.columns)}"
        )
    if len(present) > 1:
        raise ValueError(f"the data has several modality columns {present}; say which one to use")
    return present[0]


def check_frame(
    frame: pd.DataFrame,
    *,
    modality: str | None = None,
    require: Iterable[str] = (),
) -> pd.DataFrame:
    """Validate a dataset frame and return it with a fresh ``RangeIndex``.

    Parameters
    ----------
    frame : DataFrame
    modality : {"text", "audio", "image"}, optional
        Column that must be present. When omitted, exactly one must be.
    require : iterable of str
        Further columns that must be present.

    Raises
    ------
    TypeError, ValueError
        With a message naming the problem column or rows.

    Examples
    --------
    >>> check_frame(pd.DataFrame({"id": [1, 2], "text": ["a", "b"]})).shape
    (2, 2)
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame; got {type(frame).__name__}")
    if frame.empty:
        raise ValueError("the data has no rows")
    if modality is None:
        modality = modality_of(frame)
    elif modality not in frame.columns:
        raise ValueError(f"the data has no {modality!r} column; columns are {list(frame.columns)}")
    missing = [column for column in require if column not in frame.columns]
    if missing:
        raise ValueError(f"the data lacks column(s) {missing}; columns are {list(frame.columns)}")
    frame = frame.reset_index(drop=True)
    if "id" not in frame.columns:
        frame.insert(0, "id", np.arange(len(frame)))
    duplicated = frame["id"].duplicated(keep=False)
    if duplicated.any():
        raise ValueError(f"ids must be unique; duplicated: {frame['id'][duplicated].unique()[:5].tolist()}")
    empty = frame[modality].isna()
    if empty.any():
        raise ValueError(f"{int(empty.sum())} row(s) have no {modality}, e.g. ids {frame['id'][empty][:5].tolist()}")
    if "intensity" in frame.columns and frame["intensity"].notna().any():
        values = pd.to_numeric(frame["intensity"], errors="coerce")
        if values.isna().any() and frame["intensity"].notna().all():
            raise ValueError("intensity must be numeric (1 = mild .. 3 = strong)")
    return frame


def _is_media(value: object) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "tobytes")


def _column_digest(values: pd.Series) -> bytes:
    # Raw audio arrays and PIL images are hashed by content: pandas would hash
    # their repr, which holds a memory address and changes from run to run.
    if values.dtype != object or not any(_is_media(v) for v in values):
        return pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes()
    digest = hashlib.sha256()
    for value in values:
        if isinstance(value, np.ndarray):
            digest.update(str(value.dtype).encode() + str(value.shape).encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        elif hasattr(value, "tobytes"):  # PIL images
            digest.update(f"{getattr(value, 'mode', '')}{getattr(value, 'size', '')}".encode())
            digest.update(value.tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.digest()


def fingerprint(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> str:
    """A stable content hash of some columns of a frame (row order matters).

    Used as the dataset hash in provenance and cache keys.

    Examples
    --------
    >>> a = fingerprint(pd.DataFrame({"text": ["x", "y"]}))
    >>> a == fingerprint(pd.DataFrame({"text": ["x", "y"]})), a == fingerprint(pd.DataFrame({"text": ["y", "x"]}))
    (True, False)
    """
    columns = list(frame.columns if columns is None else columns)
    digest = hashlib.sha256(str(len(frame)).encode())
    for column in columns:
        digest.update(column.encode())
        digest.update(_column_digest(frame[column]))
    return digest.hexdigest()[:16]
