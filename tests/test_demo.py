import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_writes_a_self_contained_report(tmp_path):
    out = tmp_path / "demo.html"
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "demo", "--output", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert re.search(r"<script[^>]+src=", page) is None  # nothing fetched from a CDN
    assert page.count("Plotly.newPlot") == 2
    assert "neighbour agreement" in page and '"name":"joy"' in page
