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
static figure does. So a page of static figures is about 5 MB (plotly.js),
and the quickstart (the Explorer, whose map is a FigureWidget, and a static
figure) about 13 MB: plotly.js 4.8 MB, the FigureWidget's own plotly.js
bundle 5 MB, the widget manager 2.7 MB. Serving the two plotly.js copies as
one, or compressing the bundles in the page, are the next savings.

User strings stay text: code, streams and ``text/plain`` are HTML-escaped by
nbconvert, pandas escapes its tables, and every JSON island in the page
(widget state, figure data) has ``<`` written as ``\\u003c`` so that a label
such as ``<script>alert(1)</script>`` can neither end a script element nor
run. HTML that a cell deliberately displays (``IPython.display.HTML``) is
kept as the notebook's author wrote it, when the report ran the notebook
itself or the notebook is trusted (its signature, as JupyterLab decides).
Otherwise nothing from the file may run script in the page: its HTML is
sanitized and its JavaScript and foreign widget modules dropped, and the
page says what was removed (:mod:`workbench.untrusted_notebook`).

Nothing is written over the notebook, nor over a file that is not a report
workbench wrote (its ``<head>`` starts with :data:`REPORT_MARKER`) unless
``overwrite=True``. Local images are inlined only when they are image files
inside the notebook's folder (:mod:`workbench.local_images`).

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

import copy
import gzip
import html
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from workbench.local_images import attachment_data_url, image_data_url, refusal
from workbench.storage import atomic_file
from workbench.untrusted_notebook import Neutralised, clean_html, is_trusted, neutralise_outputs, neutralise_widgets

