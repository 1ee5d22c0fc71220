"""Exact k-nearest neighbours in torch, for rows held in memory.

The exact search runs in torch, on the GPU when there is one, over chunks of
query rows sized from the free memory (:func:`workbench.device.chunk_rows`),
so its peak memory is bounded whatever N is. Distances come from the fast
``|x|^2 + |y|^2 - 2 x.y`` expansion on centred data, whose cancellation error
would spoil close neighbours (the ones TwoNN's ratios depend on), so:

* on a GPU, candidates are found with a float32 product and re-ranked on
  distances computed directly from the differences (gathers are cheap there);
* on a CPU (Euclidean), the product runs in float64, exact enough for every
  neighbour but copies and near-copies, which are measured directly. A float32
  product plus re-ranking was measured 3-5x slower on a CPU: gathering
  ``k`` candidate rows per query is bound by memory traffic, not arithmetic.
"""

from __future__ import annotations

import torch

from workbench.device import accumulate_dtype, chunk_rows, compute_dtype
from workbench.geometry.neighbors.graph import KNNGraph

__all__ = ["exact_knn"]


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


def exact_knn(
    base: torch.Tensor,
    query: torch.Tensor | None,
    k: int,
    *,
    metric: str,
    device: torch.device,
    chunk_size: int | None = None,
    progress: bool = False,
) -> KNNGraph:
    """The exact torch search over checked in-memory matrices.

    Parameters
    ----------
    base : tensor of shape (n_samples, n_features)
        Checked by :func:`workbench._checks.check_matrix`.
    query : tensor of shape (n_queries, n_features), or None
        None searches ``base`` against itself (a point is not its own neighbour).
    k : int
        Already checked against the number of rows (:func:`.graph.check_k`).
    metric : {"euclidean", "cosine"}
    device : torch.device
    chunk_size : int, optional
        Query rows per chunk; by default sized from the free memory.
    progress : bool
        Show a progress bar over chunks.

    Returns
    -------
    KNNGraph
        ``indices`` and ``distances`` of shape (n_queries, k), on ``device``.

    Examples
    --------
    >>> graph = exact_knn(torch.tensor([[0.0], [1.0], [3.0]]), None, 1, metric="euclidean", device=torch.device("cpu"))
    >>> graph.indices.flatten().tolist()
    [1, 0, 1]
    """
    self_search = query is None
    query = base if self_search else query
    n = base.shape[0]
    available = n - 1 if self_search else n
    dtype = compute_dtype(base)
    wide = metric == "euclidean" and device.type == "cpu"
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
    rank_dtype = accumulate_dtype(device)
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
