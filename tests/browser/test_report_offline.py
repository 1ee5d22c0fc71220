"""A report made by ``workbench report``, opened from disk in a browser that may not reach any network.

The quickstart notebook is rendered by the command a user types, then opened
as a ``file://`` page in a context that refuses every request that is not
``file:``, ``data:`` or ``blob:``. The plotly figure must draw (axes in
SVG), the Explorer's map its 728 points with the cluster the notebook
selected still highlighted, and its layer slider must move the map with no
kernel; nothing may try to leave the page, the console must stay free of
errors, and the page weighs under 3 MB. ``tests/artifacts/browser/report-quickstart.png``
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
    # the figure's plotly.js and the widget runtime travel gzipped, the map's data as compact buffers
    assert report.stat().st_size < 3_000_000
    with open_offline(report, browser=browser, width=1280, height=1000) as opened:
        page = opened.page
        page.wait_for_function(
            """() => {
              const plots = document.querySelectorAll('.js-plotly-plot');
              const map = document.querySelector('.wb-map-canvas');
              return plots.length >= 1 && Array.from(plots).every(gd => gd.querySelector('.main-svg .xy'))
                && map && map.dataset.drawn;
            }""",
            timeout=90_000,
        )
        assert page.locator(".js-plotly-plot").count() == 1  # the layer-by-layer figure; the map is the browser's

        # the Explorer's map: every sentence, and the cluster the notebook selected from Python still selected
        canvas, status = page.locator(".wb-map-canvas"), page.locator(".wb-map-status")
        said = re.search(r"cluster \d+: (\d+) sentences", page.locator("body").inner_text())
        assert said, "the cell that selects a cluster printed nothing"
        assert "728 points" in status.inner_text() and f"{said.group(1)} selected" in status.inner_text()
        # the notebook showed the layer where emotions cluster best, and selected a cluster there
        assert re.fullmatch(rf"pca/[0-6]:emotion:{said.group(1)}", canvas.get_attribute("data-drawn"))
        # no kernel: the slider still moves the map
        page.locator(".wb-map-layer input").fill("2")
        page.wait_for_function("() => document.querySelector('.wb-map-canvas').dataset.drawn.startsWith('pca/2:')")

        lines = Plot(page, page.locator(".js-plotly-plot"))
        assert [(t["name"], t["n"]) for t in lines.traces()] == [("same emotion", 7), ("same situation", 7)]

        page.screenshot(path=str(artifacts / "report-quickstart.png"), full_page=True)
        refused, problems = list(opened.refused), list(opened.problems)
        # the net is real: a request to the outside is refused and recorded
        probe = page.evaluate("() => fetch('https://example.org/probe').then(() => 'reached', () => 'refused')")
    assert (probe, opened.refused[len(refused):]) == ("refused", ["https://example.org/probe"])
    assert refused == [], "the report tried to fetch from the network"
    assert problems == []