__all__ = ["render", "execute_notebook", "to_html", "cell_errors", "ReportError", "UntrustedNotebookWarning", "REPORT_MARKER"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLOTLY = "application/vnd.plotly.v1+json"
#: Widget modules whose front end the report carries.
BUNDLED_MODULES = frozenset({"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output", "anywidget"})
#: Height of a figure whose layout does not set one (what plotly's notebook renderer uses).
DEFAULT_FIGURE_HEIGHT = 525
_ESM_REF = "workbench-esm:"  # must match runtime.js
_MODEL_REF = re.compile(r"^IPY_MODEL_([0-9a-zA-Z_-]+)$")
#: First thing in a report's <head>: a file that starts with it was written by
#: workbench and may be replaced by a new report; any other file may not.
REPORT_MARKER = '<meta name="generator" content="workbench report">'
# nbconvert re-serializes the page (BeautifulSoup), which reorders attributes
_MARKED = re.compile(rb'<meta(?=[^>]*\bname="generator")(?=[^>]*\bcontent="workbench report")[^>]*>')
# Where the template puts the note on what was removed from an untrusted
# notebook; filled in after export, when the markdown has been sanitized too.
# No fragment from the notebook can contain it: comments are stripped from
# untrusted HTML and everything else is escaped.
_NOTE_SLOT = "<!-- workbench:untrusted-note -->"

# Run in the kernel after the last cell: every widget sends its full state, so
# the saved state is the final one. Self-contained on purpose: the notebook
# need not import workbench. plotly keeps a figure in ``_data``/``_layout``
# and applies changes to the browser as restyle/relayout messages, leaving
# its synced ``_widget_data``/``_widget_layout`` traits at the first copy.
_SYNC_WIDGETS = """\
def _workbench_sync_widgets():
    import sys
    if "ipywidgets" not in sys.modules:
        return
    from ipywidgets.widgets.widget import _instances
    figure = getattr(sys.modules.get("plotly.basewidget"), "BaseFigureWidget", None)
    for widget in list(_instances.values()):
        if figure is not None and isinstance(widget, figure):
            widget._trait_values["_widget_data"] = widget._data
            widget._trait_values["_widget_layout"] = widget._layout
        if widget.comm is not None:
            widget.send_state()
_workbench_sync_widgets()
del _workbench_sync_widgets
"""


class ReportError(RuntimeError):
    """A notebook could not be executed or rendered (the message says which cell and why)."""


class UntrustedNotebookWarning(UserWarning):
    """Script was removed from an untrusted notebook's page; the message counts it by kind."""


# ---------------------------------------------------------------- execution


def execute_notebook(
    notebook: nbformat.NotebookNode,
    *,
    cwd: str | os.PathLike | None = None,
    timeout: int | None = 600,
    kernel_name: str | None = None,
    progress: bool = True,
    name: str = "notebook",
    allow_errors: bool = False,
) -> nbformat.NotebookNode:
    """Run every cell of a copy of ``notebook`` in a fresh kernel; store widget state.

    Parameters
    ----------
    notebook : NotebookNode
        Not modified.
    cwd : path, optional
        Working directory of the kernel (the notebook's folder, so that its
        relative paths resolve). Default: the current directory.
    timeout : int or None, default 600
        Seconds one cell may run.
    kernel_name : str, optional
        Jupyter kernel to use; default: the notebook's, else ``python3``.
    progress : bool, default True
        Show a progress bar over the code cells.
    name : str
        How error messages call the notebook.
    allow_errors : bool, default False
        Keep running past a cell that raises; its error is then an output of
        that cell (shown in the report) instead of a :class:`ReportError`.

    Returns
    -------
    NotebookNode
        The executed copy, outputs filled in and widget state in its metadata.

    Raises
    ------
    ReportError
        When a cell raises, times out or the kernel dies or cannot start.
    """
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    nb = copy.deepcopy(notebook)
    nb.cells.append(nbformat.v4.new_code_cell(_SYNC_WIDGETS))
    n_code = sum(cell.cell_type == "code" for cell in nb.cells)
    bar = tqdm(total=n_code, desc=f"running {name}", unit="cell", disable=not progress)
    failed: dict[str, int] = {}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name or "",
        store_widget_state=True,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd or os.getcwd())}},
        on_cell_executed=lambda cell, cell_index, execute_reply: bar.update(),
        on_cell_error=lambda cell, cell_index, execute_reply: failed.setdefault("index", cell_index),
    )
    # The kernel's own log (its start-up chatter) goes to a file, not the
    # terminal; its last line explains a kernel that died.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except CellExecutionError as error:
            index = failed.get("index")
            if index == len(nb.cells) - 1:
                where = "the widget-state step"
            else:
                where = f"cell {'?' if index is None else index}"
            said = str(error.evalue).strip().splitlines()
            begins = f" (the cell begins: {_first_line(nb.cells[index])})" if index is not None and index < len(nb.cells) - 1 else ""
            raise ReportError(
                f"{name}: {where} raised {error.ename}: {said[0] if said else ''}{begins}; "
                "pass --allow-errors to keep going and show the error in the report"
            ) from None
        except CellTimeoutError:
            raise ReportError(f"{name}: a cell ran longer than the timeout of {timeout} s") from None
        except DeadKernelError:
            kernel_log.seek(0)
            said = [line.strip() for line in kernel_log.read().splitlines() if line.strip() and "WARNING |" not in line]
            why = f"; its last words: {said[-1]}" if said else " (a crash, os._exit or running out of memory)"
            raise ReportError(f"{name}: the kernel died{why}") from None
        except NoSuchKernel as error:
            raise ReportError(f"{name}: no Jupyter kernel named {error.name!r}; pass --kernel or install ipykernel") from None
        finally:
            bar.close()
    nb.cells.pop()
    return nb


def _first_line(cell: nbformat.NotebookNode, width: int = 60) -> str:
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    line = lines[0] if lines else "(empty)"
    return line if len(line) <= width else line[: width - 1] + "…"


