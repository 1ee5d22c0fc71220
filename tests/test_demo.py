"""`workbench demo` (what `make demo` runs): the quickstart notebook as an offline report."""

import json
import re
import subprocess
import sys

import nbformat
import pytest

from workbench.demo import quickstart_notebook


def test_the_quickstart_is_found_in_the_source_tree():
    path = quickstart_notebook()
    assert path.name == "01_quickstart.ipynb"
    assert nbformat.read(path, as_version=4).cells[0].source.startswith("# Quickstart")


@pytest.mark.slow
def test_demo_writes_a_self_contained_report(tmp_path):
    out = tmp_path / "reports" / "demo.html"
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "demo", "--output", str(out), "--quiet"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert "no network needed" in result.stdout
    page = out.read_text()
    assert re.search(r"<script[^>]+src=", page) is None  # nothing fetched from a CDN
    assert "<title>workbench demo: quickstart</title>" in page
    # the per-layer figure, static, with its data
    assert "Plotly.newPlot" in page and "same emotion" in page
    # the Explorer, as a widget with its state: the emotion colours and the cluster selected from Python
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.DOTALL)
    models = json.loads(state.group(1))["state"]
    figures = [m for m in models.values() if "_widget_data" in m["state"]]
    assert figures, "the Explorer's map is missing from the widget state"
    traces = figures[0]["state"]["_widget_data"]
    assert any(trace.get("selectedpoints") for trace in traces)
