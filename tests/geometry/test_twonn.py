import warnings

import numpy as np
import pytest
import torch

skdim = pytest.importorskip("skdim")

from workbench.geometry.intrinsic.duplicates import DuplicateWarning  # noqa: E402
from workbench.geometry.intrinsic.mle import MLE, levina_bickel  # noqa: E402
from workbench.geometry.intrinsic.twonn import TwoNN, twonn_dimension  # noqa: E402


def _data(kind):
    if kind == "ball":
        return skdim.datasets.hyperBall(800, 4, random_state=0)
    if kind == "sphere":
        return skdim.datasets.hyperSphere(800, 6, random_state=1)
    if kind == "roll":
        return skdim.datasets.BenchmarkManifolds(random_state=0).generate("M7_Roll", n=800, dim=3, d=2)
    if kind == "ball40":  # above 25 features scikit-dimension takes another code path
        return skdim.datasets.hyperBall(600, 40, random_state=2)
    raise KeyError(kind)


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")  # scikit-dimension's, at F = 1
@pytest.mark.parametrize("kind", ["ball", "sphere", "roll", "ball40"])
@pytest.mark.parametrize("method,discard", [("linear", 0.1), ("linear", 0.25), ("mle", 0.1), ("mle", 0.0)])
def test_global_twonn_equals_skdim(kind, method, discard):
    x = _data(kind)
    ours = TwoNN(discard_fraction=discard, method=method, device="cpu").fit(x).dimension_
    ref = skdim.id.TwoNN(discard_fraction=discard, method=method).fit(x).dimension_
    assert abs(ours - ref) < 1e-6


@pytest.mark.parametrize(
    "name,d,dim", [("M7_Roll", 2, 3), ("M5a_Helix1d", 1, 3), ("M13a_Scurve", 2, 3), ("M2_Affine_3to5", 3, 5)]
)
def test_global_twonn_near_known_dimension(name, d, dim):
    x = skdim.datasets.BenchmarkManifolds(random_state=0).generate(name, n=2000, dim=dim, d=d)
    assert abs(TwoNN(device="cpu").fit(x).dimension_ - d) < 0.35


@pytest.mark.parametrize("aggregate", ["harmonic", "mean", "median"])
def test_mle_equals_skdim(aggregate):
    x = _data("sphere")
    ref = skdim.id.MLE().fit(x, n_neighbors=20, comb={"harmonic": "mle"}.get(aggregate, aggregate))
    ours = MLE(n_neighbors=20, aggregate=aggregate, device="cpu").fit(x)
    assert abs(ours.dimension_ - ref.dimension_) < 1e-6
    np.testing.assert_allclose(ours.lid_, ref.dimension_pw_, atol=1e-8)
    assert ours.knn_graph_.k == 20 and ours.n_features_in_ == x.shape[1]


def test_mle_unbiased_and_near_known_dimension():
    x = skdim.datasets.hyperBall(2000, 3, random_state=0)
    plain = MLE(device="cpu").fit(x).dimension_
    unbiased = MLE(unbiased=True, device="cpu").fit(x).dimension_
    assert abs(plain - 3) < 0.4 and unbiased < plain  # k - 2 < k - 1
    ref = skdim.id.MLE(unbiased=True).fit(x, n_neighbors=20).dimension_
    assert abs(unbiased - ref) < 1e-6


def test_duplicates_200_points_in_30d_plus_20_copies():
    # the REFERENCES example: scikit-dimension keeps the rounding error that
    # stands in for a copy's zero distance and collapses; deduplicating does not
    x = np.random.default_rng(1).normal(size=(200, 30))
    with_copies = np.vstack([x, x[:20]])
    clean = TwoNN().fit(x).dimension_
    assert abs(clean - 17.7) < 0.05
    with pytest.warns(DuplicateWarning, match="20 of 220 rows repeat"):
        model = TwoNN().fit(with_copies)
    assert model.dimension_ == pytest.approx(clean, abs=1e-9)
    assert model.n_duplicates_ == 20 and model.n_dropped_ == 0
    with pytest.warns(DuplicateWarning, match="40 of 220 points have a zero"):
        dropped = TwoNN(duplicates="drop").fit(with_copies)
    assert dropped.n_dropped_ == 40 and np.isfinite(dropped.dimension_)
    # scikit-dimension 0.5 on the same data: well below the truth (0.17 in 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert skdim.id.TwoNN().fit(with_copies).dimension_ < clean - 2


def test_drop_equals_skdim_where_its_distances_are_exact():
    # at <= 25 features scikit-dimension finds r1 with a tree: copies are exactly 0
    x = skdim.datasets.hyperBall(400, 5, random_state=3)
    x = np.vstack([x, x[:15], x[:5]])
    with pytest.warns(DuplicateWarning):
        ours = TwoNN(duplicates="drop").fit(x)
    with pytest.warns(UserWarning, match="Dropping"):
        ref = skdim.id.TwoNN().fit(x).dimension_
    assert abs(ours.dimension_ - ref) < 1e-9


def test_twonn_dimension_vectorised_rows_and_edge_cases():
    rng = np.random.default_rng(0)
    r1 = torch.as_tensor(rng.uniform(0.5, 1.0, size=(5, 30)))
    r2 = r1 * torch.as_tensor(rng.pareto(3.0, size=(5, 30)) + 1.0)
    together, _ = twonn_dimension(r1, r2)
    one_by_one = [float(twonn_dimension(r1[i : i + 1], r2[i : i + 1])[0][0]) for i in range(5)]
    np.testing.assert_allclose(together.numpy(), one_by_one, rtol=1e-12)
    r1[0, :29] = 0.0  # one usable ratio left: undefined, not an error
    dims, dropped = twonn_dimension(r1, r2)
    assert np.isnan(float(dims[0])) and int(dropped[0]) == 29 and np.isfinite(dims[1:].numpy()).all()
    with pytest.raises(ValueError, match="method"):
        twonn_dimension(r1, r2, method="bayes")
    with pytest.raises(ValueError, match="discard_fraction"):
        twonn_dimension(r1, r2, discard_fraction=1.0)


def test_levina_bickel_drops_zero_distances():
    distances = torch.tensor([[0.0, 1.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    dims, dropped = levina_bickel(distances)
    assert dims[0] == pytest.approx(2 / (np.log(4) + np.log(2)))
    assert np.isnan(float(dims[1])) and dropped.tolist() == [1, 0]


def test_clear_errors(rng):
    with pytest.raises(ValueError, match="at least 3 distinct points"), pytest.warns(DuplicateWarning):
        TwoNN().fit(np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        TwoNN().fit(np.array([[0.0, np.inf], [1.0, 0.0], [2.0, 1.0], [3, 3]]))
    with pytest.raises(ValueError, match="duplicates must be one of"):
        TwoNN(duplicates="keep").fit(rng.normal(size=(20, 3)))
    with pytest.raises(ValueError, match="aggregate"):
        MLE(aggregate="max").fit(rng.normal(size=(30, 3)))
    with pytest.raises(ValueError, match="n_neighbors=20 needs at least 21 points"):
        MLE().fit(rng.normal(size=(20, 3)))
