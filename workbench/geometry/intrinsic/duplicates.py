"""Repeated rows, and what the intrinsic-dimension estimators do with them.

Every nearest-neighbour estimator of intrinsic dimension divides by a
distance: TwoNN by ``r1``, Levina–Bickel by every ``R_j``. A row that repeats
another has a neighbour at distance 0, its ratio is undefined, and an
estimator that keeps it (or keeps the rounding error that stands in for the
zero) collapses toward 0. Token embeddings repeat often (the same token in
the same context gives the same vector), so this is not a corner case.

Two policies, chosen with ``duplicates=`` on every estimator:

``"deduplicate"`` (default)
    Estimate on the unique rows, then give every copy the value of the row
    it repeats (the first occurrence). This is what "Less is More" (Ruppik et
    al. 2025) does with ``np.unique`` before computing local dimensions, and
    it is the only policy under which copies do not distort their
    neighbours' estimates: a point whose nearest neighbour is duplicated sees
    ``r1 == r2`` and a ratio of exactly 1 unless the copies are merged.
``"drop"``
    Keep every row, but leave undefined ratios (``r1 == 0``) out of each fit.
    This is what scikit-dimension 0.5 intends, and it equals scikit-dimension
    exactly wherever its distances are exact, so it is the mode for
    cross-checks.

Either way the estimator reports what happened: ``n_duplicates_`` (rows that
repeat another), ``n_dropped_`` (ratios left out), and a
:class:`DuplicateWarning`. Rows are copies when their distance is at most
``duplicate_tol`` (default 0: exact copies, as ``np.unique`` sees them);
raise it for near-duplicates such as the same sentence encoded in batches
with different padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench._checks import warn
from workbench.geometry.neighbors import KNNGraph, knn
from workbench.geometry.neighbors.chunked import exact_copy_labels, is_chunked, subset_rows

__all__ = [
    "DuplicateGroups", "DuplicateWarning", "POLICIES", "unique_rows", "distinct_neighborhoods", "distinct_neighbourhoods",
]  # fmt: skip

POLICIES = ("deduplicate", "drop")


class DuplicateWarning(UserWarning):
    """Repeated rows were found and handled by the estimator's ``duplicates`` policy."""


@dataclass(frozen=True)
class DuplicateGroups:
    """Which rows repeat which.

    Attributes
    ----------
    keep : ndarray of shape (n_unique,), int64
        Positions of the first occurrence of every distinct row, ascending.
    inverse : ndarray of shape (n_samples,), int64
        For every row, the position in ``keep`` of the row it repeats (itself
        for a first occurrence): ``values[inverse]`` spreads per-unique-row
        values back to all rows.
    counts : ndarray of shape (n_unique,), int64
        How many rows each kept row stands for.
    """

    keep: np.ndarray
    inverse: np.ndarray
    counts: np.ndarray

    @property
    def n_duplicates(self) -> int:
        """Rows that repeat an earlier row."""
        return len(self.inverse) - len(self.keep)


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"duplicates must be one of {POLICIES}; got {policy!r}")


def _groups_from_labels(labels: np.ndarray) -> DuplicateGroups:
    """Groups from one label per row, the first occurrence standing for each."""
    n = len(labels)
    n_groups = int(labels.max()) + 1 if n else 0
    first = np.full(n_groups, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n, dtype=np.int64))
    order = np.argsort(first, kind="stable")
    rank = np.empty(n_groups, dtype=np.int64)
    rank[order] = np.arange(n_groups)
    inverse = rank[labels]
    return DuplicateGroups(keep=first[order], inverse=inverse, counts=np.bincount(inverse, minlength=n_groups))


def unique_rows(x: torch.Tensor, *, tol: float = 0.0, device: str | torch.device = "auto") -> DuplicateGroups:
    """Group the rows of ``x`` that are copies of each other.

    Parameters
    ----------
    x : tensor of shape (n_samples, n_features)
    tol : float, default 0.0
        Rows at Euclidean distance ``<= tol`` are copies. With 0, rows must be
        equal in every coordinate (``np.unique`` semantics). With ``tol > 0``
        copies are the connected components of the pairs closer than ``tol``
        among each row's 16 nearest neighbours (so chains merge).
    device : {"auto", "cpu", "cuda", ...}
        Where the neighbour search for ``tol > 0`` runs.

    Returns
    -------
    DuplicateGroups

    Examples
    --------
    >>> import torch
    >>> groups = unique_rows(torch.tensor([[0.0, 1.0], [2.0, 2.0], [0.0, 1.0]]))
    >>> groups.keep.tolist(), groups.inverse.tolist(), groups.n_duplicates
    ([0, 1], [0, 1, 0], 1)
    """
    if tol < 0:
        raise ValueError(f"duplicate_tol must be >= 0; got {tol}")
    n = x.shape[0]
    if n == 0:
        raise ValueError("no rows to look for duplicates in")
    if tol == 0 and is_chunked(x):  # a space on disk: hashed chunk by chunk
        return _groups_from_labels(exact_copy_labels(x))
    if tol == 0:
        _, labels = torch.unique(x, dim=0, return_inverse=True)
        return _groups_from_labels(labels.cpu().numpy().astype(np.int64))
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 1:
        return _groups_from_labels(np.zeros(1, dtype=np.int64))
    indices, distances = knn(x, min(16, n - 1), device=device).numpy()
    close = distances <= tol
    rows = np.repeat(np.arange(n), indices.shape[1])[close.ravel()]
    pairs = coo_matrix((np.ones(len(rows)), (rows, indices.ravel()[close.ravel()])), shape=(n, n))
    _, labels = connected_components(pairs, directed=False)
    return _groups_from_labels(labels.astype(np.int64))


