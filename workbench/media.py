"""Reading audio and images from what a DataFrame cell holds.

An ``audio`` cell may be a path, a 1-D (or channels × samples) array at the
rate the encoder was told, or a Hugging Face ``datasets`` Audio dict
(``{"array", "sampling_rate"}`` or ``{"path"}`` / ``{"bytes"}``). Audio comes
out mono float32 at the processor's rate: files are read with ``soundfile``
(librosa, when installed, as a fallback for formats libsndfile lacks) and
resampled with ``soxr``.

An ``image`` cell may be a path, a PIL image, an array (H × W or H × W × C;
uint8, or float in [0, 1]) or a ``datasets`` Image dict. Images come out as
RGB PIL images.

Every failure is a :class:`MediaError` naming the row and, for files, the path.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.extras import require

__all__ = [
    "MediaError", "audio_length", "read_audio", "check_image", "read_image", "media_digest",
    "check_on_error", "record_failure",
]

ON_ERROR = ("raise", "skip")


class MediaError(ValueError):
    """A cell of the data that cannot be read; ``row`` is its id, ``path`` the file if any.

    The one error for unreadable media in the workbench: the encoders and
    datasets raise it naming the row, and the Explorer's row panel shows its
    message (there ``row`` and ``path`` may be None).

    Examples
    --------
    >>> error = MediaError("row 'a' (x.wav): cannot read audio: no such file", row="a", path="x.wav")
    >>> isinstance(error, ValueError), error.row, error.path
    (True, 'a', 'x.wav')
    """

    def __init__(self, message: str, *, row: Any = None, path: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.path = path


def check_on_error(on_error: str) -> str:
    """Validate an ``on_error`` policy: ``"raise"`` or ``"skip"``."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}; got {on_error!r}")
    return on_error


def record_failure(error: MediaError, failed: dict[int, str], position: int, on_error: str) -> None:
    """Raise ``error`` (``on_error="raise"``), or note it against the row's position to skip it."""
    if on_error == "raise":
        raise error
    failed[position] = str(error)


def _describe(row: Any, value: Any) -> str:
    path = _path_of(value)
    return f"row {row!r} ({path})" if path else f"row {row!r}"


def _path_of(value: Any) -> str | None:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, dict) and value.get("path") and value.get("array") is None and value.get("bytes") is None:
        return str(value["path"])
    return None


def _fail(row: Any, value: Any, what: str, exc: BaseException | str) -> MediaError:
    reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return MediaError(f"{_describe(row, value)}: cannot read {what}: {reason}", row=row, path=_path_of(value))


# ----------------------------------------------------------------------------
# audio
# ----------------------------------------------------------------------------


def _audio_file(value: Any) -> Any:
    """Path or file-like object for a cell that refers to a file, else None."""
    path = _path_of(value)
    if path is not None:
        if not os.path.isfile(path):
            raise FileNotFoundError("no such file")
        return path
    if isinstance(value, dict) and value.get("array") is None and value.get("bytes") is not None:
        return io.BytesIO(value["bytes"])
    return None


def _array_and_rate(value: Any, default_rate: int | None) -> tuple[np.ndarray, int | None]:
    if isinstance(value, dict):
        return np.asarray(value["array"]), value.get("sampling_rate", default_rate)
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value), default_rate


def _to_mono(array: np.ndarray) -> np.ndarray:
    if array.ndim == 1:
        return array
    if array.ndim == 2:
        # channels are the short axis: (channels, samples) or (samples, channels)
        axis = 0 if array.shape[0] <= array.shape[1] else 1
        return array.mean(axis=axis)
    raise ValueError(f"audio must be 1-D or 2-D (channels × samples); got shape {array.shape}")


def _need_rate(rate: int | None) -> int:
    if rate is None:
        raise ValueError("an audio array without a sampling rate; pass sampling_rate= (the rate of your arrays)")
    return int(rate)


def audio_length(value: Any, target_rate: int, *, default_rate: int | None = None, row: Any = None) -> int:
    """Number of samples the cell will have at ``target_rate``, without decoding files."""
    soundfile = require("soundfile", feature="Reading audio")

    try:
        source = _audio_file(value)
        if source is not None:
            info = soundfile.info(source)
            frames, rate = info.frames, info.samplerate
        else:
            array, rate = _array_and_rate(value, default_rate)
            rate = _need_rate(rate)
            frames = array.shape[-1] if array.ndim == 2 and array.shape[0] <= array.shape[1] else array.shape[0]
    except FileNotFoundError as exc:
        raise _fail(row, value, "audio", exc) from None
    except Exception as exc:  # soundfile raises its own error types; all mean "unreadable"
        if _audio_file(value) is not None and _librosa() is not None:
            # a format only librosa reads: decoding is the only way to learn its length
            return len(read_audio(value, target_rate, default_rate=default_rate, row=row))
        raise _fail(row, value, "audio", exc) from None
    return int(round(frames * target_rate / rate))


