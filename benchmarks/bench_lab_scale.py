"""The Explorer's browser map against jupyter-scatter in live JupyterLab, at a million points, in one run.

For each N (default 1 000 000; ``--n 100000 1000000`` for several), the data of
``bench_browser_map.py`` (N points in 20 clusters in 32-D, two layers, a
categorical ``cluster`` and a numeric ``score``) is shown by each tool in its
own notebook, with its own kernel, in its own headless Chromium page of one
throw-away JupyterLab (``tests/browser/lab.py``), so no heap holds the other's
data. Ours is ``Explorer(..., renderer="browser")``; jupyter-scatter's is
``jscatter.Scatter(data, x, y, color_by="cluster", height=520).show()`` given the PCA
coordinates of the same layer (it does not project; computing them is not
timed). Measured:

import
    seconds to import the widget's module (``workbench.widgets``,
    ``jscatter``) once numpy, pandas, torch and workbench are loaded; in the
    cell before the build, so neither the build nor the first draw has it.
build
    seconds around the constructor in the kernel, printed by the cell.
first draw
    milliseconds, taken inside the page, from pressing Shift+Enter on the cell
    that builds and shows the widget to its first frame with the points: what
    a user waits for, so it includes the build, sending the data to the page,
    decoding and drawing it ("of which after the build" takes the build away).
    The end: ours, the map's canvas gets its ``data-drawn`` attribute, which
    the front end sets right after it wrote the points' pixels.
    jupyter-scatter: once its scatterplot (``container.api``, regl-scatterplot)
    says ``isPointsDrawn`` (points and spatial index in), its visible canvas
    (a 2-D canvas: regl-scatterplot renders in one shared WebGL context and
    copies each frame into it with ``drawImage``) holds more than 1 000 pixels
    that differ from its corner pixel, the background, i.e. a frame with the
    points was copied there. Both are polled every 50 ms (the same lag of up
    to 50 ms), and the pixels are only read once the points are in, so the
    poll does not slow jupyter-scatter's loading. regl-scatterplot's ``draw``
    event alone would not do: it also fires for frames drawn before the points
    arrive, and the scatterplot is made inside the widget's first animation
    frame, so a listener could come too late.
JS memory
    after the map is drawn and the kernel idle, a forced garbage collection
    (DevTools ``HeapProfiler.collectGarbage``), then ``Runtime.getHeapUsage``:
    V8's used heap + Blink's (``embedderHeapUsedSize``) + ArrayBuffer contents
    (``backingStorageSize``), the same sum for both. The same measure for a Lab
    page with an empty notebook whose kernel is up (the baseline, its own page)
    is subtracted, so "map" is what the widget costs; the raw numbers are kept.
    Neither canvas's bitmap nor GPU memory is in it: jupyter-scatter's WebGL
    buffers live in the GPU process (SwiftShader here).
colour and layer change in the page (ours)
    milliseconds inside the page from the control's event to the redrawn
    canvas (``bench_browser_map.CHANGE``): cluster -> score, layer 1 -> 0, and
    back. jupyter-scatter's front end holds only the current layer's
    coordinates and the current colour column, so neither change can happen
    in its page: n/a there.
colour and layer change via Python (both)
    what a jupyter-scatter user does instead, and a teacher's code does with
    ours: a cell running ``scatter.color(by="score")`` /
    ``scatter.xy("x0", "y0")``, or ``widget.color = "score"`` /
    ``widget.layer = 0``, from Shift+Enter to the map's last frame for it (no
    further frame for 1 s; frames seen by regl-scatterplot's ``drawing``
    event, and by a MutationObserver on our ``data-drawn``).

jupyter-scatter's map is given our map's height (520 px); it takes the
notebook's width, ours leaves room for its legend. Chromium is launched as the
browser tests launch it (``tests/browser/chromium.py``, ``--disable-gpu``):
jupyter-scatter's WebGL then runs on SwiftShader, on the CPU, as our 2-D
canvas does; on a real GPU its frames would be faster.

Printed as one table, with the ratio ours / jupyter-scatter for build, first
draw, map memory and the changes via Python, and written to
``benchmarks/bench_lab_scale.json``. Targets (issue 16): build <= 3 s, first draw <= 10 s, heap <= 1.5x jupyter-scatter's,
colour/layer change <= 300 ms. Times depend on the machine; run it quiet.

    PYTHONPATH=. python benchmarks/bench_lab_scale.py [--n 100000 1000000] [--json PATH] [--pictures DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

from benchmarks.bench_browser_map import CHANGE, DATA, js_memory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Appended to cell 0 for jupyter-scatter: the PCA coordinates of both layers (jupyter-scatter does not project).
SCATTER_COORDS = """
from workbench.geometry.views import project
stack = LayerStack(layers, meta=meta)
xy = {layer: project(stack[layer], "pca", quality=False).coords for layer in range(2)}
frame = pd.DataFrame({"x": xy[1][:, 0], "y": xy[1][:, 1], "x0": xy[0][:, 0], "y0": xy[0][:, 1],
                      "cluster": pd.Categorical(meta["cluster"]), "score": meta["score"]})"""

#: Ends cell 0: the widget's module imported (after numpy, pandas, torch and workbench), the seconds printed.
IMPORT = """
import time
start = time.perf_counter()
{statement}
print(f"import_s={{time.perf_counter() - start:.4f}}")"""

#: Each tool's cells: data and import (``DATA`` is prepended; prints the import's seconds), build and show (prints the
#: build's seconds), then its changes made from Python.
CELLS = {
    "workbench": [
        IMPORT.format(statement="from workbench.widgets import Explorer"),
        """start = time.perf_counter()
