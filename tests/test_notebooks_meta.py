"""Every tutorial notebook is stored clean and reads as a lesson (nbval runs them; this checks the files)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    names = {path.stem for path in PATHS}
    assert {"01_quickstart", "04_lid_during_training"} <= names


@pytest.fixture(params=PATHS, ids=[path.name for path in PATHS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_named_with_a_two_digit_number(notebook):
    path, _ = notebook
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)


def test_stored_without_outputs_but_the_checked_ones(notebook):
    """Only cells marked ``# NBVAL_CHECK_OUTPUT`` keep an output: the one nbval compares against.

    A marked cell without a stored output would check nothing; refresh them
    with ``make notebook-outputs`` (notebooks/store_checked_outputs.py).
    """
    path, nb = notebook
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if "# NBVAL_CHECK_OUTPUT" in cell.source:
            assert cell.outputs, f"{path.name}: checked cell {index} has no stored output to check against"
            kinds = {key for output in cell.outputs for key in output.get("data", {})}
            assert not kinds & {"image/png", "application/vnd.jupyter.widget-view+json"}, (
                f"{path.name}: checked cell {index} stores images or widgets; check text only"
            )
        else:
            assert cell.outputs == [], f"{path.name}: cell {index} has outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: cell {index} has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name} carries saved widget state"


def test_valid_and_run_by_the_python3_kernel(notebook):
    path, nb = notebook
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: nbval and `workbench report` use python3"
    # nbformat 4.5 wants an id on every cell (it warns now, and will refuse later); and ids must be unique
    ids = [cell.get("id") for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]  # as stored: reading fills them in
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: a cell without an id, or two cells with one id"


def test_opens_with_a_title_and_imports_workbench_at_the_top(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"# \S", first.source), f"{path.name}: first cell is not a '# Title'"
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    assert code and any(re.search(r"^import workbench as wb$", source, re.MULTILINE) for source in code[:2]), (
        f"{path.name}: 'import workbench as wb' belongs in the first code cells"
    )


def test_explains_itself(notebook):
    """A lesson: at least a third of the cells are text."""
    path, nb = notebook
    text = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    assert len(text) * 3 >= len(nb.cells), f"{path.name}: {len(text)} text cells for {len(nb.cells)} cells"


def test_no_paths_of_one_machine(notebook):
    path, nb = notebook
    for cell in nb.cells:
        assert not re.search(r"(/work/|/home/|/Users/|C:\\\\|/tmp/venv)", cell.source), f"{path.name}: {cell.source[:80]!r}"


def test_links_to_other_notebooks_and_images_resolve(notebook):
    path, nb = notebook
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for target in re.findall(r"\]\(([^)#\s]+\.(?:ipynb|png|jpg|svg))", cell.source):
                assert (path.parent / target).is_file(), f"{path.name} links to a missing file {target}"
