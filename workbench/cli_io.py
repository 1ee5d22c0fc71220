"""The ``workbench`` commands that move data in and out, and keep the cache.

``import`` starts from one's own embeddings; ``export`` and ``map`` send a
saved space to other tools; ``cache`` shows and clears the encode cache.
They are registered on the parser by :func:`add_commands`, called from
:mod:`workbench.cli`, which owns the error handling.

Examples
--------
::

    workbench import vectors.npy meta.csv -o spaces/mine
    workbench export spaces/mine --parquet mine.parquet --projector projector/
    workbench map spaces/mine -o map.html --color emotion
    workbench cache
    workbench cache clear --older-than 30d
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from workbench._format import check_destination, saved_kind

__all__ = ["add_commands", "parse_duration", "read_vectors"]

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration(text: str) -> str:
    parse_duration(text)  # refused by the parser, which names the flag
    return text


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``12h``, ``7d`` or ``2w``.

    Examples
    --------
    >>> parse_duration("7d"), parse_duration("12h")
    (604800.0, 43200.0)
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhdw])\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 30m, 12h, 7d or 2w; got {text!r}")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def read_vectors(path: Path, column: str | None = None):
    """``(matrix of shape (n_rows, n_features), meta columns or None)`` from ``.npy`` or ``.parquet``.

    A parquet file holds the vectors in one list column (``column``, else the
    only list column, e.g. ``vector`` or ``embedding``) or as one numeric
    column per dimension; its other columns become meta.
    """
    import numpy as np
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    if path.suffix == ".npy":
        try:
            matrix = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path} is not a numeric .npy array ({exc})") from None
        if column is not None:
            raise ValueError("--column is for a parquet file; a .npy file holds only the vectors")
        return matrix, None
    if path.suffix != ".parquet":
        raise ValueError(f"{path}: expected a .npy or a .parquet file")
    table = pd.read_parquet(path)
    lists = [c for c in table.columns if table[c].dtype == object and len(table) and hasattr(table[c].iloc[0], "__len__")
             and not isinstance(table[c].iloc[0], str)]
    if column is not None:
        if column not in table.columns:
            raise ValueError(f"{path} has no column {column!r} (--column); it has {list(table.columns)}")
        lists = [column]
    if len(lists) > 1:
        raise ValueError(f"{path} has several list columns {lists}; name the vectors with --column")
    if lists:
        try:
            matrix = np.stack([np.asarray(v, dtype=np.float32) for v in table[lists[0]]])
        except ValueError:
            raise ValueError(f"{path}: the vectors in column {lists[0]!r} do not all have the same length") from None
        return matrix, table.drop(columns=lists)
    numeric = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
    if not numeric:
        raise ValueError(f"{path} has no list column and no float columns to read vectors from; columns: {list(table.columns)}")
    return table[numeric].to_numpy(np.float32), table.drop(columns=numeric)


def _import(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.space import LatentSpace

    output = Path(args.output)
    check_destination(output, "LatentSpace", args.overwrite)  # before reading: fail fast
    matrix, meta = read_vectors(Path(args.vectors), args.column)
    if matrix.ndim != 2:
        raise ValueError(f"{args.vectors}: expected a 2-D array (rows x features); got shape {matrix.shape}")
    if args.meta:
        extra = pd.read_csv(args.meta)
        if len(extra) != len(matrix):
            raise ValueError(f"{args.meta} has {len(extra)} rows but {args.vectors} has {len(matrix)} vectors")
        meta = extra if meta is None else pd.concat([meta.reset_index(drop=True), extra], axis=1)
    if meta is not None and args.id_column:
        if args.id_column not in meta.columns:
            raise ValueError(f"no column {args.id_column!r} (--id-column) in the meta; it has {list(meta.columns)}")
        meta = meta.rename(columns={args.id_column: "id"})
    space = LatentSpace(matrix, meta, name=args.name or Path(args.vectors).stem,
                        provenance={"source": str(Path(args.vectors).resolve()), "imported": True})
    space.save(output, overwrite=args.overwrite)
    print(f"wrote {space.n} rows x {space.dim} to {output}")
    return 0


def _load(path: str):
    from workbench.space import LatentSpace, LayerStack

    folder = Path(path)
    if saved_kind(folder) is None:
        raise ValueError(f"{folder} is not a saved space (no space.json or stack.json)")
    return LatentSpace.load(folder) if (folder / "space.json").is_file() else LayerStack.load(folder)


def _layer(space: Any, text: str | None) -> Any:
    if text is None:
        return None
    from workbench.space import LatentSpace

    if isinstance(space, LatentSpace):
        raise ValueError("--layer is for a space with several layers; this one has one")
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _export(args: argparse.Namespace) -> int:
    from workbench.export import to_parquet, to_projector

    if not (args.parquet or args.projector):
        raise ValueError("say what to write: --parquet FILE and/or --projector DIR")
    space = _load(args.space)
    layer = _layer(space, args.layer)
    if args.parquet:
        path = to_parquet(space, args.parquet, layer=layer, method=args.method, k=args.k, metric=args.metric)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if args.projector:
        print(f"wrote {to_projector(space, args.projector, layer=layer, overwrite=args.overwrite)}")
    return 0


def _map(args: argparse.Namespace) -> int:
    from workbench.export import to_html_map

    space = _load(args.space)  # fails here, in one line, before a kernel starts
    path = to_html_map(args.space, args.output, layer=_layer(space, args.layer), color=args.color, hover=args.hover,
                       method=args.method, title=args.title, progress=not args.quiet)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser, no network needed")
    return 0


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _cache(args: argparse.Namespace) -> int:
    from workbench.encoders.cache import EncodeCache

    cache = EncodeCache(args.dir)
    if args.action == "clear":
        removed = cache.clear(older_than=parse_duration(args.older_than) if args.older_than else None)
        what = f" not used for {args.older_than}" if args.older_than else ""
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}{what} from {cache.root}")
        return 0
    if args.older_than is not None:
        raise ValueError("--older-than goes with 'workbench cache clear'")
    entries = cache.entries()
    limit = f"limit {_size(cache.max_bytes)}" if cache.max_bytes else "no limit"
    print(f"{cache.root}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
          f"{_size(sum(e.size for e in entries))} ({limit}; set WORKBENCH_CACHE_LIMIT)")
    for entry in reversed(entries):  # the one used last first
        model = entry.parts.get("model", "?")
        model = model.get("id", model) if isinstance(model, dict) else model
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used))
        print(f"  {entry.key[:12]}  {_size(entry.size):>9}  used {used}  {str(model)[:60]}")
    return 0


def add_commands(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Register ``import``, ``export``, ``map`` and ``cache`` on the ``workbench`` parser's subcommands."""
    imp = commands.add_parser(
        "import", formatter_class=formatter, help="turn your own embeddings (.npy, .parquet) into a saved space",
        description="Save vectors you already have as a workbench space, with their meta, so that every other "
        "command and the notebooks can use them.",
        epilog="examples:\n  workbench import vectors.npy meta.csv -o spaces/mine\n"
        "  workbench import table.parquet -o spaces/mine --column embedding",
    )
    imp.add_argument("vectors", metavar="VECTORS", help=".npy (rows x features) or .parquet (a list column, or one float column per feature)")
    imp.add_argument("meta", metavar="META.csv", nargs="?", help="one row per vector, in the same order; an 'id' column is used as ids")
    imp.add_argument("-o", "--output", required=True, metavar="SPACE_DIR",
                     help="folder to write; an earlier workbench save there is replaced (atomically) only with --overwrite")
    imp.add_argument("--overwrite", action="store_true", help="replace an earlier workbench save at SPACE_DIR")
    imp.add_argument("--column", help="the parquet column holding the vectors (default: its only list column)")
    imp.add_argument("--id-column", help="the meta column to use as ids (default: 'id' when there is one, else row numbers)")
    imp.add_argument("--name", help="the space's name (default: the file's)")
    imp.set_defaults(run=_import)

    export = commands.add_parser(
        "export", formatter_class=formatter, help="write a saved space for DuckDB / Embedding Atlas (parquet) or TensorBoard",
        description="Write one layer of a saved space as a parquet table (vectors, a 2-D map, the meta and each point's "
        "neighbours in Embedding Atlas's {ids, distances} form) and/or as TensorBoard Embedding Projector files.",
        epilog="examples:\n  workbench export spaces/mine --parquet mine.parquet\n"
        "  embedding-atlas mine.parquet --x x --y y --neighbors neighbors\n"
        "  workbench export spaces/mine --projector logs/projector && tensorboard --logdir logs",
    )
    export.add_argument("space", metavar="SPACE_DIR")
    export.add_argument("--parquet", metavar="FILE.parquet", help="write the table here")
    export.add_argument("--projector", metavar="DIR", help="write tensors.tsv, metadata.tsv, projector_config.pbtxt here")
    export.add_argument("--layer", help="which layer of a stack (default: the last)")
    export.add_argument("--method", choices=["pca", "umap", "tsne"], default="pca", help="the 2-D map (default: %(default)s)")
    export.add_argument("--k", type=int, default=10, help="neighbours per point in the table (default: %(default)s; 0: none)")
    export.add_argument("--metric", choices=["euclidean", "cosine"], default="euclidean", help="distance of the neighbours")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier --projector export")
    export.set_defaults(run=_export)

    mapping = commands.add_parser(
        "map", formatter_class=formatter, help="write a saved space as one interactive, offline HTML map (the Explorer)",
        description="Show a saved space in the Explorer and write it as one HTML page that works offline: slide through "
        "the layers, switch the projection, colour, hover.",
        epilog="example:\n  workbench map spaces/minilm -o map.html --color emotion",
    )
    mapping.add_argument("space", metavar="SPACE_DIR")
    mapping.add_argument("-o", "--output", default="map.html", metavar="OUT.html", help="default: %(default)s")
    mapping.add_argument("--layer", help="the layer shown first (default: the last)")
    mapping.add_argument("--color", help="meta column to colour by")
    mapping.add_argument("--hover", default="text", help="meta column shown on hover (default: %(default)s)")
    mapping.add_argument("--method", choices=["pca", "umap", "tsne"], default="pca", help="default: %(default)s")
    mapping.add_argument("--title", help="page title (default: 'Map of SPACE_DIR')")
    mapping.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    mapping.set_defaults(run=_map)

    cache = commands.add_parser(
        "cache", formatter_class=formatter, help="show or clear the encode cache",
        description="List the encodings kept by 'workbench encode' / wb.encode (size, last use, model), or remove them. "
        "The cache stays under WORKBENCH_CACHE_LIMIT (default 5GB; 0 for none) by removing the entries used "
        "longest ago; WORKBENCH_CACHE moves it.",
        epilog="examples:\n  workbench cache\n  workbench cache clear\n  workbench cache clear --older-than 30d",
    )
    cache.add_argument("action", nargs="?", choices=["show", "clear"], default="show", help="default: show")
    cache.add_argument("--older-than", type=_duration, metavar="AGE",
                       help="with clear: only entries not used for AGE (90s, 30m, 12h, 7d, 2w)")
    cache.add_argument("--dir", metavar="DIR", help="the cache folder (default: $WORKBENCH_CACHE/encode or ~/.cache/workbench/encode)")
    cache.set_defaults(run=_cache)
