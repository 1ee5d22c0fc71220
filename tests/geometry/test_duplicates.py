import numpy as np
import pytest
import torch

from workbench.geometry.intrinsic.duplicates import unique_rows


def test_exact_copies_keep_first_occurrences_in_order():
    x = torch.tensor([[3.0, 1.0], [0.0, 0.0], [3.0, 1.0], [-0.0, 0.0], [5.0, 5.0], [3.0, 1.0]])
    groups = unique_rows(x)
    assert groups.keep.tolist() == [0, 1, 4]
    assert groups.inverse.tolist() == [0, 1, 0, 1, 2, 0]
    assert groups.counts.tolist() == [3, 2, 1] and groups.n_duplicates == 3
    np.testing.assert_array_equal(x[groups.keep][groups.inverse], x)


def test_same_rows_as_np_unique(rng):
    x = rng.integers(0, 3, size=(200, 4)).astype(np.float32)
    groups = unique_rows(torch.as_tensor(x))
    _, first = np.unique(x, axis=0, return_index=True)
    assert groups.keep.tolist() == sorted(first.tolist())


def test_tolerance_merges_chains_of_near_copies(rng):
    x = rng.normal(size=(50, 3)) * 10
    near = np.vstack([x, x[:5] + 1e-7, x[:5] + 2e-7])  # chains 0 -> +1e-7 -> +2e-7
    assert unique_rows(torch.as_tensor(near)).n_duplicates == 0
    groups = unique_rows(torch.as_tensor(near), tol=1e-6, device="cpu")
    assert groups.n_duplicates == 10 and groups.keep.tolist() == list(range(50))
    assert groups.inverse[50:55].tolist() == groups.inverse[55:].tolist() == list(range(5))


def test_errors():
    with pytest.raises(ValueError, match=">= 0"):
        unique_rows(torch.zeros(3, 2), tol=-1.0)
    assert unique_rows(torch.zeros(1, 2), tol=0.5).keep.tolist() == [0]
