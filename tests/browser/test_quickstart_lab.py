"""Notebook 01 in JupyterLab, as a user meets it: run all, look at the map, lasso a group, hover a point.

What a Python-side widget test cannot see: that the Explorer's map is
actually drawn in the page by the browser (all 728 sentences on its canvas),
that a lasso drawn with the mouse reaches ``explorer.selection``, and that
hovering a point puts its sentence in the side panel.

Pictures left in ``tests/artifacts/browser/``: ``quickstart-notebook.png``
(the whole notebook at the end), ``quickstart-lasso.png`` (the map with the
mouse's lasso, the rows inside it highlighted and counted in the status line),
``quickstart-selection.png`` (the cell that printed ``explorer.selection``), and
``quickstart-explorer.png`` (the Explorer with a hovered sentence in its side
panel; ``docs/explorer.png``, the README's picture, is a copy of it).
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.browser.canvas_map import PIXELS, hover_drawn_point, lasso
from tests.browser.notebook import LabNotebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus():
    import workbench as wb

    return wb.load_emotion_sentences()


@pytest.fixture
def quickstart(lab_page, lab_server, quickstart_source):
    shutil.copy(quickstart_source, lab_server.work / quickstart_source.name)
    notebook = LabNotebook(lab_page, lab_server, quickstart_source.name).open()
    notebook.run_all(timeout=600)  # encodes 728 sentences: about a minute on 2 busy cores
    return notebook


def _table_rows(output) -> tuple[list[int], list[str]]:
    """Index labels and first column of the DataFrame a cell displayed (a long one's "..." row left out)."""
    rows = output.locator("table.dataframe tbody tr").evaluate_all(
        "rows => rows.map(row => [row.querySelector('th').innerText, row.querySelector('td').innerText])"
    )
    shown = [(int(label), first) for label, first in rows if label.strip() != "..."]
    return [label for label, _ in shown], [first for _, first in shown]



def test_quickstart_in_lab(quickstart, lab_page, corpus, artifacts):
    page = lab_page
    assert quickstart.errors() == []
    assert None not in quickstart.executed(), f"cells that did not run: {quickstart.prompts()}"
    # the layer-by-layer figure drew its axes (a figure that failed shows as text, or not at all)
    figures = page.locator(".jp-NotebookPanel .js-plotly-plot")
    assert figures.count() == 1
    assert figures.evaluate_all("divs => divs.filter(gd => !gd.querySelector('.main-svg .xy')).length") == 0

    # the map is drawn by the browser: every sentence, coloured by emotion, with a kernel (the notebook moved it
    # to the layer where emotions cluster best, and selected a cluster there)
    explorer = quickstart.output(quickstart.index_of("wb.Explorer(")).locator(".wb-explorer")
    canvas, status = explorer.locator(".wb-map-canvas"), explorer.locator(".wb-map-status")
    canvas.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('.wb-map').parentElement.dataset.kernel === 'yes'", timeout=30_000)
    assert re.fullmatch(r"pca/[0-6]:emotion:\d+", canvas.get_attribute("data-drawn"))
    assert f"{len(corpus)} points" in status.inner_text()
    pixels = canvas.evaluate(PIXELS)
    assert pixels["count"] > len(corpus)  # every point is a few opaque pixels

    # a lasso around the left half comes back to Python as explorer.selection
    lasso(page, canvas)
    page.wait_for_function("() => / selected$/.test(document.querySelector('.wb-map-status').textContent)")
    count = int(re.search(r"([\d,]+) selected", status.inner_text()).group(1).replace(",", ""))
    assert 0 < count < len(corpus)
    quickstart.pause()
    shown = quickstart.index_of('explorer.selection[["emotion", "text"]]')
    quickstart.run_cell(shown)
    table = quickstart.output(shown)
    summary = re.search(r"(\d+) rows × 2 columns", table.inner_text())
    rows = int(summary.group(1)) if summary else table.locator("table.dataframe tbody tr").count()
    assert rows == count  # what the browser lassoed is what Python holds
    index, emotions = _table_rows(table)
    assert emotions == corpus["emotion"].iloc[index].tolist()  # the meta's index is the row number
    table.screenshot(path=str(artifacts / "quickstart-selection.png"))
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "quickstart-lasso.png"))

    # a double click clears the selection
    canvas.dblclick(position={"x": 3, "y": canvas.bounding_box()["height"] - 3})
    page.wait_for_function("() => !/ selected$/.test(document.querySelector('.wb-map-status').textContent)")

    # hovering a point shows its sentence, as written, in the side panel
    hover_drawn_point(page, canvas)
    head = explorer.locator(".wb-map-panel .wb-panel-head b")
    head.wait_for(timeout=20_000)
    row = corpus.set_index(corpus["id"].astype(str)).loc[head.inner_text()]
    assert explorer.locator(".wb-map-panel .wb-panel-text").inner_text().strip() == row["text"]
    assert explorer.locator(".wb-map-panel .wb-panel-how").inner_text() == "hovered"
    page.wait_for_timeout(300)
    explorer.screenshot(path=str(artifacts / "quickstart-explorer.png"))

    quickstart.screenshot_all(artifacts / "quickstart-notebook.png")
    assert page.watch.refused == [], "the notebook's page tried to reach beyond the local server"
    assert page.watch.problems == []
