"""Spaces that stay on disk: :class:`StreamedSpace` and :class:`StreamedStack`.

They are what :meth:`LatentSpace.open <workbench.space.LatentSpace.open>` and
:meth:`LayerStack.open <workbench.space.LayerStack.open>` return for a sharded
store (see :mod:`workbench.streaming.shards`). Nothing is loaded on opening:
the shards' vectors are memory-mapped, and geometry reads them a chunk at a
time through the protocol it needs (``n``, ``dim``, ``dtype``,
``iter_chunks(rows)``, ``vectors_at(positions)``), so ``knn``, the streaming
PCA and LID run on a space larger than memory. ``load()`` gives the ordinary
in-memory object when it fits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench._format import FormatError, dtype_named, read_meta
from workbench.space import LatentSpace, LayerStack, check_meta, meta_labels
from workbench.streaming.shards import MANIFEST, META, VECTORS, read_manifest, shard_path
from workbench.streaming.tensor_map import map_tensors

__all__ = ["StreamedSpace", "StreamedStack", "open_space", "open_stack"]


class _Store:
    """The complete shards of one store: row offsets, memory maps, meta."""

    def __init__(self, path: Path, partial: bool) -> None:
        self.path = path
        self.info = read_manifest(path)
        shards = self.info["shards"]
        if not self.info["complete"] and not partial:
            rows = sum(shard["rows"] for shard in shards)
            raise ValueError(
                f"{path} is incomplete ({len(shards)} complete shard(s), {rows} rows): the run that wrote it was "
                "interrupted or is still going. Resume it with the same call, or pass partial=True to read "
                "the rows written so far"
            )
        if not shards:
            raise ValueError(f"{path} has no complete shard yet; there is nothing to read")
        self.names = [shard["name"] for shard in shards]
        self.offsets = np.cumsum([0] + [shard["rows"] for shard in shards])
        self.layers = self.info["layers"]
        self._maps: dict[str, dict[str, np.memmap]] = {}
        self._meta: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        return int(self.offsets[-1])

    def tensors(self, shard: int) -> dict[str, np.memmap]:
        name = self.names[shard]
        if name not in self._maps:
            folder = shard_path(self.path, name)
            maps = map_tensors(folder / VECTORS)
            for i, layer in enumerate(self.layers):
                array = maps.get(f"layer.{i}")
                expected = (self.offsets[shard + 1] - self.offsets[shard], layer["dim"])
                if array is None or array.shape != expected:
                    raise ValueError(f"{folder} is corrupted: layer {layer['key']!r} is missing or has the wrong shape")
            self._maps[name] = maps
        return self._maps[name]

    def meta(self) -> pd.DataFrame:
        if self._meta is None:
            frames = [read_meta(shard_path(self.path, name) / META) for name in self.names]
            meta = pd.concat(frames, ignore_index=True)
            if len(meta) != self.n:
                raise FormatError(f"{self.path} is corrupted: the shards' meta has {len(meta)} rows, not {self.n}")
            try:
                self._meta = check_meta(meta, self.n)  # ids unique across shards
            except ValueError as exc:
                raise FormatError(f"{self.path} is corrupted: {exc}") from None
        return self._meta

    def check_finite(self, array: np.ndarray, shard: int, rows: np.ndarray) -> np.ndarray:
        """``array`` (the store's rows ``rows``, read from ``shard``), refused when it holds NaN or Inf, as in memory."""
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = np.flatnonzero(~np.isfinite(array).reshape(array.shape[0], -1).all(axis=1))
            raise FormatError(
                f"{shard_path(self.path, self.names[shard]) / VECTORS} holds NaN or Inf in {len(bad)} of the rows "
                f"read, the first at row {int(rows[bad[0]])}; the store is damaged or was written from bad vectors: "
                "re-encode it"
            )
        return array


def _as_positions(positions: Any) -> np.ndarray:
    if isinstance(positions, torch.Tensor):
        positions = positions.detach().cpu().numpy()
    return np.asarray(positions, dtype=np.int64)


class StreamedSpace:
    """One layer of a sharded store, read in chunks from disk.

    Attributes
    ----------
    n, dim : int
        Rows, and features per row.
    dtype : torch.dtype
    name : str
    provenance : dict
    complete : bool
        False when opened with ``partial=True`` on a store still being written.

    Examples
    --------
    >>> import tempfile, torch, pandas as pd
    >>> from workbench.streaming import ShardWriter
    >>> root = tempfile.mkdtemp() + "/store"
    >>> with ShardWriter(root) as writer:
    ...     for start in (0, 3):
    ...         writer.write(torch.arange(start, start + 3.0)[:, None].repeat(1, 2),
    ...                      pd.DataFrame({"id": range(start, start + 3)}))
    >>> space = LatentSpace.open(root)
    >>> space.n, [chunk.shape[0] for chunk in space.iter_chunks(4)]
    (6, [4, 2])
    """

    def __init__(self, store: _Store, layer: int) -> None:
        self._store = store
        self._layer = layer
        info = store.layers[layer]
        self.key = info["key"]
        self.name = info.get("name") or store.info.get("name", "space")
        self.provenance = {**store.info.get("provenance", {}), **(info.get("provenance") or {})}
        self.n, self.dim = store.n, int(info["dim"])
        self.dtype = dtype_named(info["dtype"], f"{store.path / MANIFEST} layer {self.key!r}")
        self.complete = bool(store.info["complete"])

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.dim)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        state = "" if self.complete else ", partial"
        return (
            f"StreamedSpace({self.name!r}, n={self.n}, dim={self.dim}, "
            f"shards={len(self._store.names)}{state}, path={str(self.path)!r})"
        )

    # -- meta -------------------------------------------------------------------

    @property
    def meta(self) -> pd.DataFrame:
        """All rows' meta (read from the shards once, then kept)."""
        return self._store.meta()

    @property
    def ids(self) -> np.ndarray:
        return self.meta["id"].to_numpy()

    def labels(self, column: str) -> np.ndarray:
        """One meta column as an object array, ready for scikit-learn."""
        return meta_labels(self.meta, column)

    # -- reading ----------------------------------------------------------------

    def _array(self, shard: int) -> np.memmap:
        return self._store.tensors(shard)[f"layer.{self._layer}"]

    def iter_chunks(self, rows: int) -> Iterator[torch.Tensor]:
        """Consecutive chunks of ``rows`` rows (the last may be shorter), as CPU tensors.

        Chunks cross shard boundaries, so their size does not depend on how
        the store was written.
        """
        rows = max(int(rows), 1)
        pending: list[np.ndarray] = []
        held = 0
        for shard in range(len(self._store.names)):
            array = self._array(shard)
            start = 0
            while start < array.shape[0]:
                first = self._store.offsets[shard] + start
                piece = array[start : start + rows - held]
                piece = self._store.check_finite(piece, shard, np.arange(first, first + piece.shape[0]))
                pending.append(piece)
                held += piece.shape[0]
                start += piece.shape[0]
                if held == rows:
                    yield torch.from_numpy(np.concatenate(pending))
                    pending, held = [], 0
        if pending:
            yield torch.from_numpy(np.concatenate(pending))

    def iter_spaces(self, rows: int) -> Iterator[LatentSpace]:
        """Consecutive chunks as small in-memory LatentSpaces (vectors with their meta)."""
        meta = self.meta
        start = 0
        for chunk in self.iter_chunks(rows):
            part = meta.iloc[start : start + chunk.shape[0]].reset_index(drop=True)
            yield LatentSpace(chunk, part, name=self.name, provenance=self.provenance)
            start += chunk.shape[0]

    def vectors_at(self, positions: Any) -> torch.Tensor:
        """The rows at integer ``positions`` (any shape): tensor of shape ``positions.shape + (dim,)``."""
        positions = _as_positions(positions)
        flat = positions.reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.n):
            raise IndexError(f"positions must be in [0, {self.n}); got values from {flat.min()} to {flat.max()}")
        out = np.empty((flat.size, self.dim), dtype=np.dtype(str(self.dtype).replace("torch.", "")))
        shard_of = np.searchsorted(self._store.offsets, flat, side="right") - 1
        for shard in np.unique(shard_of):
            where = np.flatnonzero(shard_of == shard)
            wanted = flat[where]
            out[where] = self._store.check_finite(self._array(shard)[wanted - self._store.offsets[shard]], shard, wanted)
        return torch.from_numpy(out).reshape(*positions.shape, self.dim)

    def take(self, positions: Any) -> LatentSpace:
        """The rows at integer ``positions`` as an in-memory LatentSpace."""
        positions = _as_positions(positions).reshape(-1)
        meta = self.meta.iloc[positions].reset_index(drop=True)
        return LatentSpace(self.vectors_at(positions), meta, name=self.name, provenance=self.provenance)

    def load(self, device: str | torch.device = "cpu") -> LatentSpace:
        """The whole space in memory."""
        vectors = torch.cat(list(self.iter_chunks(1 << 20))) if self.n else torch.empty(0, self.dim)
        return LatentSpace(vectors, self.meta, name=self.name, provenance=self.provenance).to(device)


