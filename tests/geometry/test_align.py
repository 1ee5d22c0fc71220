import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LatentSpace
from workbench.geometry.relative.procrustes import Procrustes
from workbench.geometry.compare import compare


def _meta(n):
    return pd.DataFrame({"id": [f"s{i}" for i in range(n)]})


def _orthogonal(rng, d):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def test_recovers_a_rotation_exactly(rng):
    x = rng.normal(size=(200, 9))
    rotated = x @ _orthogonal(rng, 9)
    aligned = Procrustes(standardize=False).fit(rotated, x).transform(rotated)
    np.testing.assert_allclose(aligned, x, atol=1e-5)
    assert isinstance(aligned, np.ndarray) and aligned.dtype == np.float64


def test_rotation_is_orthogonal_and_standardised_alignment_brings_spaces_together(rng):
    x = rng.normal(size=(300, 10)) * rng.uniform(0.5, 2.0, size=10) + 5.0
    target = LatentSpace(x, _meta(300), name="target")
    source = LatentSpace(0.3 * x @ _orthogonal(rng, 10) + rng.normal(0, 0.01, size=x.shape) - 2.0, _meta(300), name="source")
    model = Procrustes().fit(source, target)
    r = model.rotation_.numpy()
    np.testing.assert_allclose(r @ r.T, np.eye(10), atol=1e-10)
    before = compare(source, target, metrics=("jaccard", "cosine"))
    after = compare(model.transform(source), target, metrics=("jaccard", "cosine"))
    assert before["jaccard"] < 0.2 and after["jaccard"] > 0.5 and after["cosine"] > 0.95


def test_fits_on_given_ids_and_records_provenance(rng):
    x = rng.normal(size=(100, 6))
    target = LatentSpace(x, _meta(100), name="B")
    source = LatentSpace(x @ _orthogonal(rng, 6), _meta(100), name="A", provenance={"layer": 2})
    model = Procrustes(standardize=False).fit(source, target, ids=[f"s{i}" for i in range(20)])
    assert len(model.fit_ids_) == 20
    aligned = model.transform(source)  # the other 80 samples come along too
    np.testing.assert_allclose(aligned.numpy(), x, atol=1e-5)
    assert aligned.name == "A → B" and aligned.provenance["layer"] == 2
    assert aligned.provenance["aligned"] == {"method": "procrustes", "to": "B", "fitted_on": 20, "standardize": False}
    assert aligned.dtype == torch.float64


@pytest.mark.parametrize("widths", [(8, 5), (5, 8)])
def test_different_widths_zero_pad(rng, widths):
    d_source, d_target = widths
    shared = rng.normal(size=(150, 5))
    source = np.hstack([shared, rng.normal(0, 0.01, size=(150, d_source - 5))]) if d_source > 5 else shared
    target = np.hstack([shared, rng.normal(0, 0.01, size=(150, d_target - 5))]) if d_target > 5 else shared
    aligned = Procrustes(standardize=False).fit_transform(source, target)
    assert aligned.shape == (150, d_target)
    np.testing.assert_allclose(aligned[:, :5], shared, atol=0.05)


def test_errors(rng):
    with pytest.raises(RuntimeError, match="not fitted"):
        Procrustes().transform(np.zeros((3, 2)))
    model = Procrustes().fit(rng.normal(size=(20, 4)), rng.normal(size=(20, 3)))
    with pytest.raises(ValueError, match="source has 3 features; the alignment was fitted on 4"):
        model.transform(np.zeros((2, 3)))
    a = LatentSpace(rng.normal(size=(10, 2)), _meta(10))
    with pytest.raises(ValueError, match="anchor ids are not in space"):
        Procrustes().fit(a, a, ids=["s1", "nope"])
    with pytest.raises(ValueError, match="share no ids"):
        Procrustes().fit(a, LatentSpace(rng.normal(size=(10, 2))))
