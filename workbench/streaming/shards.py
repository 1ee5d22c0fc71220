"""A space on disk as shards, written as they come and never read half-written.

Layout of a sharded store (a folder)::

    manifest.json                 what the store is, and the complete shards in order
    shards/shard-000000/          one shard: a folder written atomically
        vectors.safetensors       layer.0, layer.1, ... each of shape (rows, dim)
        meta.parquet              the rows' meta, with a unique ``id`` column
    shards/shard-000001/
    ...

Two rules make it safe to kill a run at any moment:

1. each shard folder is written under a temporary name and renamed into place
   once complete (:func:`workbench._format.atomic_directory`);
2. only then is the shard appended to ``manifest.json``, itself replaced
   atomically (:func:`workbench._format.atomic_file`).

Readers trust the manifest alone, so a shard that was being written when the
run died is invisible; a resumed run starts after the last listed shard and
simply rewrites any unlisted leftovers. The manifest also records a ``job``
fingerprint (model, data, options) so that a resume cannot silently append
rows of another job.

The manifest is data, never code or paths to trust: :func:`read_manifest`
checks every field (shard names that would leave the store, repeated shards,
negative row counts, dtypes outside a closed list) and names the file and
the field it refuses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench._format import (
    FORMAT_VERSION,
    FormatError,
    atomic_directory,
    atomic_file,
    check_destination,
    check_manifest,
    dtype_name,
    field,
    json_safe,
    read_json,
    save_tensors,
    saved_kind,
    write_meta,
)
from workbench.space import LatentSpace

__all__ = ["ShardWriter", "read_manifest", "MANIFEST", "VECTORS", "META"]

MANIFEST = "manifest.json"
VECTORS = "vectors.safetensors"
META = "meta.parquet"
_FORMAT = "workbench.ShardedStack"
_STORABLE = (torch.float16, torch.float32, torch.float64)


_SHARD_NAME = re.compile(r"shard-\d{6}")
# NumPy memory-maps these; bfloat16 is written as float32
_MAPPABLE = {"float16", "float32", "float64"}


def shard_path(root: Path, name: str) -> Path:
    return root / "shards" / name


def _is_int(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_layers(layers: Any, where: Path) -> None:
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise FormatError(f"{where}: field 'layers' must be a list of objects; got {type(layers).__name__}")
    keys = []
    for i, layer in enumerate(layers):
        key = field(layer, "key", lambda k: isinstance(k, (int, str)) and not isinstance(k, bool), "an int or a str",
                    Path(f"{where} layers[{i}]"))  # fmt: skip
        field(layer, "dim", _is_int, "a non-negative integer", Path(f"{where} layers[{i}]"))
        field(layer, "dtype", lambda d: isinstance(d, str) and d in _MAPPABLE, f"one of {sorted(_MAPPABLE)}", Path(f"{where} layers[{i}]"))
        keys.append(key)
    repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
    if repeated:
        raise FormatError(f"{where}: field 'layers' repeats the key(s) {repeated}")


def _check_shards(shards: Any, where: Path) -> None:
    if not isinstance(shards, list) or not all(isinstance(shard, dict) for shard in shards):
        raise FormatError(f"{where}: field 'shards' must be a list of objects")
    seen: set[str] = set()
    stop = 0
    for i, shard in enumerate(shards):
        at = Path(f"{where} shards[{i}]")
        name = field(shard, "name", lambda n: isinstance(n, str) and _SHARD_NAME.fullmatch(n) is not None,
                     "a name like 'shard-000012' (inside the store)", at)  # fmt: skip
        if name in seen:
            raise FormatError(f"{at}: shard {name!r} is listed twice")
        seen.add(name)
        field(shard, "rows", _is_int, "a non-negative integer", at)
        if "source_stop" in shard:
            field(shard, "source_stop", lambda v: _is_int(v, stop), f"an integer >= {stop} (never going back)", at)
            stop = shard["source_stop"]


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a sharded store, every field checked; FormatError naming the field otherwise."""
    path = Path(path)
    manifest = path / MANIFEST
    if not manifest.is_file():
        held = saved_kind(path) if path.is_dir() else None
        hint = f" (it holds a saved {held}: use {held}.load)" if held and held != "ShardedStack" else ""
        raise FileNotFoundError(f"{path} is not a sharded store: {MANIFEST} is missing{hint}")
    info = check_manifest(read_json(manifest), manifest, _FORMAT.split(".", 1)[1])
    field(info, "complete", lambda v: isinstance(v, bool), "true or false", manifest)
    field(info, "name", lambda v: isinstance(v, str), "a string", manifest)
    field(info, "provenance", lambda v: isinstance(v, dict), "an object", manifest)
    field(info, "job", lambda v: v is None or isinstance(v, str), "a string or null", manifest)
    _check_shards(info.get("shards"), manifest)
    if info.get("layers") is None:
        if info["shards"]:
            raise FormatError(f"{manifest}: field 'layers' is missing although shards are listed")
    else:
        _check_layers(info["layers"], manifest)
    return info