class StreamedStack:
    """All layers of a sharded store, each a :class:`StreamedSpace` over the same rows."""

    def __init__(self, store: _Store) -> None:
        self._store = store
        self._spaces = {layer["key"]: StreamedSpace(store, i) for i, layer in enumerate(store.layers)}
        self.name = store.info.get("name", "stack")
        self.provenance = dict(store.info.get("provenance", {}))
        self.complete = bool(store.info["complete"])

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def layers(self) -> list:
        return list(self._spaces)

    @property
    def n(self) -> int:
        return self._store.n

    @property
    def meta(self) -> pd.DataFrame:
        return self._store.meta()

    def __len__(self) -> int:
        return len(self._spaces)

    def __iter__(self) -> Iterator[StreamedSpace]:
        return iter(self._spaces.values())

    def items(self) -> Iterator[tuple[Any, StreamedSpace]]:
        return iter(self._spaces.items())

    def __getitem__(self, key: Any) -> StreamedSpace:
        """A layer by key; negative ints count from the end."""
        if isinstance(key, np.integer):
            key = int(key)
        if key in self._spaces:
            return self._spaces[key]
        if isinstance(key, int) and -len(self) <= key < 0:
            return self._spaces[self.layers[key]]
        raise KeyError(f"no layer {key!r}; layers are {self.layers}")

    def __repr__(self) -> str:
        state = "" if self.complete else ", partial"
        return f"StreamedStack({self.name!r}, layers={self.layers}, n={self.n}{state}, path={str(self.path)!r})"

    def load(self, device: str | torch.device = "cpu") -> LayerStack:
        """All layers in memory, as a LayerStack."""
        spaces = {key: space.load(device) for key, space in self.items()}
        return LayerStack(spaces, name=self.name, provenance=self.provenance)


def open_stack(path: str | os.PathLike, *, partial: bool = False) -> StreamedStack:
    """Open a sharded store without loading it.

    Parameters
    ----------
    path : path-like
        Folder written by :class:`~workbench.streaming.ShardWriter` (or an
        encoding run with ``out=``).
    partial : bool, default False
        Open a store whose writing was interrupted (or is still going),
        showing only its complete shards.
    """
    return StreamedStack(_Store(Path(path), partial))


def open_space(path: str | os.PathLike, *, layer: Any = None, partial: bool = False) -> StreamedSpace:
    """Open one layer of a sharded store (the only one, or ``layer``) without loading it."""
    stack = open_stack(path, partial=partial)
    if layer is None:
        if len(stack) != 1:
            raise ValueError(f"{path} holds {len(stack)} layers {stack.layers}; pick one with layer=")
        layer = stack.layers[0]
    return stack[layer]
