"""The one entry to neighbour search: :func:`knn`, and which engine answers it.

- ``backend="torch"``: exact torch search; in memory when the data is, over
  chunks (:mod:`workbench.geometry.neighbors.chunked_exact`) when it is read from disk.
- ``backend="faiss"``: a FAISS index (:mod:`workbench.geometry.neighbors.faiss_index`),
  exact ``flat`` unless another ``index`` is asked for.
- ``backend="kdtree"``: a k-d tree (:mod:`workbench.geometry.neighbors.kdtree`), exact,
  for Euclidean search in two or three dimensions; ``"auto"`` takes it there
  on a CPU (2-D maps' neighbours).
- ``backend="auto"``: otherwise torch while the work (n_queries x n_samples distance
  evaluations) is below :data:`AUTO_FAISS_WORK` -- about 50 000 points
  against themselves, a minute or two on a laptop CPU -- and FAISS above it.
  On a CUDA device the exact torch search is fast enough for a million points
  against themselves, so the bar is :data:`AUTO_FAISS_WORK_GPU`. Without
  FAISS installed, ``"auto"`` stays with torch. The choice is logged at INFO
  level (logger ``workbench.geometry.neighbors.dispatch``) and recorded in the graph's
  ``backend``.

``"auto"`` never approximates on its own: above the bar it uses FAISS's exact
flat index (about twice as fast as the torch search on a CPU), and an
approximate index (``index="ivf"`` or ``"hnsw"``, 25-80x faster at a million
points) only when asked for. Approximate lists change what is computed from
them: local intrinsic dimension reads the members' own neighbour lists, and
an approximate graph gives approximate estimates, so the trade is the
user's to make, with the recall measured (``benchmarks/bench_knn_scale.py``).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any, Literal

import torch

from workbench._checks import check_matrix
from workbench.device import resolve_device
from workbench.extras import install_hint
from workbench.geometry.neighbors.chunked import ChunkedVectors, as_chunked, is_chunked
from workbench.geometry.neighbors.chunked_exact import chunked_knn
from workbench.geometry.neighbors.exact import exact_knn
from workbench.geometry.neighbors.faiss_index import faiss_knn
from workbench.geometry.neighbors.graph import KNNGraph, Metric, check_k, check_metric
from workbench.geometry.neighbors.kdtree import MAX_KDTREE_DIM, kdtree_knn

__all__ = ["knn", "choose_backend", "AUTO_FAISS_WORK", "AUTO_FAISS_WORK_GPU"]

Backend = Literal["auto", "torch", "faiss", "kdtree"]
FaissIndexKind = Literal["flat", "ivf", "hnsw"]

log = logging.getLogger(__name__)

#: n_queries x n_samples above which ``backend="auto"`` uses FAISS on a CPU
AUTO_FAISS_WORK = 50_000**2
#: the same on a CUDA device
AUTO_FAISS_WORK_GPU = 1_000_000**2
_BACKENDS = ("auto", "torch", "faiss", "kdtree")


def _faiss_installed() -> bool:
    return importlib.util.find_spec("faiss") is not None


def choose_backend(n_queries: int, n_samples: int, device: torch.device) -> tuple[str, str]:
    """``("torch" | "faiss", reason)`` for ``backend="auto"``."""
    work = n_queries * n_samples
    bar = AUTO_FAISS_WORK_GPU if device.type == "cuda" else AUTO_FAISS_WORK
    if work <= bar:
        return "torch", f"{n_queries:,} x {n_samples:,} rows is small enough for the exact torch search"
    if not _faiss_installed():
        return "torch", (
            f"{n_queries:,} x {n_samples:,} rows would go to FAISS, but it is not installed "
            f"({install_hint('faiss')}); using the exact torch search"
        )
    return "faiss", f"{n_queries:,} x {n_samples:,} rows is above the exact search's comfortable size"


def knn(
    data: Any,
    k: int,
    *,
    metric: Metric = "euclidean",
    queries: Any = None,
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
    on request (see :mod:`workbench.geometry.neighbors.dispatch` and
    :mod:`workbench.geometry.neighbors.faiss_index`).

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
        :data:`workbench.geometry.neighbors.dispatch.AUTO_FAISS_WORK`), FAISS above it
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
    check_metric(metric)
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}; got {backend!r}")
    device = resolve_device(device)
    in_memory = not (is_chunked(data) or is_chunked(queries))
    if in_memory:
        base = check_matrix(data)
        query = None if queries is None else check_matrix(queries, "queries")
        source: ChunkedVectors = as_chunked(base)
        query_source = None if query is None else as_chunked(query, "queries")
    else:
        source = as_chunked(data)
        query_source = None if queries is None else as_chunked(queries, "queries")
    if query_source is not None and query_source.dim != source.dim:
        raise ValueError(f"queries have {query_source.dim} features but data has {source.dim}")
    k = check_k(k, source.n, queries is None)
    chosen, reason = backend, "asked for"
    if backend == "auto" and metric == "euclidean" and source.dim <= MAX_KDTREE_DIM and in_memory and device.type == "cpu":
        chosen, reason = "kdtree", f"{source.dim}-D points: a k-d tree is exact and far faster than brute force"
    elif backend == "auto":
        chosen, reason = choose_backend(source.n if query_source is None else query_source.n, source.n, device)
    if chosen == "kdtree":
        if metric != "euclidean" or not in_memory:
            raise ValueError("backend='kdtree' serves Euclidean search on data held in memory")
        log.info("knn: k-d tree (%s)", reason)
        indices, distances = kdtree_knn(base, k, queries=query)
        return KNNGraph(indices.to(device), distances.to(device), metric, backend="kdtree")
    if chosen == "torch":
        if index not in (None, "flat"):
            raise ValueError(f"index={index!r} is a FAISS index; pass backend='faiss' (or 'auto') to use it")
        log.info("knn: exact torch search (%s)", reason)
        if not in_memory:
            indices, distances = chunked_knn(
                source, k, metric=metric, queries=query_source, device=device, chunk_size=chunk_size, progress=progress
            )
            return KNNGraph(indices, distances, metric, backend="torch")
        return exact_knn(base, query, k, metric=metric, device=device, chunk_size=chunk_size, progress=progress)
    kind = index if index is not None else "flat"
    indices, distances, built = faiss_knn(
        source, k, metric=metric, queries=query_source, index=kind, nlist=nlist, nprobe=nprobe, M=M,
        ef_search=ef_search, device=device, chunk_size=chunk_size, progress=progress,
    )  # fmt: skip
    log.info("knn: %s (%s)%s", built.describe(), reason, "" if built.exact else "; approximate neighbours")
    return KNNGraph(indices, distances, metric, backend=f"faiss-{kind}")