def cell_errors(nb: nbformat.NotebookNode) -> list[str]:
    """``"cell 2 (1 / 0): ZeroDivisionError: division by zero"`` for every error output of an executed notebook."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                said = str(output.get("evalue", "")).strip().splitlines()
                found.append(f"cell {index} ({_first_line(cell)}): {output.get('ename')}: {said[0] if said else ''}")
    return found


# ---------------------------------------------------------------- widget state


def _model_refs(value: Any) -> Iterator[str]:
    """Ids of the widget models a piece of widget state points at."""
    if isinstance(value, str):
        match = _MODEL_REF.match(value)
        if match:
            yield match.group(1)
    elif isinstance(value, dict):
        if isinstance(value.get("model_id"), str):  # a view inside an Output widget's outputs
            yield value["model_id"]
        for item in value.values():
            yield from _model_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _model_refs(item)


def _reachable(roots: list[str], models: dict[str, dict]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        model_id = todo.pop()
        if model_id in seen:
            continue
        seen.add(model_id)
        if model_id in models:
            todo.extend(_model_refs(models[model_id].get("state", {})))
    return seen


def _drop_stale_buffers(model: dict) -> None:
    """Forget binary buffers whose place in the state is gone.

    nbclient keeps every buffer a widget ever sent, by path. plotly's
    FigureWidget sends changes through transient traits (``_py2js_update``
    holds a message with binary arrays, then goes back to ``None``), so the
    saved state can list buffers under a trait that is now ``None``, and the
    widget manager fails on them ("Cannot read properties of null").
    """
    kept = []
    for buffer in model.get("buffers", []):
        holder: Any = model.get("state", {})
        for key in buffer["path"][:-1]:
            holder = holder[key] if isinstance(holder, (dict, list)) and _has(holder, key) else None
        if isinstance(holder, (dict, list)):
            kept.append(buffer)
    if "buffers" in model:
        model["buffers"] = kept


def _has(container: dict | list, key: Any) -> bool:
    return key in container if isinstance(container, dict) else isinstance(key, int) and -len(container) <= key < len(container)


def _unbundled(model: dict) -> str | None:
    state = model.get("state", {})
    for module, version in ((model.get("model_module"), model.get("model_module_version")),
                            (state.get("_view_module"), state.get("_view_module_version"))):
        if module is not None and module not in BUNDLED_MODULES:
            return f"{module}@{version}"
    return None


def _is_plotly_figure(model: dict) -> bool:
    state = model.get("state", {})
    return model.get("model_module") == "anywidget" and "_widget_data" in state and "_widget_layout" in state


def _figure_from_widget(model: dict) -> dict:
    """A plotly figure dict from a FigureWidget's saved state (binary arrays kept binary)."""
    import numpy as np

    state = copy.deepcopy(model["state"])
    for buffer in model.get("buffers", []):
        *path, _ = buffer["path"]  # [..., "buffer"]: the dict holding dtype and shape
        holder: Any = state
        for key in path:
            holder = holder[key]
        encoded = buffer["data"] if buffer.get("encoding") == "base64" else None
        if encoded is None:
            raise ReportError(f"unsupported widget buffer encoding {buffer.get('encoding')!r}")
        shape = holder.pop("shape", None)
        dtype = np.dtype(holder.pop("dtype")).str.lstrip("<|=")
        holder.pop("buffer", None)
        holder.update({"dtype": dtype, "bdata": encoded})  # plotly.js's typed-array spec
        if shape is not None:
            holder["shape"] = ",".join(str(int(n)) for n in shape)
    return {"data": state["_widget_data"], "layout": state["_widget_layout"], "config": state.get("_config") or {}}


def _figure_html(figure: dict) -> str:
    import plotly.io as pio

    return pio.to_html(
        {"data": figure.get("data", []), "layout": figure.get("layout", {})},
        config={**(figure.get("config") or {}), "responsive": True},
        include_plotlyjs=False,
        full_html=False,
        validate=False,
        default_height=f"{DEFAULT_FIGURE_HEIGHT}px",
    )


