"""Exports read back the way their users read them: pandas, DuckDB, TensorBoard's own reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import workbench as wb
from workbench.export import to_parquet, to_projector


@pytest.fixture()
def space():
    generator = torch.Generator().manual_seed(0)
    vectors = torch.randn(40, 6, generator=generator)
    meta = pd.DataFrame({
        "id": [f"s{i}" for i in range(40)],
        "text": [f"sentence\t{i}\nwith breaks" for i in range(40)],
        "emotion": ["joy", "fear", "anger", "sadness"] * 10,
        "intensity": np.arange(40) % 3 + 1,
    })
    meta["audio"] = [np.zeros(3, np.float32)] * 40  # raw audio cannot go into a table
    return wb.LatentSpace(vectors, meta, name="toy")


def test_parquet_holds_vectors_map_meta_and_the_knn_neighbours(space, tmp_path):
    coords = np.random.default_rng(1).normal(size=(40, 2))
    path = to_parquet(space, tmp_path / "map.parquet", coords=coords, k=5, metric="cosine")
    table = pd.read_parquet(path)
    assert table.columns.tolist() == ["id", "text", "emotion", "intensity", "x", "y", "vector", "neighbors"]
    np.testing.assert_allclose(np.stack(table["vector"].to_numpy()), space.numpy(), rtol=1e-6)
    np.testing.assert_allclose(table[["x", "y"]].to_numpy(), coords, rtol=1e-6)
    graph = wb.knn(space, 5, metric="cosine")
    expected_ids = space.ids[graph.indices.numpy()]
    assert [list(cell["ids"]) for cell in table["neighbors"]] == expected_ids.tolist()
    np.testing.assert_allclose(np.stack([cell["distances"] for cell in table["neighbors"]]),
                               graph.distances.numpy(), rtol=1e-5, atol=1e-6)


def test_parquet_reads_in_duckdb(space, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    path = to_parquet(wb.LayerStack({0: space.vectors, 3: space.vectors * 2}, meta=space.meta), tmp_path / "m.parquet", k=3)
    rows = duckdb.sql(
        f"SELECT id, neighbors.ids[1] AS nearest, len(neighbors.distances) AS k, len(vector) AS d "
        f"FROM '{path}' WHERE emotion = 'joy' ORDER BY id"
    ).fetchall()
    assert len(rows) == 10 and {row[2] for row in rows} == {3} and {row[3] for row in rows} == {6}
    nearest = dict(zip(space.ids, space.ids[wb.knn(space, 1).indices.numpy()[:, 0]]))
    assert all(nearest[row[0]] == row[1] for row in rows)


def test_parquet_of_an_explorer_is_the_map_it_shows(space, tmp_path):
    explorer = wb.Explorer(space, color="emotion", method="pca")
    table = pd.read_parquet(to_parquet(explorer, tmp_path / "shown.parquet", k=0))
    np.testing.assert_allclose(table[["x", "y"]].to_numpy(), np.asarray(explorer.coords)[:, :2], rtol=1e-5)
    assert "neighbors" not in table.columns


def test_parquet_errors_name_the_problem(space, tmp_path):
    with pytest.raises(ValueError, match=r"coords must have shape \(40, 2\)"):
        to_parquet(space, tmp_path / "a.parquet", coords=np.zeros((39, 2)))
    with pytest.raises(ValueError, match=r"the meta has column\(s\) \['x'\]"):
        to_parquet(space.assign(x=np.zeros(40)), tmp_path / "a.parquet")
    with pytest.raises(TypeError, match="expected a LatentSpace, a LayerStack or an Explorer"):
        to_parquet(np.zeros((3, 2)), tmp_path / "a.parquet")
    assert not (tmp_path / "a.parquet").exists()


def test_projector_files_parse_with_tensorboards_reader(space, tmp_path):
    folder = to_projector(space, tmp_path / "projector")
    tensors = (folder / "tensors.tsv").read_text().splitlines()
    metadata = (folder / "metadata.tsv").read_text().splitlines()
    # the format: one row per point; a header row when there are several metadata columns
    assert len(tensors) == 40 and len(metadata) == 41
    assert metadata[0].split("\t") == ["id", "text", "emotion", "intensity"]
    assert metadata[1].split("\t") == ["s0", "sentence 0 with breaks", "joy", "1"]
    assert all(len(line.split("\t")) == 6 for line in tensors)
    np.testing.assert_allclose(np.loadtxt(folder / "tensors.tsv", delimiter="\t"), space.numpy(), rtol=1e-6)
    pytest.importorskip("tensorboard")
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2, projector_plugin

    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig())
    (embedding,) = config.embeddings
    assert (embedding.tensor_name, embedding.tensor_path, embedding.metadata_path) == ("toy", "tensors.tsv", "metadata.tsv")
    assert list(embedding.tensor_shape) == [40, 6]
    read = projector_plugin._read_tensor_tsv_file(str(folder / embedding.tensor_path))
    np.testing.assert_allclose(read, space.numpy(), rtol=1e-6)


def test_projector_samples_above_its_cap_and_never_replaces_a_foreign_folder(space, tmp_path):
    with pytest.warns(UserWarning, match="at most 25 points"):
        folder = to_projector(space, tmp_path / "p", max_points=25, columns=["emotion"])
    assert len((folder / "tensors.tsv").read_text().splitlines()) == 25
    assert (folder / "metadata.tsv").read_text().splitlines()[0] == "id\temotion"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        to_projector(space, folder)
    to_projector(space, folder, overwrite=True)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a projector export"):
        to_projector(space, foreign, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "keep me"
