"""A saved space as one standalone, interactive HTML page holding the Explorer.

The page is a report (:func:`workbench.report.render`) of a notebook made
here: it loads the space and shows :class:`workbench.Explorer`. So it is
exactly the Explorer a notebook shows, with its widget state saved into the
page: it opens offline, without a kernel, in any browser.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from workbench.report import render

__all__ = ["map_notebook", "to_html_map"]


def map_notebook(
    space: str | os.PathLike,
    *,
    layer: Any = None,
    color: str | None = None,
    hover: str | None = "text",
    method: str = "pca",
    title: str | None = None,
) -> nbformat.NotebookNode:
    """The notebook behind :func:`to_html_map`: load ``space``, show it in the Explorer.

    Examples
    --------
    >>> [cell.cell_type for cell in map_notebook("spaces/minilm").cells]
    ['markdown', 'code', 'code']
    """
    path = Path(space).expanduser().resolve()
    heading = title or f"Map of {path.name}"
    load = (
        "import workbench as wb\n"
        "from pathlib import Path\n\n"
        f"path = Path({str(path)!r})\n"
        "space = wb.LatentSpace.load(path) if (path / 'space.json').is_file() else wb.LayerStack.load(path)\n"
        "columns = list(space.meta.columns)\n"
        f"hover = {hover!r} if {hover!r} in columns else None"
    )
    options = [f"color={color!r}", "hover=hover", f"method={method!r}"]
    if layer is not None:
        options.append(f"layer={layer!r}")
    show = f"wb.Explorer(space, {', '.join(options)})"
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# {heading}"),
        nbformat.v4.new_code_cell(load),
        nbformat.v4.new_code_cell(show),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def to_html_map(
    space: str | os.PathLike,
    output: str | os.PathLike,
    *,
    layer: Any = None,
    color: str | None = None,
    hover: str | None = "text",
    method: str = "pca",
    title: str | None = None,
    timeout: int = 600,
    progress: bool = True,
) -> Path:
    """Write a saved space as one offline HTML page with the Explorer.

    Parameters
    ----------
    space : path
        A folder written by ``LatentSpace.save``, ``LayerStack.save``,
        ``workbench encode`` or ``workbench import``.
    output : path
        The ``.html`` file, written atomically.
    layer : layer key, optional
        The layer shown first (the page's slider reaches the others).
    color, hover : str, optional
        Meta columns to colour by and to show on hover (``hover`` is dropped
        when the space has no such column).
    method : {"pca", "umap", "tsne"}, default "pca"
    title : str, optional
        The page's heading and title; default ``"Map of <folder name>"``.

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        When ``space`` is not a folder.
    workbench.report.ReportError
        When the space cannot be shown (the message is the notebook's error).
    """
    folder = Path(space).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"no saved space at {folder}")
    notebook = map_notebook(folder, layer=layer, color=color, hover=hover, method=method, title=title)
    with tempfile.TemporaryDirectory(prefix="workbench-map-") as tmp:
        source = Path(tmp) / "map.ipynb"
        nbformat.write(notebook, source)
        return render(source, output, timeout=timeout, progress=progress, title=title)
