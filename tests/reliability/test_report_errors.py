"""A failing cell: one line that names it, or, with ``--allow-errors``, a report that shows the error and goes on."""

from __future__ import annotations

import nbformat
import pytest

from workbench.cli import main

pytestmark = pytest.mark.slow  # each test starts a kernel

CELLS = ["x = 41", "\n# the failing one\nresult = {}['missing key']\nprint('never')", "print('after the failure', x + 1)"]


@pytest.fixture
def failing(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Fails"), *map(nbformat.v4.new_code_cell, CELLS)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "fails.ipynb"
    nbformat.write(nb, source)
    return source


def test_without_allow_errors_the_message_names_the_cell_and_its_first_line(failing, capsys):
    assert main(["report", str(failing), "--quiet"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    (line,) = err
    assert "fails.ipynb: cell 2 raised KeyError: 'missing key'" in line
    assert "# the failing one" in line and "--allow-errors" in line
    assert not failing.with_suffix(".html").exists()


def test_allow_errors_keeps_going_and_shows_the_error_in_the_page(failing, capsys):
    assert main(["report", str(failing), "--quiet", "--allow-errors"]) == 0
    err = capsys.readouterr().err
    assert "1 cell(s) raised, shown in the page: cell 2 (# the failing one): KeyError: 'missing key'" in err
    page = failing.with_suffix(".html").read_text(encoding="utf-8")
    assert "KeyError" in page and "missing key" in page  # the traceback, as the notebook shows it
    assert "after the failure 42" in page  # the cells after it ran
    assert "<pre>never" not in page  # the rest of the failing cell did not
