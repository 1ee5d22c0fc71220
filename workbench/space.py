"""The core objects: :class:`LatentSpace` and :class:`LayerStack`.

A ``LatentSpace`` is a matrix of vectors (one row per sample) together with the
DataFrame that says what each row is, a name and the provenance of the
vectors. A ``LayerStack`` is an ordered set of spaces over the same rows, one
per layer of a model.

Both validate on construction, so every later step can rely on finite
vectors, one ``id`` per row and a ``meta`` of the right length. Both save to a
folder of plain formats (safetensors + parquet + JSON), atomically; loading
never unpickles anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd
import torch

from workbench._checks import check_finite, check_matrix
from workbench._format import (
    FORMAT_VERSION,
    META_FILE,
    VECTORS_FILE,
    FormatError,
    check_layer_keys,
    dtype_name,
    json_safe,
    layer_keys_header,
    load_tensors,
    open_folder,
    read_meta,
    save_folder,
    stack_layers,
)

__all__ = ["FORMAT_VERSION", "LatentSpace", "LayerStack", "check_meta", "meta_labels"]

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]
LayerKey = Union[int, str]


# ----------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------


def check_meta(meta: pd.DataFrame | None, n_rows: int) -> pd.DataFrame:
    """``meta`` checked to have ``n_rows`` rows and a unique, complete ``id`` column (added when absent)."""
    if meta is None:
        return pd.DataFrame({"id": np.arange(n_rows)})
    if not isinstance(meta, pd.DataFrame):
        raise TypeError(f"meta must be a pandas DataFrame; got {type(meta).__name__}")
    if len(meta) != n_rows:
        raise ValueError(
            f"meta has {len(meta)} rows but there are {n_rows} vectors; they must match one to one"
        )
    meta = meta.reset_index(drop=True)
    if "id" not in meta.columns:
        meta.insert(0, "id", np.arange(n_rows))
    ids = meta["id"]
    if ids.isna().any():
        raise ValueError(f"meta['id'] has {int(ids.isna().sum())} missing value(s); every row needs an id")
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        examples = ids[duplicated].unique()[:5].tolist()
        raise ValueError(
            f"meta['id'] must be unique; {int(duplicated.sum())} rows share ids, e.g. {examples}"
        )
    return meta


def _positions_of(meta: pd.DataFrame, ids: Sequence) -> np.ndarray:
    """Row positions of ``ids`` in ``meta['id']``, in the order given."""
    index = pd.Index(meta["id"])
    wanted = pd.Index(list(ids) if not isinstance(ids, (np.ndarray, pd.Index, pd.Series)) else ids)
    positions = index.get_indexer(wanted)
    missing = positions < 0
    if missing.any():
        examples = wanted[missing][:5].tolist()
        raise KeyError(f"{int(missing.sum())} id(s) are not in this space, e.g. {examples}")
    return positions


def _selector_positions(meta: pd.DataFrame, selector: Any) -> np.ndarray:
    """Positions from a boolean mask (of length n) or a collection of ids."""
    if isinstance(selector, torch.Tensor):
        selector = selector.detach().cpu().numpy()
    if isinstance(selector, pd.Series) and selector.dtype == bool:
        selector = selector.to_numpy()
    array = np.asarray(selector) if not isinstance(selector, (str, bytes)) else np.asarray([selector])
    if array.dtype == bool:
        if array.shape != (len(meta),):
            raise ValueError(f"a boolean mask must have length {len(meta)}; got shape {array.shape}")
        return np.flatnonzero(array)
    if array.ndim == 0:
        array = array.reshape(1)
    return _positions_of(meta, array)


def meta_labels(meta: pd.DataFrame, column: str) -> np.ndarray:
    """One meta column as an object array (KeyError naming the columns when absent)."""
    if column not in meta.columns:
        raise KeyError(f"no column {column!r} in meta; columns are {list(meta.columns)}")
    # object dtype: scikit-learn's indexing breaks on pandas' Arrow-backed strings
    return np.asarray(meta[column], dtype=object)


# the names other modules imported before these two became public
_as_meta, _labels = check_meta, meta_labels


# ----------------------------------------------------------------------------
# LatentSpace
# ----------------------------------------------------------------------------


class LatentSpace:
    """Vectors for N samples, with the DataFrame that describes them.

    Parameters
    ----------
    vectors : tensor or array of shape (n_samples, n_features)
        Any device. Integer input becomes float32; floating input keeps its
        dtype. NumPy input shares memory with the tensor when it can.
    meta : DataFrame with n_samples rows, optional
        One row per vector. Its ``id`` column must be unique; when there is no
        ``id`` column, ids ``0..n-1`` are added.
    name : str
        Short human name, shown in plots.
    provenance : dict, optional
        Where the vectors come from (model, revision, layer, pooling, dataset
        hash...). JSON-serialisable.

    Attributes
    ----------
    vectors : torch.Tensor of shape (n_samples, n_features)
    meta : pandas.DataFrame with n_samples rows
    name : str
    provenance : dict

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> space = LatentSpace(np.eye(3), pd.DataFrame({"id": ["a", "b", "c"], "emotion": ["joy", "fear", "joy"]}))
    >>> space.shape
    (3, 3)
    >>> space.subset(space.labels("emotion") == "joy").ids.tolist()
    ['a', 'c']
    """

    def __init__(
        self,
        vectors: ArrayLike,
        meta: pd.DataFrame | None = None,
        *,
        name: str = "space",
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        # the one door for input; a LatentSpace stores half precision as given
        tensor = check_matrix(vectors, "vectors", finite=False, keep_half=True, allow_empty=True)
        self.meta = check_meta(meta, tensor.shape[0])
        check_finite(tensor, "vectors", ids=self.meta["id"].to_numpy())
        self.vectors = tensor
        self.name = str(name)
        self.provenance = dict(provenance or {})

    @classmethod
    def _trusted(cls, vectors: torch.Tensor, meta: pd.DataFrame, name: str, provenance: Mapping) -> LatentSpace:
        """Build without validation, from parts taken from already validated spaces."""
        space = cls.__new__(cls)
        space.vectors, space.meta, space.name, space.provenance = vectors, meta, name, dict(provenance)
        return space

    # -- shape and identity -------------------------------------------------

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @property
    def n(self) -> int:
        """Number of rows."""
        return self.vectors.shape[0]

    @property
    def dim(self) -> int:
        """Number of features per row."""
        return self.vectors.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.vectors.shape[0], self.vectors.shape[1])

    @property
    def device(self) -> torch.device:
        return self.vectors.device

    @property
    def dtype(self) -> torch.dtype:
        return self.vectors.dtype

    @property
    def ids(self) -> np.ndarray:
        """The ``id`` column as an array, in row order."""
        return self.meta["id"].to_numpy()

    def __repr__(self) -> str:
        columns = ", ".join(map(str, self.meta.columns[:6])) + (", ..." if self.meta.shape[1] > 6 else "")
        return (
            f"LatentSpace({self.name!r}, n={self.n}, dim={self.dim}, device={self.device}, "
            f"dtype={str(self.dtype).replace('torch.', '')}, meta=[{columns}])"
        )

    # -- access ---------------------------------------------------------------

    def labels(self, column: str) -> np.ndarray:
        """One meta column as an object array, ready for scikit-learn."""
        return meta_labels(self.meta, column)

    def numpy(self) -> np.ndarray:
        """The vectors as a NumPy array on the CPU (float32 for half types)."""
        vectors = self.vectors.detach()
        if vectors.dtype in (torch.float16, torch.bfloat16):
            vectors = vectors.float()
        return vectors.cpu().numpy()

    def index_of(self, ids: Sequence) -> np.ndarray:
        """Row positions of the given ids, in the order given."""
        return _positions_of(self.meta, ids)

    # -- derived spaces -------------------------------------------------------

    def with_vectors(
        self,
        vectors: ArrayLike,
        *,
        name: str | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> LatentSpace:
        """A new space over the same rows with other vectors (e.g. a projection)."""
        return LatentSpace(
            vectors,
            self.meta,
            name=self.name if name is None else name,
            provenance=self.provenance if provenance is None else provenance,
        )

    def take(self, positions: Sequence[int]) -> LatentSpace:
        """Rows at the given integer positions."""
        positions = np.asarray(positions, dtype=np.int64)
        index = torch.as_tensor(positions, device=self.vectors.device)
        return LatentSpace(
            self.vectors.index_select(0, index),
            self.meta.iloc[positions].reset_index(drop=True),
            name=self.name,
            provenance=self.provenance,
        )

    def subset(self, selector: Any) -> LatentSpace:
        """Rows chosen by a boolean mask of length n, or by a collection of ids.

        Ids come back in the order given; a mask keeps row order.
        """
        return self.take(_selector_positions(self.meta, selector))

    def assign(self, **columns: Any) -> LatentSpace:
        """A new space whose meta has extra (or replaced) columns."""
        if "id" in columns:
            raise ValueError("the id column cannot be reassigned; build a new LatentSpace instead")
        return LatentSpace(self.vectors, self.meta.assign(**columns), name=self.name, provenance=self.provenance)

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> LatentSpace:
        """Move (and optionally cast) the vectors; ``"auto"`` picks the best device."""
        if device is not None:
            from workbench.device import resolve_device

            device = resolve_device(device)
        vectors = self.vectors.to(device=device, dtype=dtype)
        if dtype is not None and vectors.dtype != self.vectors.dtype and not bool(torch.isfinite(vectors).all()):
            big = float(self.vectors.abs().max())
            raise ValueError(f"casting {self.name!r} to {dtype} overflows to Inf (its largest value is {big:.3g}); "
                             "scale the vectors first or keep a wider dtype")  # fmt: skip
        return LatentSpace._trusted(vectors, self.meta, self.name, self.provenance)

    # -- persistence ----------------------------------------------------------

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the space to a folder, atomically.

        The folder holds ``vectors.safetensors``, ``meta.parquet`` and
        ``space.json`` (written last: the sign that the folder is complete).
        It is written under a temporary name and renamed into place, so an
        interrupted save leaves any previous version intact.

        Parameters
        ----------
        path : path-like
            A new folder, an empty one, or (with ``overwrite=True``) an
            earlier workbench save. Anything else is refused, never replaced.
        overwrite : bool, default False
            Replace an earlier workbench save at ``path``.
        """
        info = {
            "name": self.name,
            "provenance": json_safe(self.provenance, "provenance"),
            "shape": list(self.shape),
            "dtype": dtype_name(self.dtype),
        }
        return save_folder(path, kind="LatentSpace", manifest="space.json", info=info,
                           tensors={"vectors": self.vectors}, meta=self.meta, overwrite=overwrite)  # fmt: skip

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | torch.device = "cpu") -> LatentSpace:
        """Read a space written by :meth:`save`. Never unpickles; damaged files are named."""
        path = Path(path)
        info = open_folder(path, "LatentSpace", "space.json")
        tensors = load_tensors(path / VECTORS_FILE, device)
        meta = read_meta(path / META_FILE)
        if "vectors" not in tensors or tensors["vectors"].ndim != 2 or tensors["vectors"].shape[0] != len(meta):
            raise FormatError(f"{path} is corrupted: vectors and meta.parquet disagree on the number of rows")
        try:
            return cls(tensors["vectors"], meta, name=info.get("name", "space"), provenance=info.get("provenance"))
        except (ValueError, TypeError) as exc:
            raise FormatError(f"{path} holds a damaged space: {exc}") from None

    @classmethod
    def open(cls, path: str | os.PathLike, *, layer: LayerKey | None = None, partial: bool = False):
        """Open a sharded store on disk without loading it: a :class:`~workbench.streaming.StreamedSpace`.

        ``layer`` picks one layer of a multi-layer store; ``partial=True``
        reads the complete shards of an interrupted run. See
        :mod:`workbench.streaming`.
        """
        from workbench.streaming import open_space

        return open_space(path, layer=layer, partial=partial)


