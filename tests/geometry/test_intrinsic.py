import numpy as np
import pytest
import torch

skdim = pytest.importorskip("skdim")

from workbench import LatentSpace  # noqa: E402
from workbench.geometry.intrinsic.duplicates import DuplicateWarning  # noqa: E402
from workbench.geometry.intrinsic.local import (  # noqa: E402
    LocalIntrinsicDimension,
    _from_lists,
    _Lists,
    _two_nearest_members,
    neighborhood_twonn as neighbourhood_twonn,
)
from workbench.geometry.intrinsic.mle import MLE  # noqa: E402
from workbench.geometry.neighbors import knn  # noqa: E402


def _skdim_pw(x, n_neighbors, **params):
    return skdim.id.TwoNN(**params).fit_pw(x, n_neighbors=n_neighbors, n_jobs=1, smooth=False).dimension_pw_


@pytest.fixture(scope="module")
def manifolds():
    bm = skdim.datasets.BenchmarkManifolds(random_state=0)
    return {
        "ball": skdim.datasets.hyperBall(400, 3, random_state=0),
        "sphere": skdim.datasets.hyperSphere(400, 4, random_state=0),
        "M7_Roll": bm.generate("M7_Roll", n=400, dim=3, d=2),
        "M10a_Cubic": bm.generate("M10a_Cubic", n=400, dim=11, d=10),
        # above 25 features scikit-dimension computes distances another way
        "M8_Nonlinear": bm.generate("M8_Nonlinear", n=400, dim=72, d=12),
    }


@pytest.mark.parametrize("name", ["ball", "sphere", "M7_Roll", "M10a_Cubic", "M8_Nonlinear"])
def test_equals_skdim_fit_pw_on_the_same_neighbourhoods(manifolds, name):
    x = manifolds[name]
    ours = LocalIntrinsicDimension(n_neighbors=32, device="cpu").fit(x)
    np.testing.assert_allclose(ours.lid_, _skdim_pw(x, 32, discard_fraction=0.1), atol=1e-4, rtol=0)
    assert ours.lid_.shape == (400,) and ours.n_duplicates_ == 0 and ours.n_dropped_ == 0
    if name in ("M10a_Cubic", "M8_Nonlinear"):  # both paths: list look-ups and direct measurement
        assert 0 < ours.n_direct_ < 400 * 32


def test_lookups_equal_direct_measurement(manifolds):
    x = torch.as_tensor(manifolds["M7_Roll"])
    graph = knn(x, 24, device="cpu")
    members = graph.indices[:, :16]
    marks = torch.zeros(len(x), len(x), dtype=torch.bool)
    r1, r2, short = _from_lists(members, _Lists(graph, torch.device("cpu")), marks)
    block = x[members]
    d1, d2 = _two_nearest_members(block - block.mean(1, keepdim=True), torch.arange(16).repeat(len(x), 1))
    assert not bool(marks.any())  # the scratch table is left clean
    found = ~short.numpy()
    assert found.mean() > 0.99  # on a 2-D sheet nearly every member's list holds its two nearest members
    np.testing.assert_allclose(r1.numpy()[found], d1.numpy()[found], rtol=1e-9)
    np.testing.assert_allclose(r2.numpy()[found], d2.numpy()[found], rtol=1e-9)


