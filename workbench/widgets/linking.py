"""Linked views: one selection and one hovered row across several explorers.

``link(a, b, ...)`` makes a lasso in any explorer select the same rows, by
``id``, in all the others, and a hovered row show up (ringed, and in the side
panel) in all of them: layers of one model, several models, or several
modalities of the same samples. Rows an explorer does not have are ignored.
Python shares them, so it works across any number of figures and also with
explorers built on different subsets. Explorers drawn by the browser
(every 2-D map unless ``renderer="plotly"``) are also put in one link group
in the page, so the link holds in a report or handout where no kernel runs.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["link", "Link"]


class Link:
    """A live link between explorers; :meth:`unlink` ends it.

    Parameters
    ----------
    explorers : Explorer
        Two or more explorers (or grids).
    selection, hover : bool
        Which events to share.
    """

    def __init__(self, *explorers: Any, selection: bool = True, hover: bool = True) -> None:
        if len(explorers) < 2:
            raise ValueError(f"link needs at least two explorers; got {len(explorers)}")
        if len({id(e) for e in explorers}) != len(explorers):
            raise ValueError("link was given the same explorer twice")
        for explorer in explorers:
            if not hasattr(explorer, "_listeners"):
                raise TypeError(f"link takes Explorers; got {type(explorer).__name__}")
        self.explorers = list(explorers)
        self._handlers: list[tuple[Any, str, Any]] = []
        # the browser shares selection and hover together; a link of only one of them stays in Python
        self._in_browser = [e._figure for e in self.explorers if getattr(e, "_browser", False)] if selection and hover else []
        group = uuid.uuid4().hex
        for panes in self._in_browser:
            panes.join(group)
        for explorer in self.explorers:
            if selection:
                self._listen(explorer, "select", self._share_selection)
            if hover:
                self._listen(explorer, "hover", self._share_hover)

    def _listen(self, explorer: Any, event: str, share: Any) -> None:
        def handler(payload: Any, origin: Any) -> None:
            if origin is not self:  # an event this link caused: do not echo it back
                share(explorer, payload)

        explorer._listeners[event].append(handler)
        self._handlers.append((explorer, event, handler))

    def _share_selection(self, source: Any, ids: Any) -> None:
        for explorer in self.explorers:
            if explorer is not source:
                explorer.select(ids if len(ids) else None, missing="ignore", _origin=self)

    def _share_hover(self, source: Any, ident: Any) -> None:
        for explorer in self.explorers:
            if explorer is not source:
                explorer.focus(ident, _origin=self)

    @property
    def active(self) -> bool:
        return bool(self._handlers)

    def unlink(self) -> None:
        """Stop sharing; each explorer keeps its current selection."""
        for explorer, event, handler in self._handlers:
            listeners = explorer._listeners[event]
            if handler in listeners:
                listeners.remove(handler)
        self._handlers.clear()
        for panes in self._in_browser:
            panes.join(None)
        self._in_browser = []

    def __repr__(self) -> str:
        state = "active" if self.active else "unlinked"
        return f"Link({len(self.explorers)} explorers, {state})"


def link(*explorers: Any, selection: bool = True, hover: bool = True) -> Link:
    """Share selection and hover, by row id, between explorers.

    Parameters
    ----------
    *explorers : Explorer
        Two or more.
    selection : bool
        A selection in one selects the same ids in the others.
    hover : bool
        A hovered row is ringed and shown in the others' side panels.

    Returns
    -------
    Link
        Call ``.unlink()`` to stop.

    Examples
    --------
    >>> import torch, pandas as pd
    >>> from workbench import LayerStack
    >>> from workbench.widgets import Explorer
    >>> stack = LayerStack({i: torch.randn(30, 5) for i in range(2)}, meta=pd.DataFrame({"id": range(30)}))
    >>> a, b = Explorer(stack, layer=0), Explorer(stack, layer=1)
    >>> shared = link(a, b)
    >>> a.select([3, 4])
    >>> b.selected_ids.tolist()
    [3, 4]
    """
    return Link(*explorers, selection=selection, hover=hover)
