"""The ``workbench`` command: encode, lid, report, demo, import, export, map, cache; one clear line per error."""

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


@pytest.mark.slow
def test_lid_gives_intervals_and_the_shuffled_null_when_asked(capsys, encoded, tmp_path):
    out, _ = encoded
    table = tmp_path / "lid.csv"
    code, stdout, _ = run(capsys, "lid", str(out), "--k", "12", "--n-bootstrap", "8", "--n-permutations", "9",
                          "--groups", "emotion", "--csv", str(table), "-q")  # fmt: skip
    assert code == 0 and "ci_low" in stdout.splitlines()[0] and "p_value" in stdout.splitlines()[0]
    profile = pd.read_csv(table)
    assert ((profile["ci_low"] <= profile["mean"]) & (profile["mean"] <= profile["ci_high"])).all()
    # sentence embeddings lie on far fewer dimensions than their columns shuffled apart
    assert (profile["mean"] < profile["null_mean"]).all() and (profile["p_value"] == 0.1).all()
    code, _, err = run(capsys, "lid", str(out), "--n-bootstrap", "4", "--groups", "mood")
    _one_error_line(code, err, "workbench lid: error:", "mood")


def test_lid_of_a_folder_that_is_not_a_space_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "lid", str(tmp_path))
    _one_error_line(code, err, "workbench lid: error:", str(tmp_path))


# ---------------------------------------------------------------- flags, import, export, map, cache


def test_negative_layer_lists_parse_as_values():
    from workbench.cli import _join_negative_values, _valued_options, build_parser

    parser = build_parser()
    argv = _join_negative_values(["encode", "default", "x.csv", "-o", "out", "--layers", "-1,-2", "-q"],
                                 _valued_options(parser))
    assert parser.parse_args(argv).layers == [-1, -2]
    argv = _join_negative_values(["lid", "space", "--layers", "-3", "--k", "5"], _valued_options(parser))
    assert parser.parse_args(argv).layers == [-3]


def test_the_command_reaches_the_file_check_with_negative_layers(capsys, tmp_path):
    code, _, err = run(capsys, "encode", "default", str(tmp_path / "none.csv"), "-o", str(tmp_path / "o"), "--layers", "-1,-2")
    _one_error_line(code, err, "no file")


@pytest.mark.slow
def test_errors_name_the_flag_not_the_python_keyword(capsys, tmp_path):
    data = tmp_path / "reviews.csv"
    pd.DataFrame({"id": [1, 2], "review": ["good", "bad"]}).to_csv(data, index=False)
    code, _, err = run(capsys, "encode", "default", str(data), "-o", str(tmp_path / "o"), "-q")
    _one_error_line(code, err, "--column")
    assert "column=" not in err


@pytest.fixture()
def vectors(tmp_path):
    matrix = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    meta = pd.DataFrame({"id": [f"r{i}" for i in range(30)], "emotion": ["joy", "fear", "anger"] * 10,
                         "text": [f"row {i}" for i in range(30)]})
    np.save(tmp_path / "vectors.npy", matrix)
    meta.to_csv(tmp_path / "meta.csv", index=False)
    return matrix, meta


def test_import_npy_with_meta_makes_a_space(capsys, tmp_path, vectors):
    matrix, meta = vectors
    code, out, _ = run(capsys, "import", str(tmp_path / "vectors.npy"), str(tmp_path / "meta.csv"), "-o", str(tmp_path / "space"))
    assert code == 0 and out.startswith("wrote 30 rows x 8")
    space = workbench.LatentSpace.load(tmp_path / "space")
    np.testing.assert_array_equal(space.numpy(), matrix)
    assert space.ids.tolist() == meta["id"].tolist() and space.labels("emotion").tolist() == meta["emotion"].tolist()
    # a workbench save may be replaced, when asked; anything else may not
    code, _, err = run(capsys, "import", str(tmp_path / "vectors.npy"), "-o", str(tmp_path / "space"))
    _one_error_line(code, err, "already holds a saved LatentSpace", "--overwrite")
    assert run(capsys, "import", str(tmp_path / "vectors.npy"), "-o", str(tmp_path / "space"), "--overwrite")[0] == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep")
    code, _, err = run(capsys, "import", str(tmp_path / "vectors.npy"), "-o", str(mine))
    _one_error_line(code, err, "is not a LatentSpace or other workbench save", "thesis.tex")
    assert (mine / "thesis.tex").read_text() == "keep"


def test_import_parquet_list_column_and_its_errors(capsys, tmp_path, vectors):
    matrix, meta = vectors
    table = meta.assign(embedding=list(matrix), other=list(matrix[:, :2]))
    table.to_parquet(tmp_path / "t.parquet")
    code, _, err = run(capsys, "import", str(tmp_path / "t.parquet"), "-o", str(tmp_path / "s"))
    _one_error_line(code, err, "several list columns", "--column")
    code, _, err = run(capsys, "import", str(tmp_path / "t.parquet"), "-o", str(tmp_path / "s"), "--column", "vec")
    _one_error_line(code, err, "no column 'vec' (--column)")
    assert run(capsys, "import", str(tmp_path / "t.parquet"), "-o", str(tmp_path / "s"), "--column", "embedding")[0] == 0
    space = workbench.LatentSpace.load(tmp_path / "s")
    np.testing.assert_array_equal(space.numpy(), matrix)
    assert "other" in space.meta.columns and "embedding" not in space.meta.columns
    np.save(tmp_path / "flat.npy", matrix[0])
    code, _, err = run(capsys, "import", str(tmp_path / "flat.npy"), "-o", str(tmp_path / "f"))
    _one_error_line(code, err, "expected a 2-D array")


