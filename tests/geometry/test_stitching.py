import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier

from workbench import LatentSpace
from workbench.geometry.relative.stitching import stitch


def _blobs(rng, n_per_class=60, classes=4, d=12):
    y = np.repeat(np.arange(classes), n_per_class)
    centres = rng.normal(0, 3, size=(classes, d))
    x = centres[y] + rng.normal(size=(len(y), d))
    meta = pd.DataFrame({"id": [f"s{i}" for i in range(len(y))], "label": [f"c{c}" for c in y]})
    return x, meta


def _orthogonal(rng, d):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def test_relative_stitching_works_where_absolute_fails(rng):
    x, meta = _blobs(rng)
    a = LatentSpace(x, meta, name="A")
    b = LatentSpace(2.0 * x @ _orthogonal(rng, 12) + rng.normal(0, 0.05, size=x.shape), meta, name="B")
    table = stitch(a, b, by="label", anchors=40, seed=1)
    assert list(table.index) == ["absolute", "relative", "aligned"]
    assert list(table.columns) == ["same_space", "stitched"]
    assert table.loc["absolute", "same_space"] > 0.9
    assert table.loc["relative", "stitched"] > 0.9 and table.loc["aligned", "stitched"] > 0.9
    assert table.loc["absolute", "stitched"] < 0.7
    assert table.attrs["n_test"] == 60 and table.attrs["n_train"] == 180
    assert table.attrs["chance"] == pytest.approx(0.25) and len(table.attrs["anchors"]) == 40
    assert table.index.name == "A → B"


def test_explicit_split_anchors_and_classifier(rng):
    x, meta = _blobs(rng)
    a, b = LatentSpace(x, meta), LatentSpace(x @ _orthogonal(rng, 12), meta)
    train = meta["id"][::2].tolist()
    anchors = train[:30]
    table = stitch(a, b, by="label", anchors=anchors, train_ids=train, classifier=KNeighborsClassifier(3))
    assert table.attrs["n_train"] == 120 and table.attrs["n_test"] == 120
    assert table.attrs["anchors"] == anchors
    assert table.loc["relative", "stitched"] == pytest.approx(table.loc["relative", "same_space"], abs=0.05)
    test_only = stitch(a, b, by="label", anchors=20, test_ids=meta["id"][:40].tolist())
    assert test_only.attrs["n_test"] == 40
    assert not set(test_only.attrs["anchors"]) & set(meta["id"][:40])  # anchors only from training samples


def test_different_widths_report_relative_and_aligned(rng):
    x, meta = _blobs(rng, d=12)
    a = LatentSpace(x, meta)
    b = LatentSpace(x @ rng.normal(size=(12, 20)), meta)
    with pytest.warns(UserWarning, match="absolute stitching needs equal widths"):
        table = stitch(a, b, by="label", anchors=40)
    assert np.isnan(table.loc["absolute", "stitched"])
    assert table.loc["relative", "stitched"] > 0.5 and not np.isnan(table.loc["aligned", "stitched"])


def test_default_anchors_fit_small_training_sets(rng):
    x, meta = _blobs(rng, n_per_class=30)  # 90 training samples: fewer than the default 300 anchors
    table = stitch(LatentSpace(x, meta), LatentSpace(x @ _orthogonal(rng, 12), meta), by="label")
    assert len(table.attrs["anchors"]) == table.attrs["n_train"] == 90


def test_split_errors(rng):
    x, meta = _blobs(rng, n_per_class=10)
    a = LatentSpace(x, meta)
    with pytest.raises(ValueError, match="overlap"):
        stitch(a, a, by="label", anchors=5, train_ids=["s1", "s2"], test_ids=["s2", "s3"])
    with pytest.raises(KeyError, match="no column"):
        stitch(a, a, by="nope")