# ----------------------------------------------------------------------------
# LayerStack
# ----------------------------------------------------------------------------


class LayerStack:
    """An ordered set of LatentSpaces over the same rows, one per layer.

    Parameters
    ----------
    layers : mapping of layer key -> LatentSpace or array, or a sequence of LatentSpaces
        Layer keys are usually the ``hidden_states`` index (0 = embeddings,
        ``i + 1`` = output of block ``i``). A sequence gets keys ``0..L-1``.
        Every layer must have the same ids in the same order.
    meta : DataFrame, optional
        Shared meta. Required when ``layers`` holds bare arrays; otherwise the
        first layer's meta is used and shared by all layers.
    name : str, optional
    provenance : dict, optional
        What all layers share (model, pooling, dataset hash...).

    Examples
    --------
    >>> import torch, pandas as pd
    >>> stack = LayerStack({0: torch.zeros(4, 2), 1: torch.ones(4, 2)}, meta=pd.DataFrame({"id": list("abcd")}))
    >>> stack.layers, stack.tensor().shape
    ([0, 1], torch.Size([2, 4, 2]))
    >>> stack[-1].name
    'layer 1'
    """

    def __init__(
        self,
        layers: Mapping[LayerKey, LatentSpace | ArrayLike] | Sequence[LatentSpace],
        *,
        meta: pd.DataFrame | None = None,
        name: str | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(layers, Mapping):
            items = list(layers.items())
        else:
            items = list(enumerate(layers))
        if not items:
            raise ValueError("a LayerStack needs at least one layer")
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError(f"layer keys must be unique; got {keys}")
        for key in keys:
            if isinstance(key, bool) or not isinstance(key, (int, np.integer, str)):
                raise TypeError(f"layer keys must be int or str; got {key!r}")
        first = items[0][1]
        if meta is None:
            if not isinstance(first, LatentSpace):
                raise ValueError("pass meta= when the layers are plain arrays")
            meta = first.meta
        shared = check_meta(meta, len(meta))
        ids = shared["id"].to_numpy()
        self._spaces: dict[LayerKey, LatentSpace] = {}
        for key, value in items:
            key = int(key) if isinstance(key, np.integer) else key
            if isinstance(value, LatentSpace):
                if value.n != len(shared) or not np.array_equal(value.ids, ids):
                    raise ValueError(
                        f"layer {key!r} does not have the same ids in the same order as the others"
                    )
                space = LatentSpace._trusted(value.vectors, shared, value.name, value.provenance)
            else:
                space = LatentSpace(value, shared, name=f"layer {key}", provenance={"layer": key})
                space.meta = shared
            self._spaces[key] = space
        self.meta = shared
        self.name = name if name is not None else first.name if isinstance(first, LatentSpace) else "stack"
        self.provenance = dict(provenance or {})

    # -- container protocol ---------------------------------------------------

    @property
    def layers(self) -> list[LayerKey]:
        """Layer keys in order."""
        return list(self._spaces)

    def __len__(self) -> int:
        return len(self._spaces)

    def __iter__(self) -> Iterator[LatentSpace]:
        return iter(self._spaces.values())

    def items(self) -> Iterator[tuple[LayerKey, LatentSpace]]:
        return iter(self._spaces.items())

    def __contains__(self, key: object) -> bool:
        return key in self._spaces

    def __getitem__(self, key: Any) -> LatentSpace | LayerStack:
        """A layer by key; negative ints count from the end; a slice or list gives a stack."""
        if isinstance(key, slice):
            return self._select(self.layers[key])
        if isinstance(key, (list, tuple)):
            return self._select([self._key(k) for k in key])
        return self._spaces[self._key(key)]

    def _key(self, key: Any) -> LayerKey:
        if isinstance(key, np.integer):
            key = int(key)
        if key in self._spaces:
            return key
        if isinstance(key, int) and -len(self) <= key < 0:
            return self.layers[key]
        raise KeyError(f"no layer {key!r}; layers are {self.layers}")

    def _select(self, keys: Sequence[LayerKey]) -> LayerStack:
        return LayerStack({k: self._spaces[k] for k in keys}, name=self.name, provenance=self.provenance)

    def _rebuild(self, spaces: dict[LayerKey, LatentSpace]) -> LayerStack:
        return LayerStack(spaces, name=self.name, provenance=self.provenance)

    # -- shape ----------------------------------------------------------------

    @property
    def n(self) -> int:
        return len(self.meta)

    @property
    def ids(self) -> np.ndarray:
        return self.meta["id"].to_numpy()

    @property
    def dim(self) -> int:
        """Width shared by all layers (ValueError when they differ)."""
        dims = {space.dim for space in self}
        if len(dims) != 1:
            raise ValueError(f"layers have different widths: {sorted(dims)}")
        return dims.pop()

    def __repr__(self) -> str:
        dims = sorted({space.dim for space in self})
        return (
            f"LayerStack({self.name!r}, layers={len(self)} {self.layers[:4]}{'...' if len(self) > 4 else ''}, "
            f"n={self.n}, dim={dims[0] if len(dims) == 1 else dims})"
        )

    def tensor(self) -> torch.Tensor:
        """All layers as one tensor of shape (n_layers, n_samples, n_features)."""
        self.dim  # raises when the layers have different widths
        return torch.stack([space.vectors for space in self])

    # -- derived stacks -------------------------------------------------------

    def labels(self, column: str) -> np.ndarray:
        """One meta column as an object array, ready for scikit-learn."""
        return meta_labels(self.meta, column)

    def take(self, positions: Sequence[int]) -> LayerStack:
        return self._rebuild({k: s.take(positions) for k, s in self.items()})

    def subset(self, selector: Any) -> LayerStack:
        """Rows chosen by a boolean mask of length n, or by ids, in every layer."""
        return self.take(_selector_positions(self.meta, selector))

    def assign(self, **columns: Any) -> LayerStack:
        """A new stack whose shared meta has extra (or replaced) columns."""
        if "id" in columns:
            raise ValueError("the id column cannot be reassigned")
        meta = self.meta.assign(**columns)
        return self._rebuild(
            {k: LatentSpace._trusted(s.vectors, meta, s.name, s.provenance) for k, s in self.items()}
        )

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> LayerStack:
        return self._rebuild({k: s.to(device, dtype) for k, s in self.items()})

    # -- persistence ----------------------------------------------------------

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write all layers to one folder, atomically (see :meth:`LatentSpace.save`)."""
        info = {
            "name": self.name,
            "provenance": json_safe(self.provenance, "provenance"),
            "n": self.n,
            "layers": [
                {
                    "key": key,
                    "name": space.name,
                    "provenance": json_safe(space.provenance, f"provenance of layer {key!r}"),
                    "dim": space.dim,
                    "dtype": dtype_name(space.dtype),
                }
                for key, space in self.items()
            ],
        }
        tensors = {f"layer.{i}": space.vectors for i, space in enumerate(self)}
        return save_folder(path, kind="LayerStack", manifest="stack.json", info=info, tensors=tensors,
                           meta=self.meta, overwrite=overwrite, tensor_header=layer_keys_header(self.layers))  # fmt: skip

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | torch.device = "cpu") -> LayerStack:
        """Read a stack written by :meth:`save`. Never unpickles; damaged files are named."""
        path = Path(path)
        info = open_folder(path, "LayerStack", "stack.json")
        layers = stack_layers(info, path / "stack.json")
        tensors = load_tensors(path / VECTORS_FILE, device)
        check_layer_keys(layers, tensors, path / VECTORS_FILE, path / "stack.json")
        meta = read_meta(path / META_FILE)
        spaces = {}
        try:
            meta = check_meta(meta, len(meta))
            for i, layer in enumerate(layers):
                tensor = tensors.get(f"layer.{i}")
                if tensor is None or tensor.ndim != 2 or tensor.shape[0] != len(meta):
                    raise FormatError(f"layer {layer['key']!r} is missing or has the wrong length")
                spaces[layer["key"]] = LatentSpace(tensor, meta, name=layer.get("name", f"layer {layer['key']}"),
                                                   provenance=layer.get("provenance"))  # fmt: skip
            return cls(spaces, name=info.get("name"), provenance=info.get("provenance"))
        except (ValueError, TypeError) as exc:
            raise FormatError(f"{path} holds a damaged stack: {exc}") from None

    @classmethod
    def open(cls, path: str | os.PathLike, *, partial: bool = False):
        """Open a sharded store on disk without loading it: a :class:`~workbench.streaming.StreamedStack`."""
        from workbench.streaming import open_stack

        return open_stack(path, partial=partial)

