"""Running a notebook for a report: a fresh kernel, widget state stored, failing cells named."""

from __future__ import annotations

import copy
import os
import tempfile

import nbformat


# Run in the kernel after the last cell: every widget sends its full state, so
# the saved state is the final one. Self-contained on purpose: the notebook
# need not import workbench. plotly keeps a figure in ``_data``/``_layout``
# and applies changes to the browser as restyle/relayout messages, leaving
# its synced ``_widget_data``/``_widget_layout`` traits at the first copy.
_SYNC_WIDGETS = """\
def _workbench_sync_widgets():
    import sys
    if "ipywidgets" not in sys.modules:
        return
    from ipywidgets.widgets.widget import _instances
    figure = getattr(sys.modules.get("plotly.basewidget"), "BaseFigureWidget", None)
    for widget in list(_instances.values()):
        if figure is not None and isinstance(widget, figure):
            widget._trait_values["_widget_data"] = widget._data
            widget._trait_values["_widget_layout"] = widget._layout
        if widget.comm is not None:
            widget.send_state()
_workbench_sync_widgets()
del _workbench_sync_widgets
"""


class ReportError(RuntimeError):
    """A notebook could not be executed or rendered (the message says which cell and why)."""


def execute_notebook(
    notebook: nbformat.NotebookNode,
    *,
    cwd: str | os.PathLike | None = None,
    timeout: int | None = 600,
    kernel_name: str | None = None,
    progress: bool = True,
    name: str = "notebook",
    allow_errors: bool = False,
) -> nbformat.NotebookNode:
    """Run every cell of a copy of ``notebook`` in a fresh kernel; store widget state.

    Parameters
    ----------
    notebook : NotebookNode
        Not modified.
    cwd : path, optional
        Working directory of the kernel (the notebook's folder, so that its
        relative paths resolve). Default: the current directory.
    timeout : int or None, default 600
        Seconds one cell may run.
    kernel_name : str, optional
        Jupyter kernel to use; default: the notebook's, else ``python3``.
    progress : bool, default True
        Show a progress bar over the code cells.
    name : str
        How error messages call the notebook.
    allow_errors : bool, default False
        Keep running past a cell that raises; its error is then an output of
        that cell (shown in the report) instead of a :class:`ReportError`.

    Returns
    -------
    NotebookNode
        The executed copy, outputs filled in and widget state in its metadata.

    Raises
    ------
    ReportError
        When a cell raises, times out or the kernel dies or cannot start.
    """
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    nb = copy.deepcopy(notebook)
    nb.cells.append(nbformat.v4.new_code_cell(_SYNC_WIDGETS))
    n_code = sum(cell.cell_type == "code" for cell in nb.cells)
    bar = tqdm(total=n_code, desc=f"running {name}", unit="cell", disable=not progress)
    failed: dict[str, int] = {}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name or "",
        store_widget_state=True,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd or os.getcwd())}},
        on_cell_executed=lambda cell, cell_index, execute_reply: bar.update(),
        on_cell_error=lambda cell, cell_index, execute_reply: failed.setdefault("index", cell_index),
    )
    # The kernel's own log (its start-up chatter) goes to a file, not the
    # terminal; its last line explains a kernel that died.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except CellExecutionError as error:
            index = failed.get("index")
            if index == len(nb.cells) - 1:
                where = "the widget-state step"
            else:
                where = f"cell {'?' if index is None else index}"
            said = str(error.evalue).strip().splitlines()
            begins = f" (the cell begins: {_first_line(nb.cells[index])})" if index is not None and index < len(nb.cells) - 1 else ""
            raise ReportError(
                f"{name}: {where} raised {error.ename}: {said[0] if said else ''}{begins}; "
                "pass --allow-errors to keep going and show the error in the report"
            ) from None
        except CellTimeoutError:
            raise ReportError(f"{name}: a cell ran longer than the timeout of {timeout} s") from None
        except DeadKernelError:
            kernel_log.seek(0)
            said = [line.strip() for line in kernel_log.read().splitlines() if line.strip() and "WARNING |" not in line]
            why = f"; its last words: {said[-1]}" if said else " (a crash, os._exit or running out of memory)"
            raise ReportError(f"{name}: the kernel died{why}") from None
        except NoSuchKernel as error:
            raise ReportError(f"{name}: no Jupyter kernel named {error.name!r}; pass --kernel or install ipykernel") from None
        finally:
            bar.close()
    nb.cells.pop()
    return nb


def _first_line(cell: nbformat.NotebookNode, width: int = 60) -> str:
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    line = lines[0] if lines else "(empty)"
    return line if len(line) <= width else line[: width - 1] + "…"


def cell_errors(nb: nbformat.NotebookNode) -> list[str]:
    """``"cell 2 (1 / 0): ZeroDivisionError: division by zero"`` for every error output of an executed notebook."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                said = str(output.get("evalue", "")).strip().splitlines()
                found.append(f"cell {index} ({_first_line(cell)}): {output.get('ename')}: {said[0] if said else ''}")
    return found
