"""One browser map or a grid of them, driven by the Explorer through one interface.

A single map holds every layer and switches among them itself; a grid holds one
map per pane, each fixed to its layer, laid out in a CSS grid that uses the
page's width. The panes of a grid share one control group (projection, colour,
legend search) and one link group (selection and hovered row, by id), so a grid
stays linked in a report where no kernel runs. :meth:`BrowserPanes.join`
puts several Explorers' maps in one link group: that is how ``link(a, b)``
keeps working without a kernel.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

import ipywidgets as widgets
import numpy as np

from workbench.widgets.browser_map import BrowserMap
from workbench.widgets.colors import ColorEncoding

__all__ = ["BrowserPanes"]


class BrowserPanes:
    """The browser maps of one Explorer.

    Parameters
    ----------
    maps : list of BrowserMap
        One map (holding every layer) or one per grid pane (one layer each).
    cols : int
        Panes per row of a grid.

    Examples
    --------
    >>> panes = BrowserPanes([BrowserMap(["3"], [("pca", "PCA")], ids=range(2), texts=["a", "b"]) for _ in range(2)])
    >>> first, second = panes.maps
    >>> first.control_group == second.control_group != "", first.link_group == second.link_group
    (True, True)
    """

    def __init__(self, maps: Sequence[BrowserMap], cols: int = 3) -> None:
        if not maps:
            raise ValueError("BrowserPanes needs at least one map")
        self.maps = list(maps)
        self.grid = len(self.maps) > 1
        #: ``row -> {kind: bytes}`` for rows whose media the page does not hold: sent as each is shown.
        self.media_source: Callable[[int], dict[str, bytes]] | None = None
        self.own_group = uuid.uuid4().hex
        for pane, view in enumerate(self.maps):
            view.pane = pane
            view.link_group = self.own_group
            view.control_group = self.own_group if self.grid else ""
        if self.grid:
            columns = max(1, min(int(cols), len(self.maps)))
            self.widget = widgets.GridBox(
                self.maps,
                layout=widgets.Layout(grid_template_columns=f"repeat({columns}, minmax(0, 1fr))", grid_gap="12px", width="100%"),
            )
        else:
            self.widget = self.maps[0]

    def _index(self, layer: int | None) -> int | None:
        # a grid pane holds its one layer at index 0
        return None if layer is None else 0 if self.grid else layer

    @contextmanager
    def batch_update(self) -> Iterator[None]:
        with ExitStack() as stack:
            for view in self.maps:
                stack.enter_context(view.hold_sync())
            yield

    def add_map(self, pane: int, method: str, layer: int, coords: np.ndarray) -> None:
        self.maps[pane].add_map(method, self._index(layer), coords)

    def show_map(self, pane: int, method: str, layer: int, coords: np.ndarray) -> None:
        self.maps[pane].show_map(method, self._index(layer), coords)

    def add_title(self, pane: int, method: str, layer: int, title: str) -> None:
        self.maps[pane].add_title(method, self._index(layer), title)

    def set_titles(self, titles: Sequence[str]) -> None:
        for view, title in zip(self.maps, titles):
            view.set_titles([title])

    def add_colors(self, name: str, encoding: ColorEncoding) -> None:
        """A colour option that is the same on every layer, for every pane."""
        for view in self.maps:
            view.add_colors(name, None, encoding)

    def show_colors(self, pane: int, name: str, layer: int | None, encoding: ColorEncoding) -> None:
        self.maps[pane].show_colors(name, self._index(layer), encoding)

    def coords_of(self, pane: int = 0) -> np.ndarray:
        return self.maps[pane].coords_of()

    def set_selection(self, selection: np.ndarray | None) -> None:
        for view in self.maps:
            view.set_selection(selection)

    def set_focus(self, position: int | None) -> None:
        media = self.media_source(position) if self.media_source is not None and position is not None else None
        for view in self.maps:
            view.set_focus(position)
            if media:
                view.send_media(position, media)

    @property
    def search(self) -> str:
        return self.maps[0].search

    @search.setter
    def search(self, value: str) -> None:
        for view in self.maps:
            view.search = value

    @property
    def color_names(self) -> list[str]:
        return self.maps[0].color_names

    @color_names.setter
    def color_names(self, names: list[str]) -> None:
        for view in self.maps:
            view.color_names = list(names)

    def join(self, group: str | None) -> None:
        """Share selection and hover with every map in ``group`` (``None``: only this Explorer's own maps)."""
        for view in self.maps:
            view.link_group = group or self.own_group
