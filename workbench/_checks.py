"""The one door for input: arrays, tensors and spaces in, a checked matrix out.

Every estimator and function of :mod:`workbench.geometry` converts what it is
given here, so the same input gets the same answer everywhere:

- **dtype**: float64 stays float64 (the user asked for the precision); every
  other real dtype (float16, bfloat16, integers, bool) becomes float32. Never
  a silent float64 -> float32 cast. Complex input is refused (dropping the
  imaginary part would be a silently wrong result).
- **finite**: NaN or Inf is refused, naming how many rows and the first one.
- **shape**: two dimensions, at least one row and one column.
- **spaces**: anything with a ``vectors`` attribute (a
  :class:`~workbench.space.LatentSpace`, validated when it was built) gives
  its vectors; a stack of layers is refused with a pointer to pick one. This
  module imports nothing of :mod:`workbench.space`, so ``space`` itself can
  use it; converting an array *into* a LatentSpace lives in
  :mod:`workbench._space_checks`.

It also holds the few rules every estimator shares: the not-fitted error
(scikit-learn's :class:`~sklearn.exceptions.NotFittedError`), the warning
helper that points at the user's line, integer parameters, and the layer-key
rule (``-1`` is the last layer, a string is one key, never its characters).
"""

from __future__ import annotations

import numbers
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, Union

import numpy as np
import torch
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class HasVectors(Protocol):
    """A space as this module sees it: anything with checked ``vectors`` (a LatentSpace)."""

    vectors: torch.Tensor


__all__ = [
    "Data",
    "NotFittedError",
    "check_matrix",
    "check_finite",
    "check_int",
    "check_fitted",
    "is_chunked_source",
    "FiniteChunks",
    "warn",
    "user_stacklevel",
    "layer_key",
    "layer_keys",
]

#: what geometry accepts as a set of vectors: one meaning, everywhere
Data = Union[HasVectors, torch.Tensor, np.ndarray]


class NotFittedError(_SklearnNotFittedError, RuntimeError):
    """An estimator was used before ``fit``.

    scikit-learn's :class:`~sklearn.exceptions.NotFittedError` (so
    ``except NotFittedError`` works as in scikit-learn), and a RuntimeError,
    which these estimators raised before, so code that caught that still does.
    """


def is_chunked_source(data: Any) -> bool:
    """True for rows read a chunk at a time (``n``, ``dim``, ``iter_chunks``, ``vectors_at``)."""
    return (
        data is not None
        and not isinstance(data, (torch.Tensor, np.ndarray))
        and all(hasattr(data, name) for name in ("n", "dim", "iter_chunks", "vectors_at"))
    )


def _is_stack(data: Any) -> bool:
    return hasattr(data, "layers") and hasattr(data, "tensor") and not hasattr(data, "vectors")


def check_finite(tensor: torch.Tensor, what: str = "data", *, offset: int = 0, ids: Sequence | None = None) -> None:
    """Raise ValueError naming the count and first row when ``tensor`` holds NaN or Inf.

    Parameters
    ----------
    tensor : tensor of shape (n_rows, n_features)
    what : str
        Name of the argument, for the message.
    offset : int
        Position of ``tensor``'s first row in the whole data (for chunks).
    ids : sequence of shape (n_rows,), optional
        The rows' ids; the message then names the first few bad rows by id.

    Examples
    --------
    >>> check_finite(torch.tensor([[0.0, 1.0], [float("nan"), 2.0]]), "X")
    Traceback (most recent call last):
    ...
    ValueError: X contains NaN or Inf in 1 row(s), the first at row 1; remove or repair those rows first
    """
    finite = torch.isfinite(tensor)
    if bool(finite.all()):
        return
    bad = (~finite.reshape(finite.shape[0], -1).all(dim=1)).nonzero().flatten()
    where = f"the first at row {int(bad[0]) + offset}"
    if ids is not None:
        where = f"e.g. rows with id {np.asarray(ids, dtype=object)[bad[:5].cpu().numpy()].tolist()}"
    raise ValueError(f"{what} contains NaN or Inf in {len(bad)} row(s), {where}; remove or repair those rows first")


def _real_dtype(tensor: torch.Tensor, what: str, keep_half: bool = False) -> torch.Tensor:
    if tensor.is_complex():
        raise TypeError(
            f"{what} must be real numbers; got a complex {tensor.dtype} (its imaginary part is never dropped "
            "silently): pass the real part (x.real) or magnitudes (abs(x))"
        )
    if tensor.dtype in (torch.float64, torch.float32) or (keep_half and torch.is_floating_point(tensor)):
        return tensor
    return tensor.to(torch.float32)


