"""The browser-drawn Explorer in a report with no kernel: page weight, first draw, heap, and how fast it answers.

For each N (default 100 000 and 1 000 000 points: 20 clusters in 32-D, two
layers, PCA, coloured by cluster), a one-cell notebook with
``Explorer(..., renderer="browser")`` is rendered by ``workbench report`` and
opened from ``file://`` in headless Chromium with the network refused. Reported:

- the page's size and the time ``workbench report`` took (executing the notebook);
- first draw: milliseconds from navigation to the map's first drawn frame;
- JS memory after a garbage collection: V8's used heap plus the typed arrays'
  backing stores (DevTools' ``Runtime.getHeapUsage``);
- a colour change and a layer change (both precomputed): milliseconds from the
  control's event to the redrawn canvas, measured inside the page;
- a hover: milliseconds from the pointer's move to the side panel's row
  (measured from Python, so it includes Playwright's round trip).

jupyter-scatter cannot take part here: its exported HTML loads its front end
from a CDN, and its views need a kernel. Times depend on the machine; run it quiet.

    PYTHONPATH=. python benchmarks/bench_browser_map.py [--n 100000 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nbformat

from workbench import report

#: The data, shared with bench_lab_scale.py: ``n`` points in 20 clusters in 32-D, two layers (``layers``), and ``meta``
#: with a categorical ``cluster`` and a numeric ``score``.
DATA = """import numpy as np, pandas as pd, torch
from workbench import LayerStack
rng = np.random.default_rng(0)
n = {n}
cluster = rng.integers(0, 20, n)
centres = rng.normal(size=(20, 32)) * 4
layers = {{layer: torch.as_tensor(centres[cluster] * (1 + layer) + rng.normal(size=(n, 32)), dtype=torch.float32)
          for layer in range(2)}}
meta = pd.DataFrame({{"id": np.arange(n), "cluster": [f"c{{c:02d}}" for c in cluster], "score": rng.normal(size=n)}})"""

SOURCE = DATA + """
from workbench.widgets import Explorer
Explorer(LayerStack(layers, meta=meta), color="cluster", hover=None, renderer="browser")"""

CHANGE = """([selector, value, event, expect]) => {
  const control = document.querySelector(selector), canvas = document.querySelector('.wb-map-canvas');
  const start = performance.now();
  control.value = value;
  control.dispatchEvent(new Event(event));
  const ms = performance.now() - start;
  return canvas.dataset.drawn.includes(expect) ? ms : -1;
}"""


def js_memory(page) -> dict[str, int]:
    """The page's JS memory in bytes after a forced garbage collection: DevTools' ``Runtime.getHeapUsage``.

    ``usedSize`` is V8's heap; ``embedderHeapUsedSize`` Blink's (DOM nodes,
    canvases' wrappers); ``backingStorageSize`` the ArrayBuffers' contents
    (typed arrays live outside V8's heap). Which keys there are depends on
    the Chromium.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        return cdp.send("Runtime.getHeapUsage")
    finally:
        cdp.detach()


def measure(n: int, folder: Path, browser) -> dict:
    from tests.browser.chromium import open_offline

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SOURCE.format(n=n))])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / f"map-{n}.ipynb"
    nbformat.write(notebook, source)
    start = time.perf_counter()
    page_path = report.render(source, folder / f"map-{n}.html", progress=False, timeout=1200)
    row = {"n": n, "report_s": time.perf_counter() - start, "page_mb": page_path.stat().st_size / 1e6}
    with open_offline(page_path, browser=browser, width=1280, height=900) as opened:
        page = opened.page
        page.wait_for_function("() => { const c = document.querySelector('.wb-map-canvas'); return c && c.dataset.drawn; }",
                               timeout=600_000)  # fmt: skip
        row["first_draw_ms"] = page.evaluate("() => performance.now()")
        usage = js_memory(page)
        row["js_heap_mb"] = (usage["usedSize"] + usage.get("backingStorageSize", 0)) / 1e6
        row["colour_ms"] = page.evaluate(CHANGE, [".wb-map-color", "score", "change", ":score:"])
        row["layer_ms"] = page.evaluate(CHANGE, [".wb-map-layer input", "0", "input", "pca/0:"])
        box = page.locator(".wb-map-canvas").bounding_box()
        start = time.perf_counter()
        for step in range(40):  # move until a point is under the pointer
            page.mouse.move(box["x"] + box["width"] * (0.3 + step / 100), box["y"] + box["height"] / 2)
            if page.locator(".wb-map-panel .wb-panel-head").count():
                break
        row["hover_ms"] = (time.perf_counter() - start) * 1000 if page.locator(".wb-map-panel .wb-panel-head").count() else float("nan")
        row["problems"] = len(opened.problems) + len(opened.refused)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    from tests.browser.chromium import launch

    with tempfile.TemporaryDirectory() as tmp, launch() as browser:
        for n in args.n:
            row = measure(n, Path(tmp), browser)
            print(
                f"N={n:>9,}  page {row['page_mb']:6.1f} MB  report {row['report_s']:6.1f} s  first draw {row['first_draw_ms']:7.0f} ms  "
                f"JS heap {row['js_heap_mb']:6.1f} MB  colour {row['colour_ms']:6.1f} ms  layer {row['layer_ms']:6.1f} ms  "
                f"hover {row['hover_ms']:6.0f} ms  page problems {row['problems']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
