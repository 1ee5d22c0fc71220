"""A plotly graph in the page: what it drew, where its points are, and the mouse on it.

Reads plotly's own state on the graph ``div`` (``gd._fullData``,
``gd._fullLayout``): how many points each trace holds, and each point's pixel
position from the axes (``_offset + d2p``), so the mouse can be put on a
point or a box drawn around chosen points exactly as a person would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_TRACES = """gd => gd._fullData.map(t => ({
  type: t.type, name: t.name, visible: t.visible,
  n: t.x ? t.x.length : 0,
  finite: t.x ? Array.from(t.x).filter((x, i) => Number.isFinite(x) && Number.isFinite(t.y[i])).length : 0,
}))"""

# Viewport pixels of every point of one trace, and the plot area they fall in.
_PIXELS = """(gd, trace) => {
  const t = gd._fullData[trace], full = gd._fullLayout;
  const xa = full[t.xaxis.replace(/^x/, 'xaxis')], ya = full[t.yaxis.replace(/^y/, 'yaxis')];
  const box = gd.getBoundingClientRect();
  const x0 = box.left + xa._offset, y0 = box.top + ya._offset;
  return {
    points: Array.from(t.x, (x, i) => [x0 + xa.d2p(x), y0 + ya.d2p(t.y[i])]),
    area: [x0, y0, x0 + xa._length, y0 + ya._length],
  };
}"""

# Whether the WebGL canvas of a scattergl plot has drawn anything (a non-blank pixel).
_GL_DRAWN = """gd => {
  for (const canvas of gd.querySelectorAll('canvas')) {
    const gl = canvas.getContext('webgl', {preserveDrawingBuffer: true}) || canvas.getContext('webgl2');
    if (!gl) continue;
    const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, pixels = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  }
  return false;
}"""


class Plot:
    """One plotly graph ``div`` (``.js-plotly-plot``) in a Playwright page.

    ``settle`` (optional) is called where a person's hand would pause: after
    reaching the start of a drag, before releasing it, before a double
    click. A widget needs it: ipywidgets merges the state updates a view
    makes while its previous one is still unanswered, and plotly's
    FigureWidget reports hover, unhover and selection through one trait, so
    a selection made within one kernel round trip of a hover can be
    overwritten by the unhover that follows it and never reach Python.
    """

    def __init__(self, page: Any, graph: Any, settle: Callable[[], None] | None = None) -> None:
        self.page, self.graph = page, graph  # graph: a Locator of the div
        self._settle = settle or (lambda: None)

    def traces(self) -> list[dict]:
        """``{type, name, visible, n, finite}`` per trace, as plotly holds it."""
        return self.graph.evaluate(_TRACES)

    def pixels(self, trace: int = 0) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """Viewport pixel ``(x, y)`` of every point of ``trace`` (n × 2) and the plot area ``(x0, y0, x1, y1)``."""
        self.graph.scroll_into_view_if_needed()
        found = self.graph.evaluate(_PIXELS, trace)
        for _ in range(20):  # wait out a relayout (a resize, a scroll) in progress: two reads agree
            self.page.wait_for_timeout(150)
            again = self.graph.evaluate(_PIXELS, trace)
            if again == found:
                break
            found = again
        return np.asarray(found["points"], dtype=float).reshape(-1, 2), tuple(found["area"])

    def webgl_drawn(self) -> bool:
        """Whether a WebGL canvas of the plot has any pixel drawn."""
        return bool(self.graph.evaluate(_GL_DRAWN))

    def tool(self, value: str) -> None:
        """Click the modebar button that sets the drag mode (``"select"`` box, ``"lasso"``, ``"zoom"``...)."""
        self.graph.hover()  # the modebar shows on hover
        self.graph.locator(f'.modebar-btn[data-attr="dragmode"][data-val="{value}"]').click()

    def drag_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Press at one corner, move to the other in steps, release: a box selection."""
        mouse = self.page.mouse
        mouse.move(x0, y0)
        self._settle()
        mouse.down()
        mouse.move(x1, y1, steps=12)
        self._settle()
        mouse.up()

    def drag_lasso(self, polygon: np.ndarray) -> None:
        """Press at the first vertex, pass through the others, release near where it started."""
        mouse = self.page.mouse
        mouse.move(*polygon[0])
        self._settle()
        mouse.down()
        for x, y in polygon[1:]:
            mouse.move(x, y, steps=4)
        mouse.move(*polygon[0], steps=4)
        self._settle()
        mouse.up()

    def hover_point(self, pixel: np.ndarray) -> None:
        mouse = self.page.mouse
        mouse.move(pixel[0] - 6, pixel[1] - 6)  # arrive from nearby, as a hand does: plotly hovers on mouse moves
        mouse.move(pixel[0], pixel[1], steps=3)

    def hover_label(self) -> str:
        """The text of the hover label shown now, its lines joined by spaces ("" when none)."""
        return self.graph.evaluate(
            """gd => {
              const text = gd.querySelector('.hoverlayer .hovertext text');
              if (!text) return '';
              const lines = text.querySelectorAll('tspan.line');
              return lines.length ? Array.from(lines, l => l.textContent).join(' ') : text.textContent;
            }"""
        )

    def double_click(self, x: float, y: float) -> None:
        """A double click: in select and lasso modes, plotly clears the selection."""
        self.page.mouse.move(x, y)
        self._settle()
        self.page.mouse.dblclick(x, y)


