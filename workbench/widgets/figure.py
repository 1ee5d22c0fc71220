"""The plotly side of the Explorer: one FigureWidget, one or more panes.

A pane is one map (a layer, a model...) in its own subplot. Every pane has
four traces, always in this order, so a trace index says what it is:

``points``   all rows, WebGL (``scattergl``; ``scatter3d`` in 3-D)
``anchors``  the rows drawn as anchors (relative views), distinct markers
``chosen``   3-D only: the selected rows drawn on top (plotly's 3-D traces
             cannot dim unselected points, 2-D ones use ``selectedpoints``)
``focus``    one ring around the row hovered in a linked view

Each setter sends only the property it changes (see
:mod:`workbench.widgets.transport`): new coordinates do not resend colours,
new colours do not resend coordinates, highlighting a category sends a
colorscale, a selection sends int32 row numbers.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from workbench.widgets.colors import ColorEncoding
from workbench.widgets.transport import float32, int32, share_state

__all__ = ["MapFigure", "MapWidget", "ROLES"]

ROLES = ("points", "anchors", "chosen", "focus")
_EVENTS = {"plotly_hover": "hover", "plotly_click": "click", "plotly_selected": "select", "plotly_deselect": "deselect"}
#: Opacity of the points outside a selection.
DIMMED_OPACITY = 0.12
_AXIS = {"showticklabels": False, "showgrid": False, "zeroline": False, "title": None}


def marker_size(n: int) -> float:
    """A point size that keeps 100 points legible and 100 000 points apart."""
    return 8.0 if n <= 1_000 else 5.0 if n <= 10_000 else 3.0 if n <= 100_000 else 2.0


def hover_texts(values: Sequence, width: int = 60, limit: int = 240) -> list[str]:
    """Hover labels: each value as text, escaped, cut at ``limit`` characters and wrapped at ``width``.

    They are the only per-point data that travels as JSON (strings have no
    typed array), so they stay lean: no markup beyond line breaks.
    """
    texts = []
    for value in values:
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        lines = textwrap.wrap(text, width) if len(text) > width else [text]
        # quote=False: plotly decodes &lt; &gt; &amp; and numeric entities in hover
        # labels but shows &quot; as it is, and quotes are harmless in its text
        texts.append("<br>".join(html.escape(line, quote=False) for line in lines))
    return texts


class MapWidget(go.FigureWidget):
    """A FigureWidget whose synced state is its live data (see :func:`~workbench.widgets.transport.share_state`).

    Displayed on its own, plotly's FigureWidget resends a copy of its data
    and keeps that copy as its state from then on; this one points the state
    back at the live data afterwards, so exports stay current.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        share_state(self)

    def _repr_mimebundle_(self, *args: Any, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(*args, **kwargs)
        share_state(self)
        return bundle


def _pane_marker(marker: dict, pane: int) -> dict:
    """One colour bar is enough: only the first pane shows it."""
    if pane and marker.get("showscale"):
        return {**marker, "showscale": False}
    return marker


class MapFigure:
    """A FigureWidget with one pane (subplot) per map, updated in place.

    Parameters
    ----------
    coords : list of ndarray of shape (n_samples, dims)
        One map per pane, rows in the same order.
    titles : list of str
    hover : list of str
        Hover label of every row.
    colors : list of ColorEncoding
        The colours of each pane.
    anchors : ndarray of int, optional
        Row positions drawn as anchors.
    on_points : callable(kind, pane, positions)
        Called with kind "hover", "click", "select" or "deselect", the pane
        and the row positions the browser reported (anchors mapped to their
        rows).
    """

    def __init__(
        self,
        coords: list[np.ndarray],
        titles: list[str],
        hover: list[str],
        colors: list[ColorEncoding],
        *,
        anchors: np.ndarray | None = None,
        on_points: Callable[[str, int, np.ndarray], None] | None = None,
        cols: int = 3,
        height: int | None = None,
        point_size: float | None = None,
    ) -> None:
        from plotly.subplots import make_subplots

        self.n_panes = len(coords)
        self.dims = coords[0].shape[1]
        self.n = coords[0].shape[0]
        self.anchors = np.asarray([] if anchors is None else anchors, dtype=np.int64)
        self.on_points = on_points
        self._coords = {pane: np.asarray(c, dtype=np.float32) for pane, c in enumerate(coords)}
        cols = min(cols, self.n_panes)
        rows = -(-self.n_panes // cols)
        kind = "scene" if self.dims == 3 else "xy"
        figure = make_subplots(
            rows=rows,
            cols=cols,
            subplot_titles=titles,
            specs=[[{"type": kind}] * cols for _ in range(rows)],
            horizontal_spacing=0.03,
            vertical_spacing=0.08 if rows > 1 else 0.02,
        )
        size = point_size or marker_size(self.n)
        for pane, pane_coords in enumerate(coords):
            row, col = pane // cols + 1, pane % cols + 1
            marker = {"size": size, "line": {"width": 0}, **_pane_marker(colors[pane].marker(), pane)}
            for trace in self._pane_traces(pane_coords, hover, marker, size):
                figure.add_trace(trace, row=row, col=col)
        self._configure_axes(figure)
        figure.update_layout(
            height=height or (520 if rows == 1 else 360 * rows),
            margin={"l": 10, "r": 10, "t": 40, "b": 10},
            showlegend=False,
            hovermode="closest",
            dragmode="lasso" if self.dims == 2 else "orbit",
            uirevision="workbench-explorer",  # keep the user's zoom across updates
            template="plotly_white",
        )
        self.widget = MapWidget(figure)
        self.widget.observe(self._on_browser_event, names="_js2py_pointsCallback")

    # -- construction ---------------------------------------------------------

    def _trace_type(self):
        return go.Scatter3d if self.dims == 3 else go.Scattergl

    def _xyz(self, coords: np.ndarray) -> dict:
        return dict(zip("xyz", (float32(coords[:, i]) for i in range(self.dims))))

    def _pane_traces(self, coords: np.ndarray, hover: list[str], marker: dict, size: float) -> list:
        trace = self._trace_type()
        template = "%{hovertext}<extra></extra>"
        points = trace(
            **self._xyz(coords),
            mode="markers",
            name="points",
            marker=marker,
            hovertext=hover,
            hovertemplate=template,
        )
        if self.dims == 2:
            points.update(unselected={"marker": {"opacity": DIMMED_OPACITY}}, selected={"marker": {"opacity": 1.0}})
        anchors = trace(
            **self._xyz(coords[self.anchors]),
            mode="markers",
            name="anchors",
            marker={"symbol": "diamond", "size": size * 2 + 4, "color": "#111111", "line": {"width": 1, "color": "#ffffff"}},
            hovertext=[hover[i] for i in self.anchors],
            hovertemplate="anchor · %{hovertext}<extra></extra>",
        )
        chosen = trace(
            **self._xyz(coords[:0]), mode="markers", name="selection", marker={"size": size + 1, "color": "#111111"}, hoverinfo="skip"
        )
        focus = trace(
            **self._xyz(coords[:0]),
            mode="markers",
            name="focus",
            marker={"symbol": "circle-open", "size": 18, "color": "#111111", "line": {"width": 2}},
            hoverinfo="skip",
        )
        return [points, anchors, chosen, focus]

    def _configure_axes(self, figure) -> None:
        if self.dims == 3:
            figure.update_scenes(
                xaxis=_AXIS | {"showbackground": False},
                yaxis=_AXIS | {"showbackground": False},
                zaxis=_AXIS | {"showbackground": False},
                aspectmode="data",
            )
            return
        figure.update_xaxes(**_AXIS)
        figure.update_yaxes(**_AXIS)
        for pane in range(self.n_panes):
            suffix = "" if pane == 0 else str(pane + 1)
            # equal units on both axes: a distance on the map means the same in every direction
            figure.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", scaleratio=1)

    def _on_browser_event(self, change: dict) -> None:
        """Hover, click, selection or deselection, as the browser reported it.

        Read from the event itself rather than through per-trace
        ``on_selection`` callbacks: plotly dispatches a selection to every
        trace and overwrites each trace's ``selectedpoints`` with that
        trace's own (often empty) points, which would wipe the selection
        from the other panes. This observer runs after plotly's handler, so
        the selection it sets on all panes is the one that stays.
        """
        event = change["new"]
        kind = _EVENTS.get((event or {}).get("event_type"))
        if kind is None or self.on_points is None:
            return
        points = event.get("points") or {}
        traces = np.asarray(points.get("trace_indexes") or [], dtype=np.int64)
        indices = np.asarray(points.get("point_indexes") or [], dtype=np.int64)
        panes, roles = np.divmod(traces, len(ROLES))
        is_point = roles == ROLES.index("points")
        is_anchor = roles == ROLES.index("anchors")
        positions = np.concatenate([indices[is_point], self.anchors[indices[is_anchor]]])
        if kind in ("hover", "click") and positions.size == 0:
            return
        pane = int(panes[is_point | is_anchor][0]) if positions.size else 0
        self.on_points(kind, pane, positions)

    # -- access ---------------------------------------------------------------

    def trace(self, pane: int, role: str):
        """The trace of one role (``"points"``, ``"anchors"``, ``"chosen"``, ``"focus"``) in a pane."""
        return self.widget.data[pane * len(ROLES) + ROLES.index(role)]

    # -- updates --------------------------------------------------------------

    def set_coords(self, pane: int, coords: np.ndarray, selection: np.ndarray | None, focus: int | None) -> None:
        """New map for one pane: x/y(/z) of its points, anchors, selection and focus."""
        axes = self._xyz(coords)
        with self.widget.batch_update():
            self.trace(pane, "points").update(axes)
            if self.anchors.size:
                self.trace(pane, "anchors").update(self._xyz(coords[self.anchors]))
            self._coords[pane] = np.asarray(coords, dtype=np.float32)
            self._draw_selection(pane, selection)
            self._draw_focus(pane, focus)

    def coords(self, pane: int) -> np.ndarray:
        """The map a pane shows, shape (n_samples, dims), float32."""
        return self._coords[pane]

    def set_colors(
        self, pane: int, encoding: ColorEncoding, highlight: set[str] | None = None, *, colorscale_only: bool = False
    ) -> None:
        """Recolour one pane; with ``colorscale_only`` the per-point values are not resent."""
        marker = encoding.marker(highlight)
        if colorscale_only:
            marker = {"colorscale": marker["colorscale"]} if "colorscale" in marker else {}
        self.trace(pane, "points").marker.update(_pane_marker(marker, pane))

    def set_selection(self, selection: np.ndarray | None) -> None:
        with self.widget.batch_update():
            for pane in range(self.n_panes):
                self._draw_selection(pane, selection)

    def _draw_selection(self, pane: int, selection: np.ndarray | None) -> None:
        points = self.trace(pane, "points")
        if self.dims == 2:
            points.selectedpoints = None if selection is None else int32(selection)
            # a browser lasso also marks the other traces: anchors and ring stay drawn in full
            for role in ("anchors", "focus"):
                self.trace(pane, role).selectedpoints = None
            return
        # 3-D: fade everything, redraw the chosen rows on top
        coords = self.coords(pane)
        chosen = coords[np.asarray([] if selection is None else selection, dtype=np.int64)]
        self.trace(pane, "chosen").update(self._xyz(chosen))
        points.marker.opacity = 1.0 if selection is None else 0.25

    def set_focus(self, position: int | None) -> None:
        with self.widget.batch_update():
            for pane in range(self.n_panes):
                self._draw_focus(pane, position)

    def _draw_focus(self, pane: int, position: int | None) -> None:
        rows = np.asarray([] if position is None else [position], dtype=np.int64)
        self.trace(pane, "focus").update(self._xyz(self.coords(pane)[rows]))

    def set_titles(self, titles: list[str]) -> None:
        with self.widget.batch_update():
            for annotation, title in zip(self.widget.layout.annotations, titles):
                annotation.text = title