def _librosa():
    try:
        import librosa
    except ImportError:
        return None
    return librosa


def _decode(source: Any) -> tuple[np.ndarray, int]:
    """(channels × samples, rate) of a file; librosa (audioread, ffmpeg) only for what libsndfile cannot read."""
    soundfile = require("soundfile", feature="Reading audio")

    try:
        array, rate = soundfile.read(source, dtype="float32", always_2d=True)
        return array.T, rate
    except Exception as first:
        librosa = _librosa()
        if librosa is None:
            raise
        if hasattr(source, "seek"):
            source.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa announces each fallback it tries
                array, rate = librosa.load(source, sr=None, mono=False)
        except Exception:
            raise first from None  # libsndfile's reason is the informative one
        return np.atleast_2d(array), rate


def read_audio(value: Any, target_rate: int, *, default_rate: int | None = None, row: Any = None) -> np.ndarray:
    """Mono float32 samples of one cell, resampled to ``target_rate``.

    Parameters
    ----------
    value : path, array, tensor or dict
    target_rate : int
        The processor's sampling rate.
    default_rate : int, optional
        The rate of bare arrays.
    row : any
        The row id, for the error message.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    soxr = require("soxr", feature="Resampling audio")
    try:
        source = _audio_file(value)
        if source is not None:
            array, rate = _decode(source)
        else:
            array, rate = _array_and_rate(value, default_rate)
            rate = _need_rate(rate)
        mono = _to_mono(np.asarray(array, dtype=np.float32))
        if mono.size == 0:
            raise ValueError("the audio is empty")
        if not np.isfinite(mono).all():
            raise ValueError("the audio contains NaN or Inf")
        if rate != target_rate:
            mono = soxr.resample(mono, rate, target_rate)
    except MediaError:
        raise
    except Exception as exc:
        raise _fail(row, value, "audio", exc) from None
    return np.ascontiguousarray(mono, dtype=np.float32)


# ----------------------------------------------------------------------------
# images
# ----------------------------------------------------------------------------


def _image_source(value: Any) -> Any:
    path = _path_of(value)
    if path is not None:
        return path
    if isinstance(value, dict) and value.get("bytes") is not None:
        return io.BytesIO(value["bytes"])
    return None


def check_image(value: Any, *, row: Any = None) -> None:
    """Fail early (header only) on a cell that is not an image."""
    Image = require("PIL.Image", feature="Reading images")

    try:
        source = _image_source(value)
        if source is not None:
            with Image.open(source) as image:
                image.size  # noqa: B018 - reading the header is the check
        elif not isinstance(value, Image.Image):
            array = np.asarray(value)
            if array.ndim not in (2, 3) or array.dtype == object:
                raise ValueError(f"an image array must be H × W or H × W × C; got shape {array.shape}")
    except Exception as exc:
        raise _fail(row, value, "image", exc) from None


def read_image(value: Any, *, row: Any = None):
    """One cell as an RGB PIL image."""
    Image = require("PIL.Image", feature="Reading images")

    try:
        source = _image_source(value)
        if source is not None:
            with Image.open(source) as opened:
                image = opened.convert("RGB")
        elif isinstance(value, Image.Image):
            image = value.convert("RGB")
        else:
            array = np.asarray(value)
            if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
                array = np.moveaxis(array, 0, -1)  # channels first
            if array.dtype != np.uint8:
                array = np.clip(np.asarray(array, dtype=np.float64), 0.0, 1.0)
                array = np.round(array * 255).astype(np.uint8)
            if array.ndim == 3 and array.shape[-1] == 1:
                array = array[..., 0]
            image = Image.fromarray(array).convert("RGB")
    except Exception as exc:
        raise _fail(row, value, "image", exc) from None
    return image


# ----------------------------------------------------------------------------
# content digest, for cache keys
# ----------------------------------------------------------------------------


def _digest_value(digest: Any, value: Any) -> None:
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            stat = path.stat()
            digest.update(f"path:{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        except OSError:
            digest.update(f"missing:{path}".encode())
    elif isinstance(value, dict):
        for key in sorted(value):
            digest.update(str(key).encode())
            _digest_value(digest, value[key])
    elif isinstance(value, (bytes, bytearray)):
        digest.update(value)
    elif hasattr(value, "tobytes") and hasattr(value, "mode"):  # PIL image
        digest.update(f"pil:{value.mode}:{value.size}".encode())
        digest.update(value.tobytes())
    elif value is None or isinstance(value, (int, float)):
        digest.update(repr(value).encode())
    else:
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        array = np.ascontiguousarray(np.asarray(value))
        digest.update(f"array:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())


def media_digest(values: Iterable[Any]) -> str:
    """A content hash of a media column: files by path, size and mtime; arrays and images by bytes."""
    digest = hashlib.blake2b(digest_size=16)
    for value in values:
        _digest_value(digest, value)
        digest.update(b"\x1e")
    return digest.hexdigest()
