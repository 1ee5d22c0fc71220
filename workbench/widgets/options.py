"""What a map can be coloured by.

A colour option is any of:

- the name of a meta column (categorical or numeric);
- an array or Series with one value per row;
- a callable ``space -> array`` (re-evaluated for every layer shown);
- a built-in: ``"preservation"`` (the share of each point's neighbours the
  map keeps, :func:`workbench.geometry.views.neighbour_preservation`),
  ``"lid"`` (each point's local intrinsic dimension,
  :class:`~workbench.geometry.intrinsic.LocalIntrinsicDimension`, TwoNN on
  its 128 nearest neighbours as in Ruppik et al. 2025) and,
  when the meta has ``emotion`` / ``secondary`` columns with finer labels,
  their roll-up to a tier of Parrott's tree;
- the directions of a fitted :class:`~workbench.geometry.directions.Directions`
  (:meth:`ColorOptions.add_directions`): one option per label, the row's
  intensity along the label's direction in the layer shown.

Options know what they depend on (nothing, the layer, or the map), so the
Explorer recomputes and resends colours only when that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.space import LatentSpace

__all__ = ["ColorOptions", "ColorOption", "NONE", "PRESERVATION", "LID", "local_dimension"]

NONE = "(none)"
PRESERVATION = "preservation"
LID = "lid"
#: Neighbourhood of the "lid" option (the paper's L), fewer for small data.
LID_NEIGHBORS = 128
#: Columns never offered in the dropdown (still usable when named explicitly).
_NOT_OFFERED = {"id", "text", "image", "audio"}


@dataclass(frozen=True)
class ColorOption:
    """One entry of the colour dropdown.

    ``depends`` is ``""`` (fixed per row), ``"layer"`` (changes with the
    layer) or ``"map"`` (changes with the layer and the projection).
    """

    name: str
    source: Any
    depends: str = ""
    kind: str | None = None  # force "categorical" / "numeric"
    keyed: bool = False  # a callable taking (space, layer key) rather than (space)


def local_dimension(space: LatentSpace) -> np.ndarray:
    """Per-point local intrinsic dimension (TwoNN in each point's neighbourhood), NaN where undefined.

    The Euclidean neighbour graph comes from
    :func:`workbench.geometry.views.neighbour_graph`, so it is searched once
    per layer and shared with UMAP and the preservation score.
    """
    import warnings

    from workbench.geometry.intrinsic import LocalIntrinsicDimension
    from workbench.geometry.neighbors import neighbor_graph as neighbour_graph

    neighbours = min(LID_NEIGHBORS, space.n - 1)
    graph = neighbour_graph(space, neighbours, metric="euclidean")
    with warnings.catch_warnings():
        # undefined points are drawn grey and counted in the legend as missing
        warnings.filterwarnings("ignore", message=".*undefined.*", category=RuntimeWarning)
        return LocalIntrinsicDimension(n_neighbors=neighbours).fit(space, knn_graph=graph).lid_


def _parrott_options(meta: pd.DataFrame) -> list[ColorOption]:
    """Roll-ups of emotion columns to Parrott tiers, where they change something."""
    from workbench import taxonomy

    options = []
    for column in ("emotion", "secondary"):
        if column not in meta.columns:
            continue
        labels = pd.Series(np.asarray(meta[column], dtype=object))
        uniques = [u for u in labels.unique() if isinstance(u, str)]
        for tier in ("primary", "secondary"):
            mapping = {}
            for label in uniques:
                try:
                    mapping[label] = taxonomy.roll_up(label, to=tier, unknown="keep")
                except ValueError:  # a primary label has no secondary tier: keep it
                    mapping[label] = label
            if any(mapping[label] != label for label in uniques):
                values = labels.map(mapping).where(labels.map(lambda v: isinstance(v, str)), None)
                options.append(ColorOption(f"{column} → Parrott {tier}", values.to_numpy(dtype=object)))
    return options


def _offered(meta: pd.DataFrame, column: str) -> bool:
    if column in _NOT_OFFERED:
        return False
    series = meta[column]
    try:
        unique = series.nunique()
    except TypeError:  # unhashable values (arrays, dicts)
        return False
    # a label that every row has on its own colours nothing
    return pd.api.types.is_numeric_dtype(series.dtype) or unique < len(series) or len(series) <= 1


class ColorOptions:
    """The colour options of one Explorer, in dropdown order.

    Parameters
    ----------
    meta : DataFrame
    extra : mapping of name -> option source, optional
        More options: arrays, Series, callables ``space -> array``.
    """

    def __init__(self, meta: pd.DataFrame, extra: Mapping[str, Any] | None = None) -> None:
        self.meta = meta
        self._options: dict[str, ColorOption] = {NONE: ColorOption(NONE, None)}
        for column in meta.columns:
            if _offered(meta, column):
                self._options[str(column)] = ColorOption(str(column), column)
        self._options[PRESERVATION] = ColorOption(PRESERVATION, PRESERVATION, "map", "numeric")
        self._options[LID] = ColorOption(LID, local_dimension, "layer", "numeric")
        for option in _parrott_options(meta):
            self._options[option.name] = option
        for name, source in (extra or {}).items():
            self.add(name, source)

    @property
    def names(self) -> list[str]:
        return list(self._options)

    def __contains__(self, name: object) -> bool:
        return name in self._options

    def __getitem__(self, name: str) -> ColorOption:
        return self._options[name]

    def add(self, name: str, source: Any, *, depends: str | None = None, kind: str | None = None) -> str:
        """Register an option (replacing one of the same name); returns its name."""
        if isinstance(source, str):
            self._check_column(source)
            depends = depends or ""
        elif callable(source):
            depends = depends or "layer"
        else:
            self._check_length(name, source)
            depends = depends or ""
        self._options[name] = ColorOption(name, source, depends, kind)
        return name

    def add_directions(self, directions: Any, *, single_space: bool) -> list[str]:
        """One option per label of a fitted ``Directions``: ``"direction: <label>"``.

        Values are ``directions.score(space, layer=key, intensity=True)``: 0 at
        the baseline's level, 1 for a typical row of the label, so one colour
        scale reads every layer. A layer without fitted directions is shown as
        missing (grey), never scored with another layer's direction; only
        directions fitted on a single layer colour a single-space Explorer
        whatever its name.
        """
        if not hasattr(directions, "directions_"):
            raise ValueError("directions= needs fitted Directions; call .fit(stack) first")
        fitted = directions.directions_
        names = []
        for label in directions.labels_:

            def scores(space: LatentSpace, key: Any, label: str = label) -> np.ndarray:
                if key in fitted:
                    layer = key
                elif single_space and len(fitted) == 1:
                    layer = next(iter(fitted))
                else:
                    return np.full(space.n, np.nan)
                return directions.score(space, layer=layer, intensity=True)[label].to_numpy()

            name = f"direction: {label}"
            self._options[name] = ColorOption(name, scores, "layer", "numeric", keyed=True)
            names.append(name)
        return names

    def resolve(self, spec: Any) -> str:
        """The option name for a ``color=`` argument (registering it when new)."""
        if spec is None:
            return NONE
        if isinstance(spec, str):
            if spec in self._options:
                return spec
            self._check_column(spec)
            return self.add(spec, spec)
        name = getattr(spec, "name", None) if isinstance(spec, pd.Series) else getattr(spec, "__name__", None)
        name = str(name) if name and name != "<lambda>" else "custom"
        return self.add(name, spec)

    def _check_column(self, column: str) -> None:
        if column not in self.meta.columns and column not in self._options:
            choices = [c for c in self._options if c != NONE]
            raise KeyError(
                f"cannot colour by {column!r}: it is not a meta column nor a colour option; "
                f"choose one of {choices}, or pass an array or a callable"
            )

    def _check_length(self, name: str, values: Any) -> None:
        length = len(values) if hasattr(values, "__len__") else None
        if length != len(self.meta):
            raise ValueError(
                f"colour option {name!r} has {length} values but there are {len(self.meta)} points"
            )

    def values(
        self,
        name: str,
        space: LatentSpace,
        key: Any,
        preservation: Callable[[], np.ndarray],
    ) -> Any:
        """The per-point values of an option for the layer ``key`` (None for no colour)."""
        option = self._options[name]
        source = option.source
        if source is None:
            return None
        if source is PRESERVATION:
            return preservation()
        if isinstance(source, str):
            return self.meta[source] if source in self.meta.columns else self.values(source, space, key, preservation)
        if callable(source):
            values = source(space, key) if option.keyed else source(space)
            if hasattr(values, "detach"):
                values = values.detach().cpu().numpy()
            self._check_length(name, values)
            return values
        return source
