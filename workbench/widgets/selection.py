"""Selection, hover and the events that link explorers.

:class:`SelectionMixin` is the part of the :class:`~workbench.widgets.Explorer`
that deals in rows: which are selected (by id, by mask, by a lasso in the
browser), which one is hovered, and who is told about it. Selections are kept
as sorted row positions and shown on every pane; unselected points stay
visible, dimmed. Listeners receive ids plus an ``origin``, so a
:class:`~workbench.widgets.linking.Link` can pass an event on without it
echoing back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SelectionMixin"]


class SelectionMixin:
    """Rows selected and hovered, and their listeners.

    The class using it provides ``meta`` (the rows, with an ``id`` column),
    ``panel`` (a :class:`~workbench.widgets.panel.RowPanel`), ``_figure``
    (a :class:`~workbench.widgets.figure.MapFigure`), ``status`` and
    ``_status_html()``, and calls :meth:`_init_selection` first.
    """

    def _init_selection(self) -> None:
        self._selection: np.ndarray | None = None
        self._listeners: dict[str, list[Callable]] = {"select": [], "hover": []}

    @property
    def selected_ids(self) -> np.ndarray:
        """Ids of the selected rows (empty when nothing is selected)."""
        if self._selection is None:
            return self.meta["id"].to_numpy()[:0]
        return self.meta["id"].to_numpy()[self._selection]

    @property
    def selection(self) -> pd.DataFrame:
        """The selected rows of the meta table (empty when nothing is selected)."""
        rows = np.empty(0, np.int64) if self._selection is None else self._selection
        return self.meta.iloc[rows]

    def _positions(self, ids: Any, missing: str = "raise") -> np.ndarray:
        """Row positions of ids (or of a boolean mask), sorted and unique."""
        if isinstance(ids, (pd.Series, pd.Index)):
            ids = ids.to_numpy()
        array = np.asarray(ids) if not isinstance(ids, (str, bytes)) else np.asarray([ids])
        if array.dtype == bool:
            if array.shape != (len(self.meta),):
                raise ValueError(f"a boolean mask must have length {len(self.meta)}; got shape {array.shape}")
            return np.flatnonzero(array)
        index = pd.Index(self.meta["id"])
        positions = index.get_indexer(array.reshape(-1))
        if missing == "raise" and (positions < 0).any():
            unknown = array.reshape(-1)[positions < 0][:5].tolist()
            raise KeyError(f"{int((positions < 0).sum())} id(s) are not in this explorer, e.g. {unknown}")
        return np.unique(positions[positions >= 0])

    def select(self, ids: Any, *, missing: str = "raise", _origin: Any = None) -> None:
        """Select rows by id (or by a boolean mask); None or [] clears the selection.

        Parameters
        ----------
        ids : collection of ids, boolean mask of length n, or None
        missing : {"raise", "ignore"}
            What to do with ids this explorer does not have.
        """
        if missing not in ("raise", "ignore"):
            raise ValueError(f"missing must be 'raise' or 'ignore'; got {missing!r}")
        positions = None if ids is None else self._positions(ids, missing)
        self._set_selection(positions, _origin)

    def clear_selection(self) -> None:
        """Select nothing: every point is drawn in full again."""
        self._set_selection(None, None)

    def _set_selection(self, positions: np.ndarray | None, origin: Any) -> None:
        if positions is not None and positions.size == 0:
            positions = None
        same = (positions is None and self._selection is None) or (
            positions is not None and self._selection is not None and np.array_equal(positions, self._selection)
        )
        self._selection = positions
        self._figure.set_selection(positions)
        self.status.value = self._status_html()
        if not same:
            self._emit("select", self.selected_ids, origin)

    def on_select(self, callback: Callable[[pd.DataFrame], Any], *, remove: bool = False) -> None:
        """Call ``callback(selection)`` whenever the selection changes (``remove=True`` to stop)."""
        self._subscribe("select", callback, remove, lambda ids, origin: callback(self.selection))

    def on_hover(self, callback: Callable[[Any], Any], *, remove: bool = False) -> None:
        """Call ``callback(id)`` whenever a point is hovered, here or in a linked view."""
        self._subscribe("hover", callback, remove, lambda ident, origin: callback(ident))

    def _subscribe(self, event: str, callback: Callable, remove: bool, wrapper: Callable) -> None:
        listeners = self._listeners[event]
        if remove:
            listeners[:] = [entry for entry in listeners if getattr(entry, "_wraps", entry) is not callback]
            return
        wrapper._wraps = callback  # type: ignore[attr-defined]
        listeners.append(wrapper)

    def _emit(self, event: str, payload: Any, origin: Any) -> None:
        for listener in list(self._listeners[event]):
            listener(payload, origin)

    def focus(self, ident: Any, *, how: str = "linked", _origin: Any = None) -> None:
        """Show one row (by id) in the panel and ring it on every pane; None clears.

        Ids this explorer does not have are ignored.
        """
        if ident is None:
            self._figure.set_focus(None)
            return
        positions = self._positions([ident], missing="ignore")
        if positions.size == 0:
            return
        self._show(int(positions[0]), how, _origin)

    def _show(self, position: int, how: str, origin: Any) -> None:
        self.panel.show(position, how)
        self._figure.set_focus(position)
        self._emit("hover", self.meta["id"].iloc[position], origin)

    def _on_points(self, kind: str, pane: int, positions: np.ndarray) -> None:
        """What the browser reported: hover, click, select or deselect."""
        if kind in ("hover", "click"):
            self._show(int(positions[0]), "hovered" if kind == "hover" else "clicked", None)
        elif kind == "select":
            self._set_selection(np.unique(positions), None)
        elif kind == "deselect":
            self._set_selection(None, None)
