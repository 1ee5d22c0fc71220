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

Here the same numbers come from one vectorised pass. For a chunk of ``B``
points the ``B x L x D`` block of neighbourhoods is gathered and centred, the
``B x L x L`` squared distances inside every neighbourhood come from one
batched matrix product, the two nearest members of every member are picked
from it, and their distances are then recomputed from coordinate
differences, which removes the cancellation error of the product (so float32
is safe, and exact copies give exactly 0). The ratios of all ``B``
neighbourhoods are fitted at once by :func:`~workbench.geometry.twonn.twonn_dimension`.

On a CPU the chunk is kept small enough to stay in cache (the pass is bound
by memory traffic there, and small chunks were measured 2-3x faster than
large ones); on a GPU it is sized from the free memory.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator

from workbench.device import chunk_rows, resolve_device
from workbench.geometry.duplicates import distinct_neighbourhoods, report_dropped, user_stacklevel
from workbench.geometry.mle import local_mle
from workbench.geometry.neighbors import Data, KNNGraph, as_matrix
from workbench.geometry.twonn import Method, twonn_dimension

__all__ = ["LocalIntrinsicDimension", "neighbourhood_twonn"]

Estimator = Literal["twonn", "mle"]
_ESTIMATORS = ("twonn", "mle")
#: bytes of neighbourhood block a CPU chunk aims at (a share of a typical L2/L3 cache)
_CPU_CHUNK_BYTES = 4 << 20


