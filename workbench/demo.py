"""The demo behind ``make demo``: the quickstart notebook, rendered as an offline report.

``workbench demo`` runs ``notebooks/01_quickstart.ipynb`` (the built-in
emotion corpus through the bundled MiniLM, explored in the Explorer) and
writes it with :func:`workbench.report.render` to ``reports/demo.html``: one
file that opens in any browser without a network or a kernel.

Where the notebook comes from: a wheel carries a copy of it as package data
(``workbench/_notebooks/01_quickstart.ipynb``, see ``pyproject.toml``), so the
demo works from an installed package; in a source checkout (an editable
install, or ``PYTHONPATH``) the repository's ``notebooks/`` copy is used, the
one that CI executes.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from workbench.report import render

__all__ = ["run_demo", "quickstart_notebook"]

QUICKSTART = "01_quickstart.ipynb"


def quickstart_notebook() -> Path:
    """Path of the quickstart notebook: inside the installed package, else the repository's ``notebooks/``."""
    packaged = Path(str(resources.files("workbench").joinpath("_notebooks", QUICKSTART)))
    if packaged.is_file():
        return packaged
    source_tree = Path(__file__).resolve().parents[1] / "notebooks" / QUICKSTART
    if source_tree.is_file():
        return source_tree
    raise FileNotFoundError(
        f"the quickstart notebook is missing (looked for {packaged} and {source_tree}); reinstall workbench"
    )


def run_demo(out: str | os.PathLike = "reports/demo.html", *, progress: bool = True, timeout: int = 600) -> Path:
    """Run the quickstart notebook and write it as one self-contained HTML file.

    Parameters
    ----------
    out : path, default "reports/demo.html"
        Written atomically; its folder is created.
    progress : bool, default True
        A progress bar over the notebook's cells.
    timeout : int, default 600
        Seconds one cell may run.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> run_demo("reports/demo.html")  # doctest: +SKIP
    PosixPath('reports/demo.html')
    """
    return render(quickstart_notebook(), out, progress=progress, timeout=timeout, title="workbench demo: quickstart")
