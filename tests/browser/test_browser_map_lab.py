"""The browser-owned Explorer map in live JupyterLab: what the browser does reaches Python.

With a kernel, the map says so (its ping is answered) and offers the
projections Python can still compute; moving its layer slider fires
``observe(..., names="layer")`` in the kernel, and a lasso drawn with the
mouse becomes ``explorer.selection``. The Explorer's ``selection`` trait is
synced (as ids), so a ``jslink`` carries that lasso to a plotly-drawn Explorer
through the page, and that Explorer, given a selection before it was shown,
still draws its figure. With more rows than the page is sent media for, the
kernel sends the hovered row's picture, which the panel then shows.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.browser.canvas_map import hover_drawn_point, lasso
from tests.browser.notebook import LabNotebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N = 200

CELLS = [
    f"""import numpy as np, pandas as pd, torch
from workbench import LayerStack
from workbench.widgets import Explorer

rng = np.random.default_rng(0)
emotion = np.array(["joy", "fear", "anger", "love"])[np.arange({N}) % 4]
meta = pd.DataFrame({{"id": np.arange({N}), "emotion": emotion, "text": [f"sentence {{i}}" for i in range({N})]}})
import workbench.widgets.browser_map as browser_map
from PIL import Image
browser_map.MEDIA_ROWS = 50  # fewer than the rows: the page holds no pictures, the kernel sends them
Image.fromarray(np.full((60, 80, 3), 90, np.uint8)).save("face.png")
meta["image"] = "face.png"
codes = pd.factorize(meta["emotion"])[0]
centres = rng.normal(size=(4, 12))
layers = {{layer: torch.as_tensor(centres[codes] * (1 + layer) + rng.normal(size=({N}, 12)), dtype=torch.float32)
          for layer in range(3)}}
explorer = Explorer(LayerStack(layers, meta=meta), color="emotion", renderer="browser", height=380)
layers_seen = []
explorer.observe(lambda change: layers_seen.append(change["new"]), names="layer")
explorer""",
    """import ipywidgets as widgets
follower = Explorer(LayerStack(layers, meta=meta), color="emotion", renderer="plotly", height=300)
follower.select([0, 1, 2])  # before it is shown
widgets.jslink((explorer, "selection"), (follower, "selection"))
follower""",
    'print("layers seen:", layers_seen)',
    'print("colour:", explorer.color)',
    'print("selected:", len(explorer.selection), "followed:", len(follower.selection))',
]


@pytest.fixture
def notebook(lab_page, lab_server):
    document = nbformat.v4.new_notebook()
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    document.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(document, lab_server.work / "browser_map.ipynb")
    return LabNotebook(lab_page, lab_server, "browser_map.ipynb").open()


def test_the_browser_map_talks_to_the_kernel(notebook, lab_page, artifacts):
    page = lab_page
    notebook.run_all(timeout=300)
    assert notebook.errors() == []
    output = notebook.output(0)
    canvas = output.locator(".wb-map-canvas")
    canvas.wait_for(timeout=60_000)
    # the kernel answered: a projection not computed yet is offered, not greyed
    page.wait_for_function("() => document.querySelector('.wb-map').parentElement.dataset.kernel === 'yes'", timeout=30_000)
    assert not output.locator(".wb-map-method option[value=umap]").is_disabled()

    output.locator(".wb-map-layer input").fill("0")
    page.wait_for_function("() => document.querySelector('.wb-map-canvas').dataset.drawn.startsWith('pca/0:')")
    notebook.pause()
    seen = notebook.index_of("layers seen:")
    notebook.run_cell(seen)
    assert notebook.output(seen).inner_text().strip() == "layers seen: [0]"

    # a colour the page does not hold (each point's neighbour preservation): the kernel computes and sends it
    assert not output.locator(".wb-map-color option[value=preservation]").is_disabled()
    output.locator(".wb-map-color").select_option("preservation")
    page.wait_for_function("() => document.querySelector('.wb-map-canvas').dataset.drawn.includes(':preservation:')"
                           " && document.querySelector('.wb-legend-range')", timeout=60_000)  # fmt: skip
    notebook.pause()
    colour = notebook.index_of("colour:")
    notebook.run_cell(colour)
    assert notebook.output(colour).inner_text().strip() == "colour: preservation"

    lasso(page, canvas, share=1)  # the whole map
    status = output.locator(".wb-map-status")
    page.wait_for_function("() => / selected$/.test(document.querySelector('.wb-map-status').textContent)")
    count = int(re.search(r"([\d,]+) selected", status.inner_text()).group(1).replace(",", ""))
    assert count == N  # the whole map
    notebook.pause()
    chosen = notebook.index_of("selected:")
    notebook.run_cell(chosen)
    assert notebook.output(chosen).inner_text().strip() == f"selected: {N} followed: {N}"
    assert notebook.output(1).locator(".js-plotly-plot .main-svg").first.is_visible()
    hover_drawn_point(page, canvas)  # the kernel sends the row's picture; the panel shows it
    picture = output.locator(".wb-map-panel img")
    picture.wait_for(timeout=30_000)
    assert picture.evaluate("img => img.decode().then(() => img.naturalWidth)") == 80
    output.screenshot(path=str(artifacts / "lab-browser-map.png"))
    assert page.watch.refused == []
    assert page.watch.problems == []
