"""workbench.report: a notebook with figures, widgets and hostile labels → one offline HTML file."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import nbformat
import numpy as np
import pytest

from workbench import report
from workbench.report.widget_state import unpack

HOSTILE = "<script>alert(1)</script>"

# Every cell puts a user string where it could turn into markup: a trace name,
# hover text, a widget label, table headers, printed text.
CELLS = [
    "# A report <em>title</em>\n\nWith **markdown** and a picture: ![a dot](dot.png)",
    "import numpy as np, pandas as pd, ipywidgets as w, plotly.graph_objects as go\n"
    f"HOSTILE = {HOSTILE!r}",
    # a plain figure: the kernel sends only application/vnd.plotly.v1+json
    "go.Figure(go.Scatter(x=[1, 2, 3], y=[7.5, 8.5, 9.5], name=HOSTILE, text=['<!--<script>'] * 3))",
    # a stand-alone FigureWidget, changed after it was displayed
    "alone = go.FigureWidget(go.Bar(x=['a', 'b'], y=[1, 2], name='standalone-bar'))\nalone",
    "alone.data[0].y = [5, 6]",
    # two FigureWidgets inside a box: they stay widgets, and share one plotly.js
    "left = go.FigureWidget(go.Scattergl(x=np.arange(4, dtype='float32'), y=np.array([2.5, 1.5, 3.5, 0.5], dtype='float32'), name='left-trace'))\n"
    "right = go.FigureWidget(go.Scatter(x=[0, 1], y=[1, 0], name='right-trace'))\n"
    "w.VBox([w.HTML('<b>boxed</b>'), left, right])",
    # binary arrays sent after display travel in transient traits that end as None
    "left.data[0].selectedpoints = [1, 2]\nleft.layout.title = 'changed after display'\n"
    "left.data[0].y = np.array([2.5, 1.5, 3.5, 4.5], dtype='float32')",
    "never_shown = w.IntSlider(description='never-shown-slider')",
    "w.IntSlider(value=3, description=HOSTILE)",
    "pd.DataFrame({HOSTILE: [HOSTILE]})",
    "print(HOSTILE)",
]


class _Tags(HTMLParser):
    """Every tag with its attributes, and the text of every <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.styles: list[str] = []
        self._open: tuple[str, dict] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag in ("script", "style"):
            self._open = (tag, attrs)

    def handle_data(self, data):
        if self._open and self._open[0] == "script":
            self.scripts.append((self._open[1], data))
        elif self._open and self._open[0] == "style":
            self.styles.append(data)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._open = None


def parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c) if c.startswith("#") else nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The test notebook, executed once and rendered: (path of the page, its text)."""
    folder = tmp_path_factory.mktemp("report")
    source = folder / "hostile.ipynb"
    nbformat.write(_notebook(CELLS), source)
    # a 1x1 PNG next to the notebook, linked from its markdown
    (folder / "dot.png").write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    ))
    out = report.render(source, folder / "out" / "hostile.html", progress=False)
    return out, out.read_text(encoding="utf-8")


def _widget_state(page: str) -> dict:
    (state,) = [json.loads(text) for attrs, text in parse(page).scripts if attrs.get("type") == report.WIDGET_STATE]
    return state["state"]


def _figures(page: str) -> list[list[dict]]:
    """The traces of every static plotly figure on the page."""
    calls = re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', page, re.DOTALL)
    return [json.loads(call) for call in calls]


@pytest.mark.slow
def test_nothing_is_loaded_from_the_network(rendered):
    _, page = rendered
    tags = parse(page)
    for tag, attrs in tags.tags:
        for key in ("src", "href"):
            value = (attrs.get(key) or "").strip().lower()
            if tag in ("script", "link", "img", "iframe") and value:
                assert value.startswith("data:"), f"<{tag} {key}={value[:60]}> would be fetched"
    assert not any(re.search(r"@import|url\(\s*['\"]?(https?:)?//", css) for css in tags.styles)
    assert any(tag == "img" and attrs.get("src", "").startswith("data:image/png") for tag, attrs in tags.tags)
    # (URLs inside the inlined libraries, e.g. map icons in plotly.js, are
    # fetched only by features the page does not use; the browser test
    # below refuses every request and sees none.)


@pytest.mark.slow
def test_plotly_figures_are_in_the_page_once_with_their_data(rendered):
    _, page = rendered
    figures = _figures(page)
    names = [trace.get("name") for traces in figures for trace in traces]
    # the plain figure and the stand-alone FigureWidget became static figures
    assert HOSTILE in names and "standalone-bar" in names
    (hostile_trace,) = [t for traces in figures for t in traces if t.get("name") == HOSTILE]
    assert hostile_trace["y"] == [7.5, 8.5, 9.5]
    # the widget was changed after display: the report shows the last state
    (bar,) = [t for traces in figures for t in traces if t.get("name") == "standalone-bar"]
    assert _array(bar["y"]).tolist() == [5, 6]
    # plotly.js is inlined once, for all static figures, gzipped; the figures' scripts wait for it, inert
    (plotly_js,) = [text for attrs, text in parse(page).scripts if attrs.get("id") == "workbench-packed-plotly"]
    assert "plotly.js (cartesian" in unpack(plotly_js)[:200]  # a scatter and a bar: the partial bundle draws them
    assert len(plotly_js) < 0.45 * len(unpack(plotly_js))
    deferred = [attrs for attrs, text in parse(page).scripts if "Plotly.newPlot" in text]
    assert len(deferred) == 2 and {a["type"] for a in deferred} == {"text/x-workbench-deferred"}


def _array(value) -> np.ndarray:
    if isinstance(value, dict):  # plotly's typed-array spec
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


@pytest.mark.slow
def test_widgets_carry_their_final_state_and_share_one_module(rendered):
    _, page = rendered
    models = _widget_state(page)
    names = sorted(m["model_name"] for m in models.values())
    assert "VBoxModel" in names and "IntSliderModel" in names
    figures = [m for m in models.values() if "_widget_data" in m["state"]]
    assert len(figures) == 2  # the boxed ones; the stand-alone one became static
    (left,) = [m for m in figures if m["state"]["_widget_data"][0]["name"] == "left-trace"]
    assert left["state"]["_widget_data"][0]["selectedpoints"] == [1, 2]
    assert left["state"]["_widget_layout"]["title"]["text"] == "changed after display"
    (x_buffer,) = [b for b in left["buffers"] if b["path"][-2] == "x"]
    assert np.frombuffer(base64.b64decode(x_buffer["data"]), np.float32).tolist() == [0, 1, 2, 3]
    (y_buffer,) = [b for b in left["buffers"] if b["path"][-2] == "y"]
    assert np.frombuffer(base64.b64decode(y_buffer["data"]), np.float32).tolist() == [2.5, 1.5, 3.5, 4.5]
    # only buffers with a place in the state: none under the transient traits that went back to None
    assert all(b["path"][0] in ("_widget_data", "_widget_layout") for m in figures for b in m.get("buffers", []))
    # plotly's 5 MB front end is stored once and referenced by both figures
    (modules,) = [json.loads(unpack(t)) for a, t in parse(page).scripts if a.get("id") == "workbench-widget-esm"]
    assert len(modules) == 1 and len(modules[0]) > 1_000_000
    assert {m["state"]["_esm"] for m in figures} == {"workbench-esm:0"}
    # a widget that was created but never displayed is not carried
    assert "never-shown-slider" not in json.dumps(models)
    assert any(m["state"].get("description") == HOSTILE for m in models.values())


@pytest.mark.slow
def test_a_hostile_label_is_text_everywhere(rendered):
    _, page = rendered
    assert HOSTILE not in page
    assert "<!--<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the table, the printed line, the code
    assert "\\u003cscript>alert(1)\\u003c/script>" in page  # the widget label, as JSON
    for attrs, text in parse(page).scripts:
        assert "<!--" not in text and "</script" not in text.lower()
    # each JSON island parses: no user string ended its <script> early
    assert _widget_state(page)
    assert any(t.get("name") == HOSTILE for traces in _figures(page) for t in traces)


@pytest.mark.slow
def test_the_title_is_the_first_heading_escaped(rendered):
    _, page = rendered
    assert "<title>A report &lt;em&gt;title&lt;/em&gt;</title>" in page


def test_a_page_without_figures_or_widgets_carries_neither_runtime():
    nb = _notebook(["# Plain", "1 + 1"])
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    page = report.to_html(nb)
    assert "Plotly.newPlot" not in page and "workbenchReport" not in page
    assert len(page) < 1_000_000
    assert "<script src" not in page


def test_a_plotly_output_becomes_a_static_figure_without_a_kernel():
    import plotly.graph_objects as go

    figure = go.Figure(go.Scatter(x=np.arange(3, dtype=np.float32), y=[1, 2, 3], name="typed"))
    nb = _notebook(["figure"])
    # what plotly's "notebook_connected" renderer puts next to the figure
    cdn = '<script src="https://cdn.plot.ly/plotly-3.0.1.min.js"></script><div>figure</div>'
    nb.cells[0].outputs = [
        nbformat.v4.new_output("display_data", {report.PLOTLY: json.loads(figure.to_json()), "text/html": cdn})
    ]
    page = report.to_html(nb)
    assert not [attrs for tag, attrs in parse(page).tags if tag == "script" and attrs.get("src")]
    assert "<div>figure</div>" not in page
    (traces,) = _figures(page)
    assert traces[0]["name"] == "typed"
    assert _array(traces[0]["x"]).tolist() == [0.0, 1.0, 2.0]
    assert "workbenchReport" not in page  # no widget runtime for a page without widgets


def test_a_widget_whose_front_end_is_not_bundled_shows_its_text():
    nb = _notebook(["foreign"])
    nb.cells[0].outputs = [
        nbformat.v4.new_output(
            "execute_result",
            {report.WIDGET_VIEW: {"model_id": "m1", "version_major": 2, "version_minor": 0}, "text/plain": "Foreign()"},
            execution_count=1,
        )
    ]
    nb.metadata["widgets"] = {report.WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        "m1": {"model_name": "ForeignModel", "model_module": "foreign-widgets", "model_module_version": "1.0.0",
               "state": {"_view_module": "foreign-widgets"}},
    }}}
    with pytest.warns(UserWarning, match="foreign-widgets@1.0.0"):
        page = report.to_html(nb)
    assert "Foreign()" in page
    assert "workbenchReport" not in page


def test_a_missing_notebook_or_a_file_that_is_not_one_is_a_clear_error(tmp_path):
    with pytest.raises(report.ReportError, match="no notebook at"):
        report.render(tmp_path / "absent.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    with pytest.raises(report.ReportError, match="is not a Jupyter notebook"):
        report.render(bad)


@pytest.mark.slow
def test_a_failing_cell_names_itself_and_leaves_the_old_report(tmp_path):
    source = tmp_path / "fails.ipynb"
    nbformat.write(_notebook(["# Fails", "x = 1", "1 / 0"]), source)
    out = tmp_path / "fails.html"
    out.write_text("previous report")
    with pytest.raises(report.ReportError, match=r"fails.ipynb: cell 2 raised ZeroDivisionError: division by zero"):
        report.render(source, out, progress=False)
    assert out.read_text() == "previous report"


@pytest.mark.slow
@pytest.mark.browser
def test_figures_and_widgets_render_in_chromium_offline(rendered):
    """Open the page with every non-file request refused: figures draw, widgets mount, nothing runs."""
    from tests.browser.chromium import open_offline

    path, _ = rendered
    with open_offline(path) as browser:
        browser.page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4 * 3", timeout=60_000)
        mounted = browser.page.evaluate(
            "() => ({boxed: Array.from(document.querySelectorAll('.widget-subarea')).map(e => e.innerText),"
            " plots: document.querySelectorAll('.js-plotly-plot').length})"
        )
    assert browser.refused == [] and browser.problems == []
    assert mounted["plots"] == 4  # 2 static figures + 2 FigureWidgets in the box
    assert any("boxed" in text and "changed after display" in text for text in mounted["boxed"])
    assert any(HOSTILE in text for text in mounted["boxed"])  # the slider's label, shown as text


def _page_with_figure(trace: dict) -> str:
    nb = _notebook(["# Figure", "fig"])
    figure = {"data": [trace], "layout": {"title": {"text": "one trace"}}}
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {report.PLOTLY: figure, "text/plain": "Figure"}, execution_count=1)]
    return report.to_html(nb)


@pytest.mark.parametrize(
    "trace, bundle",
    [({"type": "scatter", "x": [1, 2], "y": [3, 4]}, "plotly.js (cartesian"),
     ({"x": [1, 2], "y": [3, 4]}, "plotly.js (cartesian"),  # no type: plotly draws a scatter
     ({"type": "heatmap", "z": [[1, 2], [3, 4]]}, "plotly.js (cartesian"),
     ({"type": "scatter3d", "x": [1], "y": [2], "z": [3]}, "plotly.js v"),
     ({"type": "scattergl", "x": [1], "y": [2]}, "plotly.js v")],
)  # fmt: skip
def test_a_page_carries_the_smallest_plotly_js_that_draws_its_figures(trace, bundle):
    from plotly.offline import get_plotlyjs

    page = _page_with_figure(trace)
    (packed,) = [text for attrs, text in parse(page).scripts if attrs.get("id") == "workbench-packed-plotly"]
    code = unpack(packed)
    assert code[:200].count(bundle) == 1
    if bundle == "plotly.js v":
        assert code == get_plotlyjs()


def test_controls_that_need_a_kernel_are_disabled_and_say_so():
    import ipywidgets.embed
    import pandas as pd
    import torch

    from workbench import LayerStack
    from workbench.widgets import Explorer
    from workbench.widgets.browser_map import NEEDS_KERNEL

    meta = pd.DataFrame({"id": range(30), "label": ["a", "b", "c"] * 10})
    stack = LayerStack({layer: torch.randn(30, 5) for layer in range(2)}, meta=meta)
    explorers = [Explorer(stack, color="label", dims=3), Explorer(stack, color="label")]  # plotly, browser
    nb = _notebook(["shown"] * 2)
    for cell, explorer in zip(nb.cells, explorers):
        view = {"model_id": explorer.model_id, "version_major": 2, "version_minor": 0}
        cell.outputs = [nbformat.v4.new_output("display_data", {report.WIDGET_VIEW: view, "text/plain": "Explorer"})]
    state = ipywidgets.embed.embed_data(views=explorers)["manager_state"]
    nb.metadata["widgets"] = {report.WIDGET_STATE: state}
    models = _widget_state(report.to_html(nb))
    plotly_controls = {c.model_id for c in explorers[0].controls.children}
    assert plotly_controls <= set(models)
    for model_id, model in models.items():
        disabled = model["state"].get("disabled") is True and model["state"].get("tooltip") == NEEDS_KERNEL
        assert disabled == (model_id in plotly_controls), model["model_name"]  # the browser map's own controls work
