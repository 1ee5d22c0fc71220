"""What the Explorer is given, as layers: spaces, stacks, mappings, relative views, anchors.

The Explorer draws layers that share their rows. This module turns what it
is given (a LatentSpace, a LayerStack, or a mapping of layer key -> space or
array) into ``layer key -> LatentSpace``, through the package's one input
door (:func:`workbench._checks.check_matrix`,
:func:`workbench._space_checks.as_space`) wherever an array is converted, so
the dtype rule and the NaN/Inf, complex and shape errors are the ones used
everywhere else, naming the layer. It also re-expresses every layer relative
to the same anchors, and reads anchors a
:class:`~workbench.geometry.relative.RelativeProjection` recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from workbench._checks import check_matrix
from workbench._space_checks import as_space
from workbench.space import LatentSpace, LayerStack

__all__ = ["as_layers", "recorded_anchors", "relative_layers"]


def as_layers(data: Any) -> tuple[dict[Any, LatentSpace], pd.DataFrame, str]:
    """The layers an Explorer shows, their shared meta table and a name.

    Parameters
    ----------
    data : LatentSpace, LayerStack, or mapping of layer key -> LatentSpace or array
        A mapping's arrays (tensors, NumPy arrays, nested lists) of shape
        (n_samples, n_features) pass through the one input door, so a bad one
        is refused naming its layer. Mixed with spaces, they take the spaces'
        rows; arrays alone get the ids ``0..n-1``.

    Returns
    -------
    layers : dict of layer key -> LatentSpace
        In the given order; a single space is one layer keyed by its name.
    meta : DataFrame of shape (n_samples, n_columns)
        The rows' shared meta table (an ``id`` column first).
    name : str

    Examples
    --------
    >>> import numpy as np
    >>> layers, meta, name = as_layers({0: np.zeros((3, 2)), 6: np.ones((3, 4))})
    >>> list(layers), [space.dim for space in layers.values()], meta["id"].tolist()
    ([0, 6], [2, 4], [0, 1, 2])
    >>> as_layers({0: np.array([[1.0, np.nan]])})
    Traceback (most recent call last):
    ...
    ValueError: layer 0 contains NaN or Inf in 1 row(s), the first at row 0; remove or repair those rows first
    >>> as_layers(np.zeros((3, 2)))
    Traceback (most recent call last):
    ...
    TypeError: Explorer needs a LatentSpace, a LayerStack or a mapping of spaces; got ndarray
    """
    if isinstance(data, LatentSpace):
        return {data.name: data}, data.meta, data.name
    if isinstance(data, Mapping):
        if not data:
            raise ValueError("there are no layers to explore: the mapping is empty")
        data = LayerStack(_spaces_or_matrices(data))
    if isinstance(data, LayerStack):
        if len(data) == 0:
            raise ValueError("there are no layers to explore: the LayerStack is empty")
        return dict(data.items()), data.meta, data.name
    raise TypeError(f"Explorer needs a LatentSpace, a LayerStack or a mapping of spaces; got {type(data).__name__}")


def _spaces_or_matrices(layers: Mapping[Any, Any]) -> dict[Any, Any]:
    """A mapping's arrays checked by the one door: as matrices beside spaces (they take the spaces' rows), else as spaces."""
    with_rows = any(isinstance(value, LatentSpace) for value in layers.values())
    convert = check_matrix if with_rows else as_space
    return {
        key: value if isinstance(value, LatentSpace) else convert(value, f"layer {key!r}")
        for key, value in layers.items()
    }


def recorded_anchors(layers: dict[Any, LatentSpace]) -> Any:
    """Anchor ids a RelativeProjection wrote into the first layer's provenance, or None."""
    record = next(iter(layers.values())).provenance.get("relative")
    return record.get("anchors") if isinstance(record, Mapping) else None


def relative_layers(layers: dict[Any, LatentSpace], projection: Any, anchors: Any) -> tuple[dict, np.ndarray]:
    """Every layer projected onto the same anchor ids (chosen on the first layer), and those ids."""
    if not hasattr(projection, "set_params") or not hasattr(projection, "transform"):
        raise TypeError(f"relative= takes a RelativeProjection; got {type(projection).__name__}")
    if anchors is not None:
        raise ValueError("give anchors through the RelativeProjection (its anchors=), not both")
    first = next(iter(layers.values()))
    ids = getattr(projection, "anchor_ids_", None)
    if ids is None:
        ids = clone(projection).fit(first).anchor_ids_
    ids = list(ids)
    projected = {key: clone(projection).set_params(anchors=ids).fit(space).transform(space) for key, space in layers.items()}
    return projected, np.asarray(ids)

