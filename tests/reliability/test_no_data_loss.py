"""Nothing the user owns is replaced; a crash never makes a save look gone, nor brings back a deleted one."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LatentSpace, LayerStack
from workbench.cli import main
from workbench.streaming import ShardWriter


@pytest.fixture
def thesis(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    return folder


def _stack(space):
    return LayerStack({0: space, 1: space.with_vectors(space.vectors * 2)})


@pytest.mark.parametrize("make", [lambda s: s, _stack], ids=["LatentSpace", "LayerStack"])
def test_save_refuses_a_folder_that_is_not_a_save(thesis, small_space, make):
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match=r"not a .*workbench save.*thesis\.tex"):
            make(small_space).save(thesis, overwrite=overwrite)
    assert (thesis / "thesis.tex").read_text() == "years of work"


def test_shard_store_with_overwrite_never_deletes_a_foreign_folder(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "my web app"}')
    (folder / "index.html").write_text("<p>mine</p>")
    with pytest.raises(ValueError, match="manifest.json"):
        ShardWriter(folder, overwrite=True)
    assert (folder / "index.html").read_text() == "<p>mine</p>"


def _encode(*argv) -> int:
    return main(["encode", "default", *argv, "--layers", "-1", "--no-cache", "-q"])


def test_cli_encode_refuses_to_clobber(tmp_path, thesis, capsys):
    csv = tmp_path / "s.csv"
    pd.DataFrame({"id": [1, 2], "text": ["happy", "sad"]}).to_csv(csv, index=False)
    assert _encode(str(csv), "-o", str(thesis)) == 1
    assert (thesis / "thesis.tex").read_text() == "years of work"
    # "-o .." from inside a data folder: the folder that holds the input CSV
    assert _encode(str(csv), "-o", str(tmp_path)) == 1
    assert csv.is_file() and (thesis / "thesis.tex").is_file()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("refusing to replace" in line for line in err)


def test_replacing_a_save_needs_overwrite_and_says_so(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        small_space.with_vectors(small_space.vectors + 1).save(path)
    small_space.with_vectors(small_space.vectors + 1).save(path, overwrite=True)
    assert torch.equal(LatentSpace.load(path).vectors, small_space.vectors + 1)


def test_two_crashes_in_a_row_load_the_newest_or_name_the_leftovers(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    # two replacements killed between their renames, with no load in between
    newer = small_space.with_vectors(small_space.vectors + 1)
    os.rename(path, tmp_path / ".space.old-aaa")
    newer.save(tmp_path / ".space.tmp-aaa")
    newest = small_space.with_vectors(small_space.vectors + 2)
    os.rename(tmp_path / ".space.tmp-aaa", tmp_path / ".space.old-bbb")
    newest.save(tmp_path / ".space.tmp-bbb")
    assert torch.equal(LatentSpace.load(path).vectors, newest.vectors)


def test_lone_leftovers_are_named_not_restored(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    os.rename(path, tmp_path / ".space.old-aaa")
    shutil.copytree(tmp_path / ".space.old-aaa", tmp_path / ".space.old-bbb")
    with pytest.raises(FileNotFoundError, match=r"\.space\.old-aaa.*rename it to space"):
        LatentSpace.load(path)


def test_a_deleted_save_does_not_come_back(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    shutil.copytree(path, tmp_path / "v1")
    small_space.with_vectors(small_space.vectors + 1).save(path, overwrite=True)
    # a crash after the swap, before the old version was removed, leaves it aside; then the user deletes the save
    os.rename(tmp_path / "v1", tmp_path / ".space.old-ccc")
    shutil.rmtree(path)
    with pytest.raises(FileNotFoundError, match="no saved LatentSpace"):
        LatentSpace.load(path)
    assert not path.exists()


def test_the_next_save_cleans_leftovers(tmp_path, small_space):
    path = small_space.save(tmp_path / "space")
    (tmp_path / ".space.tmp-dead").mkdir()
    (tmp_path / ".space.tmp-dead" / "vectors.safetensors").write_bytes(b"half")
    shutil.copytree(path, tmp_path / ".space.old-dead")
    small_space.save(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space"]


def test_shard_store_refuses_a_saved_space_unless_told(tmp_path, small_space):
    path = small_space.save(tmp_path / "saved")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ShardWriter(path)
    writer = ShardWriter(path, overwrite=True)
    writer.write(np.ones((2, 3), np.float32), pd.DataFrame({"id": ["a", "b"]}))
    assert not (path / "space.json").exists()
