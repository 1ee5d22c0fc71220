"""A space as one parquet table for DuckDB, pandas and Apple Embedding Atlas."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench._format import atomic_file
from workbench.export.source import space_and_map, table_safe_meta
from workbench.geometry.neighbors import knn

__all__ = ["to_parquet"]

#: columns the export adds; a meta column of the same name would be ambiguous
RESERVED = ("vector", "x", "y", "neighbors")


def to_parquet(
    source: Any,
    path: str | os.PathLike,
    *,
    layer: Any = None,
    coords: Any = None,
    method: str = "pca",
    k: int = 10,
    metric: str = "euclidean",
    vectors: bool = True,
    seed: int = 0,
) -> Path:
    """Write a space, its 2-D map and each point's neighbours as one parquet file.

    Parameters
    ----------
    source : LatentSpace, LayerStack or Explorer
        An Explorer exports the layer and the map it shows now.
    path : path
        The ``.parquet`` file, written atomically (a failure leaves any
        previous file as it was).
    layer : layer key, optional
        Which layer of a LayerStack (default: the last).
    coords : array of shape (n_rows, 2), optional
        The map; default: ``workbench.project(space, method)``.
    method : {"pca", "umap", "tsne"}, default "pca"
    k : int, default 10
        Neighbours per point in the ``neighbors`` column (0: no column).
    metric : {"euclidean", "cosine"}, default "euclidean"
        The distance of the neighbours, in the full space (not on the map).
    vectors : bool, default True
        Include the ``vector`` column (float32 lists of length n_features).

    Returns
    -------
    Path

    Notes
    -----
    The table has the meta columns that parquet can hold (raw audio arrays
    and PIL images are left out), ``x`` and ``y``, ``vector``, and
    ``neighbors``: a struct ``{ids: list, distances: list<float32>}`` whose
    ``ids`` are values of the ``id`` column, nearest first, as Embedding
    Atlas reads with ``--neighbors neighbors``.

    Examples
    --------
    >>> import tempfile, torch, pandas as pd, workbench as wb
    >>> space = wb.LatentSpace(torch.randn(20, 5), pd.DataFrame({"id": range(20)}))
    >>> table = pd.read_parquet(to_parquet(space, tempfile.mkdtemp() + "/map.parquet", k=3))
    >>> table.columns.tolist(), len(table["neighbors"][0]["ids"])
    (['id', 'x', 'y', 'vector', 'neighbors'], 3)
    """
    space, xy = space_and_map(source, layer=layer, coords=coords, method=method, seed=seed)
    meta = table_safe_meta(space.meta)
    clash = [column for column in RESERVED if column in meta.columns]
    if clash:
        raise ValueError(f"the meta has column(s) {clash}, which the export writes; rename them first")
    table = pa.Table.from_pandas(meta.reset_index(drop=True), preserve_index=False)
    table = table.append_column("x", pa.array(xy[:, 0])).append_column("y", pa.array(xy[:, 1]))
    if vectors:
        flat = pa.array(space.numpy().astype(np.float32, copy=False).reshape(-1))
        table = table.append_column("vector", pa.FixedSizeListArray.from_arrays(flat, space.dim))
    if k:
        graph = knn(space, k, metric=metric)
        ids = np.asarray(space.ids)[graph.indices.cpu().numpy()]
        distances = graph.distances.cpu().numpy().astype(np.float32)
        neighbors = pa.StructArray.from_arrays(
            [pa.array(list(ids)), pa.array(list(distances), type=pa.list_(pa.float32()))], names=["ids", "distances"]
        )
        table = table.append_column("neighbors", neighbors)
    table = table.replace_schema_metadata({
        **(table.schema.metadata or {}),
        b"workbench": json.dumps({"space": space.name, "neighbors_metric": metric, "k": k}).encode(),
    })
    target = Path(path)
    with atomic_file(target, "wb") as handle:
        pq.write_table(table, handle)
    return target
