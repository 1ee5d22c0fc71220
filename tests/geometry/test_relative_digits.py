"""The paper's seeds experiment, reproduced on scikit-learn's bundled digits.

Two small MLPs that differ only in their random seed learn the same task
equally well, yet their hidden layers use unrelated coordinates: retrieval
across the two absolute spaces finds nothing and a classifier moved from one
to the other is at chance. Projected on the same anchor samples, the two
spaces agree: retrieval works and the classifier stitches zero-shot. The
thresholds leave a wide margin around what seeds (0, 1) ... (6, 7) give
(see notebooks/02_relative_representations.ipynb for the table).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from workbench import LatentSpace
from workbench.geometry.relative.anchors import select_anchors
from workbench.geometry.compare import compare
from workbench.geometry.relative import RelativeProjection
from workbench.geometry.relative.stitching import stitch

pytestmark = pytest.mark.slow


def hidden_layer(seed: int, x: np.ndarray, y: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Hidden ReLU activations of a one-hidden-layer MLP trained with ``seed``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    # one BLAS thread: on these small matrices threads only wait on each other,
    # ten times slower on a busy 2-core machine
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=100, random_state=seed).fit(x[train], y[train])
    return np.maximum(x @ mlp.coefs_[0] + mlp.intercepts_[0], 0.0)


@pytest.fixture(scope="module")
def seeds():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    meta = pd.DataFrame({"id": np.arange(len(y)), "digit": y})
    train, _ = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=y)
    spaces = [LatentSpace(hidden_layer(s, x, y, train), meta, name=f"seed {s}") for s in (0, 1)]
    return spaces, meta["id"].to_numpy()[train]


def test_absolute_spaces_disagree_relative_spaces_agree(seeds):
    (a, b), train_ids = seeds
    anchors = select_anchors(a.subset(train_ids), 100, strategy="stratified", by="digit", seed=0)
    rel_a = RelativeProjection(anchors=anchors).fit_transform(a)
    rel_b = RelativeProjection(anchors=anchors).fit_transform(b)
    absolute = compare(a, b, k=10)
    relative = compare(rel_a, rel_b, k=10)
    assert absolute["jaccard"] < 0.05 and absolute["mrr"] < 0.05
    assert relative["jaccard"] > 0.3 and relative["jaccard"] > 10 * absolute["jaccard"]
    assert relative["mrr"] > 0.5
    assert relative["cosine"] > 0.9
    # CKA is rotation invariant: it already sees the two absolute spaces as alike
    assert absolute["cka"] > 0.8


def test_zero_shot_stitching_across_seeds(seeds):
    (a, b), train_ids = seeds
    with threadpool_limits(1):
        table = stitch(a, b, by="digit", anchors=100, train_ids=train_ids, seed=0)
    assert table.loc["absolute", "same_space"] > 0.9
    assert table.loc["absolute", "stitched"] < table.attrs["chance"] + 0.15
    assert table.loc["relative", "stitched"] > table.loc["relative", "same_space"] - 0.05
    assert table.loc["relative", "stitched"] > 0.85
    assert table.loc["aligned", "stitched"] > 0.85
