"""k-nearest neighbours through FAISS: exact (flat) or approximate (IVF, HNSW).

FAISS is the engine for neighbour graphs too large for the exact torch search
(a million token vectors for token-level LID). This module builds the index,
feeds it the rows chunk by chunk (so a sharded space on disk is never loaded
whole), searches, and converts the answer into the workbench's
:class:`~workbench.geometry.neighbors.KNNGraph`, consistent with the torch
backend:

- **distances** are recomputed from the differences for the candidates FAISS
  returns (FAISS reports *squared* L2 through the ``|x|^2 + |y|^2 - 2 x.y``
  expansion in float32, and inner products for cosine); the graph holds
  Euclidean distances or ``1 - cos``, exactly as the torch backend does.
- **cosine** search L2-normalises the rows and uses an inner-product index.
- **the query itself is removed by index**, not by dropping column 0: with
  duplicate rows FAISS may list a twin before the query. A few spare
  candidates are fetched so that k remain after the removal.
- **rows an approximate index leaves short** (IVF returns ``-1`` when the
  visited cells hold fewer than k points) are searched exactly instead.

Index parameters (FAISS's names): ``nlist`` IVF cells (default ``4 sqrt(n)``,
FAISS's own rule of thumb), ``nprobe`` cells visited per query (default
``sqrt(nlist)``), ``M`` links per HNSW node (32) and ``ef_search`` (default
``max(64, 2 k)``; ``efConstruction`` stays at FAISS's 40). GPU FAISS
(``faiss-gpu``) is used for flat and IVF indexes when ``device`` is a CUDA
device and FAISS sees a GPU; HNSW has no GPU version in FAISS and stays on the
CPU.

Recall: on clustered data (a Gaussian mixture on a low-dimensional subspace,
the shape of real embedding clouds) the IVF and HNSW defaults find at least
95 % of the true 10 nearest neighbours (``tests/geometry/test_faiss_backend.py``
checks it; ``benchmarks/bench_knn_scale.py`` measures it at a million points).
On structureless isotropic noise IVF needs a much larger ``nprobe`` for that.
The graph's ``backend`` says whether it is exact (``"faiss-flat"``) or not.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workbench.device import chunk_rows, compute_dtype
from workbench.extras import require
from workbench.geometry.neighbors.chunked import ChunkedVectors, iter_row_chunks
from workbench.geometry.neighbors.chunked_exact import exact_distances, exact_rows, keep_nearest, prepare_rows, spare_candidates

__all__ = ["FaissIndex", "build_index", "search_index", "faiss_knn", "default_nlist", "default_nprobe"]

log = logging.getLogger(__name__)

_KINDS = ("flat", "ivf", "hnsw")
#: rows handed to ``index.add`` at a time
_ADD_ROWS = 65536
#: FAISS's k-means wants at least 39 training points per cell and samples at most 256
_TRAIN_PER_CELL = 50


def default_nlist(n: int) -> int:
    """IVF cells for ``n`` rows: ``4 sqrt(n)``, with at least 39 rows per cell."""
    return max(1, min(int(round(4 * math.sqrt(n))), n // 39))


def default_nprobe(nlist: int) -> int:
    """Cells visited per query: ``sqrt(nlist)``, rounded up."""
    return max(1, min(nlist, math.ceil(math.sqrt(nlist))))


@dataclass
class FaissIndex:
    """A built FAISS index over the rows of one source, ready to search.

    Attributes
    ----------
    index : faiss.Index
    kind : {"flat", "ivf", "hnsw"}
    params : dict
        The parameters used (``nlist``, ``nprobe``, ``M``, ``ef_search``).
    on_gpu : bool
    """

    index: Any
    kind: str
    metric: str
    params: dict = field(default_factory=dict)
    on_gpu: bool = False
    _resources: Any = None  # GPU resources must outlive the index

    @property
    def exact(self) -> bool:
        return self.kind == "flat"

    def describe(self) -> str:
        details = ", ".join(f"{key}={value}" for key, value in self.params.items())
        where = "GPU" if self.on_gpu else "CPU"
        return f"FAISS {self.kind}" + (f" ({details})" if details else "") + f" on the {where}"


def _as_faiss_rows(rows: torch.Tensor, metric: str) -> np.ndarray:
    """float32, C-contiguous, normalised for cosine: what FAISS takes."""
    return np.ascontiguousarray(prepare_rows(rows, metric, torch.device("cpu"), torch.float32).numpy())


def _gpu_resources(faiss: Any, device: torch.device) -> Any | None:
    if device.type != "cuda":
        return None
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
        log.info("FAISS runs on the CPU: this FAISS build sees no GPU (install faiss-gpu for GPU search)")
        return None
    return faiss.StandardGpuResources()


def build_index(
    source: ChunkedVectors,
    *,
    metric: str,
    kind: str = "flat",
    nlist: int | None = None,
    nprobe: int | None = None,
    M: int = 32,  # noqa: N803
    ef_search: int | None = None,
    k: int = 10,
    device: torch.device = torch.device("cpu"),
    seed: int = 0,
    progress: bool = False,
) -> FaissIndex:
    """Build, train (IVF) and fill a FAISS index with the rows of ``source``.

    Parameters are those of :func:`faiss_knn`. IVF is trained on a random
    sample of ``50 nlist`` rows (FAISS's k-means wants 39 to 256 per cell).
    """
    faiss = require("faiss", feature="knn(backend='faiss')")
    if kind not in _KINDS:
        raise ValueError(f"index must be one of {_KINDS}; got {kind!r}")
    n, dim = source.n, source.dim
    faiss_metric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    params: dict[str, int] = {}
    if kind == "flat":
        index = faiss.index_factory(dim, "Flat", faiss_metric)
    elif kind == "ivf":
        nlist = default_nlist(n) if nlist is None else int(nlist)
        if not 1 <= nlist <= n:
            raise ValueError(f"nlist must be between 1 and the number of rows ({n}); got {nlist}")
        nprobe = default_nprobe(nlist) if nprobe is None else int(nprobe)
        if not 1 <= nprobe <= nlist:
            raise ValueError(f"nprobe must be between 1 and nlist ({nlist}); got {nprobe}")
        params = {"nlist": nlist, "nprobe": nprobe}
        index = faiss.index_factory(dim, f"IVF{nlist},Flat", faiss_metric)
    else:
        if int(M) < 2:
            raise ValueError(f"M must be at least 2; got {M}")
        ef_search = max(64, 2 * k) if ef_search is None else int(ef_search)
        if ef_search < k:
            raise ValueError(f"ef_search must be at least k ({k}); got {ef_search}")
        params = {"M": int(M), "ef_search": ef_search}
        index = faiss.index_factory(dim, f"HNSW{int(M)},Flat", faiss_metric)

    resources = _gpu_resources(faiss, device) if kind != "hnsw" else None
    if resources is not None:
        index = faiss.index_cpu_to_gpu(resources, device.index or 0, index)
    if kind == "ivf":
        size = min(n, _TRAIN_PER_CELL * nlist)
        sample = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
        index.train(_as_faiss_rows(source.vectors_at(sample), metric))
    steps = iter_row_chunks(source, _ADD_ROWS)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, total=-(-n // _ADD_ROWS), desc=f"FAISS {kind}: adding rows", unit="chunk")
    for _, rows in steps:
        index.add(_as_faiss_rows(rows, metric))
    space = faiss.GpuParameterSpace() if resources is not None else faiss.ParameterSpace()
    if kind == "ivf":
        space.set_index_parameter(index, "nprobe", params["nprobe"])
    elif kind == "hnsw":
        space.set_index_parameter(index, "efSearch", params["ef_search"])
    return FaissIndex(index, kind, metric, params, on_gpu=resources is not None, _resources=resources)


def search_index(
    built: FaissIndex,
    source: ChunkedVectors,
    k: int,
    *,
    queries: ChunkedVectors | None = None,
    device: torch.device = torch.device("cpu"),
    chunk_size: int | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """k-NN of every row of ``queries`` (default: of ``source``, self excluded) in a built index.

    ``source`` must be the rows the index was built on: the candidates'
    vectors are read from it for the exact distances.

    Returns
    -------
    indices : tensor of shape (n_queries, k), int64
    distances : tensor of shape (n_queries, k)
    """
    metric = built.metric
    self_search = queries is None
    query_source = source if self_search else queries
    dtype = compute_dtype(source.dtype)
    fetch = min(k + int(self_search) + spare_candidates(k), source.n)
    if chunk_size is None:
        # the candidates' vectors are gathered for the exact distances
        per_row = fetch * source.dim * (dtype.itemsize * 2 + 4) + fetch * 16
        chunk_size = chunk_rows(per_row, device=device, n_rows=query_source.n, max_rows=16384)
    indices = torch.empty((query_source.n, k), dtype=torch.int64, device=device)
    distances = torch.empty((query_source.n, k), dtype=dtype, device=device)
    steps = iter_row_chunks(query_source, chunk_size)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, total=-(-query_source.n // chunk_size), desc=f"{k}-NN ({built.describe()})", unit="chunk")
    for start, rows in steps:
        _, found = built.index.search(_as_faiss_rows(rows, metric), fetch)
        candidates = torch.from_numpy(found).to(device)
        block = prepare_rows(rows, metric, device, dtype)
        neighbours = prepare_rows(source.vectors_at(candidates.clamp(min=0).cpu()), metric, device, dtype)
        exact = exact_distances(block, neighbours, metric)
        discard = candidates < 0
        if self_search:
            own = torch.arange(start, start + rows.shape[0], device=device)
            discard |= candidates == own[:, None]
        exact.masked_fill_(discard, float("inf"))
        stop = start + rows.shape[0]
        indices[start:stop], distances[start:stop] = keep_nearest(candidates, exact, k)
    _search_short_rows_exactly(indices, distances, source, query_source, self_search, metric, device, dtype, k)
    return indices, distances


def faiss_knn(
    source: ChunkedVectors,
    k: int,
    *,
    metric: str,
    queries: ChunkedVectors | None = None,
    index: str = "flat",
    nlist: int | None = None,
    nprobe: int | None = None,
    M: int = 32,  # noqa: N803
    ef_search: int | None = None,
    device: torch.device = torch.device("cpu"),
    chunk_size: int | None = None,
    progress: bool = False,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, FaissIndex]:
    """k-NN of every row of ``queries`` (default: of ``source``, self excluded) with FAISS.

    Parameters
    ----------
    source, queries : ChunkedVectors
        The database rows, and the rows to find neighbours for.
    k : int
    metric : {"euclidean", "cosine"}
    index : {"flat", "ivf", "hnsw"}
        ``"flat"`` is exact (``IndexFlatL2`` / ``IndexFlatIP``); ``"ivf"``
        (``IndexIVFFlat``) and ``"hnsw"`` (``IndexHNSWFlat``) approximate.
    nlist, nprobe, M, ef_search : int, optional
        Index parameters; see the module docs for the defaults.
    device : torch.device
        Where the graph is returned (and FAISS runs, for GPU FAISS).
    chunk_size : int, optional
        Query rows per search call.
    seed : int
        Seeds the IVF training sample.

    Returns
    -------
    indices : tensor of shape (n_queries, k), int64
    distances : tensor of shape (n_queries, k)
    built : FaissIndex
        What was used, for the graph's ``backend`` and the log.
    """
    built = build_index(
        source, metric=metric, kind=index, nlist=nlist, nprobe=nprobe, M=M, ef_search=ef_search,
        k=k, device=device, seed=seed, progress=progress,
    )  # fmt: skip
    indices, distances = search_index(
        built, source, k, queries=queries, device=device, chunk_size=chunk_size, progress=progress
    )
    return indices, distances, built


def _search_short_rows_exactly(
    indices: torch.Tensor,
    distances: torch.Tensor,
    source: ChunkedVectors,
    query_source: ChunkedVectors,
    self_search: bool,
    metric: str,
    device: torch.device,
    dtype: torch.dtype,
    k: int,
) -> None:
    """Fill, in place, the rows an approximate index returned fewer than k neighbours for."""
    short = torch.isinf(distances).any(1).nonzero().flatten()
    if len(short) == 0:
        return
    log.info("FAISS found fewer than %d neighbours for %d row(s); searching those exactly", k, len(short))
    positions = short.cpu()
    rows = query_source.vectors_at(positions)
    found, exact = exact_rows(
        source, rows, positions if self_search else None, k, metric=metric, device=device, dtype=dtype
    )
    indices[short], distances[short] = found, exact
