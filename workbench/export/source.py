"""What an export starts from: a LatentSpace, one layer of a LayerStack, or an Explorer's current map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.geometry.views import project
from workbench.space import LatentSpace, LayerStack

__all__ = ["space_and_map", "space_of", "table_safe_meta"]


def _is_explorer(source: Any) -> bool:
    # duck-typed, so that exporting never imports the widgets
    return not isinstance(source, (LatentSpace, LayerStack)) and hasattr(source, "space") and hasattr(source, "coords")


def space_of(source: Any, *, layer: Any = None) -> LatentSpace:
    """The space to export: a LatentSpace, one layer of a LayerStack (default: the last), or an Explorer's."""
    if _is_explorer(source):
        return source.space
    if isinstance(source, LayerStack):
        return source[-1 if layer is None else layer]
    if isinstance(source, LatentSpace):
        if layer is not None:
            raise ValueError("layer= is for a LayerStack; this is one LatentSpace")
        return source
    raise TypeError(f"expected a LatentSpace, a LayerStack or an Explorer; got {type(source).__name__}")


def space_and_map(
    source: Any, *, layer: Any = None, coords: Any = None, method: str = "pca", seed: int = 0
) -> tuple[LatentSpace, np.ndarray]:
    """The space to export and its 2-D coordinates, shape (n_rows, 2).

    An Explorer gives the layer and the map it shows; otherwise the map is
    ``coords`` when given, else :func:`workbench.project` with ``method``.
    """
    space = space_of(source, layer=layer)
    if _is_explorer(source) and coords is None:
        coords = np.asarray(source.coords)[:, :2]
    if coords is None:
        coords = project(space, method, dims=2, seed=seed, quality=False).coords
    coords = np.asarray(coords, dtype=np.float32)
    if coords.shape != (space.n, 2):
        raise ValueError(f"coords must have shape ({space.n}, 2), one row per point; got {coords.shape}")
    return space, coords


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, bytes, int, float, bool, np.generic)) or (
        isinstance(value, float) and np.isnan(value)
    )


def table_safe_meta(meta: pd.DataFrame) -> pd.DataFrame:
    """The meta columns a table can hold: raw audio arrays and PIL images are left out (their paths stay)."""
    keep = [
        column for column in meta.columns
        if meta[column].dtype != object or all(_plain(value) for value in meta[column])
    ]
    return meta[keep]