def _chunk_size(n: int, n_neighbors: int, n_features: int, itemsize: int, device: torch.device) -> int:
    block = n_neighbors * n_features * itemsize
    if device.type == "cpu":
        return max(1, min(n, _CPU_CHUNK_BYTES // block))
    # gathered + centred block, one gathered partner, the L x L distances and top-k
    per_row = 3 * block + 3 * n_neighbors * n_neighbors * itemsize
    return chunk_rows(per_row, device=device, n_rows=n, max_rows=8192)


def _two_nearest_members(block: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances from every member of each neighbourhood to its two nearest other members.

    ``block`` has shape (B, L, D) and is centred per neighbourhood; returns
    ``r1, r2`` of shape (B, L).
    """
    b, n_members, n_features = block.shape
    sq = (block * block).sum(2)
    d2 = torch.baddbmm(sq[:, :, None] + sq[:, None, :], block, block.transpose(1, 2), alpha=-2.0)
    d2.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    nearest = torch.topk(d2, 2, dim=2, largest=False, sorted=False).indices
    del d2
    flat = block.reshape(-1, n_features)
    offset = (torch.arange(b, device=block.device) * n_members)[:, None]
    # exact distances of the two picks, from differences: the product above
    # loses the low bits of small distances, which are what the ratios need
    norm_dtype = torch.float32 if block.device.type == "mps" else torch.float64  # MPS has no float64
    exact = torch.stack(
        [
            torch.linalg.vector_norm(flat - flat[(nearest[:, :, j] + offset).reshape(-1)], dim=1, dtype=norm_dtype)
            for j in range(2)
        ],
        dim=1,
    ).view(b, n_members, 2)
    exact = exact.sort(dim=2).values
    return exact[:, :, 0], exact[:, :, 1]


def neighbourhood_twonn(
    x: torch.Tensor,
    indices: torch.Tensor,
    *,
    discard_fraction: float = 0.1,
    method: Method = "linear",
    zero_tol: float = 0.0,
    device: str | torch.device = "auto",
    chunk_size: int | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """TwoNN inside every neighbourhood, in one vectorised pass over chunks.

    Parameters
    ----------
    x : tensor of shape (n_samples, n_features)
    indices : tensor of shape (n_queries, L)
        Row positions in ``x`` of each neighbourhood's members (a
        :attr:`KNNGraph.indices`).
    discard_fraction, method, zero_tol
        As in :func:`~workbench.geometry.twonn.twonn_dimension`.
    device : {"auto", "cpu", "cuda", ...}
    chunk_size : int, optional
        Neighbourhoods per chunk; by default from the cache (CPU) or the free
        memory (GPU).
    progress : bool
        Show a progress bar over chunks.

    Returns
    -------
    dimension : tensor of shape (n_queries,), float64 on the CPU
    n_dropped : tensor of shape (n_queries,), int64
        Members whose nearest member is at distance ``<= zero_tol``.
    """
    device = resolve_device(device)
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    x = x.to(device=device, dtype=dtype)
    indices = indices.to(device)
    n, n_members = indices.shape
    if n_members < 3:
        raise ValueError(f"TwoNN inside a neighbourhood needs at least 3 members; got {n_members}")
    if chunk_size is None:
        chunk_size = _chunk_size(n, n_members, x.shape[1], dtype.itemsize, device)
    dimension = torch.empty(n, dtype=torch.float64)
    dropped = torch.empty(n, dtype=torch.int64)
    starts = range(0, n, chunk_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"local TwoNN (L={n_members})", unit="chunk")
    with torch.inference_mode():
        for start in starts:
            block = x[indices[start : start + chunk_size]]
            block -= block.mean(1, keepdim=True)
            r1, r2 = _two_nearest_members(block)
            del block
            dims, drops = twonn_dimension(r1, r2, discard_fraction=discard_fraction, method=method, zero_tol=zero_tol)
            dimension[start : start + len(dims)] = dims.cpu().to(torch.float64)
            dropped[start : start + len(dims)] = drops.cpu()
    return dimension, dropped


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
    duplicates : {"deduplicate", "drop"}, default "deduplicate"
        What to do with repeated rows; see :mod:`workbench.geometry.duplicates`.
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
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(size=(1500, 2)) @ rng.normal(size=(2, 50))  # a plane in 50-D
    >>> lid = LocalIntrinsicDimension(n_neighbors=64).fit(x).lid_
    >>> lid.shape, 1.6 < float(np.median(lid)) < 2.4
    ((1500,), True)
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 128,
        estimator: Estimator = "twonn",
        discard_fraction: float = 0.1,
        method: Method = "linear",
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
        self.duplicates = duplicates
        self.duplicate_tol = duplicate_tol
        self.device = device
        self.chunk_size = chunk_size
        self.progress = progress

    def fit(self, X: Data, y: object = None, *, knn_graph: KNNGraph | None = None) -> LocalIntrinsicDimension:
        """Estimate the local intrinsic dimension of every row of ``X``.

        Parameters
        ----------
        X : LatentSpace, tensor or array of shape (n_samples, n_features)
            Finite vectors; the coordinates are needed even with a graph,
            since TwoNN measures distances *between* neighbours.
        y : ignored
        knn_graph : KNNGraph, optional
            Precomputed Euclidean neighbours of ``X`` with ``k >= n_neighbors``
            (for example from :func:`workbench.geometry.neighbors.knn`).

        Returns
        -------
        self
        """
        if self.estimator not in _ESTIMATORS:
            raise ValueError(f"estimator must be one of {_ESTIMATORS}; got {self.estimator!r}")
        x = as_matrix(X, "X")
        self.n_features_in_ = x.shape[1]
        if self.estimator == "mle":
            lid, graph, rows, n_duplicates, n_dropped = local_mle(
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
            lid, graph, rows, n_duplicates, n_dropped = self._fit_twonn(x, knn_graph)
        undefined = int(np.isnan(lid).sum())
        if undefined:
            warnings.warn(
                f"the local dimension is undefined (NaN) at {undefined} of {len(lid)} points: their "
                "neighbourhoods have fewer than 2 usable ratios, or all ratios are 1",
                RuntimeWarning,
                stacklevel=user_stacklevel(),
            )
        self.lid_, self.knn_graph_, self.distinct_rows_ = lid, graph, rows
        self.n_duplicates_, self.n_dropped_ = n_duplicates, n_dropped
        return self

    def _fit_twonn(
        self, x: torch.Tensor, knn_graph: KNNGraph | None
    ) -> tuple[np.ndarray, KNNGraph, np.ndarray, int, int]:
        if int(self.n_neighbors) < 3:
            raise ValueError(f"TwoNN inside a neighbourhood needs n_neighbors >= 3; got {self.n_neighbors}")
        kept = int(int(self.n_neighbors) * (1 - self.discard_fraction))
        if kept < 2:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} with discard_fraction={self.discard_fraction} keeps {kept} "
                "ratios per neighbourhood; TwoNN needs at least 2"
            )
        used, graph, groups = distinct_neighbourhoods(
            x,
            self.n_neighbors,
            knn_graph=knn_graph,
            policy=self.duplicates,
            tol=self.duplicate_tol,
            device=self.device,
            progress=self.progress,
        )
        dimension, dropped = neighbourhood_twonn(
            used,
            graph.indices,
            discard_fraction=self.discard_fraction,
            method=self.method,
            zero_tol=self.duplicate_tol,
            device=self.device,
            chunk_size=self.chunk_size,
            progress=self.progress,
        )
        n_dropped = int(dropped.sum())
        report_dropped(n_dropped, graph.indices.numel(), policy=self.duplicates, what="neighbourhood members")
        values = dimension.numpy()
        if groups is None:
            return values, graph, np.arange(x.shape[0]), 0, n_dropped
        return values[groups.inverse], graph, groups.keep, groups.n_duplicates, n_dropped

    def fit_transform(self, X: Data, y: object = None, *, knn_graph: KNNGraph | None = None) -> np.ndarray:
        """Fit and return :attr:`lid_`, of shape (n_samples,)."""
        return self.fit(X, knn_graph=knn_graph).lid_