def report_duplicates(n_duplicates: int, n_samples: int) -> None:
    """Warn that ``"deduplicate"`` merged copies (never silently)."""
    if n_duplicates:
        warn(
            f"{n_duplicates} of {n_samples} rows repeat another row; duplicates='deduplicate' estimated on the "
            f"{n_samples - n_duplicates} distinct rows and gave every copy the value of the row it repeats "
            "(see n_duplicates_)",
            DuplicateWarning,
        )


def report_dropped(n_dropped: int, n_ratios: int, *, policy: str, what: str) -> None:
    """Warn that undefined ratios (zero nearest distance) were left out of a fit."""
    if n_dropped:
        reason = (
            "rows closer than duplicate_tol that were not merged"
            if policy == "deduplicate"
            else "duplicated rows (duplicates='drop')"
        )
        warn(
            f"{n_dropped} of {n_ratios} {what} have a zero nearest-neighbour distance ({reason}); "
            "their ratios are undefined and were left out of the fit (see n_dropped_). "
            "duplicates='deduplicate' merges copies instead",
            DuplicateWarning,
        )


def distinct_neighborhoods(
    x: torch.Tensor,
    n_neighbors: int,
    *,
    knn_graph: KNNGraph | None = None,
    policy: str = "deduplicate",
    tol: float = 0.0,
    device: str | torch.device = "auto",
    progress: bool = False,
) -> tuple[torch.Tensor, KNNGraph, DuplicateGroups | None]:
    """Apply a duplicates policy, then find every remaining row's neighbours.

    Parameters
    ----------
    x : tensor of shape (n_samples, n_features)
    n_neighbors : int
    knn_graph : KNNGraph, optional
        Precomputed Euclidean neighbours of the rows of ``x`` (at least
        ``n_neighbors`` per row). Under ``"deduplicate"`` it is only used
        when no row repeats; otherwise the neighbours of the distinct rows are
        searched again (with a warning).
    policy, tol, device, progress
        As in the estimators.

    Returns
    -------
    x_used : tensor of shape (n_used, n_features)
        The rows the estimate runs on: all of them, or the distinct ones.
    graph : KNNGraph with n_used rows and ``k >= n_neighbors`` columns
        The given graph is returned whole: longer lists serve the local TwoNN.
    groups : DuplicateGroups or None
        None when every row was kept.
    """
    check_policy(policy)
    n = x.shape[0]
    n_neighbors = int(n_neighbors)
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be at least 1; got {n_neighbors}")
    if n_neighbors >= n:
        raise ValueError(
            f"n_neighbors={n_neighbors} needs at least {n_neighbors + 1} points (a point is not its own "
            f"neighbour); got {n}"
        )
    if knn_graph is not None:
        if not isinstance(knn_graph, KNNGraph):
            raise TypeError(f"knn_graph must be a KNNGraph; got {type(knn_graph).__name__}")
        if knn_graph.metric != "euclidean":
            raise ValueError(f"intrinsic dimension needs Euclidean neighbours; the graph is {knn_graph.metric!r}")
        if knn_graph.n != n:
            raise ValueError(f"knn_graph has {knn_graph.n} rows but X has {n}")
        if knn_graph.k < n_neighbors:
            raise ValueError(f"knn_graph has k={knn_graph.k} neighbours per row; n_neighbors={n_neighbors} needs more")
        own = torch.arange(n, device=knn_graph.indices.device)[:, None]
        if bool((knn_graph.indices == own).any()):
            raise ValueError(
                "knn_graph lists points as their own neighbours; drop that first column "
                "(a KNNGraph excludes the point itself)"
            )
    groups = None
    if policy == "deduplicate":
        found = unique_rows(x, tol=tol, device=device)
        if found.n_duplicates:
            groups = found
            report_duplicates(found.n_duplicates, n)
            x = subset_rows(x, found.keep)
            if n_neighbors >= x.shape[0]:
                raise ValueError(
                    f"only {x.shape[0]} distinct rows are left after removing {found.n_duplicates} copies; "
                    f"n_neighbors={n_neighbors} needs at least {n_neighbors + 1}"
                )
            if knn_graph is not None:
                warn(
                    "the given knn_graph includes repeated rows; neighbours were searched again among the "
                    "distinct rows",
                    DuplicateWarning,
                )
                knn_graph = None
    if knn_graph is None:
        knn_graph = knn(x, n_neighbors, device=device, progress=progress)
    return x, knn_graph, groups


def distinct_neighbourhoods(*args: Any, **kwargs: Any) -> tuple:
    """Deprecated spelling of :func:`distinct_neighborhoods` (the US spelling, as scikit-learn's ``n_neighbors``)."""
    warn("distinct_neighbourhoods is deprecated; use distinct_neighborhoods", DeprecationWarning)
    return distinct_neighborhoods(*args, **kwargs)
