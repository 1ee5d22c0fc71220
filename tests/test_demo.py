"""`workbench demo` (what `make demo` runs): the quickstart notebook as an offline report."""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbench.demo import quickstart_notebook

#: Where the browser test leaves its picture of the Explorer (for the README).
SCREENSHOT = Path(__file__).resolve().parent / "artifacts" / "explorer.png"


def test_the_quickstart_is_found_in_the_source_tree():
    path = quickstart_notebook()
    assert path.name == "01_quickstart.ipynb"
    assert nbformat.read(path, as_version=4).cells[0].source.startswith("# Quickstart")


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "reports" / "demo.html"
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "demo", "--output", str(out), "--quiet"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert "no network needed" in result.stdout
    return out


@pytest.mark.slow
def test_demo_writes_a_self_contained_report(demo_report):
    page = demo_report.read_text()
    assert re.search(r"<script[^>]+src=", page) is None  # nothing fetched from a CDN
    assert "<title>workbench demo: quickstart</title>" in page
    # the per-layer figure, static, with its data
    assert "Plotly.newPlot" in page and "same emotion" in page
    # the Explorer's browser map, as a widget with its state: every layer's map, the emotion colours,
    # and the cluster selected from Python
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.DOTALL)
    models = json.loads(state.group(1))["state"]
    maps = [m for m in models.values() if "coords" in m["state"] and "color_names" in m["state"]]
    assert maps, "the Explorer's map is missing from the widget state"
    paths = {tuple(buffer["path"]) for buffer in maps[0]["buffers"]}
    assert {("coords", f"pca/{layer}") for layer in range(7)} <= paths and ("colors", "emotion", "values", "*") in paths
    (selected,) = [b for b in maps[0]["buffers"] if b["path"] == ["selected"]]
    assert selected["data"], "the cluster selected from Python is not in the map's state"


@pytest.mark.slow
@pytest.mark.browser
def test_the_demo_renders_offline_and_pictures_the_explorer(demo_report):
    from tests.browser.chromium import open_offline

    with open_offline(demo_report, width=1280, height=1000) as browser:
        page = browser.page
        page.wait_for_function("() => { const map = document.querySelector('.wb-map-canvas'); return map && map.dataset.drawn; }",
                               timeout=90_000)  # fmt: skip
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=90_000)
        explorer = page.locator(".wb-explorer").first
        SCREENSHOT.parent.mkdir(exist_ok=True)
        explorer.screenshot(path=str(SCREENSHOT))
        static = page.evaluate("document.querySelectorAll('.jp-OutputArea-output > div > .js-plotly-plot .main-svg').length")
    assert browser.refused == [] and browser.problems == []
    assert static > 0  # the per-layer figure drew too
    assert SCREENSHOT.stat().st_size > 20_000
