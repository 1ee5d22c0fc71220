"""Which rows of several spaces are compared: matched by id, anchors left out, queries aligned.

Every measure of how shared a view is (:mod:`.cross_modal`) starts from the
same three steps, kept here so each is written once:

- :func:`match_spaces`: the items every space holds, in one row order;
- the anchors are left out of queries and candidates (an anchor's relative
  vector has its own coordinate at 1 in every space, so it would find itself
  for free);
- with ``align="procrustes"``, the query space is rotated onto the target's,
  fitted on the anchor pairs only, so an absolute baseline gets the same
  supervision as the relative view.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import product

import numpy as np
import pandas as pd
import torch

from workbench.geometry.relative.procrustes import Procrustes
from workbench.space import LatentSpace

__all__ = ["match_spaces", "SpacePairs"]


def match_spaces(spaces: Mapping[str, LatentSpace]) -> dict[str, LatentSpace]:
    """The rows every space holds, matched by ``id``, in the first space's order.

    Raises
    ------
    TypeError, ValueError
        When a value is not a LatentSpace, or the spaces share no id.
    """
    if not isinstance(spaces, Mapping) or len(spaces) < 2:
        raise ValueError("pass at least two spaces as a mapping, e.g. {'text': space_t, 'speech': space_s}")
    for key, space in spaces.items():
        if not isinstance(space, LatentSpace):
            raise TypeError(f"spaces[{key!r}] must be a LatentSpace (ids pair the modalities); got {type(space).__name__}")
    first = next(iter(spaces.values()))
    shared = pd.Index(first.ids)
    for space in spaces.values():
        shared = shared.intersection(pd.Index(space.ids), sort=False)
    if len(shared) == 0:
        names = {key: space.ids[:3].tolist() for key, space in spaces.items()}
        raise ValueError(f"the spaces share no ids (first ids: {names}); parallel data needs one id per item in all")
    order = first.ids[pd.Index(first.ids).isin(shared)]
    return {key: space.take(space.index_of(order)) for key, space in spaces.items()}


def _anchor_ids(spaces: Mapping[str, LatentSpace]) -> np.ndarray | None:
    """Anchor ids recorded by RelativeProjection, when every space has the same ones."""
    recorded = [space.provenance.get("relative", {}).get("anchors") for space in spaces.values()]
    if recorded[0] is None or any(r != recorded[0] for r in recorded):
        return None
    return np.asarray(recorded[0], dtype=object)


def _evaluation_rows(spaces: dict[str, LatentSpace], exclude: Sequence | None) -> dict[str, LatentSpace]:
    if exclude is None:
        exclude = _anchor_ids(spaces)
    if exclude is None or len(exclude) == 0:
        return spaces
    first = next(iter(spaces.values()))
    keep = ~pd.Index(first.ids).isin(pd.Index(list(exclude)))
    if keep.sum() < 2:
        raise ValueError("fewer than two items are left once the anchors are excluded; use fewer anchors")
    return {key: space.take(np.flatnonzero(keep)) for key, space in spaces.items()}


class SpacePairs:
    """The spaces of a comparison: matched by id, anchors left out, query vectors per pair."""

    def __init__(self, spaces: Mapping[str, LatentSpace], exclude: Sequence | None,
                 align: str | None, fit_on: Sequence | None) -> None:
        if align not in (None, "procrustes"):
            raise ValueError(f"align must be None or 'procrustes'; got {align!r}")
        self.full = match_spaces(spaces)
        if align is not None and fit_on is None:
            fit_on = _anchor_ids(self.full)
            if fit_on is None:
                raise ValueError("align='procrustes' needs fit_on= (the ids of the pairs the rotation is fitted on)")
        self.align, self.fit_on = align, fit_on
        self.evaluated = _evaluation_rows(self.full, fit_on if exclude is None and align else exclude)
        self._queries: dict[tuple[str, str], torch.Tensor] = {}

    def keys(self, *, include_self: bool) -> Iterator[tuple[str, str]]:
        for a, b in product(self.evaluated, repeat=2):
            if a != b or include_self:
                yield a, b

    def queries(self, a: str, b: str) -> torch.Tensor:
        """Modality ``a``'s evaluated vectors, in modality ``b``'s coordinates."""
        source, target = self.evaluated[a], self.evaluated[b]
        if a == b or self.align is None:
            if source.dim != target.dim:
                raise ValueError(
                    f"{a!r} (width {source.dim}) and {b!r} (width {target.dim}) cannot be compared coordinate "
                    "by coordinate; use shared_view(...) for relative spaces, or align='procrustes'"
                )
            return source.vectors
        if (a, b) not in self._queries:  # one rotation per ordered pair, shared by every measure
            rotation = Procrustes().fit(self.full[a], self.full[b], ids=self.fit_on)
            self._queries[a, b] = rotation.transform(source.vectors)
        return self._queries[a, b]
