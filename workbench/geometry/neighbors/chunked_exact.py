"""Exact neighbours over data read in chunks, and the re-ranking every backend shares.

When the rows cannot all be held at once (a sharded space on disk), the exact
search walks query chunks x database chunks: each database chunk offers its
best candidates for every query row, their distances are computed exactly from
the differences, and a running top-k is merged chunk after chunk. Peak memory
is one query chunk x one database chunk, whatever N is.

:func:`exact_distances` and :func:`keep_nearest` are also what the FAISS
backend uses to turn FAISS's candidates into a :class:`KNNGraph` with the same
distances as the torch backend (FAISS reports squared, expanded L2 in float32).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from workbench.device import accumulate_dtype, chunk_rows, compute_dtype
from workbench.geometry.neighbors.chunked import ChunkedVectors, iter_row_chunks

__all__ = ["exact_distances", "keep_nearest", "chunked_knn", "exact_rows", "search_blocks", "spare_candidates", "prepare_rows"]

#: database rows read per step of the chunked exact search
DATABASE_CHUNK_ROWS = 131072


def spare_candidates(k: int) -> int:
    """Extra candidates fetched beyond k, to absorb the rounding of fast scores."""
    return max(4, k // 8)


def prepare_rows(rows: torch.Tensor, metric: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Rows moved to ``device``/``dtype``, and L2-normalised for the cosine metric."""
    rows = rows.to(device=device, dtype=dtype)
    if metric == "cosine":
        norms = rows.norm(dim=-1, keepdim=True)
        if bool((norms == 0).any()):
            raise ValueError("cosine distance is undefined for zero vectors; remove them first")
        rows = rows / norms
    return rows


def exact_distances(queries: torch.Tensor, neighbours: torch.Tensor, metric: str) -> torch.Tensor:
    """Distances computed directly (not through the ``|x|^2`` expansion).

    Parameters
    ----------
    queries : tensor of shape (n_queries, n_features)
        Normalised for the cosine metric.
    neighbours : tensor of shape (n_queries, n_candidates, n_features)
        Normalised for the cosine metric.

    Returns
    -------
    tensor of shape (n_queries, n_candidates), float64 (float32 on MPS)
        Euclidean distance, or ``1 - cos`` clamped to [0, 2]. Accumulated in
        float64, as the torch backend ranks, so that both order near-ties alike.
    """
    wide = accumulate_dtype(queries.device)
    if metric == "euclidean":
        return torch.linalg.vector_norm(neighbours - queries[:, None, :], dim=2, dtype=wide)
    return (1.0 - (neighbours * queries[:, None, :]).sum(2, dtype=wide)).clamp_(0.0, 2.0)


def keep_nearest(indices: torch.Tensor, distances: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest distances per row, ascending (ties keep their order).

    Entries to discard (the query itself, FAISS's ``-1`` for "no result")
    should carry an infinite distance before the call.
    """
    order = torch.argsort(distances, dim=1, stable=True)[:, :k]
    return torch.gather(indices, 1, order), torch.gather(distances, 1, order)


def _database_centre(source: ChunkedVectors, metric: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    # Distances do not change under translation; shifting by any point near
    # the data keeps the expansion's |x|^2 terms small. The mean of the first
    # chunk is near enough and costs one small read.
    if metric == "cosine":
        return torch.zeros(source.dim, device=device, dtype=dtype)
    first = next(iter(source.iter_chunks(min(source.n, 4096))))
    return first.to(device=device, dtype=dtype).mean(0)


def search_blocks(
    source: ChunkedVectors,
    query_blocks: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
    k: int,
    *,
    metric: str,
    device: torch.device,
    dtype: torch.dtype,
    database_rows: int = DATABASE_CHUNK_ROWS,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Exact k-NN of each query block among all rows of ``source``.

    ``query_blocks`` yields ``(rows, positions)``: raw query rows of shape
    (b, dim), and their own positions in ``source`` (a tensor of shape (b,))
    when they are rows of it and must not be their own neighbours, else None.
    Yields ``(indices, distances)`` of shape (b, k) per block.
    """
    centre = _database_centre(source, metric, device, dtype)
    candidates = k + spare_candidates(k)
    for rows, positions in query_blocks:
        block = prepare_rows(rows, metric, device, dtype) - centre
        block_sq = (block * block).sum(1, keepdim=True)
        best_i = torch.full((block.shape[0], 0), -1, dtype=torch.int64, device=device)
        best_d = torch.empty((block.shape[0], 0), dtype=accumulate_dtype(device),
                             device=device)  # fmt: skip
        own = None if positions is None else positions.to(device)[:, None]
        for start, chunk in iter_row_chunks(source, database_rows):
            x = prepare_rows(chunk, metric, device, dtype) - centre
            # one (rows x chunk) allocation, updated in place: this is the memory-bound step
            scores = (block @ x.T).mul_(-2.0 if metric == "euclidean" else -1.0)
            if metric == "euclidean":
                scores.add_((x * x).sum(1)[None, :]).add_(block_sq)
            global_ids = torch.arange(start, start + x.shape[0], device=device)
            if own is not None:
                scores.masked_fill_(global_ids[None, :] == own, float("inf"))
            take = min(candidates, x.shape[0])
            _, local = torch.topk(scores, take, dim=1, largest=False, sorted=False)
            del scores
            distances = exact_distances(block, x[local], metric)
            found = local + start
            if own is not None:
                distances.masked_fill_(found == own, float("inf"))
            best_i, best_d = keep_nearest(torch.cat([best_i, found], 1), torch.cat([best_d, distances], 1), k)
        yield best_i, best_d.to(dtype)


def chunked_knn(
    source: ChunkedVectors,
    k: int,
    *,
    metric: str,
    queries: ChunkedVectors | None = None,
    device: torch.device,
    chunk_size: int | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k-NN of every row of ``queries`` (default: of ``source``, self excluded).

    Returns
    -------
    indices : tensor of shape (n_queries, k), int64
    distances : tensor of shape (n_queries, k)
    """
    dtype = compute_dtype(source.dtype)
    query_source = source if queries is None else queries
    database_rows = min(source.n, DATABASE_CHUNK_ROWS)
    if chunk_size is None:
        candidates = k + spare_candidates(k)
        per_row = database_rows * (dtype.itemsize * 3 + 8) + candidates * source.dim * dtype.itemsize * 2
        chunk_size = chunk_rows(per_row, device=device, n_rows=query_source.n, max_rows=65536)

    def blocks() -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        for start, rows in iter_row_chunks(query_source, chunk_size):
            own = torch.arange(start, start + rows.shape[0]) if queries is None else None
            yield rows, own

    steps: Iterable = blocks()
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, total=-(-query_source.n // chunk_size), desc=f"{k}-NN ({metric}, chunked)", unit="chunk")
    results = list(
        search_blocks(source, steps, k, metric=metric, device=device, dtype=dtype, database_rows=database_rows)
    )
    return torch.cat([i for i, _ in results]), torch.cat([d for _, d in results])


def exact_rows(
    source: ChunkedVectors,
    rows: torch.Tensor,
    own_positions: torch.Tensor | None,
    k: int,
    *,
    metric: str,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k-NN of a few given rows (e.g. those an approximate index left unfilled)."""
    blocks = [(rows[i : i + 4096], None if own_positions is None else own_positions[i : i + 4096])
              for i in range(0, rows.shape[0], 4096)]  # fmt: skip
    results = list(search_blocks(source, blocks, k, metric=metric, device=device, dtype=dtype))
    return torch.cat([i for i, _ in results]), torch.cat([d for _, d in results])

