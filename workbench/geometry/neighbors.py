"""Exact k-nearest neighbours, computed once and shared.

A :class:`KNNGraph` is what local intrinsic dimension, UMAP
(``precomputed_knn``), neighbour panels and space comparison all need; the
workbench computes it once per (space, k, metric) and passes it around.

The exact search runs in torch, on the GPU when there is one, over chunks of
query rows sized from the free memory (:func:`workbench.device.chunk_rows`),
so its peak memory is bounded whatever N is. Distances come from the fast
``|x|^2 + |y|^2 - 2 x.y`` expansion on centred data, whose cancellation error
would spoil close neighbours (the ones TwoNN's ratios depend on), so:

* on a GPU, candidates are found with a float32 product and re-ranked on
  distances computed directly from the differences (gathers are cheap there);
* on a CPU (Euclidean), :func:`workbench.geometry.blocked_knn.blocked_knn`
  proposes candidates from a float32 product, measures them in float64 from
  the coordinates and proves per row that nothing left out could enter the
  top k (else measures every point its rounding bound cannot rule out): the
  exact float64 graph.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Union

import numpy as np
import torch

from workbench.device import chunk_rows, resolve_device
from workbench.geometry.chunked import is_chunked
from workbench.space import LatentSpace

__all__ = ["KNNGraph", "knn", "as_matrix"]

Metric = Literal["euclidean", "cosine"]
Backend = Literal["auto", "torch", "faiss", "kdtree"]
FaissIndexKind = Literal["flat", "ivf", "hnsw"]
Data = Union[LatentSpace, torch.Tensor, np.ndarray]
_METRICS = ("euclidean", "cosine")


@dataclass(frozen=True)
class KNNGraph:
    """The k nearest neighbours of every row.

    Attributes
    ----------
    indices : torch.Tensor of shape (n_queries, k), int64
        Row positions of the neighbours, nearest first. A point is never its
        own neighbour when the graph was computed on one set of rows.
    distances : torch.Tensor of shape (n_queries, k), float
        Euclidean distances, or cosine distances ``1 - cos``, ascending.
    metric : {"euclidean", "cosine"}
    backend : str
        What computed it: ``"torch"`` (exact), ``"faiss-flat"`` (exact),
        ``"faiss-ivf"`` or ``"faiss-hnsw"`` (approximate).
    """

    indices: torch.Tensor
    distances: torch.Tensor
    metric: str
    backend: str = "torch"

    def __post_init__(self) -> None:
        if self.indices.shape != self.distances.shape or self.indices.ndim != 2:
            raise ValueError("indices and distances must both have shape (n_queries, k)")
        if self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}; got {self.metric!r}")

    @property
    def n(self) -> int:
        """Number of query rows."""
        return self.indices.shape[0]

    @property
    def k(self) -> int:
        """Neighbours per row."""
        return self.indices.shape[1]

    def __repr__(self) -> str:
        return (
            f"KNNGraph(n={self.n}, k={self.k}, metric={self.metric!r}, backend={self.backend!r}, "
            f"device={self.indices.device})"
        )

    def truncate(self, k: int) -> KNNGraph:
        """The graph of the ``k`` nearest neighbours only (k <= self.k)."""
        if not 1 <= k <= self.k:
            raise ValueError(f"k must be between 1 and {self.k}; got {k}")
        return replace(self, indices=self.indices[:, :k], distances=self.distances[:, :k])

    def cpu(self) -> KNNGraph:
        return replace(self, indices=self.indices.cpu(), distances=self.distances.cpu())

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, distances)`` as NumPy arrays of shape (n_queries, k)."""
        distances = self.distances
        if distances.dtype in (torch.float16, torch.bfloat16):
            distances = distances.float()
        return self.indices.cpu().numpy(), distances.cpu().numpy()

    def for_umap(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, distances)`` with each point as its own first neighbour,
        the form ``umap.UMAP(precomputed_knn=...)`` expects: shape (n, k + 1)."""
        indices, distances = self.numpy()
        own = np.arange(self.n)[:, None]
        return np.hstack([own, indices]), np.hstack([np.zeros((self.n, 1), distances.dtype), distances])


def as_matrix(data: Data, what: str = "data") -> torch.Tensor:
    """The vectors of a LatentSpace, tensor or array as a finite 2-D tensor."""
    if isinstance(data, LatentSpace):
        return data.vectors  # validated on construction
    if is_chunked(data):
        raise TypeError(
            f"{what} is read from disk in chunks ({type(data).__name__}) and this needs it in memory: "
            "pass data.load() if it fits"
        )
    tensor = data.detach() if isinstance(data, torch.Tensor) else torch.as_tensor(np.asarray(data))
    if tensor.ndim != 2:
        raise ValueError(f"{what} must have shape (n_samples, n_features); got {tuple(tensor.shape)}")
    if not torch.is_floating_point(tensor):
        tensor = tensor.float()
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{what} contains NaN or Inf; remove those rows first")
    return tensor


def check_k(k: int, n: int, self_search: bool) -> int:
    """``k`` as an int, or ValueError when ``n`` rows cannot give k neighbours."""
    k = int(k)
    available = n - 1 if self_search else n
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    if k > available:
        raise ValueError(
            f"k={k} is too large: there are only {available} other points"
            + (" (a point is not its own neighbour)" if self_search else "")
        )
    return k


def _compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def _normalise(x: torch.Tensor, what: str) -> torch.Tensor:
    norms = x.norm(dim=1, keepdim=True)
    zero = (norms.squeeze(1) == 0).nonzero().flatten()
    if len(zero):
        raise ValueError(
            f"cosine distance is undefined for zero vectors; {what} has {len(zero)} at rows {zero[:5].tolist()}"
        )
    return x / norms


def _self_products(x: torch.Tensor) -> torch.Tensor:
    """``x @ x.T`` computed by row blocks on and above the diagonal, the rest mirrored.

    A search of a set against itself has a symmetric product; computing only
    its upper blocks does ~55 % of the arithmetic (measured 1.5-1.8x faster
    than one product for 5000 x 768 in float64 on a 2-core CPU).
    """
    n = x.shape[0]
    products = torch.empty((n, n), dtype=x.dtype, device=x.device)
    step = max(256, -(-n // 8))
    for start in range(0, n, step):
        stop = min(start + step, n)
        upper = x[start:stop] @ x[start:].T
        products[start:stop, start:] = upper
        products[stop:, start:stop] = upper[:, stop - start :].T
    return products


def _float64_neighbours(
    scores: torch.Tensor, block: torch.Tensor, x: torch.Tensor, x_sq: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest of each row from float64 ``|x|^2 - 2 q.x`` scores, copies measured directly."""
    squared, nearest = torch.topk(scores, k, dim=1, largest=False, sorted=True)
    block_sq = (block * block).sum(1, keepdim=True)
    squared.add_(block_sq).clamp_(min=0.0)
    # below ~1e-8 of the norms the expansion has lost its digits: an exact copy
    # would read ~1e-8 instead of 0, and TwoNN divides by it
    lost = squared <= 1e-8 * (block_sq + x_sq[nearest])
    if bool(lost.any()):
        rows, columns = lost.nonzero(as_tuple=True)
        squared[rows, columns] = ((block[rows] - x[nearest[rows, columns]]) ** 2).sum(1)
        order = torch.argsort(squared, dim=1, stable=True)
        squared, nearest = squared.gather(1, order), nearest.gather(1, order)
    return nearest, squared.sqrt_()


