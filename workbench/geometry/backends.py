"""Which engine answers a :func:`~workbench.geometry.neighbors.knn` call.

- ``backend="torch"``: exact torch search; in memory when the data is, over
  chunks (:mod:`workbench.geometry.chunked_knn`) when it is read from disk.
- ``backend="faiss"``: a FAISS index (:mod:`workbench.geometry.faiss_index`),
  exact ``flat`` unless another ``index`` is asked for.
- ``backend="kdtree"``: a k-d tree (:mod:`workbench.geometry.kdtree`), exact,
  for Euclidean search in two or three dimensions; ``"auto"`` takes it there
  on a CPU (2-D maps' neighbours).
- ``backend="auto"``: otherwise torch while the work (n_queries x n_samples distance
  evaluations) is below :data:`AUTO_FAISS_WORK` -- about 50 000 points
  against themselves, a minute or two on a laptop CPU -- and FAISS above it.
  On a CUDA device the exact torch search is fast enough for a million points
  against themselves, so the bar is :data:`AUTO_FAISS_WORK_GPU`. Without
  FAISS installed, ``"auto"`` stays with torch. The choice is logged at INFO
  level (logger ``workbench.geometry.backends``) and recorded in the graph's
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
from typing import Any

import torch

from workbench.device import resolve_device
from workbench.extras import install_hint
from workbench.geometry.chunked import ChunkedVectors, as_chunked, is_chunked
from workbench.geometry.kdtree import MAX_KDTREE_DIM, kdtree_knn

__all__ = ["dispatch_knn", "choose_backend", "AUTO_FAISS_WORK", "AUTO_FAISS_WORK_GPU"]

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


def dispatch_knn(
    data: Any,
    k: int,
    *,
    metric: str,
    queries: Any,
    device: str | torch.device,
    chunk_size: int | None,
    progress: bool,
    backend: str,
    index: str | None,
    nlist: int | None,
    nprobe: int | None,
    M: int,  # noqa: N803
    ef_search: int | None,
):
    """Route a knn call (see :func:`workbench.geometry.neighbors.knn` for the parameters)."""
    from workbench.geometry.neighbors import KNNGraph, as_matrix, check_k, knn

    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}; got {backend!r}")
    device = resolve_device(device)
    source: ChunkedVectors = as_chunked(data)
    query_source = None if queries is None else as_chunked(queries, "queries")
    if query_source is not None and query_source.dim != source.dim:
        raise ValueError(f"queries have {query_source.dim} features but data has {source.dim}")
    k = check_k(k, source.n, queries is None)
    chosen, reason = backend, "asked for"
    in_memory = not (is_chunked(data) or is_chunked(queries))
    if backend == "auto" and metric == "euclidean" and source.dim <= MAX_KDTREE_DIM and in_memory and device.type == "cpu":
        chosen, reason = "kdtree", f"{source.dim}-D points: a k-d tree is exact and far faster than brute force"
    elif backend == "auto":
        chosen, reason = choose_backend(source.n if query_source is None else query_source.n, source.n, device)
    if chosen == "kdtree":
        if metric != "euclidean" or not in_memory:
            raise ValueError("backend='kdtree' serves Euclidean search on data held in memory")
        log.info("knn: k-d tree (%s)", reason)
        indices, distances = kdtree_knn(
            as_matrix(data), k, queries=None if queries is None else as_matrix(queries, "queries")
        )
        return KNNGraph(indices.to(device), distances.to(device), metric, backend="kdtree")
    if chosen == "torch":
        if index not in (None, "flat"):
            raise ValueError(f"index={index!r} is a FAISS index; pass backend='faiss' (or 'auto') to use it")
        log.info("knn: exact torch search (%s)", reason)
        if is_chunked(data) or is_chunked(queries):
            from workbench.geometry.chunked_knn import chunked_knn

            indices, distances = chunked_knn(
                source, k, metric=metric, queries=query_source, device=device, chunk_size=chunk_size, progress=progress
            )
            return KNNGraph(indices, distances, metric, backend="torch")
        return knn(data, k, metric=metric, queries=queries, device=device, chunk_size=chunk_size,
                   progress=progress, backend="torch")  # fmt: skip
    from workbench.geometry.faiss_index import faiss_knn

    kind = index if index is not None else "flat"
    indices, distances, built = faiss_knn(
        source, k, metric=metric, queries=query_source, index=kind, nlist=nlist, nprobe=nprobe, M=M,
        ef_search=ef_search, device=device, chunk_size=chunk_size, progress=progress,
    )  # fmt: skip
    log.info("knn: %s (%s)%s", built.describe(), reason, "" if built.exact else "; approximate neighbours")
    return KNNGraph(indices, distances, metric, backend=f"faiss-{kind}")