def _script_json(value: Any) -> str:
    """JSON that can sit inside a <script> element whatever strings it holds."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _check_anywidget_version(models: dict[str, dict]) -> None:
    bundled = _manifest()["anywidget"]
    for model in models.values():
        if model.get("model_module") == "anywidget":
            wanted = re.findall(r"\d+", str(model.get("model_module_version", "")))[:2]
            if wanted and wanted != bundled.split(".")[:2]:
                warnings.warn(
                    f"the notebook's widgets use anywidget {model['model_module_version']}, but reports bundle "
                    f"anywidget {bundled}'s front end; rebuild it with workbench/_static/report/vendor.py",
                    stacklevel=3,
                )
            return


def _prepare(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """Make outputs offline-renderable in place; return what the template needs."""
    models: dict[str, dict] = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    static_figures = 0
    unbundled: set[str] = set()
    views: list[str] = []
    for out in outputs:
        data = out.get("data", {})
        if PLOTLY in data:  # authoritative: a text/html next to it would load plotly.js from a CDN
            data["text/html"] = _figure_html(data.pop(PLOTLY))
            static_figures += 1
        if WIDGET_VIEW not in data:
            continue
        model_id = data[WIDGET_VIEW].get("model_id")
        model = models.get(model_id)
        if model is not None and _is_plotly_figure(model):
            data["text/html"] = _figure_html(_figure_from_widget(model))
            static_figures += 1
            del data[WIDGET_VIEW]
            continue
        missing = [_unbundled(models[m]) for m in _reachable([model_id], models) if m in models]
        missing = [m for m in missing if m]
        if model is None or missing:
            unbundled.update(missing)
            del data[WIDGET_VIEW]  # nbconvert shows the text/plain fallback
            continue
        views.append(model_id)
    if unbundled:
        warnings.warn(
            "these widgets cannot render offline and show their text instead: " + ", ".join(sorted(unbundled)),
            stacklevel=3,
        )
    keep = _reachable(views, models)
    models = {model_id: model for model_id, model in models.items() if model_id in keep}
    for model in models.values():
        _drop_stale_buffers(model)
    _check_anywidget_version(models)
    sources: list[str] = []
    for model in models.values():
        esm = model.get("state", {}).get("_esm")
        if isinstance(esm, str) and not esm.startswith(("http://", "https://")):
            if esm not in sources:
                sources.append(esm)
            model["state"]["_esm"] = f"{_ESM_REF}{sources.index(esm)}"
    # nbconvert renders a widget view only when its model is in the metadata;
    # the template writes the state itself, escaped (see _script_json)
    state = {"version_major": 2, "version_minor": 0, "state": models}
    nb.metadata["widgets"] = {WIDGET_STATE: state}
    report: dict[str, Any] = {"plotly_js": None, "widget_state": None}
    if static_figures:
        from plotly.offline import get_plotlyjs

        report["plotly_js"] = get_plotlyjs()
    if models:
        report.update(
            widget_state=_script_json(state),
            widget_modules=_script_json(sources),
            runtime=_static_text("runtime.js"),
            widget_runtime=_widget_runtime(),
        )
    return report


# ---------------------------------------------------------------- export


@cache
def _static_text(name: str) -> str:
    return resources.files("workbench").joinpath("_static", "report", name).read_text(encoding="utf-8")


@cache
def _widget_runtime() -> str:
    data = resources.files("workbench").joinpath("_static", "report", "widget-runtime.js.gz").read_bytes()
    return gzip.decompress(data).decode("utf-8")


@cache
def _manifest() -> dict[str, str]:
    return json.loads(_static_text("manifest.json"))


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if match:
                return re.sub(r"[*_`]", "", match.group(1)).strip()
    return fallback


@cache
def _exporter_class() -> type:
    """nbconvert's HTML exporter, with markdown images checked and untrusted markdown sanitized.

    Built on first use: importing nbconvert takes seconds.
    """
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class CheckedImages(IPythonRenderer):
        """Inlines only image files inside the notebook's folder, and attachments that are images."""

        def __init__(self, *args: Any, left_as_links: list[str], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.left_as_links = left_as_links

        def _embed_image_or_attachment(self, src: str) -> str:
            if src.startswith("attachment:"):
                bundle = self.attachments.get(src[len("attachment:"):])
                url = attachment_data_url(bundle) if isinstance(bundle, dict) else None
                if url is None:
                    self.left_as_links.append(f"{src} (missing, or not an image)")
                return url or src
            return super()._embed_image_or_attachment(src)

        def _src_to_base64(self, src: str) -> str | None:
            url = image_data_url(self.path, src)
            if url is None and not re.match(r"^(https?|data):", src, re.IGNORECASE):
                self.left_as_links.append(f"{src} ({refusal(self.path, src)})")
            return url

    class ReportExporter(HTMLExporter):
        #: Counts what was removed from untrusted markdown; None for a trusted notebook.
        neutralised: Neutralised | None = None
        #: Image links that were not inlined, each with the reason.
        left_as_links: list[str]

        @pass_context
        def markdown2html(self, context: Any, source: str) -> str:
            cell = context.get("cell", {})
            renderer = CheckedImages(
                escape=False,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                left_as_links=self.left_as_links,
                **self.lexer_options,
            )
            rendered = MarkdownWithMath(renderer=renderer).render(source)
            return rendered if self.neutralised is None else clean_html(rendered, self.neutralised)

    return ReportExporter


def _neutralise(nb: nbformat.NotebookNode, seen: Neutralised) -> None:
    """Strip script from an untrusted notebook's outputs and widget state, in place (markdown: at export)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            neutralise_outputs(cell.get("outputs", []), seen)
        elif cell.cell_type == "raw":  # nbconvert writes a raw HTML cell into the page as it is
            cell.source = clean_html(cell.source, seen)
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not isinstance(models, dict):
        raise ReportError(f"the notebook's saved widget state is a {type(models).__name__}, not a mapping of widget models")
    foreign = neutralise_widgets(models, seen)
    if not foreign:
        return
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if isinstance(view, dict) and _reachable([view.get("model_id")], models) & foreign:
                del output["data"][WIDGET_VIEW]  # nbconvert shows the text/plain fallback
    for model_id in foreign:
        del models[model_id]


def _untrusted_note(seen: Neutralised) -> str:
    return (
        '<div class="workbench-untrusted-note" role="note"><strong>This notebook is not trusted</strong> '
        "(its signature is not in this user's Jupyter database), so nothing from it may run in this page. "
        f"Removed: {html.escape(seen.summary())}. To see its scripts and widgets, run it again (<code>workbench report</code> "
        "without <code>--no-execute</code>) or trust it (<code>jupyter trust</code>) if you know where it comes from.</div>"
    )


def to_html(
    notebook: nbformat.NotebookNode,
    *,
    title: str | None = None,
    folder: str | os.PathLike | None = None,
    trusted: bool = True,
) -> str:
    """The self-contained offline HTML page of an executed notebook.

    Parameters
    ----------
    notebook : NotebookNode
        Executed (outputs and, for widgets, widget state in its metadata; see
        :func:`execute_notebook`). Not modified.
    title : str, optional
        The page title; default: the first ``# heading`` of the notebook.
    folder : path, optional
        Where the notebook's relative image links point from (its own
        folder); those images are embedded in the page when they are image
        files inside it (see :mod:`workbench.local_images`). Default: the
        current directory.
    trusted : bool, default True
        False for a notebook whose outputs may not run script (see
        :mod:`workbench.untrusted_notebook`): its HTML is sanitized, its
        JavaScript outputs and foreign widget modules dropped, and the page
        and a :class:`UntrustedNotebookWarning` say what was removed.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Hi <b onclick=steal()>there</b>")])
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     page = to_html(nb, trusted=False)
    >>> "onerror" in page, "1 event handler" in page
    (False, True)
    """
    from traitlets.config import Config

    nb = copy.deepcopy(notebook)
    seen = None if trusted else Neutralised()
    if seen is not None:
        _neutralise(nb, seen)
    report = _prepare(nb)
    report["untrusted"] = seen is not None
    config = Config()
    # Jupyter Book's tag names: hide a set-up cell, or its input only.
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    templates = resources.files("workbench").joinpath("_static", "report", "templates")
    exporter = _exporter_class()(
        config=config,
        template_name="workbench",
        extra_template_basedirs=[str(templates)],
        embed_images=True,
    )
    exporter.neutralised = seen
    exporter.left_as_links = []
    body, _ = exporter.from_notebook_node(
        nb,
        resources={
            "metadata": {"name": title or _title(nb, "workbench report"), "path": str(folder or os.getcwd())},
            "workbench": report,
        },
    )
    if exporter.left_as_links:
        warnings.warn("images left as links, not copied into the page: " + "; ".join(exporter.left_as_links), stacklevel=2)
    body = body.replace(_NOTE_SLOT, _untrusted_note(seen) if seen else "", 1)
    if seen:
        warnings.warn(
            f"the notebook is not trusted; removed from the page: {seen.summary()}",
            UntrustedNotebookWarning,
            stacklevel=2,
        )
    return body


def render(
    notebook: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    execute: bool = True,
    timeout: int | None = 600,
    kernel_name: str | None = None,
    progress: bool = True,
    title: str | None = None,
    overwrite: bool = False,
    allow_errors: bool = False,
) -> Path:
    """Execute a notebook and write it as one self-contained, offline HTML file.

    Parameters
    ----------
    notebook : path
        The ``.ipynb`` file. It runs with its own folder as working directory.
    output : path, optional
        Where to write the page; default: the notebook's path with ``.html``.
        Written atomically: a failure leaves any previous file untouched. An
        existing file is replaced only when it is a report workbench wrote
        (it starts with :data:`REPORT_MARKER`) or ``overwrite`` is True; the
        notebook itself never is.
    execute : bool, default True
        Run the notebook first. ``False`` exports the outputs (and widget
        state) already stored in the file.
    timeout : int or None, default 600
        Seconds one cell may run.
    kernel_name : str, optional
        Jupyter kernel; default: the notebook's, else ``python3``.
    progress : bool, default True
        Show a progress bar while the cells run.
    title : str, optional
        Page title; default: the notebook's first ``# heading``.
    overwrite : bool, default False
        Replace ``output`` even when it is not a report workbench wrote.
    allow_errors : bool, default False
        Keep running past cells that raise and show their errors in the
        page (a :class:`UserWarning` lists them).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ReportError
        When the notebook cannot be read, a cell fails, or ``output`` is the
        notebook or a file workbench did not write.

    Notes
    -----
    A notebook that is not executed here renders its saved outputs only if
    it is trusted (:func:`workbench.untrusted_notebook.is_trusted`, as
    JupyterLab decides); otherwise nothing from it may run script in the page.

    Examples
    --------
    >>> render("notebooks/01_quickstart.ipynb", "reports/quickstart.html")  # doctest: +SKIP
    PosixPath('reports/quickstart.html')
    """
    source = Path(notebook)
    target = Path(output) if output is not None else source.with_suffix(".html")
    _check_target(target, source, overwrite=overwrite, before=True)
    try:
        nb = nbformat.read(source, as_version=4)
    except FileNotFoundError:
        raise ReportError(f"no notebook at {source}") from None
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as error:
        raise ReportError(f"{source} is not a Jupyter notebook ({type(error).__name__})") from None
    # what the report runs itself is as trusted as running it in JupyterLab
    trusted = execute or is_trusted(nb)
    if execute:
        nb = execute_notebook(nb, cwd=source.resolve().parent, timeout=timeout, kernel_name=kernel_name,
                              progress=progress, name=source.name, allow_errors=allow_errors)
        errors = cell_errors(nb) if allow_errors else []
        if errors:
            warnings.warn(f"{len(errors)} cell(s) raised, shown in the page: " + "; ".join(errors), stacklevel=2)
    page = to_html(nb, title=title, folder=source.resolve().parent, trusted=trusted)
    # checked again: the run may take minutes, and files appear meanwhile
    _check_target(target, source, overwrite=overwrite, before=False)
    with atomic_file(target, "wb") as handle:
        handle.write(page.encode("utf-8"))
    return target


def _check_target(target: Path, source: Path, *, overwrite: bool, before: bool) -> None:
    """Refuse to write over the notebook, a folder, or (unless ``overwrite``) a file workbench did not write.

    ``before``: the check made before the notebook runs covers what cannot
    change meanwhile (the notebook, a folder); the one made just before
    writing covers any file in the way.
    """
    if target.exists() and source.exists() and os.path.samefile(target, source):
        raise ReportError(f"refusing to write the report over its own notebook {source}; choose another path with -o")
    if target.is_dir():
        raise ReportError(f"{target} is a folder; give the report a file name, e.g. -o {target / source.with_suffix('.html').name}")
    if before or overwrite or not (target.exists() or target.is_symlink()):
        return
    if not target.is_file() or not _is_report(target):
        raise ReportError(
            f"refusing to overwrite {target}: it is not a report written by workbench; "
            "pass --overwrite (overwrite=True) to replace it, or choose another path with -o"
        )


def _is_report(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return _MARKED.search(handle.read(4096)) is not None
    except OSError:
        return False