widget = Explorer(LayerStack(layers, meta=meta), color="cluster", hover=None, renderer="browser")
print(f"build_s={time.perf_counter() - start:.4f}")
widget""",
        'widget.color = "score"',
        "widget.layer = 0",
    ],
    "jupyter-scatter": [
        SCATTER_COORDS + IMPORT.format(statement="import jscatter"),
        """start = time.perf_counter()
scatter = jscatter.Scatter(data=frame, x="x", y="y", color_by="cluster", height=520)  # as tall as our map
widget = scatter.show()
print(f"build_s={time.perf_counter() - start:.4f}")
widget""",
        'scatter.color(by="score")',
        'scatter.xy(x="x0", y="y0", animate=False)',
    ],
}

#: Polled in the page until the map's first frame is there; answers ``performance.now()`` then.
FIRST_DRAW = {
    "workbench": """() => {
      const canvas = document.querySelector('.jp-OutputArea .wb-map-canvas');
      return canvas && canvas.dataset.drawn ? performance.now() : false;
    }""",
    "jupyter-scatter": """() => {
      const host = Array.from(document.querySelectorAll('.jp-OutputArea div')).find(div => div.api);
      if (!host || !host.api.get('isPointsDrawn')) return false;  // no pixels read (no time taken) before the points are in
      const canvas = host.querySelector('canvas');
      if (!canvas.width || !canvas.height) return false;
      const pixels = new Uint32Array(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.buffer);
      let differ = 0;
      for (let i = 1; i < pixels.length; i++) if (pixels[i] !== pixels[0]) differ++;
      return differ > 1000 ? performance.now() : false;
    }""",
}

#: Records the time of every frame the map draws from now on: ours sets the canvas's ``data-drawn`` after each (seen
#: by a MutationObserver), regl-scatterplot publishes a synchronous "drawing" event.
WATCH_FRAMES = {
    "workbench": """() => {
      const canvas = document.querySelector('.jp-OutputArea .wb-map-canvas');
      window.wbFrames = [];
      new MutationObserver(() => window.wbFrames.push(performance.now()))
        .observe(canvas, {attributes: true, attributeFilter: ['data-drawn']});
    }""",
    "jupyter-scatter": """() => {
      const api = Array.from(document.querySelectorAll('.jp-OutputArea div')).find(div => div.api).api;
      window.wbFrames = [];
      api.subscribe('drawing', () => window.wbFrames.push(performance.now()));
    }""",
}

#: Bytes of the memory measure: the same sum for every page.
MEMORY_KEYS = ("usedSize", "embedderHeapUsedSize", "backingStorageSize")


#: The measures both tools have, given as ours / jupyter-scatter's.
RATIOS = (
    "import_s", "build_s", "first_draw_ms", "draw_after_build_ms", "map_memory_mb", "colour_via_python_ms", "layer_via_python_ms",
)


def memory_mb(usage: dict[str, int]) -> float:
    return sum(usage.get(key, 0) for key in MEMORY_KEYS) / 1e6


def write_notebook(folder: Path, name: str, cells: list[str]) -> str:
    document = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(document, folder / name)
    return name


def press_run(notebook: Any, index: int) -> float:
    """Shift+Enter on code cell ``index``; the page's clock just before the key."""
    notebook.cell(index).locator(".jp-InputPrompt").click()
    start = notebook.page.evaluate("() => performance.now()")
    notebook.page.keyboard.press("Shift+Enter")
    return start


