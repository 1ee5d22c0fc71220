"""Exact Euclidean k-NN on a CPU: float32 products, a float64 re-rank, and a proof.

The exact search on a CPU used to run its whole ``n x n`` product in float64,
because the ``|x|^2 - 2 q.x`` expansion in float32 is not accurate enough to
rank close neighbours. Here the product runs in float32 (twice the arithmetic
rate, half the memory traffic) and only serves to *propose* candidates:

1. scores ``s~_ij = |c_j|^2 - 2 c_i.c_j`` in float32 on the centred data ``c``,
   a block of query rows at a time (or the whole symmetric product when it
   fits), so each block is still in cache when it is read again;
2. per row, the ``m = k + spare`` smallest scores are kept by a heap (one
   comparison for most entries; ``torch.topk`` sorts pairs and was the
   slowest step), and the ``(m+1)``-th smallest, ``o_i``, is remembered;
3. the ``m`` candidates are measured exactly, ``sum((x_i - x_j)^2)`` in float64
   from the original coordinates, and sorted by (distance, index);
4. **the proof**: every score carries a rounding error of at most
   ``E_i = 2 (D + 8) u (|c_i| + max_j |c_j|)^2`` (``u = 2^-24``; the standard
   bound for a length-``D`` dot product, the norms and the rounding of the
   centred data to float32, doubled). A point left out has a true squared
   distance of at least ``o_i + |c_i|^2 - E_i``; when the k-th exact distance
   is below that, nothing left out can enter the top k or tie with it, so the
   row equals the exact float64 graph. A row that fails (the float32 gap at
   the cut within rounding error, or more than ``m - k`` points tied there)
   measures every point whose score is within ``E_i`` of its k-th exact
   distance instead (all the points that could belong; on data whose norms
   dwarf its neighbour distances that can be many, never a wrong one).

So the graph (indices and distances) is that of an exhaustive float64 search
whose ties are broken by the lower index, whatever the data.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

__all__ = ["blocked_knn", "SCORE_BYTES"]

#: bytes of float32 scores a block of query rows aims at: large enough for an
#: efficient product, small enough to be read back from cache
SCORE_BYTES = 8 << 20
#: the whole symmetric product of a self-search is formed when it is at most
#: this large (it then costs ~55 % of the arithmetic, see neighbors._self_products)
SYMMETRIC_BYTES = 256 << 20
_UNIT = 2.0**-24  # float32 unit roundoff


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _squared_distance(a, b):
    total = 0.0
    for t in range(a.shape[0]):
        diff = np.float64(a[t]) - np.float64(b[t])
        total += diff * diff
    return total


@njit(cache=True, nogil=True)
def _keep_smallest(values, ids, count, size):
    """Shrink the buffer to its ``size`` smallest entries; returns the largest kept."""
    cut = np.partition(values[:count], size - 1)[size - 1]
    equal = size
    for j in range(count):
        if values[j] < cut:
            equal -= 1
    kept = 0
    for j in range(count):  # in place: the write position never passes the read one
        value = values[j]
        if value < cut or (value == cut and equal > 0):
            if value == cut:
                equal -= 1
            values[kept], ids[kept] = value, ids[j]
            kept += 1
    return cut


@njit(cache=True, nogil=True)
def _smallest(row, skip, size, values, ids):
    """The ``size`` smallest entries of ``row`` (column ``skip`` left out) into
    ``values, ids[:size]``; returns the largest of them.

    A buffer of a few times ``size`` collects entries below the running cut
    and is shrunk by a partial sort when full: past the first entries almost
    nothing is below the cut, so the scan is one predictable comparison per
    entry (a heap was measured 4x slower: its sifts mispredict).
    """
    capacity = values.shape[0]
    count = 0
    cut = np.inf
    for j in range(row.shape[0]):
        value = row[j]
        if value < cut and j != skip:
            values[count] = value
            ids[count] = j
            count += 1
            if count == capacity:
                cut = _keep_smallest(values, ids, count, size)
                count = size
    if count > size:
        cut = _keep_smallest(values, ids, count, size)
    elif count == size:
        cut = values[:size].max()
    return cut


@njit(cache=True, nogil=True)
def _ordered(ids, squared):
    """Sort by (distance, index): by distance, then runs of equal distances by index."""
    order = np.argsort(squared)
    ids, squared = ids[order], squared[order]
    start = 0
    for j in range(1, len(squared) + 1):
        if j == len(squared) or squared[j] != squared[start]:
            if j - start > 1:
                ids[start:j] = np.sort(ids[start:j])
            start = j
    return ids, squared


@njit(parallel=True, cache=True)
def _select_and_rerank(scores, first, skip_self, queries, data, query_sq, bound, k, m, out_ids, out_sq, widened):
    rows = scores.shape[0]
    n = scores.shape[1]
    available = n - 1 if skip_self else n
    has_outside = m < available
    size = m + 1 if has_outside else m
    for r in prange(rows):
        i = first + r
        skip = i if skip_self else -1
        values = np.empty(4 * size, dtype=scores.dtype)
        ids = np.empty(4 * size, dtype=np.int64)
        largest = _smallest(scores[r], skip, size, values, ids)
        outside = np.inf
        if has_outside:  # the largest of the m + 1 smallest is left out: the (m+1)-th
            last = np.argmax(values[:size])
            outside = np.float64(largest)
            values[last], ids[last] = values[size - 1], ids[size - 1]
        # in address order: the rows are read from memory, and this is what the re-rank waits on
        ids = np.sort(ids[:m])
        squared = np.empty(m, dtype=np.float64)
        for c in range(m):
            squared[c] = _squared_distance(queries[i], data[ids[c]])
        ids, squared = _ordered(ids, squared)
        cut = squared[k - 1]
        # the exact sum itself is only float64-accurate: a relative slack
        if cut * (1.0 + 1e-12) < outside + query_sq[i] - bound[i]:
            out_ids[i, :] = ids[:k]
            out_sq[i, :] = squared[:k]
            continue
        # too close to call: every point whose score is within the bound of
        # the k-th exact distance may belong, so all of those are measured
        widened[i] = True
        reach = cut * (1.0 + 1e-12) - query_sq[i] + bound[i]
        row = scores[r]
        count = 0
        for j in range(n):
            if row[j] <= reach and j != skip:
                count += 1
        ids = np.empty(count, dtype=np.int64)
        count = 0
        for j in range(n):
            if row[j] <= reach and j != skip:
                ids[count] = j
                count += 1
        squared = np.empty(count, dtype=np.float64)
        for c in range(count):
            squared[c] = _squared_distance(queries[i], data[ids[c]])
        ids, squared = _ordered(ids, squared)
        out_ids[i, :] = ids[:k]
        out_sq[i, :] = squared[:k]


def blocked_knn(
    data: torch.Tensor,
    k: int,
    *,
    queries: torch.Tensor | None = None,
    spare: int | None = None,
    block_rows: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Exact Euclidean k-NN on the CPU, equal to an exhaustive float64 search.

    Parameters
    ----------
    data : tensor of shape (n_samples, n_features), float32 or float64, finite
    k : int
        Neighbours per row; ``k < n_samples`` for a self-search.
    queries : tensor of shape (n_queries, n_features), optional
        Rows to search for; by default ``data`` itself, each row excluded
        from its own list.
    spare : int, optional
        Candidates beyond ``k`` taken from the float32 scores (default
        ``max(4, k // 8)``); more spares make the widened re-rank rarer.
    block_rows : int, optional
        Query rows per float32 product; by default ~8 MiB of scores.

    Returns
    -------
    indices : tensor of shape (n_queries, k), int64
        Nearest first; equal distances in increasing index order.
    distances : tensor of shape (n_queries, k), float64
        Euclidean distances, summed in float64 from the coordinates.
    n_widened : int
        Rows whose float32 cut was too close to call: every point the bound
        could not rule out was measured.

    Examples
    --------
    >>> import torch
    >>> indices, distances, _ = blocked_knn(torch.tensor([[0.0], [1.0], [3.0], [1.0]]), k=2)
    >>> indices.tolist()
    [[1, 3], [3, 0], [1, 3], [1, 0]]
    >>> distances[0].tolist()
    [1.0, 1.0]
    """
    from workbench.geometry.chunked_knn import spare_candidates

    self_search = queries is None
    x = data.detach().cpu()
    q = x if self_search else queries.detach().cpu()
    n, width = x.shape
    k = int(k)
    available = n - 1 if self_search else n
    if not 1 <= k <= available:
        raise ValueError(f"k must be between 1 and {available}; got {k}")
    m = min(k + (spare_candidates(k) if spare is None else int(spare)), available)
    # exact coordinates for the re-rank: float32 inputs stay float32 (their
    # differences are exact in float64), anything wider is read as float64
    exact_dtype = np.float32 if x.dtype == torch.float32 else np.float64
    x_exact = np.ascontiguousarray(x.numpy().astype(exact_dtype, copy=False))
    q_exact = x_exact if self_search else np.ascontiguousarray(q.numpy().astype(exact_dtype, copy=False))
    # centring (in float64, then rounded once) keeps |c|^2 and the error bound small
    centre = x.to(torch.float64).mean(0, keepdim=True)
    c = (x.to(torch.float64) - centre).to(torch.float32)
    cq = c if self_search else (q.to(torch.float64) - centre).to(torch.float32)
    c_sq = (c * c).sum(1)
    q_norm = cq.to(torch.float64).norm(dim=1)
    radius = float(c.to(torch.float64).norm(dim=1).max())
    bound = (2.0 * (width + 8) * _UNIT * (q_norm + radius) ** 2).numpy()
    query_sq = (q_norm**2).numpy()

    n_queries = q.shape[0]
    out_ids = np.empty((n_queries, k), dtype=np.int64)
    out_sq = np.empty((n_queries, k), dtype=np.float64)
    widened = np.zeros(n_queries, dtype=np.bool_)
    with torch.inference_mode():
        if self_search and n * n * 4 <= SYMMETRIC_BYTES and block_rows is None:
            from workbench.geometry.neighbors import _self_products

            scores = _self_products(c).mul_(-2.0).add_(c_sq[None, :])
            _select_and_rerank(scores.numpy(), 0, True, q_exact, x_exact, query_sq, bound, k, m, out_ids, out_sq, widened)
        else:
            step = block_rows or max(1, min(n_queries, SCORE_BYTES // (4 * n)))
            for start in range(0, n_queries, step):
                scores = torch.addmm(c_sq[None, :], cq[start : start + step], c.T, alpha=-2.0)
                _select_and_rerank(
                    scores.numpy(), start, self_search, q_exact, x_exact, query_sq, bound, k, m, out_ids, out_sq, widened
                )  # fmt: skip
    return torch.from_numpy(out_ids), torch.from_numpy(np.sqrt(out_sq)), int(widened.sum())
