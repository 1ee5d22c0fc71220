"""The CPU k-NN (float32 candidates, float64 re-rank, proven cut) equals an exhaustive float64 search."""

import numpy as np
import pytest
import torch

from workbench import knn
from workbench.geometry.blocked_knn import blocked_knn

pytestmark = pytest.mark.cpu_only  # the CPU kernel has no GPU counterpart to run


def exhaustive_float64(x: torch.Tensor, k: int, queries: torch.Tensor | None = None):
    """Every distance from coordinate differences in float64; ties by the lower index."""
    x64 = x.double()
    q = x64 if queries is None else queries.double()
    squared = ((q[:, None, :] - x64[None]) ** 2).sum(-1)
    if queries is None:
        squared.fill_diagonal_(float("inf"))
    order = torch.sort(squared, dim=1, stable=True).indices[:, :k]
    return order, squared.gather(1, order).sqrt()


def assert_exact(x, k, queries=None, **options):
    indices, distances, n_widened = blocked_knn(x, k, queries=queries, **options)
    expected_indices, expected_distances = exhaustive_float64(x, k, queries)
    assert torch.equal(indices, expected_indices)
    torch.testing.assert_close(distances, expected_distances, rtol=1e-12, atol=1e-12)
    return n_widened


@pytest.mark.parametrize("k", [1, 7, 40])
def test_gaussian_rows_equal_the_float64_graph_without_fallback(k):
    x = torch.randn(600, 48, generator=torch.Generator().manual_seed(k))
    assert assert_exact(x, k) == 0


def test_high_dimension_offset_data_blocks_and_queries():
    # far from the origin: the centring is what keeps float32 usable here
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(500, 384, generator=generator) + 50.0
    assert assert_exact(x, 16, block_rows=37) == 0
    queries = x[:60] + 0.05 * torch.randn(60, 384, generator=generator)
    assert_exact(x, 16, queries=queries)


def test_ties_and_duplicates_follow_the_index_order():
    # a small integer grid: many exactly equal distances and repeated rows;
    # every sum is exact in float64, so any summation order must agree
    x = torch.randint(0, 3, (300, 4), generator=torch.Generator().manual_seed(2)).float()
    assert len(torch.unique(x, dim=0)) < 300
    for k in (1, 5, 60):
        n_widened = assert_exact(x, k)
        assert n_widened > 0  # ties across the cut cannot be decided from float32 alone: the widened re-rank decides them


def test_near_copies_keep_their_tiny_distances():
    # distances ~1e-6 of the norm: the float32 expansion alone would read 0 or noise
    generator = torch.Generator().manual_seed(3)
    base = torch.randn(200, 64, generator=generator, dtype=torch.float64) * 10
    x = torch.cat([base, base + 1e-5 * torch.randn(200, 64, generator=generator, dtype=torch.float64)])
    indices, distances, _ = blocked_knn(x, 3)
    expected_indices, expected_distances = exhaustive_float64(x, 3)
    assert torch.equal(indices, expected_indices)
    torch.testing.assert_close(distances, expected_distances, rtol=1e-9, atol=0)


def test_too_few_spares_still_exact():
    x = torch.randn(300, 20, generator=torch.Generator().manual_seed(4))
    assert_exact(x, 10, spare=0)


def test_knn_on_cpu_uses_it_and_rejects_bad_k():
    x = np.random.default_rng(5).normal(size=(400, 32)).astype(np.float32)
    graph = knn(x, 9, device="cpu")
    expected_indices, expected_distances = exhaustive_float64(torch.from_numpy(x), 9)
    assert torch.equal(graph.indices, expected_indices)
    assert graph.distances.dtype == torch.float32
    torch.testing.assert_close(graph.distances, expected_distances.float())
    with pytest.raises(ValueError, match="k must be between 1 and 399"):
        blocked_knn(torch.from_numpy(x), 400)
