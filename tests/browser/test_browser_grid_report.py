"""A linked grid of browser maps in a report opened from ``file://`` with the network refused.

The handout case: ``Explorer.grid(..., renderer="browser")`` (two layers side
by side) linked to a single-layer Explorer with ``link``. With no kernel
anywhere, a lasso in the grid's first pane selects the same rows in its
second pane and in the linked Explorer, a hovered point shows up in the other
panels, and choosing another colour in one pane recolours the other pane
(the panes share their controls) but not the linked Explorer. The rows'
pictures travel once, with the grid's first pane; the second pane's panel
shows them too.
``tests/artifacts/browser/report-browser-grid.png`` is the page at the end.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.canvas_map import hover_drawn_point, lasso
from tests.browser.chromium import open_offline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N = 200

SOURCE = f"""
import numpy as np, pandas as pd, torch
from workbench import LayerStack
from workbench.widgets import Explorer, link

rng = np.random.default_rng(1)
emotion = np.array(["joy", "fear", "anger", "love"])[np.arange({N}) % 4]
meta = pd.DataFrame({{"id": [f"s{{i}}" for i in range({N})], "emotion": emotion,
                     "text": [f"sentence {{i}} felt {{e}}" for i, e in enumerate(emotion)],
                     "score": rng.normal(size={N})}})
from PIL import Image
Image.fromarray(np.full((60, 80, 3), 90, np.uint8)).save("face.png")
meta["image"] = "face.png"
centres = rng.normal(size=(4, 12))
codes = pd.factorize(meta["emotion"])[0]
stack = LayerStack({{layer: torch.as_tensor(centres[codes] * (1 + 2 * layer) + rng.normal(size=({N}, 12)),
                                            dtype=torch.float32) for layer in range(3)}}, meta=meta)
grid = Explorer.grid(stack, layers=[0, 2], color="emotion", hover="text", renderer="browser", height=300)
single = Explorer(stack, color="emotion", hover="text", renderer="browser", layer=1, height=300)
link(grid, single)
display(grid, single)
"""


def _drawn(page, index):
    return page.locator(".wb-map-canvas").nth(index).get_attribute("data-drawn")


@pytest.fixture(scope="module")
def report(tmp_path_factory, render_report):
    return render_report(SOURCE, tmp_path_factory.mktemp("browser-grid") / "grid.html")


def test_a_linked_grid_lives_in_a_report_without_a_kernel(report, browser, artifacts):
    with open_offline(report, browser=browser, width=1400, height=1100) as opened:
        page = opened.page
        canvases = page.locator(".wb-map-canvas")
        page.wait_for_function("() => [...document.querySelectorAll('.wb-map-canvas')].filter(c => c.dataset.drawn).length === 3",
                               timeout=60_000)  # fmt: skip
        assert [_drawn(page, i) for i in range(3)] == ["pca/0:emotion:0", "pca/0:emotion:0", "pca/1:emotion:0"]
        first, second = canvases.nth(0).bounding_box(), canvases.nth(1).bounding_box()
        assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"] + first["width"] - 2  # side by side
        assert first["width"] > 400  # the panes share the page's width, their panels go under the maps

        # a lasso around the left half of the first pane selects the same rows everywhere
        lasso(page, canvases.nth(0))
        page.wait_for_function("() => [...document.querySelectorAll('.wb-map-status')].every(s => / selected$/.test(s.textContent))")
        counts = [int(re.search(r"([\d,]+) selected", page.locator(".wb-map-status").nth(i).inner_text()).group(1))
                  for i in range(3)]  # fmt: skip
        assert 0 < counts[0] < N and counts == [counts[0]] * 3

        # hovering a point of the second pane shows the same row in the others' panels
        hover_drawn_point(page, canvases.nth(1))
        page.locator(".wb-map-panel").nth(1).locator(".wb-panel-head b").wait_for(timeout=10_000)
        hovered = page.locator(".wb-map-panel").nth(1).locator(".wb-panel-head b").inner_text()
        picture = page.locator(".wb-map-panel").nth(1).locator("img")  # sent with the first pane only
        assert picture.evaluate("img => img.decode().then(() => img.naturalWidth)") == 80
        for other in (0, 2):
            head = page.locator(".wb-map-panel").nth(other).locator(".wb-panel-head")
            head.wait_for(timeout=10_000)
            assert head.locator("b").inner_text() == hovered and "linked" in head.inner_text()

        # the grid's panes share their colour; the linked explorer keeps its own
        page.locator(".wb-map-color").nth(0).select_option("score")
        page.wait_for_function("() => document.querySelectorAll('.wb-map-canvas')[1].dataset.drawn.includes(':score:')")
        assert ":score:" in _drawn(page, 0) and ":emotion:" in _drawn(page, 2)
        page.screenshot(path=str(artifacts / "report-browser-grid.png"), full_page=True)
        refused, problems = list(opened.refused), list(opened.problems)
    assert refused == [], "the report tried to fetch from the network"
    assert problems == []
