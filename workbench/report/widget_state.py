"""Saved widget state -> what the page needs: reachable models, static plotly figures, one copy of each module."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
import secrets
import warnings
from collections.abc import Iterator
from typing import Any

import nbformat

from workbench.report.assets import _manifest, _packed_asset, _static_text
from workbench.report.execution import ReportError

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLOTLY = "application/vnd.plotly.v1+json"
#: Widget modules whose front end the report carries.
BUNDLED_MODULES = frozenset({"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output", "anywidget"})
#: Height of a figure whose layout does not set one (what plotly's notebook renderer uses).
DEFAULT_FIGURE_HEIGHT = 525
#: Markdown that JupyterLab would typeset: $...$, $$, \(, \[ or an environment.
TEX = re.compile(r"\$[^$\n]+\$|\$\$|\\\(|\\\[|\\begin\{")
#: Trace types that plotly.js's cartesian partial bundle draws (vendored: a third of the full plotly.js).
CARTESIAN_TRACES = frozenset({
    "bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image", "pie", "scatter",
    "scatterternary", "violin",
})  # fmt: skip
_ESM_REF = "workbench-esm:"  # must match runtime.js
_MODEL_REF = re.compile(r"^IPY_MODEL_([0-9a-zA-Z_-]+)$")

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


#: A buffer stored gzipped (runtime.js inflates it before the widget manager reads the state).
GZIP_BUFFER = "workbench-gzip-base64"


def _pack_buffers(model: dict, smallest: int = 1024) -> None:
    """Gzip the binary buffers that gzip makes notably smaller (texts, category codes; rarely coordinates).

    A browser map's hover texts and colour codes are most of its weight in a
    page; gzipped, another Explorer on the same rows costs about a third less.
    """
    for buffer in model.get("buffers", []):
        if buffer.get("encoding") != "base64" or len(buffer.get("data", "")) < smallest:
            continue
        raw = base64.b64decode(buffer["data"])
        packed = gzip.compress(raw, compresslevel=9, mtime=0)
        if len(packed) < 0.9 * len(raw):
            buffer.update(data=base64.b64encode(packed).decode("ascii"), encoding=GZIP_BUFFER)


def _disable_if_it_needs_a_kernel(model: dict) -> None:
    """A control only Python can act on (it carries ``NEEDS_KERNEL_CLASS``) is shown disabled, saying why."""
    # imported here, not at the top: a page without widgets does not pay for importing them
    from workbench.widgets.browser_map import NEEDS_KERNEL, NEEDS_KERNEL_CLASS

    state = model.get("state", {})
    if NEEDS_KERNEL_CLASS in (state.get("_dom_classes") or ()):
        state["disabled"] = True
        state["tooltip"] = NEEDS_KERNEL


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


def _figure_html(figure: dict, token: str) -> str:
    """A static figure whose scripts wait (inert, stamped with the page's ``token``) until plotly.js is inflated."""
    import plotly.io as pio

    html = pio.to_html(
        {"data": figure.get("data", []), "layout": figure.get("layout", {})},
        config={**(figure.get("config") or {}), "responsive": True},
        include_plotlyjs=False,
        full_html=False,
        validate=False,
        default_height=f"{DEFAULT_FIGURE_HEIGHT}px",
    )
    return re.sub(r'<script(?: type="text/javascript")?>', f'<script type="text/x-workbench-deferred" data-token="{token}">', html)


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
    trace_types: set[str] = set()
    token = secrets.token_hex(8)  # only the figure scripts this function writes run once plotly.js is in
    unbundled: set[str] = set()
    views: list[str] = []
    for out in outputs:
        data = out.get("data", {})
        if PLOTLY in data:  # authoritative: a text/html next to it would load plotly.js from a CDN
            figure = data.pop(PLOTLY)
            trace_types.update(_trace_types(figure))
            data["text/html"] = _figure_html(figure, token)
            static_figures += 1
        if WIDGET_VIEW not in data:
            continue
        model_id = data[WIDGET_VIEW].get("model_id")
        model = models.get(model_id)
        if model is not None and _is_plotly_figure(model):
            figure = _figure_from_widget(model)
            trace_types.update(_trace_types(figure))
            data["text/html"] = _figure_html(figure, token)
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
        _pack_buffers(model)
        _disable_if_it_needs_a_kernel(model)
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
    report: dict[str, Any] = {"plotly_js": None, "widget_state": None, "token": token, "packed": _static_text("packed.js")}
    if any(cell.cell_type == "markdown" and TEX.search(cell.source) for cell in nb.cells):
        report.update(katex_js=_packed_asset("katex.js.gz"), katex_css=_packed_asset("katex.css.gz"))
    if static_figures:
        report["plotly_js"] = _packed_plotly(trace_types)
    if models:
        report.update(
            widget_state=_script_json(state),
            widget_modules=pack(json.dumps(sources)),
            runtime=_static_text("runtime.js"),
            widget_runtime=_packed_asset("widget-runtime.js.gz"),
        )
    return report


def _trace_types(figure: dict) -> set[str]:
    return {str(trace.get("type") or "scatter") for trace in figure.get("data") or [] if isinstance(trace, dict)}


def _packed_plotly(trace_types: set[str]) -> str:
    """plotly.js for the page's static figures: the vendored cartesian bundle when it draws them all, else the full one.

    The cartesian bundle is used only when it is the very plotly.js version of
    the installed plotly package, which wrote the figures.
    """
    from plotly.offline import get_plotlyjs

    full = get_plotlyjs()
    version = re.search(r"plotly\.js v([\d.]+)", full[:1000])
    if trace_types <= CARTESIAN_TRACES and version and version.group(1) == _manifest().get("plotly.js-cartesian"):
        return _packed_asset("plotly-cartesian.min.js.gz")
    return pack(full)


def pack(text: str) -> str:
    """``text`` gzipped and base64-encoded, as ``packed.js`` inflates it in the page (a third of the size)."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def unpack(packed: str) -> str:
    """The text :func:`pack` packed (to read a report's scripts back, in tests and tools)."""
    return gzip.decompress(base64.b64decode(packed)).decode("utf-8")
