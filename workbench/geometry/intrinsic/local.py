"""Local intrinsic dimension: one TwoNN estimate per point, on its neighbourhood.

"Less is More" (Ruppik et al. 2025) measures the local intrinsic dimension
(LID) of a point as the TwoNN estimate of the set of its ``L`` nearest
neighbours (the point itself excluded, Euclidean, ``L = 128``): inside that
set, every member's ratio ``mu = r2 / r1`` of its two nearest *members* is
taken, the smallest 90 % are kept, and ``-log(1 - F)`` is fitted against
``log mu`` through the origin. Their signal is the mean over points, followed
across layers and training checkpoints. They compute it with
``skdim.id.TwoNN(discard_fraction=0.1).fit_pw(X, n_neighbors=128)``, which
fits one scikit-learn regression per point in a Python loop.

Here the same numbers come from one vectorised pass over chunks of
neighbourhoods, built on one observation: a member's two nearest members are
the first two entries of *its own* (sorted, exact) neighbour list that belong
to the neighbourhood. So for a chunk of ``B`` points the pass gathers the
members' lists (``B x L x k`` integers), marks which entries are members,
and reads ``r1, r2`` off the graph's distances; no distance is computed. Only
where a member's list holds fewer than two members (at the far edge of a
neighbourhood in high dimension: 0.1-1 % of members for MiniLM token
vectors, ~0 on low-dimensional data) is that member measured directly, by
one batched product against its neighbourhood, the two picks then
recomputed from coordinate differences to remove the product's cancellation
error. Both routes give scikit-dimension's numbers to rounding error
(tested).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator

from workbench._checks import Data, check_matrix, warn
from workbench.device import accumulate_dtype, chunk_rows, compute_dtype, resolve_device
from workbench.geometry.intrinsic.duplicates import distinct_neighborhoods, report_dropped
from workbench.geometry.intrinsic.mle import local_mle
from workbench.geometry.intrinsic.twonn import CDF, Method, twonn_dimension, twonn_standard_error
from workbench.geometry.neighbors import KNNGraph
from workbench.geometry.neighbors.chunked import as_chunked, is_chunked, rows_at

__all__ = ["LocalIntrinsicDimension", "neighborhood_twonn", "neighbourhood_twonn"]

Estimator = Literal["twonn", "mle"]
_ESTIMATORS = ("twonn", "mle")
#: bytes a CPU chunk of look-ups aims at (larger chunks mean fewer, larger
#: operations; smaller ones stay in cache; flat in between, measured)
_CPU_LOOKUP_BYTES = 64 << 20
#: bytes of neighbourhood block a CPU direct measurement aims at: the batched
#: product is bound by memory traffic there, and blocks that stay in cache
#: were measured 2-3x faster than large ones
_CPU_BLOCK_BYTES = 4 << 20


def _chunk_size(n: int, n_members: int, k: int, n_features: int, itemsize: int, device: torch.device) -> int:
    # look-ups: a row of the membership table, neighbour lists, hits, counts (L x k)
    lookup = n + n_members * k * 24
    if device.type == "cpu":
        return max(1, min(n, _CPU_LOOKUP_BYTES // lookup))
    # on a GPU every neighbourhood of a chunk may need the direct measurement
    direct = n_members * (3 * n_features + 3 * n_members) * itemsize
    return chunk_rows(lookup + direct, device=device, n_rows=n, max_rows=8192)


def _direct_rows(n_members: int, n_features: int, itemsize: int, device: torch.device, chunk_size: int) -> int:
    if device.type != "cpu":
        return chunk_size
    return max(1, _CPU_BLOCK_BYTES // (n_members * n_features * itemsize))


class _Lists:
    """The graph's neighbour lists on the compute device, plus their first columns.

    Most members find their two nearest members among the first few entries
    of their list, so those are looked at first (a contiguous narrow copy:
    gathering whole lists was measured to cost 3x more), and whole lists only
    for the members that need them.
    """

    WIDTH = 16

    def __init__(self, graph: KNNGraph, device: torch.device) -> None:
        self.indices = graph.indices.to(device)
        self.distances = graph.distances.to(device)
        width = min(self.WIDTH, graph.k)
        self.head_indices = self.indices[:, :width].contiguous()
        self.head_distances = self.distances[:, :width].contiguous()


def _first_two(hit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions of the first two True entries along the last axis, and where there are fewer."""
    hit = hit.view(torch.uint8)
    first = hit.argmax(-1, keepdim=True)
    hit.scatter_(-1, first, 0)
    second = hit.argmax(-1, keepdim=True)
    return first, second, hit.gather(-1, second).squeeze(-1) == 0


