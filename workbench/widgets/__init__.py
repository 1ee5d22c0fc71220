"""Jupyter widgets: the Explorer, linked views and what they send to the browser.

- :class:`Explorer` (``explorer.py``): an interactive map of a space or of
  every layer of a stack; :meth:`Explorer.grid` for layers side by side.
  Its parts: ``explorer_input.py`` (what it is given, as layers),
  ``explorer_maps.py`` (each layer's projection and its trustworthiness),
  ``explorer_colors.py`` (the colour trait, encodings, menu and search).
- :func:`link` (``linking.py``): shared selection and hover between explorers.
- ``figure.py`` (the plotly figure), ``panel.py`` (the side panel),
  ``selection.py`` (selected and hovered rows, and their listeners),
  ``options.py`` and ``colors.py`` (what to colour by, and how),
  ``transport.py`` (binary arrays, measured traffic), ``static/`` (CSS).
"""

from workbench.widgets.explorer import Explorer
from workbench.widgets.linking import Link, link

__all__ = ["Explorer", "Link", "link"]