def last_frame_ms(tool: str, notebook: Any, index: int, timeout: float) -> float:
    """Run cell ``index`` and answer ms from Shift+Enter to the last frame the map drew for it (none for 1 s after)."""
    page = notebook.page
    page.evaluate(WATCH_FRAMES[tool])
    start = press_run(notebook, index)
    page.wait_for_function("() => window.wbFrames.length > 0", timeout=timeout * 1000, polling=50)
    notebook.wait_settled(timeout)
    page.wait_for_function("() => performance.now() - window.wbFrames.at(-1) > 1000", timeout=timeout * 1000, polling=100)
    return page.evaluate("() => window.wbFrames.at(-1)") - start


def open_page(browser: Any, server: Any, name: str) -> tuple[Any, Any]:
    """A fresh context and page, allowed to reach the Lab server only, with ``name`` open and its kernel idle."""
    from tests.browser.chromium import same_host, watch
    from tests.browser.notebook import LabNotebook

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)
    page = context.new_page()
    page.watch = watch(page, same_host(server.url))
    return context, LabNotebook(page, server, name).open(timeout=300)


def in_fresh_page(server: Any, name: str, measure: Callable[[Any], dict]) -> dict:
    """``measure(notebook)`` in its own Chromium and page, the server's kernels shut down after it; errors become the row."""
    from playwright.sync_api import Error as PageError  # its TimeoutError too

    from tests.browser.chromium import launch

    row: dict[str, Any] = {}
    try:
        with launch() as browser:
            context, notebook = open_page(browser, server, name)
            try:
                row = measure(notebook)
                row["page_problems"] = notebook.page.watch.problems + notebook.page.watch.refused
            finally:
                context.close()
    except (PageError, RuntimeError) as error:  # one tool failing must not lose the other's numbers
        row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        print(f"    {name}: {row['error']}", flush=True)
    finally:
        server.shutdown_kernels()
    return row


def printed_seconds(notebook: Any, index: int, name: str) -> float:
    """The seconds code cell ``index`` printed as ``name=...``; what it printed instead (a traceback) is the error."""
    printed = notebook.output(index).inner_text()
    if not (found := re.search(rf"{name}=([\d.]+)", printed)):
        raise RuntimeError(f"code cell {index} of {notebook.name} printed no {name}: {printed[-600:]!r}")
    return float(found.group(1))


def measure_baseline(notebook: Any) -> dict:
    notebook.page.wait_for_timeout(1000)  # Lab finishes laying itself out
    usage = js_memory(notebook.page)
    return {"memory": usage, "memory_mb": memory_mb(usage)}


