"""The ``workbench`` command: encode, lid, report, demo; one clear line per error."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    assert run(capsys, "--version") == (0, workbench.__version__ + "\n", "")


def test_without_a_command_the_help_is_shown(capsys):
    code, out, _ = run(capsys)
    assert code == 2
    assert all(command in out for command in ("encode", "lid", "report", "demo"))


@pytest.mark.parametrize("command, words", [
    ("encode", ["MODEL", "DATA.csv", "--layers", "--pooling", "--batch-size", "--column", "bundled all-MiniLM-L6-v2", "examples:"]),
    ("lid", ["SPACE_DIR", "--k", "--csv", "Less is More"]),
    ("report", ["NOTEBOOK.ipynb", "offline", "--no-execute"]),
    ("demo", ["reports/demo.html"]),
])
def test_each_command_explains_itself(capsys, command, words):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert all(word in out for word in words), out
    assert "(default: None)" not in out and "(default: False)" not in out


def test_bad_arguments_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["encode", "default", "x.csv", "-o", "out", "--layers", "first,last"])
    assert exit_.value.code == 2
    assert "expected 'all' or integers" in capsys.readouterr().err


def _one_error_line(code: int, err: str, *fragments: str) -> None:
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(fragment in lines[0] for fragment in fragments), lines[0]


def test_report_of_a_missing_notebook_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "report", str(tmp_path / "nope.ipynb"))
    _one_error_line(code, err, "workbench report: error:", "no notebook at")


def test_traceback_flag_shows_the_real_error(tmp_path):
    from workbench.report import ReportError

    with pytest.raises(ReportError):
        main(["--traceback", "report", str(tmp_path / "nope.ipynb")])


def test_an_unexpected_error_keeps_its_type_and_points_at_traceback(capsys, monkeypatch):
    import workbench.report

    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr(workbench.report, "render", broken)
    code, _, err = run(capsys, "report", "any.ipynb")
    _one_error_line(code, err, "RuntimeError: something inside broke", "--traceback")


@pytest.mark.slow
def test_report_writes_an_offline_page(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# CLI report"),
                nbformat.v4.new_code_cell("import plotly.graph_objects as go\ngo.Figure(go.Bar(x=['cli'], y=[3]))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "cli.ipynb"
    nbformat.write(nb, source)
    result = subprocess.run([sys.executable, "-m", "workbench.cli", "report", str(source), "-q"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "cli.html").read_text()  # default: next to the notebook
    assert result.stdout.startswith(f"wrote {tmp_path / 'cli.html'}")
    assert "<title>CLI report</title>" in page and '"x":["cli"]' in page


# ---------------------------------------------------------------- encode and lid


@pytest.fixture(scope="module")
def sentences_csv(tmp_path_factory):
    frame = workbench.load_emotion_sentences().head(60)[["id", "text", "emotion"]]
    path = tmp_path_factory.mktemp("cli") / "sentences.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def encoded(sentences_csv):
    """``workbench encode default sentences.csv -o ... --layers 0,-1``: (folder, exit code, stdout)."""
    out = sentences_csv.parent / "space"
    code = main(["encode", "default", str(sentences_csv), "-o", str(out), "--layers", "0,-1", "--no-cache", "-q",
                 "--batch-size", "16"])
    return out, code


@pytest.mark.slow
def test_encode_saves_the_layers_it_was_asked_for(encoded, sentences_csv):
    out, code = encoded
    assert code == 0
    stack = workbench.LayerStack.load(out)
    assert stack.layers == [0, 6]
    assert stack[6].vectors.shape == (60, 384)
    frame = pd.read_csv(sentences_csv)
    assert list(stack.meta["id"]) == list(frame["id"]) and "emotion" in stack.meta
    # the same numbers as the library call
    direct = workbench.encode(workbench.encoders.bundled.default_text_model(), frame, layers=[0, -1],
                              cache=False, progress=False)
    assert np.allclose(stack[6].numpy(), direct[6].numpy(), atol=1e-5)


def test_encode_of_a_missing_file_or_column_is_one_line(capsys, tmp_path, sentences_csv):
    code, _, err = run(capsys, "encode", "default", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "s"))
    _one_error_line(code, err, "workbench encode: error:", "no file")
    code, _, err = run(capsys, "encode", "default", str(sentences_csv), "-o", str(tmp_path / "s"), "--column", "review")
    _one_error_line(code, err, "has no column 'review'", "'text'")
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_lid_prints_one_row_per_layer_and_writes_csv(capsys, encoded, tmp_path):
    out, _ = encoded
    table = tmp_path / "lid.csv"
    code, stdout, _ = run(capsys, "lid", str(out), "--k", "12", "--csv", str(table), "-q")
    assert code == 0
    assert stdout.splitlines()[0].split()[:3] == ["layer", "mean", "median"]
    profile = pd.read_csv(table)
    assert profile["layer"].tolist() == [0, 6]
    assert ((profile["mean"] > 1) & (profile["mean"] < 60)).all()


def test_lid_of_a_folder_that_is_not_a_space_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "lid", str(tmp_path))
    _one_error_line(code, err, "workbench lid: error:", str(tmp_path))
