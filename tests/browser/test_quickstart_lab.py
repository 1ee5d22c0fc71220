"""Notebook 01 in JupyterLab, as a user meets it: run all, look at the map, lasso a group, hover a point.

What a Python-side widget test cannot see: that the Explorer's map is
actually drawn in the page (all 728 sentences, WebGL pixels on the canvas),
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

import numpy as np
import pytest

from tests.browser.notebook import LabNotebook
from tests.browser.plot import Plot, clear_box, lonely_point

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus():
    import workbench as wb

    return wb.load_emotion_sentences()


@pytest.fixture
def quickstart(lab_page, lab_server, quickstart_source):
    shutil.copy(quickstart_source, lab_server.work / quickstart_source.name)
    notebook = LabNotebook(lab_page, lab_server, quickstart_source.name).open()
    notebook.run_all(timeout=600)  # encodes 728 sentences and fits UMAP: about a minute on 2 busy cores
    return notebook


def _table_rows(output) -> tuple[list[int], list[str]]:
    """Index labels and first column of the DataFrame a cell displayed."""
    rows = output.locator("table.dataframe tbody tr")
    index = [int(text) for text in rows.locator("th").all_inner_texts()]
    first = rows.evaluate_all("rows => rows.map(row => row.querySelector('td').innerText)")
    return index, first


def _normalise(text: str) -> str:
    return " ".join(text.split())


def test_quickstart_in_lab(quickstart, lab_page, corpus, artifacts):
    from playwright.sync_api import expect

    page = lab_page
    assert quickstart.errors() == []
    assert None not in quickstart.executed(), f"cells that did not run: {quickstart.prompts()}"
    # every figure in the notebook drew its axes (the Explorer's map and the layer-by-layer plot)
    figures = page.locator(".jp-NotebookPanel .js-plotly-plot")
    assert figures.count() == 2  # a figure that failed shows as text, or not at all
    assert figures.evaluate_all("divs => divs.filter(gd => !gd.querySelector('.main-svg .xy')).length") == 0

    # the map is drawn: one WebGL trace holding every sentence
    explorer = quickstart.output(quickstart.index_of("wb.Explorer(")).locator(".wb-explorer")
    status = explorer.locator(".wb-status")
    plot = Plot(page, explorer.locator(".js-plotly-plot"), settle=quickstart.pause)
    points = plot.traces()[0]
    assert (points["type"], points["name"], points["n"], points["finite"]) == ("scattergl", "points", len(corpus), len(corpus))
    assert plot.webgl_drawn(), "the map's WebGL canvas stayed blank"

    # a lasso drawn with the mouse around a group of points comes back to Python
    pixels, area = plot.pixels()
    found = clear_box(pixels, area, want=(6, 40))
    assert found is not None, "no clean lasso around a group of points"
    (x0, y0, x1, y1), inside = found
    plot.drag_lasso(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))  # the Explorer's drag mode is the lasso
    expect(status).to_have_text(re.compile(rf"· {len(inside)} selected\s*$"), timeout=20_000)  # Python answered
    shown = quickstart.index_of('explorer.selection[["emotion", "text"]]')
    quickstart.run_cell(shown)
    index, emotions = _table_rows(quickstart.output(shown))
    assert index == inside.tolist()  # the meta's index is the row number, and point i is row i
    assert emotions == corpus["emotion"].iloc[inside].tolist()
    quickstart.output(shown).screenshot(path=str(artifacts / "quickstart-selection.png"))
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "quickstart-lasso.png"))

    # a double click clears the selection: every point in full colour again
    pixels, area = plot.pixels()  # running the cell may have scrolled the page
    plot.double_click(area[0] + 3, area[3] - 3)
    expect(status).not_to_contain_text("selected", timeout=20_000)

    # hovering a point shows its sentence, as written, in the hover label and the side panel
    quoted = corpus["text"].str.contains('"', regex=False).to_numpy()  # quotes must survive the escaping
    target = lonely_point(pixels, area, prefer=quoted)
    row = corpus.iloc[target]
    plot.hover_point(pixels[target])
    panel = explorer.locator(".wb-panel")
    panel.locator(".wb-panel-head b", has_text=re.compile(rf"^{re.escape(str(row['id']))}$")).wait_for(timeout=20_000)
    page.wait_for_timeout(300)  # the focus ring is drawn after the panel fills
    explorer.screenshot(path=str(artifacts / "quickstart-explorer.png"))
    assert panel.locator(".wb-panel-text").inner_text().strip() == row["text"]
    assert panel.locator(".wb-panel-how").inner_text() == "hovered"
    assert _normalise(plot.hover_label()) == _normalise(row["text"])

    quickstart.screenshot_all(artifacts / "quickstart-notebook.png")
    assert page.watch.refused == [], "the notebook's page tried to reach beyond the local server"
    assert page.watch.problems == []