def clear_box(pixels: np.ndarray, area: tuple, *, want: tuple[int, int] = (8, 40), margin: float = 4.0):
    """A box around a group of points whose edges pass no point closer than ``margin`` pixels.

    Searches boxes centred on points, growing, for one holding between
    ``want[0]`` and ``want[1]`` points with no point near an edge (so which
    points fall inside does not depend on rounding). Returns
    ``(x0, y0, x1, y1), inside`` (``inside``: sorted point indices), or None.
    """
    x_lo, y_lo, x_hi, y_hi = area
    finite = np.isfinite(pixels).all(axis=1)
    centre = np.array([(x_lo + x_hi) / 2, (y_lo + y_hi) / 2])
    order = np.argsort(np.linalg.norm(pixels - centre, axis=1))  # central groups first: clear of the modebar
    for seed in order[finite[order]]:
        for half in np.arange(10.0, min(x_hi - x_lo, y_hi - y_lo) / 3, 3.0):
            x0, y0 = pixels[seed] - half
            x1, y1 = pixels[seed] + half
            if x0 < x_lo + margin or y0 < y_lo + margin or x1 > x_hi - margin or y1 > y_hi - margin:
                break
            near = finite & (pixels[:, 0] > x0 - margin) & (pixels[:, 0] < x1 + margin)
            near &= (pixels[:, 1] > y0 - margin) & (pixels[:, 1] < y1 + margin)
            inside = finite & (pixels[:, 0] > x0 + margin) & (pixels[:, 0] < x1 - margin)
            inside &= (pixels[:, 1] > y0 + margin) & (pixels[:, 1] < y1 - margin)
            if (near != inside).any():
                continue  # a point sits on an edge
            if inside.sum() > want[1]:
                break
            if inside.sum() >= want[0]:
                return (x0, y0, x1, y1), np.flatnonzero(inside)
    return None


def lonely_point(pixels: np.ndarray, area: tuple, *, room: float = 12.0, prefer: np.ndarray | None = None) -> int:
    """Index of a point at least ``room`` pixels from every other (so a hover finds it and no other).

    Among such points, one where the boolean mask ``prefer`` is true if there
    is any, and of those the nearest the plot's centre.
    """
    x_lo, y_lo, x_hi, y_hi = area
    distances = np.linalg.norm(pixels[:, None] - pixels[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    inside = (pixels[:, 0] > x_lo + room) & (pixels[:, 0] < x_hi - room) & (pixels[:, 1] > y_lo + room) & (pixels[:, 1] < y_hi - room)
    lonely = inside & (distances.min(axis=1) >= room)
    if prefer is not None and (lonely & prefer).any():
        lonely &= prefer
    candidates = np.flatnonzero(lonely)
    if candidates.size == 0:
        raise LookupError(f"no point is {room} px from all others")
    centre = np.array([(x_lo + x_hi) / 2, (y_lo + y_hi) / 2])
    return int(candidates[np.argmin(np.linalg.norm(pixels[candidates] - centre, axis=1))])
