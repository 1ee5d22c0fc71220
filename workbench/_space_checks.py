"""The one door's LatentSpace side: arrays become spaces, stacks are refused.

Kept apart from :mod:`workbench._checks` because it needs
:class:`~workbench.space.LatentSpace` itself, while ``space`` uses
``_checks``: the two modules import one way only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench._checks import check_matrix, warn
from workbench.space import LatentSpace, LayerStack

__all__ = ["as_space", "match_rows"]


def as_space(data: Any, what: str = "data") -> LatentSpace:
    """A LatentSpace as is; a tensor or array as a space with ids ``0..n-1``.

    The array passes through :func:`workbench._checks.check_matrix` first, so
    the dtype rule and the NaN/Inf, complex and shape checks are the same as
    everywhere else.

    Examples
    --------
    >>> import numpy as np
    >>> as_space(np.zeros((3, 2)), "X").meta["id"].tolist()
    [0, 1, 2]
    """
    if isinstance(data, LatentSpace):
        return data
    if isinstance(data, LayerStack):
        raise TypeError(f"{what} is a LayerStack; pick one layer (stack[-1]) or use compare_layers for all of them")
    matrix = check_matrix(data, what)
    try:
        return LatentSpace(matrix, name=what)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from None


def match_rows(space_a: Any, space_b: Any, *, warn_partial: bool = False) -> tuple[LatentSpace, LatentSpace]:
    """The rows both spaces hold, matched by id, in ``space_a``'s order.

    Plain arrays are matched by position (ids ``0..n-1``).

    Parameters
    ----------
    space_a, space_b : LatentSpace, tensor or array of shape (n_samples, n_features)
    warn_partial : bool, default False
        Warn, with the counts, when only some ids are shared (a comparison
        then speaks of fewer samples than the user may think).

    Raises
    ------
    ValueError
        When the spaces share no id.
    """
    a, b = as_space(space_a, "space_a"), as_space(space_b, "space_b")
    if a.n == b.n and np.array_equal(a.ids, b.ids):
        return a, b
    in_b = pd.Index(b.ids).get_indexer(a.ids)
    shared = in_b >= 0
    if not shared.any():
        raise ValueError(
            f"spaces {a.name!r} and {b.name!r} share no ids (e.g. {a.ids[:3].tolist()} vs {b.ids[:3].tolist()}); "
            "comparing spaces needs the same samples in both, matched by the id column"
        )
    if warn_partial and (shared.sum() < a.n or shared.sum() < b.n):
        warn(
            f"spaces {a.name!r} ({a.n} rows) and {b.name!r} ({b.n} rows) share {int(shared.sum())} ids; "
            f"only those {int(shared.sum())} rows are compared"
        )
    return a.take(np.flatnonzero(shared)), b.take(in_b[shared])