def test_float32_input_within_1e4_and_mle_method(manifolds, device):
    x = manifolds["M10a_Cubic"]
    ref = _skdim_pw(x, 24, discard_fraction=0.2, method="mle")
    ours = LocalIntrinsicDimension(n_neighbors=24, discard_fraction=0.2, method="mle", device=device)
    np.testing.assert_allclose(ours.fit(x.astype(np.float32)).lid_, ref, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_paper_setting_and_known_dimension():
    # L = 128 as in the paper; local TwoNN is reliable at low dimension
    for d, x in [(2, skdim.datasets.hyperSphere(1500, 2, random_state=0)), (3, skdim.datasets.hyperBall(1500, 3, random_state=0))]:
        ours = LocalIntrinsicDimension(device="cpu").fit(x).lid_
        assert abs(np.median(ours) - d) < 0.3
        sub = np.random.default_rng(0).choice(len(x), 150, replace=False)
        graph = knn(x, 128, device="cpu")
        # scikit-dimension fits one point at a time: compare on a subset of them
        ref = np.array([skdim.id.TwoNN(discard_fraction=0.1).fit(x[graph.indices[i].numpy()]).dimension_ for i in sub])
        np.testing.assert_allclose(ours[sub], ref, atol=1e-4, rtol=0)


def test_precomputed_graph_chunking_and_space_input(manifolds, small_frame):
    x = torch.as_tensor(manifolds["sphere"])
    graph = knn(x, 40, device="cpu")
    direct = LocalIntrinsicDimension(n_neighbors=30, device="cpu").fit(x)
    reused = LocalIntrinsicDimension(n_neighbors=30, device="cpu", chunk_size=7).fit(x, knn_graph=graph)
    np.testing.assert_allclose(reused.lid_, direct.lid_, atol=1e-12)
    assert reused.knn_graph_.k == 40 and (reused.distinct_rows_ == np.arange(400)).all()
    space = LatentSpace(x)
    np.testing.assert_allclose(LocalIntrinsicDimension(n_neighbors=30, device="cpu").fit_transform(space), direct.lid_)


def test_neighbourhood_estimator_mle_equals_global_mle_pointwise(manifolds):
    x = manifolds["M7_Roll"]
    local = LocalIntrinsicDimension(n_neighbors=20, estimator="mle", device="cpu").fit(x).lid_
    np.testing.assert_allclose(local, MLE(n_neighbors=20, device="cpu").fit(x).lid_)
    ref = skdim.id.MLE().fit(x, n_neighbors=20).dimension_pw_
    np.testing.assert_allclose(local, ref, atol=1e-8)


def test_duplicates_deduplicate_and_drop():
    x = skdim.datasets.hyperBall(300, 3, random_state=4)
    copies = np.vstack([x, x[:10], x[:10]])  # 10 rows, each three times
    clean = LocalIntrinsicDimension(n_neighbors=20, device="cpu").fit(x).lid_
    with pytest.warns(DuplicateWarning, match="20 of 320 rows repeat"):
        merged = LocalIntrinsicDimension(n_neighbors=20, device="cpu").fit(copies)
    np.testing.assert_allclose(merged.lid_[:300], clean, atol=1e-12)
    np.testing.assert_allclose(merged.lid_[300:310], clean[:10])
    assert merged.n_duplicates_ == 20 and len(merged.distinct_rows_) == 300
    with pytest.warns(DuplicateWarning, match="neighbourhood members have a zero"):
        with pytest.warns(RuntimeWarning, match="undefined"):
            dropped = LocalIntrinsicDimension(n_neighbors=20, duplicates="drop", device="cpu").fit(copies)
    assert dropped.n_dropped_ > 0
    # scikit-dimension drops the same zero ratios when its distances are exact (<= 25 features)
    with pytest.warns(UserWarning):
        ref = _skdim_pw(copies, 20)
    defined = np.isfinite(dropped.lid_)
    np.testing.assert_allclose(dropped.lid_[defined], ref[defined], atol=1e-4, rtol=0)
    # where copies leave only ratios of exactly 1 the slope is undefined: NaN here, 0 there
    assert 0 < (~defined).sum() < 5 and (ref[~defined] == 0).all()


def test_near_duplicates_with_a_tolerance(rng):
    x = rng.normal(size=(300, 5))
    near = np.vstack([x, x[:30] + 1e-9 * rng.normal(size=(30, 5))])
    with pytest.warns(DuplicateWarning, match="30 of 330"):
        model = LocalIntrinsicDimension(n_neighbors=20, duplicate_tol=1e-6, device="cpu").fit(near)
    np.testing.assert_allclose(model.lid_[:300], LocalIntrinsicDimension(n_neighbors=20, device="cpu").fit(x).lid_)
    # without the tolerance the near-copies are real points with huge ratios
    plain = LocalIntrinsicDimension(n_neighbors=20, device="cpu").fit(near).lid_
    assert plain[:30].mean() < model.lid_[:30].mean() - 1


def test_graph_with_copies_is_not_reused(rng):
    x = rng.normal(size=(100, 4))
    x = np.vstack([x, x[:3]])
    graph = knn(x, 10, device="cpu")
    with pytest.warns(DuplicateWarning) as caught:
        model = LocalIntrinsicDimension(n_neighbors=10, device="cpu").fit(x, knn_graph=graph)
    assert model.knn_graph_.n == 100
    messages = " ".join(str(w.message) for w in caught)
    assert "3 of 103 rows repeat" in messages and "searched again" in messages
    assert all(w.filename == __file__ for w in caught)  # pointed at the caller, not at workbench


def test_undefined_neighbourhoods_are_nan_and_reported():
    # a square lattice: every ratio is exactly 1, the slope is undefined
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    with pytest.warns(RuntimeWarning, match="undefined"):
        lid = LocalIntrinsicDimension(n_neighbors=4, device="cpu").fit(grid).lid_
    assert np.isnan(lid).any()


def test_clear_errors(rng):
    x = rng.normal(size=(50, 4))
    with pytest.raises(ValueError, match="n_neighbors=50 needs at least 51 points"):
        LocalIntrinsicDimension(n_neighbors=50).fit(x)
    with pytest.raises(ValueError, match="n_neighbors >= 3"):
        LocalIntrinsicDimension(n_neighbors=2).fit(x)
    with pytest.raises(ValueError, match="keeps 1 ratios"):
        LocalIntrinsicDimension(n_neighbors=3, discard_fraction=0.5).fit(x)
    with pytest.raises(ValueError, match="NaN or Inf"):
        LocalIntrinsicDimension(n_neighbors=5).fit(np.where(np.arange(200).reshape(50, 4) == 7, np.nan, x))
    with pytest.raises(ValueError, match="estimator"):
        LocalIntrinsicDimension(estimator="danco").fit(x)
    with pytest.raises(ValueError, match="Euclidean"):
        LocalIntrinsicDimension(n_neighbors=5).fit(x, knn_graph=knn(x, 5, metric="cosine"))
    with pytest.raises(ValueError, match="k=5 neighbours"):
        LocalIntrinsicDimension(n_neighbors=8).fit(x, knn_graph=knn(x, 5))
    with pytest.raises(ValueError, match="40 rows but X has 50"):
        LocalIntrinsicDimension(n_neighbors=5).fit(x, knn_graph=knn(x[:40], 5))
    with pytest.raises(ValueError, match="only 3 distinct rows"), pytest.warns(DuplicateWarning):
        LocalIntrinsicDimension(n_neighbors=5).fit(np.repeat(np.eye(3), 4, axis=0))
    with pytest.raises(ValueError, match="3 to 2 members"):
        neighbourhood_twonn(torch.as_tensor(x), knn(x, 2))
    graph = knn(x, 5)
    with_self = type(graph)(torch.cat([torch.arange(50)[:, None], graph.indices], 1), torch.cat([torch.zeros(50, 1), graph.distances], 1), "euclidean")
    with pytest.raises(ValueError, match="own neighbours"):
        LocalIntrinsicDimension(n_neighbors=5).fit(x, knn_graph=with_self)