def _from_lists(
    members: torch.Tensor, lists: _Lists, marks: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two nearest members of every member, read from the members' own neighbour lists.

    A member's neighbour list is sorted and exact, so the first two entries of
    it that belong to the same neighbourhood *are* its two nearest members,
    at the distances the list holds. ``marks`` is a cleared (>= B, n_samples)
    boolean scratch table (membership by look-up: a sorted search was
    measured 7x slower), left cleared. Returns ``r1, r2`` of shape (B, L) and
    a mask of the members whose whole list holds fewer than two members.
    """
    b, n_members = members.shape
    marks = marks[:b]
    marks.scatter_(1, members, True)
    head = lists.head_indices[members]  # B x L x width: the start of every member's list
    first, second, short = _first_two(marks.gather(1, head.view(b, -1)).view_as(head))
    near = lists.head_distances[members]
    r1, r2 = near.gather(2, first).squeeze(2), near.gather(2, second).squeeze(2)
    if bool(short.any()) and lists.indices.shape[1] > head.shape[2]:
        row, column = short.nonzero(as_tuple=True)
        whole = lists.indices[members[row, column]]  # P x k
        first, second, still = _first_two(marks[row[:, None], whole])
        near = lists.distances[members[row, column]]
        r1[row, column] = near.gather(1, first).squeeze(1)
        r2[row, column] = near.gather(1, second).squeeze(1)
        short[row, column] = still
    marks.scatter_(1, members, False)
    return r1, r2, short


def _two_nearest_members(block: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances from some members of each neighbourhood to their two nearest other members.

    ``block`` has shape (P, L, D), centred per neighbourhood; ``rows`` (P, S)
    holds the positions of the members to measure. Returns ``r1, r2`` of
    shape (P, S). Used where the neighbour lists fall short.
    """
    p, n_members, n_features = block.shape
    flat = block.reshape(-1, n_features)
    offset = (torch.arange(p, device=block.device) * n_members)[:, None]
    sub = flat[(rows + offset).reshape(-1)].view(p, -1, n_features)
    sq = (block * block).sum(2)
    d2 = torch.baddbmm(sq.gather(1, rows)[:, :, None] + sq[:, None, :], sub, block.transpose(1, 2), alpha=-2.0)
    d2.scatter_(2, rows[:, :, None], float("inf"))  # a member is not its own neighbour
    nearest = torch.topk(d2, 2, dim=2, largest=False, sorted=False).indices
    del d2
    # exact distances of the two picks, from differences: the product above
    # loses the low bits of small distances, which are what the ratios need
    norm_dtype = accumulate_dtype(block.device)
    exact = torch.stack(
        [
            torch.linalg.vector_norm(
                sub - flat[(nearest[:, :, j] + offset).reshape(-1)].view_as(sub), dim=2, dtype=norm_dtype
            )
            for j in range(2)
        ],
        dim=2,
    ).sort(dim=2).values
    return exact[:, :, 0], exact[:, :, 1]


def _measure_short(
    x: torch.Tensor, members: torch.Tensor, short: torch.Tensor, r1: torch.Tensor, r2: torch.Tensor, rows_per_part: int
) -> int:
    """Fill in ``r1, r2`` of the members whose lists fell short, in place; returns how many."""
    direct = short.any(1).nonzero().flatten()
    if not len(direct):
        return 0
    dtype = compute_dtype(x)
    for part in direct.split(rows_per_part):
        need = short[part]
        width = int(need.sum(1).max())
        # the members to measure first in every row; rows with fewer measure a
        # few extra members, whose values are thrown away
        rows = need.to(torch.uint8).topk(width, dim=1).indices
        keep = need.gather(1, rows)
        block = rows_at(x, members[part]).to(device=members.device, dtype=dtype)
        block -= block.mean(1, keepdim=True)
        near1, near2 = _two_nearest_members(block, rows)
        for out, new in ((r1, near1), (r2, near2)):
            current = out[part]
            current.scatter_(1, rows, torch.where(keep, new.to(out.dtype), current.gather(1, rows)))
            out[part] = current
    return int(short.sum())


def neighborhood_twonn(
    x: torch.Tensor,
    graph: KNNGraph,
    n_members: int | None = None,
    *,
    discard_fraction: float = 0.1,
    method: Method = "linear",
    zero_tol: float = 0.0,
    cdf: CDF = "corrected",
    device: str | torch.device = "auto",
    chunk_size: int | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """TwoNN inside every neighbourhood, in one vectorised pass over chunks.

    The neighbourhood of row ``i`` is its first ``n_members`` neighbours in
    ``graph``. For each member, its two nearest other members are the first
    two entries of its *own* neighbour list that lie in the neighbourhood, so
    they are read from the graph (integer look-ups, no distance computed).
    Only a member whose list holds fewer than two of them (at the far edge
    of a neighbourhood in high dimension) is measured directly against its
    neighbourhood.

    Parameters
    ----------
    x : tensor of shape (n_samples, n_features), or chunked rows
        A space on disk (:class:`~workbench.streaming.StreamedSpace`) is read
        only where members are measured directly.
    graph : KNNGraph of the rows of ``x``, with ``k >= n_members``
        Exact Euclidean neighbours, a point never its own neighbour (as
        :func:`~workbench.geometry.neighbors.knn` gives them). Longer lists
        (``k > n_members``) make the direct fallback rarer.
    n_members : int, optional
        Neighbourhood size ``L``; ``graph.k`` by default.
    discard_fraction, method, zero_tol, cdf
        As in :func:`~workbench.geometry.intrinsic.twonn.twonn_dimension`.
    device : {"auto", "cpu", "cuda", ...}
    chunk_size : int, optional
        Neighbourhoods per chunk; by default from the cache (CPU) or the free
        memory (GPU).
    progress : bool
        Show a progress bar over chunks.

    Returns
    -------
    dimension : tensor of shape (n_samples,), float64 on the CPU
    n_dropped : tensor of shape (n_samples,), int64
        Members whose nearest member is at distance ``<= zero_tol``.
    n_direct : int
        Members that were measured directly.
    """
    device = resolve_device(device)
    dtype = compute_dtype(x)
    n_members = graph.k if n_members is None else int(n_members)
    if not 3 <= n_members <= graph.k:
        raise ValueError(f"TwoNN inside a neighbourhood needs 3 to {graph.k} members; got {n_members}")
    if not is_chunked(x):  # a space on disk is read member rows at a time
        x = x.to(device=device, dtype=dtype)
    lists = _Lists(graph, device)
    n = graph.n
    if chunk_size is None:
        chunk_size = _chunk_size(n, n_members, graph.k, x.shape[1], dtype.itemsize, device)
    direct_rows = _direct_rows(n_members, x.shape[1], dtype.itemsize, device, chunk_size)
    marks = torch.zeros((min(chunk_size, n), n), dtype=torch.bool, device=device)
    dimension = torch.empty(n, dtype=torch.float64)
    dropped = torch.empty(n, dtype=torch.int64)
    n_direct = 0
    starts = range(0, n, chunk_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"local TwoNN (L={n_members})", unit="chunk")
    with torch.inference_mode():
        for start in starts:
            members = lists.indices[start : start + chunk_size, :n_members]
            r1, r2, short = _from_lists(members, lists, marks)
            n_direct += _measure_short(x, members, short, r1, r2, direct_rows)
            dims, drops = twonn_dimension(
                r1, r2, discard_fraction=discard_fraction, method=method, zero_tol=zero_tol, cdf=cdf
            )
            dimension[start : start + len(dims)] = dims.cpu().to(torch.float64)
            dropped[start : start + len(dims)] = drops.cpu()
    return dimension, dropped, n_direct


class LocalIntrinsicDimension(BaseEstimator):
    """Local intrinsic dimension of every point (Ruppik et al. 2025).

    Parameters
    ----------
    n_neighbors : int, default 128
        Size ``L`` of each point's neighbourhood (the point excluded).
    estimator : {"twonn", "mle"}, default "twonn"
        ``"twonn"``: TwoNN inside the neighbourhood, as in the paper (equal to
        scikit-dimension's ``TwoNN(discard_fraction).fit_pw(X, n_neighbors)``).
        ``"mle"``: Levina–Bickel from the point's own neighbour distances.
    discard_fraction : float, default 0.1
        TwoNN only: share of the largest ratios left out of each fit.
    method : {"linear", "mle"}, default "linear"
        TwoNN only: least-squares fit (the paper) or maximum likelihood.
    cdf : {"corrected", "skdim-0.3"}, default "corrected"
        TwoNN only: the empirical-CDF convention of the linear fit. "Less is
        More" ran scikit-dimension 0.3.4, whose ``(i - 1) / N`` differs from
        today's ``i / N``: pass ``"skdim-0.3"`` to reproduce its numbers.
    duplicates : {"deduplicate", "drop"}, default "deduplicate"
        What to do with repeated rows; see :mod:`workbench.geometry.intrinsic.duplicates`.
        Reported in ``n_duplicates_`` / ``n_dropped_`` and by a warning.
    duplicate_tol : float, default 0.0
        Rows closer than this count as copies.
    device : {"auto", "cpu", "cuda", ...}
    chunk_size : int, optional
        Neighbourhoods per chunk of the vectorised pass.
    progress : bool, default False
        Progress bars for the neighbour search and the pass.

    Attributes
    ----------
    lid_ : ndarray of shape (n_samples,)
        One estimate per row of ``X``; a copy gets the value of the row it
        repeats. NaN where a neighbourhood has too few usable ratios.
    lid_se_ : ndarray of shape (n_samples,)
        Standard error of each estimate in ``lid_``: the estimate times the
        coefficient of variation the estimator has under its model, ``1 /
        sqrt(k - 3)`` for ``"mle"`` (the sum of ``k - 1`` exponential
        log-distance ratios is gamma-distributed; Levina & Bickel 2005),
        about ``1.2 / sqrt(0.9 L)`` for ``"twonn"`` (censored exponential
        log-ratios, widened for the ratios mutual neighbours share); see
        :func:`~workbench.geometry.intrinsic.mle.levina_bickel_standard_error`
        and :func:`~workbench.geometry.intrinsic.twonn.twonn_standard_error`.
        It is the noise of one point's estimate, not of a mean over points:
        neighbourhoods overlap, so those estimates are strongly correlated
        (for the mean use :func:`~workbench.geometry.intrinsic.lid_profile`
        with ``n_bootstrap``).
    knn_graph_ : KNNGraph
        The neighbours used, over the rows in ``distinct_rows_``; reusable
        for UMAP or neighbour panels.
    distinct_rows_ : ndarray of shape (n_used,)
        Positions in ``X`` of the rows the estimate ran on (all rows unless
        copies were merged).
    n_duplicates_ : int
        Rows that repeat another row.
    n_dropped_ : int
        Ratios (or distances, for ``"mle"``) left out of fits because of a
        zero nearest distance.
    n_direct_ : int
        TwoNN only: neighbourhood members whose two nearest members were not
        in their own neighbour list, so were measured directly (a cost
        indicator; the values are the same either way).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(size=(1500, 2)) @ rng.normal(size=(2, 50))  # a plane in 50-D
    >>> lid = LocalIntrinsicDimension(n_neighbors=64).fit(x).lid_
    >>> lid.shape, 1.6 < float(np.median(lid)) < 2.4
    ((1500,), True)
    >>> se = LocalIntrinsicDimension(n_neighbors=64).fit(x).lid_se_  # about 2 * 1.2 / sqrt(57)
    >>> se.shape, 0.2 < float(np.median(se)) < 0.45
    ((1500,), True)
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 128,
        estimator: Estimator = "twonn",
        discard_fraction: float = 0.1,
        method: Method = "linear",
        cdf: CDF = "corrected",
        duplicates: str = "deduplicate",
        duplicate_tol: float = 0.0,
        device: str = "auto",
        chunk_size: int | None = None,
        progress: bool = False,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.estimator = estimator
        self.discard_fraction = discard_fraction
        self.method = method
        self.cdf = cdf
        self.duplicates = duplicates
        self.duplicate_tol = duplicate_tol
        self.device = device
        self.chunk_size = chunk_size
        self.progress = progress

    def fit(self, X: Data, y: object = None, *, knn_graph: KNNGraph | None = None) -> LocalIntrinsicDimension:
        """Estimate the local intrinsic dimension of every row of ``X``.

        Parameters
        ----------
        X : LatentSpace, tensor or array of shape (n_samples, n_features), or a space on disk
            Finite vectors; the coordinates are needed even with a graph,
            since TwoNN measures distances *between* neighbours. A
            :class:`~workbench.streaming.StreamedSpace` is read in chunks,
            never whole.
        y : ignored
        knn_graph : KNNGraph, optional
            Precomputed Euclidean neighbours of ``X`` with ``k >= n_neighbors``
            (for example from :func:`workbench.geometry.neighbors.knn`). They
            must be exact: the members' own lists are read to find their
            nearest members, so an approximate graph gives approximate
            estimates. Longer lists than ``n_neighbors`` are used too.

        Returns
        -------
        self
        """
        if self.estimator not in _ESTIMATORS:
            raise ValueError(f"estimator must be one of {_ESTIMATORS}; got {self.estimator!r}")
        # chunks read from disk are checked for NaN/Inf as they are read
        x = as_chunked(X, "X") if is_chunked(X) else check_matrix(X, "X")
        self.n_features_in_ = x.shape[1]
        if self.estimator == "mle":
            lid, errors, graph, rows, n_duplicates, n_dropped = local_mle(
                x,
                self.n_neighbors,
                knn_graph=knn_graph,
                unbiased=False,
                duplicates=self.duplicates,
                duplicate_tol=self.duplicate_tol,
                device=self.device,
                progress=self.progress,
            )
        else:
            lid, errors, graph, rows, n_duplicates, n_dropped = self._fit_twonn(x, knn_graph)
        undefined = int(np.isnan(lid).sum())
        if undefined:
            warn(
                f"the local dimension is undefined (NaN) at {undefined} of {len(lid)} points: their "
                "neighbourhoods have fewer than 2 usable ratios, or all ratios are 1",
                RuntimeWarning,
            )
        self.lid_, self.lid_se_, self.knn_graph_, self.distinct_rows_ = lid, errors, graph, rows
        self.n_duplicates_, self.n_dropped_ = n_duplicates, n_dropped
        return self

    def _fit_twonn(
        self, x: torch.Tensor, knn_graph: KNNGraph | None
    ) -> tuple[np.ndarray, np.ndarray, KNNGraph, np.ndarray, int, int]:
        if int(self.n_neighbors) < 3:
            raise ValueError(f"TwoNN inside a neighbourhood needs n_neighbors >= 3; got {self.n_neighbors}")
        kept = int(int(self.n_neighbors) * (1 - self.discard_fraction))
        if kept < 2:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} with discard_fraction={self.discard_fraction} keeps {kept} "
                "ratios per neighbourhood; TwoNN needs at least 2"
            )
        used, graph, groups = distinct_neighborhoods(
            x,
            self.n_neighbors,
            knn_graph=knn_graph,
            policy=self.duplicates,
            tol=self.duplicate_tol,
            device=self.device,
            progress=self.progress,
        )
        # after the copies are merged: the rows the neighbourhoods are drawn from
        if 4 * int(self.n_neighbors) > graph.indices.shape[0]:
            warn(
                f"n_neighbors={self.n_neighbors} on {graph.indices.shape[0]} distinct rows: each neighbourhood holds over a quarter of the "
                "data, so the 'local' estimates are close to one global TwoNN; use a smaller n_neighbors (or more "
                "rows), and see id_scaling for how the estimate changes with the scale"
            )
        dimension, dropped, self.n_direct_ = neighborhood_twonn(
            used,
            graph,
            int(self.n_neighbors),
            discard_fraction=self.discard_fraction,
            method=self.method,
            zero_tol=self.duplicate_tol,
            cdf=self.cdf,
            device=self.device,
            chunk_size=self.chunk_size,
            progress=self.progress,
        )
        n_dropped = int(dropped.sum())
        report_dropped(n_dropped, graph.indices.numel(), policy=self.duplicates, what="neighbourhood members")
        values = dimension.numpy()
        errors = twonn_standard_error(
            values,
            int(self.n_neighbors) - dropped,
            discard_fraction=self.discard_fraction,
            method=self.method,
            cdf=self.cdf,
        )
        if groups is None:
            return values, errors, graph, np.arange(x.shape[0]), 0, n_dropped
        return values[groups.inverse], errors[groups.inverse], graph, groups.keep, groups.n_duplicates, n_dropped

    def fit_transform(self, X: Data, y: object = None, *, knn_graph: KNNGraph | None = None) -> np.ndarray:
        """Fit and return :attr:`lid_`, of shape (n_samples,)."""
        return self.fit(X, knn_graph=knn_graph).lid_


def neighbourhood_twonn(*args: Any, **kwargs: Any) -> tuple:
    """Deprecated spelling of :func:`neighborhood_twonn` (the US spelling, as scikit-learn's ``n_neighbors``)."""
    warn("neighbourhood_twonn is deprecated; use neighborhood_twonn", DeprecationWarning)
    return neighborhood_twonn(*args, **kwargs)
