"""Selection, hover and the events that link explorers.

:class:`SelectionMixin` is the part of the :class:`~workbench.widgets.Explorer`
that deals in rows: which are selected (by id, by mask, by a lasso in the
browser), which one is hovered, and who is told about it. Both are traits of
the widget — ``selection`` (a list of ids) and ``hovered`` (an id or None),
both synced to the browser — so ``observe``, ``ipywidgets.link`` and
``jslink`` work on them;
read from Python, ``selection`` is the table of the selected rows
(:class:`RowSelection`). Unselected points stay visible, dimmed. Listeners
registered with ``on_select`` / ``on_hover`` receive ids plus an ``origin``,
so a :class:`~workbench.widgets.linking.Link` can pass an event on without it
echoing back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import traitlets

__all__ = ["RowId", "RowSelection", "SelectedRows", "SelectionMixin", "ids_from_json", "ids_to_json", "plain_id"]


def plain_id(value: Any) -> Any:
    """A row id as a plain Python value (NumPy scalars do not go into JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _sorted_unique(positions: np.ndarray, n: int) -> np.ndarray:
    """Row positions in ``[0, n)``, sorted, each once: through a mask, linear in ``n``.

    ``np.unique`` took half a second for half a million rows, several times per selection.
    """
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return np.flatnonzero(mask)


class SelectedRows(pd.DataFrame):
    """The selected rows of the meta table, which also compare equal to the list of their ids.

    That comparison is what ``traitlets.link`` / ``ipywidgets.link`` make to
    check a round trip (the value read against the ids that were set); any
    other comparison is the DataFrame's own, and every operation on it gives
    a plain DataFrame.
    """

    @property
    def _constructor(self) -> type:
        return pd.DataFrame

    def __eq__(self, other: Any) -> Any:
        if isinstance(other, list):
            return self["id"].tolist() == other
        return super().__eq__(other)

    def __ne__(self, other: Any) -> Any:
        if isinstance(other, list):
            return self["id"].tolist() != other
        return super().__ne__(other)

    __hash__ = None  # type: ignore[assignment]


class RowSelection(traitlets.TraitType):
    """A trait of selected rows: ids when set and in change events, a DataFrame when read.

    ``observe(callback, names="selection")`` receives ``change["new"]`` as a
    list of ids in row order; ``explorer.selection`` gives those rows of the
    meta table, so the Python API of a DataFrame and the widget habits
    (``observe``, ``link``) both work. It accepts ids, a boolean
    mask, a DataFrame with an ``id`` column, or None (nothing selected).
    """

    info_text = "ids, a boolean mask of the rows, a DataFrame with an 'id' column, or None"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_value=[], **kwargs)

    def make_dynamic_default(self) -> list:
        return []

    def validate(self, obj: Any, value: Any) -> list:
        if value is None:
            return []
        if isinstance(value, pd.DataFrame):
            if "id" not in value.columns:
                raise KeyError("a DataFrame given as a selection needs an 'id' column")
            value = value["id"]
        positions = obj._positions(value)
        return obj.meta["id"].to_numpy()[positions].tolist()

    def get(self, obj: Any, cls: Any = None) -> Any:
        ids = super().get(obj, cls)
        if obj is None or not hasattr(obj, "meta"):
            return ids
        positions = obj._selected_positions(ids)
        return SelectedRows(obj.meta.iloc[positions if positions is not None else np.empty(0, np.int64)])


def ids_to_json(value: Any, widget: Any) -> list:
    """The ``selection`` trait as the browser gets it: the selected ids as a plain JSON list.

    Read from Python the trait is a table of rows; what is synced is only their ids.
    """
    if isinstance(value, pd.DataFrame):
        column = value["id"]
        if column.dtype != object:  # pandas hands out plain Python values already
            return column.tolist()
        value = column.tolist()
    return [plain_id(ident) for ident in value or []]


def ids_from_json(value: Any, widget: Any) -> list:
    return list(value or [])


