"""The Explorer's map when the browser owns the interaction (``Explorer(..., renderer="browser")``).

:class:`BrowserMap` is an anywidget whose front end (``static/browser_map.js``,
a plain file, the same bytes for every map, so a page or report carries it
once) holds what the controls need as binary buffers:

``coords``  ``{"<method>/<layer index>": float32 x,y pairs}``, every map computed so far
``colors``  ``{name: {kind, categories, palette, counts, vmin, vmax,
            values: {"*" or "<layer index>": int32 codes or float32 values}}}``
``ids``, ``texts``  NUL-separated UTF-8 of the rows' ids and hover texts
``selected``  int32 row positions; ``hovered`` a row position or -1
``anchors``  int32 row positions drawn as anchors (diamonds) on every map

and switches layer, projection, colour, legend search, hover/click panel and
lasso itself, with or without a kernel. It answers to the same calls as
:class:`~workbench.widgets.figure.MapFigure` (one pane), so the Explorer
drives either one; what the browser asks for that is not computed yet (a
projection, a colour from a callable) reaches the Explorer through
:meth:`BrowserMap.on_request`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from workbench.widgets.colors import ColorEncoding
from workbench.widgets.transport import float32, int32

__all__ = ["BrowserMap", "STATIC", "MEDIA_ROWS", "NEEDS_KERNEL", "NEEDS_KERNEL_CLASS", "has_media", "media_buffers", "row_media"]

#: The front end's files: what a report may accept as this widget's code, byte for byte.
STATIC = Path(__file__).parent / "static"

#: What a control says where it would need Python to answer (the page's own words for it, too).
NEEDS_KERNEL = "needs a running kernel"
#: The CSS class of a widget whose changes only Python can act on (the plotly Explorer's controls):
#: a report, which has no kernel, shows such a widget disabled, saying so, instead of pretending.
NEEDS_KERNEL_CLASS = "wb-needs-kernel"


def _joined(values: Sequence[Any]) -> bytes:
    """Strings as one NUL-separated UTF-8 buffer (one binary buffer instead of a JSON list)."""
    strings = ["" if value is None else value if type(value) is str else str(value) for value in values]
    joined = "\0".join(strings)
    if joined.count("\0") > max(len(strings) - 1, 0):  # a value holds a NUL itself: it would split in two
        joined = "\0".join(string.replace("\0", " ") for string in strings)
    return joined.encode("utf-8")


#: Up to this many rows, every row's thumbnail and audio go to the browser with the map (so a report
#: plays them); with more, the media would outweigh the map: a kernel sends each row's as it is shown.
MEDIA_ROWS = 2_000


def row_media(meta: Any, row: int, thumbnail: int = 128) -> dict[str, bytes]:
    """One row's picture (a PNG thumbnail) and sound, as bytes; what is missing or unreadable is left out.

    Examples
    --------
    >>> import pandas as pd
    >>> row_media(pd.DataFrame({"id": [0], "image": [None]}), 0)
    {}
    """
    from workbench.widgets.panel import MediaError, _is_missing, audio_bytes, image_thumbnail

    found: dict[str, bytes] = {}
    try:
        if "image" in meta.columns and not _is_missing(value := meta["image"].iloc[row]):
            found["image"] = image_thumbnail(value, thumbnail)
    except MediaError:
        pass  # said by the kernel's panel; the browser shows the text alone
    try:
        if "audio" in meta.columns and not _is_missing(value := meta["audio"].iloc[row]):
            rate = meta["sampling_rate"].iloc[row] if "sampling_rate" in meta.columns else None
            found["audio"] = audio_bytes(value, None if _is_missing(rate) else int(rate))[0]
    except MediaError:
        pass
    return found


def has_media(meta: Any) -> bool:
    """Whether the rows carry pictures or sounds for the panel."""
    return "image" in meta.columns or "audio" in meta.columns


def media_buffers(meta: Any, thumbnail: int = 128) -> dict:
    """``{"image": {row: PNG}, "audio": {row: WAV/...}}`` of the rows' media, as binary buffers.

    Rows whose media is missing or unreadable are left out (the browser then
    shows none); with more than :data:`MEDIA_ROWS` rows nothing is sent (see
    :meth:`BrowserMap.send_media`).
    """
    media: dict = {kind: {} for kind in ("image", "audio") if kind in meta.columns}
    if len(meta) > MEDIA_ROWS or not media:
        return {}
    for row in range(len(meta)):
        for kind, data in row_media(meta, row, thumbnail).items():
            media[kind][str(row)] = data
    return media


def encoding_state(encoding: ColorEncoding) -> dict:
    """What the browser needs of a colour encoding, values apart (they go per layer)."""
    return {
        "kind": encoding.kind,
        "categories": list(encoding.categories),
        "palette": list(encoding.colors),
        "counts": [int(c) for c in encoding.counts],
        "vmin": float(encoding.vmin),
        "vmax": float(encoding.vmax),
    }


def _values(encoding: ColorEncoding) -> bytes:
    if encoding.kind == "categorical":
        return int32(encoding.values).tobytes()
    return float32(encoding.values).tobytes()


class BrowserMap(anywidget.AnyWidget):
    """A 2-D map whose browser side switches among precomputed layers, projections and colours.

    Parameters
    ----------
    layers : list of str
        Labels of the layers, in slider order.
    methods : list of (value, label)
        Projections offered.
    ids, texts : sequence
        Each row's id and hover text (``texts`` empty: the panel shows the id alone).
    height : int
    point_size : float
    anchors : ndarray of int, optional
        Row positions drawn as anchors (diamonds).

    Examples
    --------
    >>> import numpy as np
    >>> view = BrowserMap(["0", "1"], [("pca", "PCA")], ids=range(3), texts=["a", "b", "c"])
    >>> view.add_map("pca", 1, np.zeros((3, 2), np.float32))
    >>> sorted(view.coords), len(view.coords["pca/1"])
    (['pca/1'], 24)
    """

    _esm = STATIC / "browser_map.js"
    _css = STATIC / "browser_map.css"

    n = traitlets.Int(0).tag(sync=True)
    layers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    methods = traitlets.List().tag(sync=True)
    method = traitlets.Unicode("pca").tag(sync=True)
    coords = traitlets.Dict().tag(sync=True)
    colors = traitlets.Dict().tag(sync=True)
    color_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    color = traitlets.Unicode("").tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    ids = traitlets.Bytes(b"").tag(sync=True)
    texts = traitlets.Bytes(b"").tag(sync=True)
    media = traitlets.Dict().tag(sync=True)
    selected = traitlets.Any(b"").tag(sync=True)
    #: Rows drawn as anchors of a relative view (int32 positions): diamonds on top of the points.
    anchors = traitlets.Bytes(b"").tag(sync=True)
    hovered = traitlets.Int(-1).tag(sync=True)
    titles = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(520).tag(sync=True)
    point_size = traitlets.Float(4.0).tag(sync=True)
    #: Maps of one page with the same link group share selection and hovered row, by id, in the browser.
    link_group = traitlets.Unicode("").tag(sync=True)
    #: Maps with the same control group (a grid's panes) also share projection, colour and legend search.
    control_group = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        layers: Sequence[str],
        methods: Sequence[tuple[str, str]],
        *,
        ids: Sequence[Any],
        texts: Sequence[Any],
        height: int | None = None,
        point_size: float | None = None,
        anchors: np.ndarray | None = None,
    ) -> None:
        ids = list(ids)
        super().__init__(
            n=len(ids),
            anchors=b"" if anchors is None else int32(anchors).tobytes(),
            layers=[str(layer) for layer in layers],
            methods=[list(entry) for entry in methods],
            ids=_joined(ids),
            texts=_joined(texts),
            height=height or 520,
            point_size=point_size or (5.0 if len(ids) <= 10_000 else 3.0 if len(ids) <= 100_000 else 1.5),
        )
        self.on_points: Callable[[str, int, np.ndarray], None] | None = None
        #: Which pane of a grid this map is (passed to ``on_points``).
        self.pane = 0
        self._requests: list[Callable[[str, Any], None]] = []
        self._current: np.ndarray | None = None
        self._python = 0  # > 0 while Python itself sets what the browser could also change
        self.on_msg(self._answer)
        self.observe(self._browser_changed, ["selected", "hovered", "layer", "method", "color", "search"])

    @contextmanager
    def _from_python(self) -> Iterator[None]:
        """Changes made here are not the browser's: they must not come back to the Explorer as events."""
        self._python += 1
        try:
            yield
        finally:
            self._python -= 1

    # -- what the Explorer calls (the MapFigure interface, one pane) --------

    @property
    def widget(self) -> BrowserMap:
        return self

    @contextmanager
    def batch_update(self) -> Iterator[None]:
        with self.hold_sync():
            yield

    def add_map(self, method: str, layer: int, coords: np.ndarray) -> None:
        """Give the browser one more computed map (a new dict: the whole trait is sent again)."""
        key = f"{method}/{layer}"
        data = float32(np.asarray(coords, np.float32)[:, :2]).tobytes()
        if self.coords.get(key) != data:
            self.coords = {**self.coords, key: data}

    def show_map(self, method: str, layer: int, coords: np.ndarray) -> None:
        """Show a map (adding it if the browser does not have it)."""
        self._current = np.asarray(coords, np.float32)
        with self.hold_sync(), self._from_python():
            self.add_map(method, layer, coords)
            self.method, self.layer = method, layer

    def coords_of(self, pane: int = 0) -> np.ndarray:
        return self._current

    def add_colors(self, name: str, layer: int | None, encoding: ColorEncoding) -> None:
        """Give the browser a colour option's values (``layer=None``: the same on every layer)."""
        entry = self.colors.get(name, {"values": {}})
        values = {**entry["values"], "*" if layer is None else str(layer): _values(encoding)}
        self.colors = {**self.colors, name: {**encoding_state(encoding), "values": values}}

    def show_colors(self, name: str, layer: int | None, encoding: ColorEncoding) -> None:
        with self.hold_sync(), self._from_python():
            self.add_colors(name, layer, encoding)
            self.color = name

    def set_selection(self, selection: np.ndarray | None) -> None:
        with self._from_python():
            self.selected = b"" if selection is None else int32(selection).tobytes()

    def set_focus(self, position: int | None) -> None:
        with self._from_python():
            self.hovered = -1 if position is None else int(position)

    def set_titles(self, titles: list[str]) -> None:
        """The line under the map shown now (``titles[0]``; one pane)."""
        self.add_title(self.method, self.layer, titles[0] if titles else "")

    def send_media(self, row: int, media: dict[str, bytes]) -> None:
        """One row's picture and sound, for a map whose page does not hold them (over :data:`MEDIA_ROWS` rows)."""
        kinds = sorted(media)
        self.send({"type": "media", "row": int(row), "kinds": kinds}, [media[kind] for kind in kinds])

    def add_title(self, method: str, layer: int, title: str) -> None:
        """The line under a map, shown whenever the browser shows that map."""
        key = f"{method}/{layer}"
        if self.titles.get(key) != title:
            self.titles = {**self.titles, key: title}

    def on_request(self, callback: Callable[[str, Any], None]) -> None:
        """Call ``callback(name, value)`` when the browser changes layer, method, colour or search."""
        self._requests.append(callback)

    # -- what the browser says ----------------------------------------------

    def _answer(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            self.send({"type": "pong"})  # a kernel is here: choices it can compute are offered

    def _browser_changed(self, change: dict) -> None:
        if self._python:
            return
        name, new = change["name"], change["new"]
        if name == "selected":
            positions = np.frombuffer(bytes(new or b""), dtype=np.int32).astype(np.int64)
            if self.on_points is not None:
                self.on_points("select" if positions.size else "deselect", self.pane, positions)
        elif name == "hovered":
            if new >= 0 and self.on_points is not None:
                self.on_points("hover", self.pane, np.asarray([new]))
        else:
            for callback in list(self._requests):
                callback(name, new)
