"""The Explorer's colours: what it colours by, and redrawing only what changed.

:class:`ExplorerColors` is the part of :class:`~workbench.widgets.Explorer`
that turns its ``color`` trait into pixels: it validates the trait into a
colour option's name (registering arrays, Series and callables on the way),
encodes the option per pane (cached by what it depends on: nothing, the
layer, or the map), keeps the colour menu and the legend search in step with
the options, and resends colours only for the panes whose colours changed.

It is a mixin: the class using it is the Explorer, which holds ``options``
(a :class:`~workbench.widgets.options.ColorOptions`), the figure, the
controls and the ``_guarded`` runner that reports a failure under the map.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import traitlets

from workbench.geometry.views import neighbor_preservation as neighbour_preservation
from workbench.widgets.colors import ColorEncoding, encode_colors

__all__ = ["ColorSpec", "ExplorerColors", "same_colors"]


def same_colors(a: ColorEncoding, b: ColorEncoding) -> bool:
    """Whether two encodings draw the same colours (so a pane need not be resent).

    Examples
    --------
    >>> from workbench.widgets.colors import encode_colors
    >>> same_colors(encode_colors(["a", "b"], "x"), encode_colors(["a", "b"], "y"))
    True
    >>> same_colors(encode_colors(["a", "b"], "x"), encode_colors(["b", "a"], "x"))
    False
    """
    return (
        a is b
        or a.kind == b.kind
        and a.categories == b.categories
        and (a.vmin, a.vmax) == (b.vmin, b.vmax)
        and np.array_equal(a.values, b.values, equal_nan=True)
    )


class ColorSpec(traitlets.TraitType):
    """Anything ``color=`` takes (None included), validated by the Explorer into an option's name."""

    info_text = "a colour option's name, a meta column, an array, a Series, a callable or None"


class ExplorerColors:
    """Colour handling of the Explorer: the ``color`` trait's validation, encodings, recolouring, menu and search."""

    @traitlets.validate("color")
    def _valid_color(self, proposal: dict) -> str:
        spec = proposal["value"]
        fresh = not (isinstance(spec, str) and spec in self.options.names)
        name = self.options.resolve(spec)  # registers an array, Series or callable as an option
        if fresh and self._built:
            self._registered(name)
        return name

    def _registered(self, name: str) -> None:
        """A colour option was added or replaced: offer it, and redraw it if it is the one shown."""
        self._encodings = {key: value for key, value in self._encodings.items() if key[0] != name}
        self._refresh_color_menu()
        if self.color == name:  # no change event will come: recolour here
            self._guarded(self._recolor, f"colouring by {name}")

    @property
    def encoding(self) -> ColorEncoding:
        """The colour encoding shown (on the first pane)."""
        return self._shown[0]

    def _encoding(self, key: Any) -> ColorEncoding:
        option = self.options[self.color]
        cache_key = (
            self.color,
            key if option.depends else None,
            self.method if option.depends == "map" else None,
        )
        if cache_key not in self._encodings:
            values = self.options.values(self.color, self._layers[key], key, lambda: self._preservation(key))
            self._encodings[cache_key] = encode_colors(values, self.color, kind=option.kind)
        return self._encodings[cache_key]

    def _pane_encodings(self) -> list[ColorEncoding]:
        """The colours of every pane; numeric ones share one range, so one colour bar reads them all."""
        encodings = [self._encoding(key) for key in self._panes]
        if encodings[0].kind == "numeric" and len({id(e) for e in encodings}) > 1:
            low = min(e.vmin for e in encodings)
            high = max(e.vmax for e in encodings)
            encodings = [replace(e, vmin=low, vmax=high) for e in encodings]
        return encodings

    def _preservation(self, key: Any) -> np.ndarray:
        k = min(self._k, len(self.meta) - 1)
        return neighbour_preservation(self._layers[key], self._view(key).coords, k=k, metric=self._metric)

    def _show_search(self, encoding: ColorEncoding) -> None:
        self.legend_search.layout.display = None if encoding.kind == "categorical" else "none"

    def _recolor(self) -> None:
        """Draw the current colour option; panes whose colours did not change are not resent."""
        encodings = self._pane_encodings()
        self._highlight = encodings[0].matching(self.legend_search.value)
        if self._browser:
            depends = self.options[self.color].depends
            with self._figure.batch_update():
                for pane, (key, encoding) in enumerate(zip(self._panes, encodings)):
                    self._figure.show_colors(pane, self.color, self.layers.index(key) if depends else None, encoding)
        else:
            with self.figure.batch_update():
                for pane, (shown, encoding) in enumerate(zip(self._shown, encodings)):
                    if not same_colors(shown, encoding):
                        self._figure.set_colors(pane, encoding, self._highlight)
        self._shown = encodings
        self.legend.value = encodings[0].legend_html(self.legend_search.value)
        self._show_search(encodings[0])

    def _show_color(self, change: dict) -> None:
        self._refresh_color_menu()
        self.color_menu.unobserve(self._on_color_control, "value")
        try:
            self.color_menu.value = change["new"]
        finally:
            self.color_menu.observe(self._on_color_control, "value")
        self._guarded(self._recolor, f"colouring by {change['new']}")

    def _on_color_control(self, change: dict) -> None:
        self.color = change["new"]

    def _on_search(self, change: dict) -> None:
        encoding = self._shown[0]
        if encoding.kind != "categorical":
            return
        highlight = encoding.matching(change["new"])
        if self._browser:
            self._figure.search = change["new"]
        elif highlight != self._highlight:
            self._highlight = highlight
            with self.figure.batch_update():
                for pane, shown in enumerate(self._shown):
                    self._figure.set_colors(pane, shown, highlight, colorscale_only=True)
        self.legend.value = encoding.legend_html(change["new"])

    def add_color(self, name: str, source: Any, *, show: bool = True) -> None:
        """Add (or replace) a colour option: a column, an array, a Series or a callable ``space -> array``."""
        self.options.add(name, source)
        self._registered(name)
        if show:
            self.color = name

    def _refresh_color_menu(self) -> None:
        """New dropdown entries, keeping the shown one (new options would select the first)."""
        if self._browser:
            self._figure.color_names = self.options.names
        if list(self.color_menu.options) == self.options.names:
            return
        current = self.color_menu.value
        self.color_menu.unobserve(self._on_color_control, "value")
        try:
            self.color_menu.options = self.options.names
            self.color_menu.value = current
        finally:
            self.color_menu.observe(self._on_color_control, "value")

