"""A report made by ``workbench report``, opened from disk in a browser that may not reach any network.

The quickstart notebook is rendered by the command a user types, then opened
as a ``file://`` page in a context that refuses every request that is not
``file:``, ``data:`` or ``blob:``. Every plotly figure must draw (axes in
SVG, the Explorer's points on its WebGL canvas, the cluster the notebook
selected still highlighted), nothing may try to leave the page, and the
console must stay free of errors. ``tests/artifacts/browser/report-quickstart.png``
is the whole page as the browser drew it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.chromium import open_offline
from tests.browser.plot import Plot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def report(tmp_path_factory, browser, quickstart_source, render_report):
    """``workbench report notebooks/01_quickstart.ipynb -o ...``, run as a user runs it."""
    return render_report(Path(quickstart_source), tmp_path_factory.mktemp("report") / "quickstart.html")


def test_the_report_renders_offline(report, browser, artifacts):
    with open_offline(report, browser=browser, width=1280, height=1000) as opened:
        page = opened.page
        page.wait_for_function(
            """() => {
              const plots = document.querySelectorAll('.js-plotly-plot');
              return plots.length >= 2 && Array.from(plots).every(gd => gd.querySelector('.main-svg .xy'));
            }""",
            timeout=90_000,
        )
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == 2  # the Explorer's map and the layer-by-layer figure

        explorer = Plot(page, page.locator(".wb-explorer .js-plotly-plot"))
        points = explorer.traces()[0]
        assert (points["type"], points["n"], points["finite"]) == ("scattergl", 728, 728)
        page.wait_for_timeout(500)  # WebGL draws on the next frame
        assert explorer.webgl_drawn(), "the Explorer's WebGL canvas stayed blank"
        # the cluster the notebook selected from Python is still the selection on the map
        said = re.search(r"cluster \d+: (\d+) sentences", page.locator("body").inner_text())
        assert said, "the cell that selects a cluster printed nothing"
        selected = explorer.graph.evaluate("gd => Array.from(gd._fullData[0].selectedpoints || [])")
        assert len(selected) == int(said.group(1))

        lines = Plot(page, page.locator(".js-plotly-plot:not(.wb-explorer .js-plotly-plot)"))
        assert [(t["name"], t["n"]) for t in lines.traces()] == [("same emotion", 7), ("same situation", 7)]

        page.screenshot(path=str(artifacts / "report-quickstart.png"), full_page=True)
        refused, problems = list(opened.refused), list(opened.problems)
        # the net is real: a request to the outside is refused and recorded
        probe = page.evaluate("() => fetch('https://example.org/probe').then(() => 'reached', () => 'refused')")
    assert (probe, opened.refused[len(refused):]) == ("refused", ["https://example.org/probe"])
    assert refused == [], "the report tried to fetch from the network"
    assert problems == []
