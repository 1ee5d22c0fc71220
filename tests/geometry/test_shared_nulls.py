"""Intervals and nulls of the shared-view measures, checked on synthetic cases with known answers.

- the row-permutation null of retrieval sits at chance (k / n, and H_n / n for the MRR);
- a planted pairing, and planted label structure, are detected;
- with no link between the spaces the permutation p-values are uniform;
- the bootstrap interval covers a known retrieval rate in >= 90 % of seeded trials;
- a relative view that loses what the absolute coordinates shared is warned about, and a good one is not.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import LatentSpace
from workbench.geometry.relative.cross_modal import UNCERTAIN_COLUMNS
from workbench.geometry.relative.shared_view import (
    cross_modal_retrieval,
    emotion_agreement,
    shared_view,
)

LABELS = ["neutral", "joy", "fear", "anger", "sadness"]


def spaces(x: np.ndarray, y: np.ndarray, labels: np.ndarray | None = None) -> dict[str, LatentSpace]:
    n = len(x)
    meta = pd.DataFrame({"id": range(n), "emotion": np.resize(LABELS, n) if labels is None else labels,
                         "group": np.arange(n) // 4})
    return {"a": LatentSpace(x, meta), "b": LatentSpace(y, meta)}


def test_the_pairing_null_of_retrieval_sits_at_chance():
    rng = np.random.default_rng(0)
    n = 100
    table = cross_modal_retrieval(spaces(rng.normal(size=(n, 6)), rng.normal(size=(n, 6))), ks=(1, 5),
                                  n_permutations=200, device="cpu")
    assert list(table.columns) == list(UNCERTAIN_COLUMNS)
    by = table.set_index(["query", "measure"])
    for query in ("a", "b"):
        assert abs(by.loc[(query, "top5"), "null_mean"] - 5 / n) < 0.01
        assert abs(by.loc[(query, "top1"), "null_mean"] - 1 / n) < 0.005
        harmonic = (1.0 / np.arange(1, n + 1)).sum() / n
        assert abs(by.loc[(query, "mrr"), "null_mean"] - harmonic) < 0.01
    assert (table["chance"] == table["measure"].map({"top1": 0.01, "top5": 0.05}).fillna(table["chance"])).all()
    assert np.isnan(table["ci_low"]).all()  # no bootstrap asked


def test_a_planted_pairing_and_planted_labels_are_detected():
    rng = np.random.default_rng(1)
    n = 60
    x = rng.normal(size=(n, 8))
    retrieval = cross_modal_retrieval(spaces(x, x + 0.8 * rng.normal(size=(n, 8))), ks=(1,), n_permutations=99,
                                      n_bootstrap=99, device="cpu")
    assert (retrieval["p_value"] < 0.05).all()
    assert (retrieval["ci_low"] > retrieval["null_q95"]).all()
    labels = np.resize(LABELS, n)
    centres = 3.0 * rng.normal(size=(len(LABELS), 8))
    clustered = centres[pd.factorize(labels)[0]]
    a, b = (clustered + rng.normal(size=(n, 8)) for _ in range(2))  # same classes, no item-level link
    agreement = emotion_agreement(spaces(a, b, labels), k=5, n_permutations=99, device="cpu")
    cross = agreement[agreement["query"] != agreement["target"]]
    assert (cross["p_value"] < 0.05).all() and (cross["value"] > cross["null_q95"]).all()
    assert abs(cross["null_mean"] - agreement.attrs["chance"]).max() < 0.03


def test_p_values_of_unrelated_spaces_are_uniform():
    p_mrr, p_agreement = [], []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        pair = spaces(rng.normal(size=(40, 4)), rng.normal(size=(40, 4)))
        retrieval = cross_modal_retrieval(pair, ks=(1,), n_permutations=99, seed=seed, device="cpu")
        p_mrr.append(retrieval.loc[(retrieval["query"] == "a") & (retrieval["measure"] == "mrr"), "p_value"].item())
        agreement = emotion_agreement(pair, k=5, n_permutations=99, seed=seed, device="cpu")
        p_agreement.append(agreement.loc[(agreement["query"] == "a") & (agreement["target"] == "b"), "p_value"].item())
    for p in (p_mrr, p_agreement):
        assert stats.kstest(p, "uniform").pvalue > 0.01
        assert 0.0 < np.mean(np.asarray(p) < 0.05) < 0.12  # about 5 % false positives, not 0 and not many


def test_the_bootstrap_interval_covers_a_known_retrieval_rate():
    # each item is found (query = its target) with probability 0.3, else sent away (query = -target)
    rate, n, covered = 0.3, 80, 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        target = rng.normal(size=(n, 6))
        found = rng.random(n) < rate
        query = np.where(found[:, None], target, -target)
        table = cross_modal_retrieval(spaces(query, target), ks=(1,), n_bootstrap=300, seed=seed, device="cpu")
        row = table[(table["query"] == "a") & (table["measure"] == "top1")].iloc[0]
        assert row["value"] == pytest.approx(found.mean())
        covered += row["ci_low"] <= rate <= row["ci_high"]
    assert covered / 200 >= 0.9


def test_groups_are_resampled_whole_and_tied_counterparts_share_the_hit():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 3))
    x[1] = x[0]  # two identical targets: each query finds its own first half of the time
    table = cross_modal_retrieval(spaces(x, x), ks=(1,), n_bootstrap=50, groups="group", device="cpu")
    assert table.loc[0, "value"] == pytest.approx(19 / 20)
    assert table.loc[0, "ci_high"] <= 1.0
    with pytest.raises(ValueError, match="groups='nope' is not a meta column"):
        cross_modal_retrieval(spaces(x, x), n_bootstrap=5, groups="nope", device="cpu")


def anisotropic(n: int = 120, width: int = 32, seed: int = 0) -> np.ndarray:
    """Every vector near one common direction, as sentence embeddings are: raw cosines to any anchor ~ 1."""
    rng = np.random.default_rng(seed)
    return 20.0 * np.ones(width) + rng.normal(size=(n, width))


def test_a_relative_view_that_loses_to_the_absolute_spaces_is_warned_about():
    rng = np.random.default_rng(3)
    x = anisotropic()
    pair = spaces(x, x + 0.05 * rng.normal(size=x.shape))  # the coordinates already agree
    view = shared_view(pair, anchors=list(range(3)), center=False)  # three uncentred anchors keep little
    with pytest.warns(UserWarning, match=r"less than the absolute spaces did \(jaccard 0\.\d+ relative vs 0\.\d+ absolute") as caught:
        table = view.summary(k=5)
    message = str(caught[0].message)
    assert "center=True" in message and "more anchors (e.g. 6)" in message and "fps" in message
    assert set(table["view"]) == {"relative", "procrustes", "absolute"}
    jaccard = table.groupby("view")["jaccard"].mean()
    assert jaccard["absolute"] > jaccard["relative"] + 0.1
    assert table.loc[table["view"] == "absolute", "mrr"].min() > 0.9


def test_a_relative_view_that_recovers_the_shared_geometry_stays_quiet():
    rng = np.random.default_rng(4)
    x = anisotropic()
    rotation = np.linalg.qr(rng.normal(size=(32, 32)))[0]
    view = shared_view(spaces(x, x @ rotation), anchors=list(range(40)))  # centred; coordinates rotated
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        table = view.summary(k=5, n_permutations=19, n_bootstrap=19)
    mrr = table[table["measure"] == "mrr"].groupby("view")["value"].mean()
    assert mrr["relative"] > 0.9 and mrr["absolute"] < 0.2  # rotated coordinates: the raw view is lost
    assert set(table["measure"]) == {"top1", "top5", "mrr", "agreement", "jaccard"}
    relative_mrr = table[(table["view"] == "relative") & (table["measure"] == "mrr")]
    assert np.allclose(relative_mrr["p_value"], 1 / 20)  # beats all 19 broken pairings


def test_a_zero_vector_is_refused_with_the_space_and_row_named():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    y[4] = 0.0
    with pytest.raises(ValueError, match=r"space 'b' has 1, at rows \[4\]"):
        cross_modal_retrieval(spaces(x, y), device="cpu")
