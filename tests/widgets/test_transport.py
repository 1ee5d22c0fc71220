"""What goes to the browser: binary arrays, no resends, and a static export that holds the current map."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from tests.widgets.conftest import ARTIFACTS
from workbench import LatentSpace, LayerStack
from workbench.widgets import Explorer
from workbench.widgets.transport import record_traffic


@pytest.mark.slow
def test_100k_points_travel_as_binary_and_are_not_resent():
    n = 100_000
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({"id": np.arange(n), "topic": rng.integers(0, 25, n).astype(str)})
    stack = LayerStack({0: torch.randn(n, 8), 1: torch.randn(n, 8)}, meta=meta)
    with record_traffic() as traffic:
        explorer = Explorer(stack, color="topic", hover=None, sample=100, renderer="plotly")
    # x, y as float32 and the colour as int32 codes: 12 bytes a point, binary
    assert traffic.buffer_bytes == 12 * n
    # the JSON besides plotly.js is the id hover labels and the controls, not numbers
    assert traffic.esm_bytes > 4_000_000
    assert (traffic.data_bytes() - traffic.buffer_bytes) / n < 30
    with record_traffic(explorer) as traffic:
        explorer.color_menu.value = "(none)"
        explorer.color_menu.value = "topic"
    assert traffic.buffer_bytes == 4 * n and traffic.json_bytes < 20_000
    with record_traffic(explorer) as traffic:
        explorer.layer_slider.value = 0
    assert traffic.buffer_bytes == 8 * n and traffic.json_bytes < 20_000
    with record_traffic(explorer) as traffic:
        explorer.select(np.arange(0, n, 2))
    assert traffic.buffer_bytes == 4 * (n // 2)  # int32 row numbers
    explorer.close()


def _widget_state(page: str) -> dict:
    found = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    assert found, "no widget state in the exported page"
    return json.loads(found.group(1))["state"]


def _buffer(model: dict, path: list, dtype) -> np.ndarray:
    for entry in model["buffers"]:
        if entry["path"] == path:
            return np.frombuffer(base64.b64decode(entry["data"]), dtype=dtype)
    raise AssertionError(f"no buffer at {path}")


def test_static_export_holds_the_current_map_and_writes_a_png(stack, tmp_path):
    from ipywidgets.embed import dependency_state, embed_minimal_html

    explorer = Explorer(stack, color="emotion", renderer="plotly")
    explorer.layer_slider.value = 1  # changes after construction must be in the export
    explorer.color_menu.value = "intensity"
    explorer.select(["s1", "s2"])
    path = tmp_path / "explorer.html"
    # the state of this explorer's widgets only (by default every live widget goes in)
    embed_minimal_html(path, views=[explorer], state=dependency_state([explorer]), title="explorer")
    page = path.read_text()
    figures = [m for m in _widget_state(page).values() if "_widget_data" in m["state"]]
    assert len(figures) == 1
    figure = figures[0]
    x = _buffer(figure, ["_widget_data", 0, "x", "buffer"], np.float32)
    y = _buffer(figure, ["_widget_data", 0, "y", "buffer"], np.float32)
    codes = _buffer(figure, ["_widget_data", 0, "marker", "color", "buffer"], np.int32)
    np.testing.assert_array_equal(np.stack([x, y], 1), explorer.coords)
    np.testing.assert_array_equal(codes, explorer.encoding.values)
    assert _buffer(figure, ["_widget_data", 0, "selectedpoints", "buffer"], np.int32).tolist() == [1, 2]
    assert "sentence 7 &amp;lt;b&amp;gt;" in page or "sentence 7 &lt;b&gt;" in page  # hover text
    # a picture of what the export shows, from the exported arrays
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / "explorer_export.png"
    figure_png, axes = plt.subplots(figsize=(5, 5), dpi=100)
    colours = explorer.encoding.rgba()
    colours[np.setdiff1d(np.arange(len(x)), [1, 2]), 3] = 0.12  # dimmed like the widget
    axes.scatter(x, y, c=colours, s=12, linewidths=0)
    axes.set_title(explorer.view.describe(), fontsize=8)
    axes.set_aspect("equal")
    axes.axis("off")
    figure_png.savefig(png)
    plt.close(figure_png)
    assert png.stat().st_size > 5_000


def test_a_figure_displayed_on_its_own_still_exports_its_current_data(stack):
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    explorer.figure._repr_mimebundle_()  # what Jupyter calls to show the bare figure
    explorer.color_menu.value = "intensity"
    exported = explorer.figure.get_state()["_widget_data"][0]["marker"]["color"]
    assert np.frombuffer(exported["buffer"], np.int32).tolist() == explorer.encoding.values.tolist()


def test_plain_figure_for_reports_is_binary_too(stack):
    figure = Explorer(LatentSpace(stack[0].vectors, stack.meta), color="score").to_figure()
    text = figure.to_json()
    assert '"bdata"' in text and '"dtype":"f4"' in text