def _only_leftovers(path: Path) -> bool:
    """Whether ``path`` holds nothing but a store's ``shards/`` folder (a run killed before its manifest)."""
    content = list(path.iterdir()) if path.is_dir() else []
    if [p.name for p in content] != ["shards"] or not content[0].is_dir():
        return False
    return all(_SHARD_NAME.fullmatch(p.name) or p.name.startswith(".shard-") for p in content[0].iterdir())


def _discard(path: Path) -> None:
    """Remove a store: first out of the way in one rename, so a crash never leaves half of it under ``path``."""
    aside = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:12]}"
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _layer_tensors(vectors: Any, layers: Sequence | None) -> dict:
    """Normalise one write's vectors to {layer key: 2-D float tensor}."""
    if isinstance(vectors, Mapping):
        items = {(int(k) if isinstance(k, np.integer) else k): v for k, v in vectors.items()}
    else:
        items = {0 if layers is None else layers[0]: vectors}
    out = {}
    for key, value in items.items():
        tensor = value.detach().cpu() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
        if tensor.ndim != 2:
            raise ValueError(f"layer {key!r}: vectors must have shape (rows, dim); got {tuple(tensor.shape)}")
        if tensor.dtype not in _STORABLE:
            tensor = tensor.float()  # bfloat16 cannot be memory-mapped by NumPy; integers are not vectors
        out[key] = tensor.contiguous()
    return out