def check_matrix(
    data: Any, what: str = "data", *, finite: bool = True, keep_half: bool = False, allow_empty: bool = False
) -> torch.Tensor:
    """``data`` as a 2-D floating tensor, checked.

    Parameters
    ----------
    data : LatentSpace, tensor or array-like of shape (n_samples, n_features)
    what : str
        Name of the argument, for the messages.
    finite : bool, default True
        Refuse NaN and Inf. A LatentSpace was checked when it was built.
    keep_half : bool, default False
        Keep float16 / bfloat16 as they are (storage, as in a LatentSpace)
        instead of computing in float32.
    allow_empty : bool, default False
        Accept zero rows or zero columns.

    Returns
    -------
    tensor of shape (n_samples, n_features)
        float64 when the input is float64, else float32; on the input's
        device; shares memory with the input where no cast was needed.

    Examples
    --------
    >>> check_matrix(np.ones((3, 2))).dtype
    torch.float64
    >>> check_matrix([[1, 2], [3, 4]]).dtype
    torch.float32
    """
    if hasattr(data, "vectors") and isinstance(getattr(data, "vectors"), torch.Tensor):
        return _real_dtype(data.vectors, what)  # a LatentSpace, validated on construction
    if _is_stack(data):
        raise TypeError(f"{what} is a LayerStack; pick one layer (stack[-1]) or pass layer=")
    if is_chunked_source(data):
        raise TypeError(
            f"{what} is read from disk in chunks ({type(data).__name__}) and this needs it in memory: "
            "pass data.load() if it fits"
        )
    if isinstance(data, torch.Tensor):
        tensor = data.detach()
    else:
        try:
            array = np.asarray(data)
        except ValueError as exc:  # ragged nested lists
            raise TypeError(f"{what} must be a numeric array; NumPy cannot read it as one: {exc}") from None
        if array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(f"{what} must be real numbers; got a non-numeric array of {array.dtype} (ragged rows or text?)")
        tensor = torch.as_tensor(np.ascontiguousarray(array))
    if tensor.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array of shape (n_samples, n_features); got shape {tuple(tensor.shape)}")
    if not allow_empty and (tensor.shape[0] == 0 or tensor.shape[1] == 0):
        raise ValueError(f"{what} is empty: shape {tuple(tensor.shape)}")
    tensor = _real_dtype(tensor, what, keep_half)
    if finite:
        check_finite(tensor, what)
    return tensor


class FiniteChunks:
    """A chunked source whose every chunk is checked for NaN/Inf as it is read.

    Data on disk is too large to check up front, so the check rides along
    the one pass the algorithm makes anyway; the error names the row.

    Parameters
    ----------
    source : chunked rows (``n``, ``dim``, ``dtype``, ``iter_chunks``, ``vectors_at``)
    what : str
        Name of the argument, for the messages.
    """

    def __init__(self, source: Any, what: str = "data") -> None:
        self.source, self.what = source, what
        self.n, self.dim = int(source.n), int(source.dim)
        self.shape = (self.n, self.dim)
        self.dtype = source.dtype

    def iter_chunks(self, rows: int) -> Iterator[torch.Tensor]:
        start = 0
        for chunk in self.source.iter_chunks(rows):
            chunk = _real_dtype(chunk, self.what)
            check_finite(chunk, self.what, offset=start)
            start += chunk.shape[0]
            yield chunk

    def vectors_at(self, positions: np.ndarray | torch.Tensor) -> torch.Tensor:
        rows = _real_dtype(self.source.vectors_at(positions), self.what)
        if not bool(torch.isfinite(rows).all()):
            raise ValueError(f"{self.what} contains NaN or Inf in rows read from disk; remove or repair them first")
        return rows

    def __repr__(self) -> str:
        return f"FiniteChunks({self.source!r})"


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """``value`` as an int, refusing floats such as 2.5 and bools.

    Examples
    --------
    >>> check_int(3, "k", minimum=1)
    3
    >>> check_int(2.5, "k")
    Traceback (most recent call last):
    ...
    TypeError: k must be an integer; got 2.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return value


def check_fitted(estimator: Any, attribute: str) -> None:
    """Raise :class:`NotFittedError` unless ``estimator.<attribute>`` exists.

    Examples
    --------
    >>> from workbench.geometry.views import StreamingPCA
    >>> check_fitted(StreamingPCA(), "components_")
    Traceback (most recent call last):
    ...
    workbench._checks.NotFittedError: this StreamingPCA is not fitted yet; call fit(...) before using it
    """
    if getattr(estimator, attribute, None) is None:
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet; call fit(...) before using it")


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside workbench."""
    frame, level = sys._getframe(2), 2  # 1 is the function that calls warnings.warn
    while frame is not None and frame.f_globals.get("__name__", "").startswith("workbench."):
        frame, level = frame.f_back, level + 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` pointed at the user's line, not at workbench's."""
    warnings.warn(message, category, stacklevel=user_stacklevel())


def layer_key(key: Any, layers: Sequence) -> Any:
    """The layer ``key`` names among ``layers``: itself, or a negative position from the end.

    Parameters
    ----------
    key : int, str or other hashable
        A layer key as stored, or ``-1`` for the last, ``-2`` the one before...
    layers : sequence
        The available keys, in order.

    Examples
    --------
    >>> layer_key(-1, [0, 6, 12])
    12
    >>> layer_key("12", [1, 2])
    Traceback (most recent call last):
    ...
    KeyError: "no layer '12'; layers are [1, 2]"
    """
    layers = list(layers)
    if isinstance(key, np.integer):
        key = int(key)
    if isinstance(key, bool):
        raise TypeError(f"a layer is a key such as 0 or -1, not {key!r}")
    if key in layers:
        return key
    if isinstance(key, int) and -len(layers) <= key < 0:
        return layers[key]
    raise KeyError(f"no layer {key!r}; layers are {layers}")


def layer_keys(keys: Any, layers: Sequence) -> list:
    """Several layers: None is all of them, one key is a list of one, a string is one key.

    Examples
    --------
    >>> layer_keys(None, [0, 1]), layer_keys(-1, [0, 1]), layer_keys([0, -1], [0, 1])
    ([0, 1], [1], [0, 1])
    """
    if keys is None:
        return list(layers)
    if isinstance(keys, (str, bytes, numbers.Integral)) or not isinstance(keys, Sequence | np.ndarray | range):
        keys = [keys]
    return [layer_key(key, layers) for key in keys]
