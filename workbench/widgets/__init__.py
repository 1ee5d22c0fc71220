"""Jupyter widgets: the Explorer, linked views and what they send to the browser.

- :class:`Explorer` (``explorer.py``): an interactive map of a space or of
  every layer of a stack; :meth:`Explorer.grid` for layers side by side.
  Its parts: ``explorer_input.py`` (what it is given, as layers),
  ``explorer_maps.py`` (each layer's projection and its trustworthiness),
  ``explorer_colors.py`` (the colour trait, encodings, menu and search).
- :func:`link` (``linking.py``): shared selection and hover between explorers.
- ``browser_map.py`` and ``browser_panes.py`` (the 2-D map the browser draws
  and drives itself, one or a grid; ``static/browser_map.js``), ``figure.py``
  (the plotly figure: 3-D, or ``renderer="plotly"``), ``panel.py`` (the side panel),
  ``selection.py`` (selected and hovered rows, and their listeners),
  ``options.py`` and ``colors.py`` (what to colour by, and how),
  ``transport.py`` (binary arrays, measured traffic), ``static/`` (JS, CSS).
"""

from workbench.widgets.explorer import Explorer
from workbench.widgets.linking import Link, link

__all__ = ["Explorer", "Link", "link"]