class ShardWriter:
    """Append rows to a sharded store, one atomic shard per :meth:`write`.

    Parameters
    ----------
    path : path-like
        The store's folder.
    name : str, optional
        Name of the space (or stack).
    provenance : dict, optional
        JSON-serialisable provenance shared by all layers.
    layer_info : mapping of layer key -> {"name": str, "provenance": dict}, optional
        Per-layer names and provenance, used when the first shard is written
        (it can also be filled in later through the ``layer_info`` attribute).
    job : str, optional
        Fingerprint of what is being written (model, data, options). An
        existing store with another job is not appended to.
    resume : bool, default True
        Continue an existing incomplete store of the same job. With False an
        existing store raises FileExistsError.
    overwrite : bool, default False
        Delete an existing store (complete or not) and start afresh.

    Attributes
    ----------
    rows_written : int
        Rows in the complete shards so far (where a resumed job restarts).
    complete : bool
        True once :meth:`finish` ran (a resumed complete store has nothing to do).

    Examples
    --------
    >>> import tempfile, torch, pandas as pd
    >>> root = tempfile.mkdtemp() + "/store"
    >>> with ShardWriter(root, name="demo") as writer:
    ...     writer.write(torch.zeros(2, 3), pd.DataFrame({"id": ["a", "b"]}))
    ...     writer.write(torch.ones(1, 3), pd.DataFrame({"id": ["c"]}))
    >>> writer.rows_written, writer.complete
    (3, True)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        name: str | None = None,
        provenance: Mapping[str, Any] | None = None,
        layer_info: Mapping[Any, Mapping[str, Any]] | None = None,
        job: str | None = None,
        resume: bool = True,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.layer_info = {k: dict(v) for k, v in (layer_info or {}).items()}
        if not (self.path / MANIFEST).is_file() and not _only_leftovers(self.path):
            check_destination(self.path, "sharded store", overwrite)
        if saved_kind(self.path) and overwrite:
            read_manifest(self.path) if (self.path / MANIFEST).is_file() else None  # only ever discard our own
            _discard(self.path)
        if (self.path / MANIFEST).is_file():
            if not resume:
                raise FileExistsError(f"{self.path} already holds a sharded store; pass overwrite=True to replace it")
            self._manifest = read_manifest(self.path)
            if job is not None and self._manifest.get("job") not in (None, job):
                raise ValueError(
                    f"{self.path} holds the output of another job (other model, data or options); "
                    "write elsewhere, or pass overwrite=True to replace it"
                )
            # shards a killed run left half-written (never listed, never read)
            for leftover in (self.path / "shards").glob(".shard-*.tmp-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            for leftover in self.path.glob(f".{MANIFEST}.tmp-*"):  # a manifest update that was killed
                leftover.unlink(missing_ok=True)
        else:
            self._manifest = {
                "format": _FORMAT,
                "format_version": FORMAT_VERSION,
                "name": name or "space",
                "provenance": json_safe(provenance, "provenance"),
                "job": job,
                "layers": None,
                "shards": [],
                "complete": False,
            }

    # -- state ------------------------------------------------------------------

    @property
    def rows_written(self) -> int:
        return sum(shard["rows"] for shard in self._manifest["shards"])

    @property
    def inputs_done(self) -> int:
        """Input rows fully encoded into the complete shards (where a resumed job restarts)."""
        shards = self._manifest["shards"]
        return int(shards[-1].get("source_stop", self.rows_written)) if shards else 0

    @property
    def complete(self) -> bool:
        return bool(self._manifest["complete"])

    @property
    def name(self) -> str:
        return self._manifest["name"]

    @name.setter
    def name(self, value: str) -> None:
        if self._manifest["shards"]:
            raise RuntimeError("the name is fixed once the first shard is written")
        self._manifest["name"] = str(value)

    @property
    def layers(self) -> list | None:
        return None if self._manifest["layers"] is None else [layer["key"] for layer in self._manifest["layers"]]

    def __repr__(self) -> str:
        state = "complete" if self.complete else "open"
        return f"ShardWriter({str(self.path)!r}, shards={len(self._manifest['shards'])}, rows={self.rows_written}, {state})"

    # -- writing ----------------------------------------------------------------

    def write(self, vectors: Any, meta: pd.DataFrame, *, source_stop: int | None = None) -> None:
        """Write one shard: ``vectors`` (a tensor, or {layer: tensor}) for the rows of ``meta``.

        Parameters
        ----------
        vectors : tensor or array of shape (rows, dim), or mapping layer -> such
            The same layers (and widths) in every write.
        meta : DataFrame with ``rows`` rows and a unique ``id`` column
        source_stop : int, optional
            How many input rows are done once this shard is written (where a
            resumed job restarts; see :attr:`inputs_done`). Defaults to the
            output rows written, right when each input row gives one output row.
        """
        if self.complete:
            raise RuntimeError(f"{self.path} is complete; open a new ShardWriter(overwrite=True) to rewrite it")
        tensors = _layer_tensors(vectors, self.layers)
        rows = {t.shape[0] for t in tensors.values()}
        if len(rows) != 1:
            raise ValueError(f"all layers of a shard must have the same rows; got {sorted(rows)}")
        if not isinstance(meta, pd.DataFrame) or "id" not in meta.columns:
            raise ValueError("meta must be a DataFrame with an 'id' column")
        # validates finiteness, id uniqueness and row counts, with the usual messages
        for tensor in tensors.values():
            LatentSpace(tensor, meta)
        self._check_layers(tensors)
        name = f"shard-{len(self._manifest['shards']):06d}"
        with atomic_directory(shard_path(self.path, name)) as tmp:
            save_tensors({f"layer.{i}": tensors[key] for i, key in enumerate(self.layers)}, tmp / VECTORS)
            write_meta(meta.reset_index(drop=True), tmp / META)
        rows = int(rows.pop())
        stop = self.rows_written + rows if source_stop is None else int(source_stop)
        if stop < self.inputs_done:
            raise ValueError(f"source_stop must not go backwards: {stop} < {self.inputs_done}")
        self._manifest["shards"].append({"name": name, "rows": rows, "source_stop": stop})
        self._save_manifest()

    def _check_layers(self, tensors: dict) -> None:
        described = [
            {
                "key": key,
                "name": self.layer_info.get(key, {}).get("name", f"layer {key}" if len(tensors) > 1 else None),
                "provenance": json_safe(self.layer_info.get(key, {}).get("provenance"), "layer provenance"),
                "dim": int(tensor.shape[1]),
                "dtype": dtype_name(tensor.dtype),
            }
            for key, tensor in tensors.items()
        ]
        if self._manifest["layers"] is None:
            for layer in described:
                layer["name"] = layer["name"] or self._manifest["name"]
            self._manifest["layers"] = described
            return
        expected = {(layer["key"], layer["dim"], layer["dtype"]) for layer in self._manifest["layers"]}
        got = {(layer["key"], layer["dim"], layer["dtype"]) for layer in described}
        if expected != got:
            raise ValueError(
                f"this shard's layers (key, dim, dtype) {sorted(got, key=str)} differ from the store's "
                f"{sorted(expected, key=str)}"
            )

    def finish(self) -> None:
        """Mark the store complete: readers then open it without ``partial=True``."""
        if not self._manifest["shards"]:
            raise ValueError(f"nothing was written to {self.path}; a store needs at least one row")
        self._manifest["complete"] = True
        self._save_manifest()

    def _save_manifest(self) -> None:
        with atomic_file(self.path / MANIFEST, "w") as handle:
            json.dump(self._manifest, handle, indent=2)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        # an exception leaves the store incomplete, to be resumed
        if kind is None and not self.complete:
            self.finish()