def test_export_writes_parquet_and_projector(capsys, tmp_path, vectors):
    run(capsys, "import", str(tmp_path / "vectors.npy"), str(tmp_path / "meta.csv"), "-o", str(tmp_path / "space"))
    code, out, _ = run(capsys, "export", str(tmp_path / "space"), "--parquet", str(tmp_path / "m.parquet"),
                       "--projector", str(tmp_path / "proj"), "--k", "4")
    assert code == 0 and out.count("wrote") == 2
    table = pd.read_parquet(tmp_path / "m.parquet")
    assert len(table) == 30 and len(table["neighbors"][0]["ids"]) == 4
    assert (tmp_path / "proj" / "projector_config.pbtxt").is_file()
    code, _, err = run(capsys, "export", str(tmp_path / "space"))
    _one_error_line(code, err, "--parquet FILE and/or --projector DIR")
    code, _, err = run(capsys, "export", str(tmp_path / "space"), "--parquet", str(tmp_path / "x.parquet"), "--layer", "2")
    _one_error_line(code, err, "--layer is for a space with several layers")


@pytest.mark.slow
def test_map_writes_one_offline_page_with_the_explorer(tmp_path, vectors):
    subprocess.run([sys.executable, "-m", "workbench.cli", "import", str(tmp_path / "vectors.npy"),
                    str(tmp_path / "meta.csv"), "-o", str(tmp_path / "space")], check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "workbench.cli", "map", str(tmp_path / "space"), "-o",
                             str(tmp_path / "map.html"), "--color", "emotion", "-q"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "map.html").read_text()
    assert "<title>Map of space</title>" in page
    assert "application/vnd.jupyter.widget-state+json" in page and "r17" in page  # the hover text travels with the map
    code = subprocess.run([sys.executable, "-m", "workbench.cli", "map", str(tmp_path / "nowhere"), "-q"],
                          capture_output=True, text=True)
    assert code.returncode == 1 and "is not a saved space" in code.stderr


def _fill_cache(root, n: int):
    import os
    import time

    import torch

    from workbench.encoders.cache import EncodeCache

    cache = EncodeCache(root, max_bytes=0)
    for i in range(n):
        stack = workbench.LayerStack({0: torch.full((50, 40), float(i))}, meta=pd.DataFrame({"id": range(50)}))
        entry = cache.store(f"{i:02d}" + "k" * 38, stack, {"model": f"model-{i}"})
        old = time.time() - (n - i) * 86400  # entry i was last used n - i days ago
        os.utime(entry / "entry.json", (old, old))
    return cache


def test_cache_lists_and_clears_by_age(capsys, tmp_path):
    cache = _fill_cache(tmp_path / "c", 3)
    code, out, _ = run(capsys, "cache", "--dir", str(tmp_path / "c"))
    assert code == 0 and "3 entries" in out
    assert out.index("model-2") < out.index("model-1") < out.index("model-0")  # the one used last first
    code, out, _ = run(capsys, "cache", "clear", "--older-than", "1.5d", "--dir", str(tmp_path / "c"))
    assert code == 0 and out.startswith("removed 2 entries not used for 1.5d")
    assert [e.parts["model"] for e in cache.entries()] == ["model-2"]
    code, _, err = run(capsys, "cache", "--older-than", "2d", "--dir", str(tmp_path / "c"))
    _one_error_line(code, err, "--older-than goes with 'workbench cache clear'")
    assert run(capsys, "cache", "clear", "--dir", str(tmp_path / "c"))[0] == 0 and cache.entries() == []


def test_the_cache_evicts_the_entries_used_longest_ago(tmp_path, monkeypatch):
    import torch

    from workbench.encoders.cache import EncodeCache

    cache = _fill_cache(tmp_path / "c", 3)
    one = cache.entries()[0].size
    assert cache.load("01" + "k" * 38) is not None  # using entry 1 makes it the most recent
    monkeypatch.setenv("WORKBENCH_CACHE_LIMIT", str(int(2.5 * one)))
    bounded = EncodeCache(tmp_path / "c")
    assert bounded.max_bytes == int(2.5 * one)
    stack = workbench.LayerStack({0: torch.ones(50, 40)}, meta=pd.DataFrame({"id": range(50)}))
    bounded.store("03" + "k" * 38, stack, {"model": "model-3"})
    assert sorted(e.parts["model"] for e in bounded.entries()) == ["model-1", "model-3"]
    assert bounded.size() <= 2.5 * one
    monkeypatch.setenv("WORKBENCH_CACHE_LIMIT", "lots")
    with pytest.raises(ValueError, match="WORKBENCH_CACHE_LIMIT: expected a size such as 500MB"):
        EncodeCache(tmp_path / "c")
