"""The browser-owned Explorer map in a report opened from ``file://`` with the network refused.

A small notebook (three layers, four emotions, texts) with
``Explorer(..., renderer="browser")`` is rendered by ``workbench report`` and
opened offline. With no kernel anywhere, a person can still move the layer
slider (the map's points move), choose another colour (the legend and the
point colours change), hover a point (its id, text, picture and an audio player fill the side panel)
and draw a lasso (the status line counts the rows inside). Three rows are
drawn as anchors: dark diamonds on top, and hovering one says so. A projection not
computed yet is offered greyed, saying it needs a running kernel.
``tests/artifacts/browser/report-browser-map.png`` is the page at the end.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.canvas_map import PIXELS, hover_drawn_point, lasso
from tests.browser.chromium import open_offline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Near-black pixels of the map (only the anchors' diamonds are drawn so dark): how many, and, in CSS pixels,
# the one with the most dark neighbours, i.e. a diamond's centre, where its row lies.
DARK = """canvas => {
  const w = canvas.width, data = canvas.getContext('2d').getImageData(0, 0, w, canvas.height).data, dark = new Set();
  for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 200 && data[i] < 40 && data[i + 1] < 40 && data[i + 2] < 40) dark.add(i / 4);
  let best = 0, most = -1;
  for (const p of dark) {
    let around = 0;
    for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) around += dark.has(p + dy * w + dx) ? 1 : 0;
    if (around > most) (most = around), (best = p);
  }
  const ratio = w / canvas.getBoundingClientRect().width;
  return {count: dark.size, x: (best % w) / ratio, y: Math.floor(best / w) / ratio};
}"""

N = 240

SOURCE = f"""
import numpy as np, pandas as pd, torch
from workbench import LayerStack
from workbench.widgets import Explorer

rng = np.random.default_rng(0)
emotion = np.array(["joy", "fear", "anger", "love"])[np.arange({N}) % 4]
meta = pd.DataFrame({{"id": [f"s{{i}}" for i in range({N})], "emotion": emotion,
                     "text": [f"sentence {{i}} felt {{e}}" for i, e in enumerate(emotion)],
                     "score": rng.normal(size={N})}})
centres = rng.normal(size=(4, 16))
codes = pd.factorize(meta["emotion"])[0]
layers = {{layer: torch.as_tensor(centres[codes] * (1 + 2 * layer) + rng.normal(size=({N}, 16)), dtype=torch.float32)
          for layer in range(3)}}
# every row has a picture and a sound, so the panel shows an image and an audio player
import wave
from PIL import Image
Image.fromarray(np.full((60, 80, 3), 180, np.uint8)).save("face.png")
with wave.open("hello.wav", "wb") as file:
    file.setnchannels(1), file.setsampwidth(2), file.setframerate(8000)
    file.writeframes((np.sin(np.arange(800) / 5) * 8000).astype("<i2").tobytes())
meta["image"], meta["audio"] = "face.png", "hello.wav"
explorer = Explorer(LayerStack(layers, meta=meta), color="emotion", hover="text", height=420, anchors=["s0", "s5", "s10"])
explorer
"""



@pytest.fixture(scope="module")
def report(tmp_path_factory, render_report):
    return render_report(SOURCE, tmp_path_factory.mktemp("browser-map") / "browser_map.html")


def test_the_map_lives_in_a_report_without_a_kernel(report, browser, artifacts):
    with open_offline(report, browser=browser, width=1280, height=900) as opened:
        page = opened.page
        canvas = page.locator(".wb-map-canvas")
        canvas.wait_for(timeout=60_000)
        page.wait_for_function("() => document.querySelector('.wb-map-canvas').dataset.drawn", timeout=60_000)
        assert canvas.get_attribute("data-drawn") == "pca/2:emotion:0"
        status = page.locator(".wb-map-status")
        assert f"{N} points" in status.inner_text() and "3 anchors" in status.inner_text()
        # the anchors: the only near-black pixels (the palette has no dark colour), and hovering one says so
        dark = canvas.evaluate(DARK)
        assert dark["count"] > 0
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + dark["x"], box["y"] + dark["y"])
        page.wait_for_function("() => /anchor/.test(document.querySelector('.wb-map-panel .wb-panel-how')?.textContent)")
        assert page.locator(".wb-map-panel .wb-panel-head b").inner_text() in ("s0", "s5", "s10")
        # no kernel: what only Python could compute is offered greyed, and says why
        umap = page.locator(".wb-map-method option[value=umap]")
        assert umap.is_disabled() and umap.get_attribute("title") == "needs a running kernel"

        # the layer slider moves the points
        before = canvas.evaluate(PIXELS)
        page.locator(".wb-map-layer input").fill("0")
        page.wait_for_function("() => document.querySelector('.wb-map-canvas').dataset.drawn.startsWith('pca/0:')")
        after = canvas.evaluate(PIXELS)
        assert after["hash"] != before["hash"]

        # another colour: the legend and the point colours change
        assert page.locator(".wb-map-legend .wb-legend-item").count() == 4
        page.locator(".wb-map-color").select_option("score")
        page.wait_for_function("() => document.querySelector('.wb-map-canvas').dataset.drawn.includes(':score:')")
        assert page.locator(".wb-map-legend .wb-legend-item").count() == 0
        assert page.locator(".wb-map-legend .wb-legend-range").is_visible()
        recoloured = canvas.evaluate(PIXELS)
        assert recoloured["hash"] != after["hash"]

        # hovering a point fills the side panel with its row's id and text
        hover_drawn_point(page, canvas)
        head = page.locator(".wb-map-panel .wb-panel-head b")
        head.wait_for(timeout=10_000)
        row = int(head.inner_text()[1:])
        emotion = ["joy", "fear", "anger", "love"][row % 4]
        assert page.locator(".wb-map-panel .wb-panel-text").inner_text() == f"sentence {row} felt {emotion}"
        assert page.locator(".wb-map-panel img").evaluate("img => img.decode().then(() => img.naturalWidth)") == 80
        assert page.locator(".wb-map-panel audio").evaluate("audio => audio.src.startsWith('blob:')")

        # a lasso around the left half of the map counts what it holds
        lasso(page, canvas)
        page.wait_for_function("() => / selected$/.test(document.querySelector('.wb-map-status').textContent)")
        count = int(re.search(r"([\d,]+) selected", status.inner_text()).group(1).replace(",", ""))
        assert 0 < count < N
        page.screenshot(path=str(artifacts / "report-browser-map.png"), full_page=True)
        refused, problems = list(opened.refused), list(opened.problems)
    assert refused == [], "the report tried to fetch from the network"
    assert problems == []
