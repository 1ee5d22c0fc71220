"""The harness itself, on a small notebook: a plotly FigureWidget in JupyterLab, a mouse, and Python.

If this fails, the trouble is in the browser set-up (Chromium, WebGL, Lab,
the kernel), not in workbench: the notebook uses plotly and ipywidgets only.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from tests.browser.notebook import LabNotebook
from tests.browser.plot import Plot, clear_box, lonely_point

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_POINTS = 200

CELLS = [
    f"""import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

xy = np.random.default_rng(0).normal(size=({N_POINTS}, 2))
figure = go.FigureWidget(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers"), layout={{"height": 420, "width": 560}})
chosen, hovered = [], widgets.Label("nothing hovered")

def keep(trace, points, state):
    chosen[:] = points.point_inds

figure.data[0].on_selection(keep)
figure.data[0].on_hover(lambda trace, points, state: setattr(hovered, "value", f"hovered {{points.point_inds}}"))
widgets.VBox([figure, hovered])""",
    'print("selected:", sorted(chosen))',
    "1 / 0  # fails on purpose: the error check must see it",
]


@pytest.fixture
def notebook(lab_page, lab_server):
    document = nbformat.v4.new_notebook()
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    document.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(document, lab_server.work / "harness.ipynb")
    return LabNotebook(lab_page, lab_server, "harness.ipynb").open()


def test_a_figurewidget_draws_and_talks_back_to_python(notebook, lab_page, artifacts):
    notebook.run_all(timeout=120)
    # Run All stops at the failing cell, and the check reads exactly that failure
    assert notebook.errors() == ["cell 2: ZeroDivisionError: division by zero"]
    assert all(count is not None for count in notebook.executed())

    plot = Plot(lab_page, notebook.output(0).locator(".js-plotly-plot"), settle=notebook.pause)
    lab_page.wait_for_function("gd => gd._fullData && gd._fullData.length > 0", arg=plot.graph.element_handle())
    traces = plot.traces()
    assert [(t["type"], t["n"], t["finite"]) for t in traces] == [("scattergl", N_POINTS, N_POINTS)]
    assert plot.webgl_drawn(), "the WebGL canvas stayed blank (no software WebGL in this Chromium?)"

    # a box drawn with the mouse comes back to Python as the points inside it
    pixels, area = plot.pixels()
    found = clear_box(pixels, area, want=(5, 30))
    assert found is not None, "no clean box around a group of points"
    box, inside = found
    plot.tool("select")
    plot.drag_box(*box)
    printed = notebook.index_of("selected:")
    notebook.run_cell(printed)
    text = notebook.output(printed).inner_text()
    assert text.startswith("selected:"), text
    assert ast.literal_eval(text.removeprefix("selected:").strip()) == inside.tolist()

    # hovering a point tells Python which one
    pixels, area = plot.pixels()  # running the cell may have scrolled the page
    target = lonely_point(pixels, area)
    plot.hover_point(pixels[target])
    lab_page.get_by_text(f"hovered [{target}]").wait_for(timeout=20_000)

    notebook.output(0).screenshot(path=str(artifacts / "harness-figurewidget.png"))
    assert lab_page.watch.refused == [], "JupyterLab tried to reach beyond the local server"
    assert lab_page.watch.problems == []
