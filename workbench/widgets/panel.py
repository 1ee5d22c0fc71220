"""The side panel: what one row is, in its own modality.

Hovering or clicking a point shows its row: the text, an image thumbnail, an
audio player (which plays on hover when ``autoplay`` is on), and the other
meta fields. Every user string is HTML-escaped. A media path that does not
exist, or that cannot be read, is shown as ``missing: <path>`` (or
``unreadable: ...``) instead of raising.

Media values follow the dataset schema (:mod:`workbench.datasets.schema`):
``image`` is a path, a PIL image, an array (H×W or H×W×C) or encoded bytes;
``audio`` is a path, a 1-D array (sampling rate from a ``sampling_rate``
column, else 16 kHz), a Hugging Face audio dict (``{"array",
"sampling_rate"}`` or ``{"path"}``), or encoded bytes.
"""

from __future__ import annotations

import html
import io
import os
import wave
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from workbench.media import MediaError  # the one MediaError: a panel shows the same failures the encoders raise

__all__ = ["RowPanel", "image_thumbnail", "audio_bytes"]

#: Sampling rate assumed for audio arrays without one.
DEFAULT_SAMPLING_RATE = 16_000
_MEDIA = ("text", "image", "audio")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _path_of(value: Any) -> Path | None:
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    if isinstance(value, dict) and value.get("path") and value.get("array") is None and not value.get("bytes"):
        return Path(value["path"])
    return None


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise MediaError(f"missing: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MediaError(f"unreadable: {path} ({exc.strerror or exc})") from None


def image_thumbnail(value: Any, size: int = 192) -> bytes:
    """PNG bytes of an image value scaled to fit ``size``×``size``.

    Raises
    ------
    MediaError
        ``missing: <path>`` or ``unreadable: ...`` with what went wrong.
    """
    from workbench.extras import require

    pil = require("PIL.Image", feature="image thumbnails in the Explorer")
    path = _path_of(value)
    try:
        if path is not None:
            image = pil.open(io.BytesIO(_read(path)))
        elif isinstance(value, dict) and value.get("bytes"):
            image = pil.open(io.BytesIO(value["bytes"]))
        elif isinstance(value, (bytes, bytearray)):
            image = pil.open(io.BytesIO(bytes(value)))
        elif isinstance(value, pil.Image):
            image = value
        else:
            array = np.asarray(value)
            if array.dtype.kind == "f":
                array = (np.clip(array, 0, 1) * 255).astype(np.uint8)
            image = pil.fromarray(array)
        image = image.copy()
        image.thumbnail((size, size))
        if image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    except MediaError:
        raise
    except Exception as exc:  # any decoder error: show it in the panel, never crash the widget
        where = path if path is not None else type(value).__name__
        raise MediaError(f"unreadable: {where} ({exc})") from None


def _wav(samples: np.ndarray, rate: int) -> bytes:
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 2:  # (channels, time) or (time, channels): mix down
        samples = samples.mean(axis=0 if samples.shape[0] < samples.shape[1] else 1)
    if samples.ndim != 1:
        raise MediaError(f"unreadable: audio array of shape {samples.shape}")
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > 1.0:
        samples = samples / peak
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(int(rate))
        file.writeframes(pcm.tobytes())
    return out.getvalue()


def audio_bytes(value: Any, sampling_rate: int | None = None) -> tuple[bytes, str]:
    """``(encoded bytes, format)`` of an audio value, ready for ``ipywidgets.Audio``.

    Raises
    ------
    MediaError
        ``missing: <path>`` or ``unreadable: ...``.
    """
    path = _path_of(value)
    if path is not None:
        return _read(path), (path.suffix.lstrip(".").lower() or "wav")
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"]), "wav"
        if value.get("array") is not None:
            return _wav(value["array"], value.get("sampling_rate") or sampling_rate or DEFAULT_SAMPLING_RATE), "wav"
        raise MediaError(f"unreadable: audio dict with keys {sorted(value)}")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "wav"
    return _wav(value, sampling_rate or DEFAULT_SAMPLING_RATE), "wav"


class RowPanel(widgets.VBox):
    """A panel that shows one row of a table: text, image, audio, fields.

    Parameters
    ----------
    meta : DataFrame
        The rows (with an ``id`` column).
    autoplay : bool
        Start the audio as soon as a row is shown (so hovering plays it).
    thumbnail : int
        Largest side of image thumbnails, in pixels.
    max_chars : int
        Longest text shown.
    media : bool
        Load and show the row's picture and sound. False where the page shows
        them itself (the browser map's panel): the kernel then neither reads
        them nor sends them to a panel nobody sees.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = RowPanel(pd.DataFrame({"id": [1], "text": ["<b>hi</b>"]}))
    >>> panel.show(0)
    >>> "&lt;b&gt;hi&lt;/b&gt;" in panel.body.value
    True
    """

    def __init__(
        self,
        meta: pd.DataFrame,
        *,
        autoplay: bool = True,
        thumbnail: int = 192,
        max_chars: int = 2000,
        media: bool = True,
    ) -> None:
        self.meta = meta
        self.media = media
        self.autoplay = autoplay
        self.thumbnail = thumbnail
        self.max_chars = max_chars
        self.position: int | None = None
        self.header = widgets.HTML(layout=widgets.Layout(margin="0"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width=f"{thumbnail}px"))
        self.audio = widgets.Audio(format="wav", autoplay=autoplay, loop=False, layout=widgets.Layout(width="100%"))
        self.body = widgets.HTML()
        # The media widgets join the panel with their first value: an empty
        # ipywidgets.Audio gives the page an empty blob: URL, which Chromium
        # reports as a failed load (a console error) on every Explorer.
        super().__init__(
            [self.header, self.body],
            layout=widgets.Layout(width="280px", min_width="220px", padding="4px 8px", overflow="auto"),
        )
        self.add_class("wb-panel")
        self.clear()

    def clear(self) -> None:
        """Show the hint instead of a row."""
        self.position = None
        self.header.value = '<div class="wb-panel-hint">hover or click a point</div>'
        self.body.value = ""
        _hide(self.image)
        _hide(self.audio)

    def show(self, position: int, how: str = "hovered") -> None:
        """Show the row at ``position`` (a row number, not an id)."""
        row = self.meta.iloc[int(position)]
        self.position = int(position)
        notes: list[str] = []
        self.header.value = (
            f'<div class="wb-panel-head"><b>{html.escape(str(row["id"]))}</b>'
            f' <span class="wb-panel-how">{html.escape(how)}</span></div>'
        )
        self._show_image(row, notes)
        self._show_audio(row, notes)
        parts = [f'<div class="wb-panel-missing">{html.escape(note)}</div>' for note in notes]
        if "text" in row.index and not _is_missing(row["text"]):
            text = str(row["text"])
            if len(text) > self.max_chars:
                text = text[: self.max_chars] + "…"
            parts.append(f'<div class="wb-panel-text">{html.escape(text)}</div>')
        fields = [
            f"<tr><th>{html.escape(str(name))}</th><td>{html.escape(_short(value))}</td></tr>"
            for name, value in row.items()
            if name not in ("id", *_MEDIA)
        ]
        if fields:
            parts.append(f'<table class="wb-panel-fields">{"".join(fields)}</table>')
        self.body.value = "".join(parts)

    def _show_image(self, row: pd.Series, notes: list[str]) -> None:
        value = row.get("image")
        if not self.media or "image" not in row.index or _is_missing(value):
            _hide(self.image)
            return
        try:
            self.image.value = image_thumbnail(value, self.thumbnail)
            self._place(self.image)
        except MediaError as exc:
            notes.append(f"image {exc}")
            _hide(self.image)

    def _show_audio(self, row: pd.Series, notes: list[str]) -> None:
        value = row.get("audio")
        if not self.media or "audio" not in row.index or _is_missing(value):
            _hide(self.audio)
            return
        rate = row.get("sampling_rate")
        try:
            data, kind = audio_bytes(value, None if _is_missing(rate) else int(rate))
            self.audio.format = kind
            self.audio.value = data
            self._place(self.audio)
        except MediaError as exc:
            notes.append(f"audio {exc}")
            _hide(self.audio)

    def _place(self, media: widgets.DOMWidget) -> None:
        """Show a media widget that now has a value, adding it to the panel the first time."""
        if media not in self.children:
            order = [self.header, self.image, self.audio, self.body]
            self.children = [child for child in order if child in (*self.children, media)]
        _hide(media, False)


def _hide(widget: widgets.DOMWidget, hidden: bool = True) -> None:
    widget.layout.display = "none" if hidden else None


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, np.ndarray):
        return f"array {value.shape}"
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
