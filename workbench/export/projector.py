"""A space as TensorBoard Embedding Projector files.

The format (TensorBoard's ``projector`` plugin): ``tensors.tsv`` holds one
row per point, its values separated by tabs; ``metadata.tsv`` one row per
point in the same order, with a header row of column names when there is
more than one column (and none when there is exactly one);
``projector_config.pbtxt`` is a ``ProjectorConfig`` protocol buffer in text
form naming both files. Load the folder with ``tensorboard --logdir DIR``, or
upload the two TSV files to https://projector.tensorflow.org.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._format import atomic_directory
from workbench.export.source import space_of, table_safe_meta
from workbench.space import LatentSpace, LayerStack

__all__ = ["to_projector", "PROJECTOR_MAX_POINTS"]

#: The projector shows only the first 100 000 points of a tensor.
PROJECTOR_MAX_POINTS = 100_000


def _cell(value: Any) -> str:
    # tabs and newlines would shift the columns and rows of the TSV
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return " ".join(text.replace("\t", " ").split())


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_projector(
    source: LatentSpace | LayerStack | Any,
    folder: str | os.PathLike,
    *,
    layer: Any = None,
    columns: list[str] | None = None,
    max_points: int = PROJECTOR_MAX_POINTS,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write ``tensors.tsv``, ``metadata.tsv`` and ``projector_config.pbtxt`` into a new folder.

    Parameters
    ----------
    source : LatentSpace, LayerStack or Explorer
        An Explorer exports the layer it shows.
    folder : path
        Written atomically. An existing folder is replaced only with
        ``overwrite=True``, and only when it is an earlier projector export.
    layer : layer key, optional
        Which layer of a LayerStack (default: the last).
    columns : list of str, optional
        Meta columns for ``metadata.tsv`` (default: all that are text or
        numbers; ``id`` first).
    max_points : int, default 100000
        The projector shows only the first 100 000 rows of a tensor; above
        ``max_points`` a uniform random sample (``seed``) is written instead,
        with a warning.

    Returns
    -------
    Path
        The folder.

    Examples
    --------
    >>> import tempfile, torch, pandas as pd, workbench as wb
    >>> space = wb.LatentSpace(torch.randn(4, 3), pd.DataFrame({"id": range(4), "emotion": list("abab")}))
    >>> folder = to_projector(space, tempfile.mkdtemp() + "/projector")
    >>> sorted(p.name for p in folder.iterdir())
    ['metadata.tsv', 'projector_config.pbtxt', 'tensors.tsv']
    """
    space = space_of(source, layer=layer)
    target = Path(folder)
    if target.exists() and overwrite and not (target / "projector_config.pbtxt").is_file():
        raise FileExistsError(f"{target} exists and is not a projector export; refusing to replace it")
    if space.n > max_points:
        warnings.warn(
            f"the projector shows at most {max_points:,} points; writing a random sample of that many of {space.n:,}",
            UserWarning, stacklevel=2,
        )
        space = space.take(np.sort(np.random.default_rng(seed).choice(space.n, max_points, replace=False)))
    meta = table_safe_meta(space.meta)
    if columns is not None:
        missing = [c for c in columns if c not in space.meta.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in the meta; it has {list(space.meta.columns)}")
        meta = space.meta[list(dict.fromkeys(["id", *columns]))]
    lines = meta.apply(lambda row: "\t".join(_cell(v) for v in row), axis=1, result_type="reduce")
    header = ["\t".join(_cell(c) for c in meta.columns)] if meta.shape[1] > 1 else []
    name = _quote(f"{space.name}")
    config = (
        "embeddings {\n"
        f"  tensor_name: {name}\n"
        '  tensor_path: "tensors.tsv"\n'
        '  metadata_path: "metadata.tsv"\n'
        f"  tensor_shape: {space.n}\n"
        f"  tensor_shape: {space.dim}\n"
        "}\n"
    )
    with atomic_directory(target, overwrite=overwrite) as tmp:
        np.savetxt(tmp / "tensors.tsv", space.numpy().astype(np.float32), delimiter="\t", fmt="%.7g")
        (tmp / "metadata.tsv").write_text("\n".join([*header, *pd.Series(lines, dtype=str)]) + "\n", encoding="utf-8")
        (tmp / "projector_config.pbtxt").write_text(config, encoding="utf-8")
    return target