def knn(
    data: Data,
    k: int,
    *,
    metric: Metric = "euclidean",
    queries: Data | None = None,
    device: str | torch.device = "auto",
    chunk_size: int | None = None,
    progress: bool = False,
    backend: Backend = "auto",
    index: FaissIndexKind | None = None,
    nlist: int | None = None,
    nprobe: int | None = None,
    M: int = 32,  # noqa: N803 - FAISS's own name for the HNSW degree
    ef_search: int | None = None,
) -> KNNGraph:
    """The k nearest neighbours of every row (or of ``queries``) among ``data``.

    Exact in torch up to tens of thousands of points; beyond, ``"auto"``
    hands the search to FAISS's exact flat index; approximate FAISS indexes
    on request (see :mod:`workbench.geometry.backends` and
    :mod:`workbench.geometry.faiss_index`).

    Parameters
    ----------
    data : LatentSpace, tensor or array of shape (n_samples, n_features), or chunked rows
        Chunked rows (a :class:`workbench.streaming.StreamedSpace`, anything
        with ``n``, ``dim``, ``iter_chunks`` and ``vectors_at``) are searched
        chunk by chunk without loading them whole.
    k : int
        Neighbours per row. Without ``queries`` a point is not its own
        neighbour, so ``k < n_samples`` is required.
    metric : {"euclidean", "cosine"}, default "euclidean"
        Cosine distance is ``1 - cos(x, y)``.
    queries : LatentSpace, tensor or array of shape (n_queries, n_features), optional
        Rows to find neighbours for; by default ``data`` itself.
    device : {"auto", "cpu", "cuda", ...}
        Where to compute. The graph is returned on this device.
    chunk_size : int, optional
        Query rows per chunk; by default sized from the free memory.
    progress : bool
        Show a progress bar over chunks.
    backend : {"auto", "torch", "faiss", "kdtree"}, default "auto"
        ``"torch"``: exact, chunked. ``"faiss"``: a FAISS index (GPU FAISS
        when installed and ``device`` is a GPU). ``"kdtree"``: exact, for
        Euclidean search in 2-3 dimensions. ``"auto"``: the k-d tree for
        Euclidean data of at most 3 dimensions on a CPU, else torch while
        n_queries x n_samples is small (below
        :data:`workbench.geometry.backends.AUTO_FAISS_WORK`), FAISS above it
        when FAISS is installed; the graph's ``backend`` says which ran, and
        an INFO log says why.
    index : {"flat", "ivf", "hnsw"}, optional
        FAISS index: exact ``"flat"`` (the default), or approximate ``"ivf"``
        or ``"hnsw"``, only when asked for (with ``backend="faiss"``, or
        ``"auto"`` to keep torch for small searches).
    nlist, nprobe : int, optional
        IVF cells, and cells visited per query (defaults: ``4 sqrt(n)`` and
        ``sqrt(nlist)``, rounded).
    M, ef_search : int
        HNSW degree (default 32) and search breadth (default ``max(64, 2k)``).

    Returns
    -------
    KNNGraph
        ``indices`` and ``distances`` of shape (n_queries, k).

    Examples
    --------
    >>> import torch
    >>> graph = knn(torch.tensor([[0.0], [1.0], [3.0]]), k=1)
    >>> graph.indices.flatten().tolist(), graph.distances.flatten().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}")
    if backend != "torch" or index is not None or is_chunked(data) or is_chunked(queries):
        from workbench.geometry.backends import dispatch_knn

        return dispatch_knn(
            data, k, metric=metric, queries=queries, device=device, chunk_size=chunk_size, progress=progress,
            backend=backend, index=index, nlist=nlist, nprobe=nprobe, M=M, ef_search=ef_search,
        )  # fmt: skip
    device = resolve_device(device)
    base = as_matrix(data)
    self_search = queries is None
    query = base if self_search else as_matrix(queries, "queries")
    if query.shape[1] != base.shape[1]:
        raise ValueError(f"queries have {query.shape[1]} features but data has {base.shape[1]}")
    n = base.shape[0]
    k = check_k(k, n, self_search)
    available = n - 1 if self_search else n
    dtype = _compute_dtype(base)
    wide = metric == "euclidean" and device.type == "cpu"
    if wide:
        from workbench.geometry.blocked_knn import blocked_knn

        indices, distances, _ = blocked_knn(base, k, queries=None if self_search else query, block_rows=chunk_size)
        return KNNGraph(indices, distances.to(dtype), metric)
    # float64 before centring, so the centring rounds nothing that matters
    work_dtype = torch.float64 if wide else dtype
    x = base.to(device=device, dtype=work_dtype)
    q = x if self_search else query.to(device=device, dtype=work_dtype)
    if metric == "cosine":
        x = _normalise(x, "data")
        q = x if self_search else _normalise(q, "queries")
    else:
        # distances do not change under translation, and centring keeps the
        # expansion's |x|^2 terms small, so little precision cancels away
        centre = x.mean(0, keepdim=True)
        x = x - centre
        q = x if self_search else q - centre
    # a few spare candidates absorb the rounding of the float32 expansion
    candidates = k if wide else min(k + max(4, k // 8), available)
    x_sq = (x * x).sum(1)
    rank_dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    if chunk_size is None:
        per_row = (n * (x.dtype.itemsize * 3 + 8)) + (0 if wide else candidates * x.shape[1] * dtype.itemsize)
        chunk_size = chunk_rows(per_row, device=device, n_rows=q.shape[0], max_rows=65536)
    indices_out = torch.empty((q.shape[0], k), dtype=torch.int64, device=device)
    distances_out = torch.empty((q.shape[0], k), dtype=dtype, device=device)
    starts = range(0, q.shape[0], chunk_size)
    if progress and len(starts) > 1:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"{k}-NN ({metric})", unit="chunk")
    with torch.inference_mode():
        for start in starts:
            block = q[start : start + chunk_size]
            whole = self_search and block.shape[0] == n  # one chunk: the product is symmetric
            if metric == "euclidean":
                # |x|^2 - 2 q.x ranks like the squared distance (|q|^2 is the
                # same along a row); |q|^2 is added to the k kept
                if whole:
                    scores = _self_products(x).mul_(-2.0).add_(x_sq[None, :])
                else:
                    scores = torch.addmm(x_sq[None, :], block, x.T, alpha=-2.0)
            else:
                scores = (_self_products(x) if whole else block @ x.T).neg_()
            if self_search:
                rows = torch.arange(block.shape[0], device=device)
                scores[rows, rows + start] = float("inf")
            if wide:
                nearest, distances = _float64_neighbours(scores, block, x, x_sq, k)
                indices_out[start : start + block.shape[0]] = nearest
                distances_out[start : start + block.shape[0]] = distances.to(dtype)
                continue
            _, cand = torch.topk(scores, candidates, dim=1, largest=False, sorted=False)
            del scores
            # exact re-ranking of the candidates on directly computed distances
            neighbours = x[cand]
            if metric == "euclidean":
                # float64 accumulation: the ranking then agrees with a float64
                # search (scikit-learn upcasts too) down to ~1e-9 relative gaps
                exact = torch.linalg.vector_norm(neighbours - block[:, None, :], dim=2, dtype=rank_dtype)
            else:
                exact = (1.0 - (neighbours * block[:, None, :]).sum(2)).clamp_(0.0, 2.0)
            del neighbours
            order = torch.argsort(exact, dim=1, stable=True)[:, :k]
            indices_out[start : start + block.shape[0]] = torch.gather(cand, 1, order)
            distances_out[start : start + block.shape[0]] = torch.gather(exact, 1, order).to(dtype)
    return KNNGraph(indices_out, distances_out, metric)