class RowId(traitlets.TraitType):
    """A synced trait holding one row's id, or None; an id the explorer does not have is a KeyError."""

    info_text = "the id of a row, or None"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_value=None, allow_none=True, **kwargs)

    def validate(self, obj: Any, value: Any) -> Any:
        return plain_id(obj.meta["id"].iloc[int(obj._positions([value])[0])])


class SelectionMixin:
    """Rows selected and hovered, and their listeners.

    The class using it is a widget with the traits ``selection``
    (:class:`RowSelection`) and ``hovered`` (:class:`RowId`), observed by
    :meth:`_show_selection` and :meth:`_show_hovered`; it provides
    ``meta`` (the rows, with an ``id`` column), ``panel`` (a
    :class:`~workbench.widgets.panel.RowPanel`), ``_figure`` (a
    :class:`~workbench.widgets.figure.MapFigure`), ``status`` and
    ``_status_html()``, and calls :meth:`_init_selection` first.
    """

    def _init_selection(self) -> None:
        self._selection: np.ndarray | None = None
        self._selection_for: Any = None  # the ids list that _selection holds the positions of
        self._listeners: dict[str, list[Callable]] = {"select": [], "hover": []}
        # who caused the change under way, and how a row came to the panel: read by the observers
        self._origin: Any = None
        self._how = "linked"

    @property
    def selected_ids(self) -> np.ndarray:
        """Ids of the selected rows (empty when nothing is selected)."""
        if self._selection is None:
            return self.meta["id"].to_numpy()[:0]
        return self.meta["id"].to_numpy()[self._selection]

    def _selected_positions(self, ids: list) -> np.ndarray | None:
        """Row positions of the ``selection`` trait's ids (cached for the ids list last shown)."""
        if ids is not self._selection_for:
            positions = self._positions(ids) if ids else None
            return None if positions is None or positions.size == 0 else positions
        return self._selection

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
        return _sorted_unique(positions[positions >= 0], len(self.meta))

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
        ids = [] if positions is None else self.meta["id"].to_numpy()[positions].tolist()
        self._origin = origin
        try:
            self.selection = ids  # the observer draws it and tells the listeners
        finally:
            self._origin = None

    def _show_selection(self, change: dict) -> None:
        """The ``selection`` trait changed (from Python, a lasso, or a linked widget): show and tell."""
        ids = change["new"]
        self._selection = self._selected_positions(ids)
        self._selection_for = ids
        self._figure.set_selection(self._selection)
        self.status.value = self._status_html()
        self._emit("select", self.selected_ids, self._origin)

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
            self.hovered = None
            return
        positions = self._positions([ident], missing="ignore")
        if positions.size == 0:
            return
        self._show(int(positions[0]), how, _origin)

    def _show(self, position: int, how: str, origin: Any) -> None:
        ident = plain_id(self.meta["id"].iloc[position])
        self._how, self._origin = how, origin
        try:
            if self.hovered == ident:  # the same row again (a click after its hover): no trait change
                self._show_hovered({"new": ident})
            else:
                self.hovered = ident
        finally:
            self._how, self._origin = "linked", None

    def _show_hovered(self, change: dict) -> None:
        """The ``hovered`` trait changed: fill the panel, ring the row, tell the listeners."""
        ident = change["new"]
        if ident is None:
            self._figure.set_focus(None)
            return
        position = int(self._positions([ident])[0])
        self.panel.show(position, self._how)
        self._figure.set_focus(position)
        self._emit("hover", ident, self._origin)

    def _on_points(self, kind: str, pane: int, positions: np.ndarray) -> None:
        """What the browser reported: hover, click, select or deselect."""
        if kind in ("hover", "click"):
            self._show(int(positions[0]), "hovered" if kind == "hover" else "clicked", None)
        elif kind == "select":
            self._set_selection(_sorted_unique(positions, len(self.meta)), None)
        elif kind == "deselect":
            self._set_selection(None, None)
