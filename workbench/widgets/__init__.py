"""Jupyter widgets: the Explorer, linked views and what they send to the browser.

- :class:`Explorer` (``explorer.py``): an interactive map of a space or of
  every layer of a stack; :meth:`Explorer.grid` for layers side by side.
- :func:`link` (``linking.py``): shared selection and hover between explorers.
- ``figure.py`` (the plotly figure), ``panel.py`` (the side panel),
  ``selection.py`` (selected and hovered rows, and their listeners),
  ``options.py`` and ``colors.py`` (what to colour by, and how),
  ``transport.py`` (binary arrays, measured traffic), ``static/`` (CSS).
"""

from workbench.widgets.explorer import Explorer
from workbench.widgets.linking import Link, link

__all__ = ["Explorer", "Link", "link"]