def measure_tool(tool: str, n: int, pictures: Path | None = None) -> Callable[[Any], dict]:
    timeout = 120 + n / 1000  # seconds: a million points on two busy cores take minutes to prepare

    def measure(notebook: Any) -> dict:
        page, row = notebook.page, {}
        notebook.run_cell(0, timeout=timeout)
        row["import_s"] = printed_seconds(notebook, 0, "import_s")
        start = press_run(notebook, 1)
        row["first_draw_ms"] = page.wait_for_function(FIRST_DRAW[tool], timeout=timeout * 1000, polling=50).json_value() - start
        notebook.wait_settled(timeout)
        row["build_s"] = printed_seconds(notebook, 1, "build_s")
        row["draw_after_build_ms"] = row["first_draw_ms"] - 1000 * row["build_s"]
        print(f"    {tool}: build {row['build_s']:.2f} s, first draw {row['first_draw_ms']:.0f} ms", flush=True)
        page.wait_for_timeout(1000)  # what the front end does after its first frame (legend, axes) is done
        row["memory"] = js_memory(page)
        row["memory_mb"] = memory_mb(row["memory"])
        if pictures:  # taken after the memory: a screenshot leaves garbage behind
            notebook.output(1).screenshot(path=str(pictures / f"lab-scale-{tool}-{n}.png"))
        if tool == "workbench":  # and back, so the changes from Python below start where jupyter-scatter's do
            row["colour_ms"] = page.evaluate(CHANGE, [".wb-map-color", "score", "change", ":score:"])
            row["colour_back_ms"] = page.evaluate(CHANGE, [".wb-map-color", "cluster", "change", ":cluster:"])
            row["layer_ms"] = page.evaluate(CHANGE, [".wb-map-layer input", "0", "input", "pca/0:"])
            row["layer_back_ms"] = page.evaluate(CHANGE, [".wb-map-layer input", "1", "input", "pca/1:"])
            notebook.pause(timeout)  # the kernel heard of them before Python changes them again
        row["colour_via_python_ms"] = last_frame_ms(tool, notebook, 2, timeout)
        row["layer_via_python_ms"] = last_frame_ms(tool, notebook, 3, timeout)
        if tool == "workbench" and not re.fullmatch(r"pca/0:score:\d+", drawn := page.locator(".wb-map-canvas").get_attribute("data-drawn")):
            raise RuntimeError(f"after the changes from Python the map shows {drawn!r}, not PCA of layer 0 coloured by score")
        return row

    return measure


def run(n: int, server: Any, pictures: Path | None = None) -> dict:
    """One N: the baseline page, then each tool in a fresh notebook, kernel and page."""
    result: dict[str, Any] = {"n": n}
    print(f"N = {n:,}", flush=True)
    start = time.perf_counter()
    result["baseline"] = in_fresh_page(server, write_notebook(server.work, f"empty-{n}.ipynb", [""]), measure_baseline)
    for tool, cells in CELLS.items():
        data = DATA.format(n=n) + "\n" + cells[0]
        name = write_notebook(server.work, f"{tool}-{n}.ipynb", [data, *cells[1:]])
        row = in_fresh_page(server, name, measure_tool(tool, n, pictures))
        if "memory_mb" in row and "memory_mb" in result["baseline"]:
            row["map_memory_mb"] = row["memory_mb"] - result["baseline"]["memory_mb"]
        result[tool] = row
    ours, theirs = result["workbench"], result["jupyter-scatter"]
    result["ours_over_jupyter_scatter"] = {
        key: ours[key] / theirs[key]
        for key in RATIOS
        if key in ours and key in theirs
    }
    result["seconds"] = time.perf_counter() - start
    return result


def fmt(value: Any, digits: int = 0) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else ("n/a" if value is None else str(value))


