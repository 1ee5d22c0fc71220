"""GRIDE intrinsic dimension across scales, against the paper's likelihood maximised independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.special import betaln

from workbench.geometry.intrinsic import id_scaling
from workbench.geometry.neighbors import knn


def _reference_dimension(mu: np.ndarray, n1: int, n2: int) -> float:
    """Maximise Denti et al.'s log-likelihood (with DADApy's N - 1 and outlier rule) by scipy."""
    mu = mu[mu > 0]
    q95, q50 = np.percentile(mu, [95, 50])
    mu = mu[mu < 20 * (q95 - q50) + q50]
    n = len(mu)

    def negative(d):
        return -((n - 1) * np.log(d) + (n2 - n1 - 1) * np.log(mu**d - 1).sum() - n * betaln(n2 - n1, n1)
                 - ((n2 - 1) * d + 1) * np.log(mu).sum())

    return minimize_scalar(negative, bounds=(1e-3, 200), method="bounded", options={"xatol": 1e-9}).x


def test_each_scale_maximises_the_gride_likelihood():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1500, 5)) @ rng.normal(size=(5, 12))  # a 5-D plane in 12-D
    table = id_scaling(x, max_rank=32, device="cpu")
    distances = knn(x, 32, device="cpu").distances.double().numpy()
    for row in table.itertuples():
        mu = distances[:, row.n2 - 1] / distances[:, row.n1 - 1]
        assert row.dimension == pytest.approx(_reference_dimension(mu, row.n1, row.n2), rel=1e-4)


@pytest.mark.parametrize("dim", [2, 6])
def test_known_dimensions_fall_inside_their_intervals_at_small_scales(dim):
    x = torch.rand(5000, dim, generator=torch.Generator().manual_seed(dim))
    table = id_scaling(x, max_rank=8, device="cpu")
    first = table.iloc[0]
    assert first.ci_low - 0.3 <= dim <= first.ci_high + 0.3
    assert (table.std_error > 0).all() and (table.std_error < 0.5).all()


def test_noise_shows_up_as_a_higher_dimension_at_the_smallest_scale():
    # a 2-D plane in 10-D with small isotropic noise: the noise's full dimension
    # dominates the nearest neighbours, the plane the larger scales
    rng = np.random.default_rng(1)
    plane = rng.uniform(size=(4000, 2)) @ rng.normal(size=(2, 10))
    x = plane + 0.01 * rng.normal(size=plane.shape)
    table = id_scaling(x, max_rank=64, device="cpu")
    assert table.dimension.iloc[0] > 4
    assert table.dimension.iloc[-1] < 2.5
    assert table.distance.is_monotonic_increasing


def test_a_graph_is_reused_and_checked():
    x = torch.rand(300, 3, generator=torch.Generator().manual_seed(2))
    graph = knn(x, 16, device="cpu")
    assert id_scaling(graph, max_rank=16).equals(id_scaling(x, max_rank=16, device="cpu"))
    with pytest.raises(ValueError, match="k=16 neighbours but max_rank=32"):
        id_scaling(graph, max_rank=32)
    with pytest.raises(ValueError, match="Euclidean"):
        id_scaling(knn(x, 16, metric="cosine", device="cpu"), max_rank=16)
    with pytest.raises(ValueError, match="max_rank"):
        id_scaling(x, max_rank=1)
