"""Store the expected outputs of the cells nbval checks, and nothing else.

The notebooks are kept without outputs, except the cells marked
``# NBVAL_CHECK_OUTPUT``: nbval compares a marked cell's output with the one
stored in the file, so a marked cell without a stored output checks nothing.
This script executes each notebook (in a scratch copy, the way CI runs it,
``WORKBENCH_FAST=1``), keeps the outputs of the marked cells, and clears every
other cell.

A marked cell must print the same thing on every run and every machine:
counts, shapes, labels; no timings, no progress bars, no floats computed by
a model.

Usage::

    make notebook-outputs                    # all notebooks
    python notebooks/store_checked_outputs.py notebooks/01_quickstart.ipynb
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"
HERE = Path(__file__).resolve().parent


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and MARK in cell.source


def store(path: Path) -> int:
    """Execute ``path`` and write back the marked cells' outputs; return how many."""
    original = nbformat.read(path, as_version=4)
    executed = nbformat.read(path, as_version=4)
    os.environ.setdefault("WORKBENCH_FAST", "1")
    NotebookClient(executed, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    stored = 0
    for mine, ran in zip(original.cells, executed.cells):
        if mine.cell_type != "code":
            continue
        if is_checked(mine):
            mine.outputs, mine.execution_count = ran.outputs, ran.execution_count
            stored += 1
        else:
            mine.outputs, mine.execution_count = [], None
    original.metadata.pop("widgets", None)
    nbformat.write(original, path)
    return stored


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: stored the outputs of {store(path)} checked cell(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
