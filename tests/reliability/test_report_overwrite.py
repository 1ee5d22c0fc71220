"""``workbench report`` writes over nothing it did not write: not its notebook, not a user's file.

Each case runs the command as a user types it (``workbench.cli.main``, the
notebook's saved outputs, no kernel) and checks the exit status, the one
line on stderr and the bytes left on disk.
"""

from __future__ import annotations

import nbformat
import pytest

from workbench import report
from workbench.cli import main


@pytest.fixture(autouse=True)
def private_jupyter_data(tmp_path, monkeypatch):
    """Checking a notebook's trust reads (and may create) Jupyter's signature database: a private one, not the user's."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))


def _notebook(path, heading: str = "# A notebook") -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(heading), nbformat.v4.new_code_cell("1 + 1")])
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    nbformat.write(nb, path)
    return path.read_bytes()


def _report(*args: str) -> int:
    return main(["report", *map(str, args), "--no-execute", "--quiet"])


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


def test_a_notebook_saved_with_an_html_name_is_not_replaced_by_its_report(tmp_path, capsys):
    notebook = tmp_path / "analysis.html"  # a notebook saved under the name its report would take
    before = _notebook(notebook)
    assert _report(notebook) == 1
    line = _one_error_line(capsys)
    assert "own notebook" in line and str(notebook) in line
    assert notebook.read_bytes() == before


@pytest.mark.parametrize("flags", [(), ("--overwrite",)])
def test_output_pointing_at_the_notebook_is_refused_even_with_overwrite(tmp_path, capsys, flags):
    notebook = tmp_path / "analysis.ipynb"
    before = _notebook(notebook)
    (tmp_path / "link.html").symlink_to(notebook)
    for target in (notebook, tmp_path / "link.html"):
        assert _report(notebook, "-o", target, *flags) == 1
        assert "own notebook" in _one_error_line(capsys)
    assert notebook.read_bytes() == before


def test_a_file_workbench_did_not_write_is_kept_unless_overwrite_says_so(tmp_path, capsys):
    notebook = tmp_path / "analysis.ipynb"
    _notebook(notebook)
    thesis = tmp_path / "thesis.html"
    thesis.write_text("<html>three years of work</html>")
    assert _report(notebook, "-o", thesis) == 1
    line = _one_error_line(capsys)
    assert str(thesis) in line and "--overwrite" in line
    assert thesis.read_text() == "<html>three years of work</html>"
    assert not list(tmp_path.glob(".thesis.html*"))  # no temporary file left behind either

    assert _report(notebook, "-o", thesis, "--overwrite") == 0
    assert "<title>A notebook</title>" in thesis.read_text(encoding="utf-8")
    assert _report(notebook, "-o", thesis) == 0  # now a report workbench wrote: replaced without the flag


def test_a_report_workbench_wrote_is_replaced_without_a_flag(tmp_path, capsys):
    notebook = tmp_path / "analysis.ipynb"
    _notebook(notebook, "# First version")
    out = tmp_path / "out.html"
    assert _report(notebook, "-o", out) == 0
    assert "<title>First version</title>" in out.read_text(encoding="utf-8")
    _notebook(notebook, "# Second version")
    assert _report(notebook, "-o", out) == 0
    assert "<title>Second version</title>" in out.read_text(encoding="utf-8")


def test_a_folder_or_a_dangling_link_in_the_way_is_a_clear_error(tmp_path, capsys):
    notebook = tmp_path / "analysis.ipynb"
    _notebook(notebook)
    folder = tmp_path / "reports"
    folder.mkdir()
    assert _report(notebook, "-o", folder) == 1
    assert "is a folder" in _one_error_line(capsys)
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(tmp_path / "nowhere" / "file.html")
    assert _report(notebook, "-o", dangling) == 1
    assert str(dangling) in _one_error_line(capsys)
    assert dangling.is_symlink()


def test_render_refuses_too(tmp_path):
    notebook = tmp_path / "analysis.ipynb"
    _notebook(notebook)
    mine = tmp_path / "mine.html"
    mine.write_text("mine")
    with pytest.raises(report.ReportError, match="not a report written by workbench"):
        report.render(notebook, mine, execute=False)
    assert report.render(notebook, mine, execute=False, overwrite=True) == mine
