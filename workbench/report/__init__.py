"""Notebook → one self-contained HTML file that works offline.

``render("notebooks/01_quickstart.ipynb", "reports/quickstart.html")`` runs
the notebook in a fresh kernel (``nbclient``, widget state stored), then
writes a single HTML file in JupyterLab's look (``nbconvert``'s ``lab``
template) in which every plotly figure and every widget renders with the
network switched off. Nothing is loaded from a URL: no require.js, no widget
manager or MathJax from a CDN, no ``<script src=...>`` at all.

How each kind of output gets there, and why
-------------------------------------------
nbconvert's own export is not offline: it pulls require.js and the widget
manager (``@jupyter-widgets/html-manager``) from CDNs, which in turn would
fetch anywidget's front end from jsDelivr, and it drops plotly's
``application/vnd.plotly.v1+json`` outputs (the only thing a plotly figure
shows in a kernel that has no browser) because it has no renderer for them.

* **Plotly figures** (``fig.show()`` or a figure as a cell's value) become
  static plotly HTML with plotly.js inlined once in the page, from the plotly
  package itself (its version always matches the figure's). A stand-alone
  ``FigureWidget`` is converted the same way from its saved state: in a
  report it has no kernel to talk to, so a static figure is all it could be,
  and each widget instance would otherwise carry its own 5 MB copy of
  plotly.js.
* **Other widgets** (the Explorer, sliders, boxes of widgets, FigureWidgets
  inside them) render from the saved widget state with a vendored widget
  manager: html-manager's AMD build trimmed to the ipywidgets 8 models and
  views, and anywidget's front end, both inlined (``workbench/_static/report``,
  built by ``vendor.py`` there, licences in ``LICENSES.txt``). A 100-line
  loader (``runtime.js``) stands in for require.js, so no global ``define``
  confuses plotly.js's UMD wrapper and no code path can reach for a CDN.
  Identical anywidget ES modules (every FigureWidget carries the same 5 MB)
  are stored once. Models that no displayed widget uses are dropped.
* Before the kernel stops, every live widget sends its full state once more,
  so the report shows each widget as the notebook left it: plotly's
  ``FigureWidget`` applies later changes (a selection, a new colour) as
  transient messages that the saved state would otherwise miss.

The runtime is included only when a widget remains, plotly.js only when a
static figure does, KaTeX only when the markdown holds TeX. The large
scripts travel gzipped as base64 text that the page inflates with the
browser's ``DecompressionStream`` and runs from ``blob:`` URLs
(``_static/report/packed.js``); a page whose static figures are all cartesian
(scatter, bar, heatmap, histogram...) carries plotly.js's cartesian partial
bundle. So the quickstart (a static figure and a browser-drawn Explorer)
weighs 2.2 MB, against 13.1 MB when every script was inlined as is and the
map was a FigureWidget carrying its own plotly.js.

* **TeX** in markdown (``$...$``, ``$$...$$``) is typeset in the page by the
  vendored KaTeX, with its fonts inlined, as JupyterLab's MathJax would.

User strings stay text: code, streams and ``text/plain`` are HTML-escaped by
nbconvert, pandas escapes its tables, and every JSON island in the page
(widget state, figure data) has ``<`` written as ``\\u003c`` so that a label
such as ``<script>alert(1)</script>`` can neither end a script element nor
run. HTML that a cell deliberately displays (``IPython.display.HTML``) is
kept as the notebook's author wrote it, when the report ran the notebook
itself or the notebook is trusted (its signature, as JupyterLab decides).
Otherwise nothing from the file may run script in the page: its HTML is
sanitized and its JavaScript and foreign widget modules dropped, and the
page says what was removed (:mod:`workbench.report.untrusted`).

Nothing is written over the notebook, nor over a file that is not a report
workbench wrote (its ``<head>`` starts with :data:`REPORT_MARKER`) unless
``overwrite=True``. Local images are inlined only when they are image files
inside the notebook's folder (:mod:`workbench.report.local_images`).

Limitations: a widget from a third-party package other than anywidget-based
ones shows its text fallback (the renderer warns); markdown math is left as
TeX source (MathJax would be another 2 MB).

Examples
--------
>>> from workbench.report import render
>>> render("notebooks/01_quickstart.ipynb", "reports/quickstart.html")  # doctest: +SKIP
PosixPath('reports/quickstart.html')
"""

from __future__ import annotations

from workbench.report.assets import _manifest  # noqa: F401 - the widget tests read the pinned versions
from workbench.report.execution import ReportError, cell_errors, execute_notebook
from workbench.report.page import REPORT_MARKER, UntrustedNotebookWarning, render, to_html
from workbench.report.widget_state import PLOTLY, WIDGET_STATE, WIDGET_VIEW  # noqa: F401 - mime types, public

__all__ = ["render", "execute_notebook", "to_html", "cell_errors", "ReportError", "UntrustedNotebookWarning", "REPORT_MARKER"]