def table(result: dict) -> str:
    """Rows: the measures; columns: ours, jupyter-scatter, the ratio, the target."""
    ours, theirs, ratio = result["workbench"], result["jupyter-scatter"], result["ours_over_jupyter_scatter"]
    base = result["baseline"].get("memory_mb")
    rows = [
        ("import of the widget's module (s)", ours.get("import_s"), theirs.get("import_s"), ratio.get("import_s"), "", 2),
        ("build (s)", ours.get("build_s"), theirs.get("build_s"), ratio.get("build_s"), "<= 3 s", 2),
        ("first draw in Lab (ms)", ours.get("first_draw_ms"), theirs.get("first_draw_ms"), ratio.get("first_draw_ms"),
         "<= 10 000 ms", 0),
        ("  of which after the build (ms)", ours.get("draw_after_build_ms"), theirs.get("draw_after_build_ms"),
         ratio.get("draw_after_build_ms"), "", 0),
        ("JS memory of the map (MB)", ours.get("map_memory_mb"), theirs.get("map_memory_mb"), ratio.get("map_memory_mb"), "<= 1.5x", 1),
        ("JS memory of the page, raw (MB)", ours.get("memory_mb"), theirs.get("memory_mb"), None, f"baseline {fmt(base, 1)}", 1),
        ("colour change in the page (ms)", ours.get("colour_ms"), None, None, "<= 300 ms", 1),
        ("layer change in the page (ms)", ours.get("layer_ms"), None, None, "<= 300 ms", 1),
        ("colour change via Python (ms)", ours.get("colour_via_python_ms"), theirs.get("colour_via_python_ms"), ratio.get("colour_via_python_ms"), "", 0),
        ("layer change via Python (ms)", ours.get("layer_via_python_ms"), theirs.get("layer_via_python_ms"), ratio.get("layer_via_python_ms"), "", 0),
    ]
    lines = [
        f"N = {result['n']:,}",
        f"| {'measure':<33} | {'workbench':>12} | {'jupyter-scatter':>15} | {'ours / theirs':>13} | {'target':<16} |",
        f"|{'-' * 35}|{'-' * 13}:|{'-' * 16}:|{'-' * 14}:|{'-' * 18}|",
    ]
    for name, mine, other, share, target, digits in rows:
        lines.append(f"| {name:<33} | {fmt(mine, digits):>12} | {fmt(other, digits):>15} | {fmt(share, 2):>13} | {target:<16} |")
    for tool in ("baseline", "workbench", "jupyter-scatter"):
        row = result[tool]
        if row.get("error"):
            lines.append(f"{tool} failed: {row['error']}")
        if row.get("page_problems"):
            lines.append(f"{tool} page problems: {row['page_problems'][:5]}")
    return "\n".join(lines)


def machine() -> dict:
    import subprocess

    import jscatter

    from tests.browser.chromium import chromium_executable

    version = subprocess.run([chromium_executable(), "--version"], check=False, capture_output=True, text=True)
    chromium = version.stdout.strip()
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "chromium": chromium, "jupyter_scatter": jscatter.__version__}


def write_json(path: Path, data: dict) -> None:
    """Whole or not at all: a run killed halfway leaves the previous file."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, indent=2, default=float) + "\n")
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1_000_000], help="numbers of points (default 1 000 000)")
    parser.add_argument("--json", type=Path, default=HERE / "bench_lab_scale.json", help="where the results go")
    parser.add_argument("--pictures", type=Path, help="a folder for a picture of each drawn map")
    args = parser.parse_args()
    if args.pictures:
        args.pictures.mkdir(parents=True, exist_ok=True)
    from tests.browser.chromium import chromium_executable
    from tests.browser.lab import LabServer

    chromium_executable()
    data: dict[str, Any] = {"machine": machine(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        with LabServer(Path(tmp) / "lab", Path(tmp) / "jupyter-server.log", env=env) as server:
            for n in args.n:
                data["runs"].append(run(n, server, args.pictures))
                print(table(data["runs"][-1]), flush=True)
                write_json(args.json, data)
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
