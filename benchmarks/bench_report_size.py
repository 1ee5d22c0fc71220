"""How much a report weighs: the quickstart, and what each further Explorer on the same rows adds.

Renders, with ``workbench report`` (executing each notebook, ``WORKBENCH_FAST=1``):

- ``notebooks/01_quickstart.ipynb``;
- a notebook that encodes the built-in corpus (728 sentences, 7 layers of
  MiniLM) and shows it in 1, then 3 Explorers, with ``renderer="browser"``
  and with ``renderer="plotly"``.

Prints the sizes and the cost of each Explorer beyond the first. Sizes, not
times: a quiet machine is not needed.

    python benchmarks/bench_report_size.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat

from workbench import report

ROOT = Path(__file__).resolve().parents[1]

SETUP = """import workbench as wb
stack = wb.encode(wb.encoders.default_text_model(), wb.load_emotion_sentences(), progress=False)"""


def size(notebook: nbformat.NotebookNode | Path, folder: Path, name: str) -> int:
    if not isinstance(notebook, Path):
        path = folder / f"{name}.ipynb"
        nbformat.write(notebook, path)
        notebook = path
    out = report.render(notebook, folder / f"{name}.html", progress=False)
    return out.stat().st_size


def explorers(count: int, renderer: str) -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_code_cell(SETUP)]
    colours = ["emotion", "domain", "secondary"]
    for i in range(count):
        cells.append(nbformat.v4.new_code_cell(f'wb.Explorer(stack, color="{colours[i]}", hover="text", renderer="{renderer}")'))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def main() -> None:
    os.environ.setdefault("WORKBENCH_FAST", "1")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        quickstart = size(ROOT / "notebooks" / "01_quickstart.ipynb", folder, "quickstart")
        print(f"quickstart report: {quickstart / 1e6:.2f} MB")
        for renderer in ("browser", "plotly"):
            one = size(explorers(1, renderer), folder, f"one-{renderer}")
            three = size(explorers(3, renderer), folder, f"three-{renderer}")
            print(f"renderer={renderer}: 1 Explorer {one / 1e6:.2f} MB, 3 Explorers {three / 1e6:.2f} MB, "
                  f"each further Explorer {(three - one) / 2 / 1e3:.0f} KB")  # fmt: skip


if __name__ == "__main__":
    main()
