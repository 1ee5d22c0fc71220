"""Zero-shot stitching: train a classifier on one space, use it unchanged on another.

This is the paper's test of whether two spaces are *the same up to what
relative representations remove*. A classifier fitted on space A's vectors
is applied, without retraining, to space B's vectors of held-out samples:

- on absolute vectors it fails (near chance) unless A and B happen to share
  coordinates -- two seeds of one network do not;
- on relative vectors (both spaces projected on the same anchor ids) it
  works about as well as on A itself;
- after orthogonal Procrustes alignment of B onto A, fitted on the same
  anchors (the only parallel data the relative projection gets either), it is
  the classical baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench._checks import Data, warn
from workbench._space_checks import match_rows
from workbench.geometry.relative.anchors import Strategy, anchor_positions, select_anchors
from workbench.geometry.relative.procrustes import Procrustes
from workbench.geometry.relative.projection import RelativeProjection, Similarity, jsonable
from workbench.space import LatentSpace

__all__ = ["stitch", "default_classifier"]


def default_classifier() -> Any:
    """Standardised features, then multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def stitch(
    space_a: Data,
    space_b: Data,
    *,
    by: str,
    anchors: int | Sequence | None = None,
    strategy: Strategy = "stratified",
    similarity: Similarity = "cosine",
    classifier: Any = None,
    train_ids: Sequence | None = None,
    test_ids: Sequence | None = None,
    test_size: float = 0.25,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> pd.DataFrame:
    """Accuracy of a classifier trained on space A and evaluated, unchanged, on space B.

    Parameters
    ----------
    space_a, space_b : LatentSpace
        Two spaces over the same samples (matched by id), e.g. one layer of
        two training seeds, or two models on parallel data.
    by : str
        Meta column of ``space_a`` with the class labels.
    anchors : int or sequence of ids, optional
        Anchor ids shared by both spaces, or how many to choose (from the
        training samples of A, with ``strategy``). By default 300, or all
        training samples when there are fewer.
    strategy : {"stratified", "random", "fps", "kmeans"}, default "stratified"
        How to choose anchors when ``anchors`` is a number (stratified by ``by``).
    similarity : {"cosine", "euclidean", "l1", "rbf"}, default "cosine"
        For the relative projection.
    classifier : scikit-learn classifier, optional
        Cloned for every fit. Default: :func:`default_classifier`.
    train_ids, test_ids : sequence of ids, optional
        The split. Give one and the other is the rest of the shared samples;
        give neither for a stratified random split with ``test_size``.
    test_size : float, default 0.25
    seed : int, default 0
        Seeds the split and the anchor choice.
    device : {"auto", "cpu", "cuda", ...}
        Where the projections run.

    Returns
    -------
    pandas.DataFrame
        Index ``["absolute", "relative", "aligned"]``, columns
        ``same_space`` (trained and tested on A) and ``stitched`` (trained on
        A, tested on B). ``aligned`` maps B onto A with :class:`Procrustes`
        fitted on the anchors, then uses the absolute classifier (so its
        ``same_space`` is the absolute one). The absolute
        stitched accuracy is NaN (with a warning) when the widths differ.
        ``attrs`` holds ``chance`` (the majority-class rate of the test
        labels), ``n_train``, ``n_test`` and ``anchors`` (the ids).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from workbench import LatentSpace
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 40)
    >>> x = rng.normal(size=(120, 8)) + 4 * np.eye(8)[y]
    >>> q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> meta = pd.DataFrame({"id": range(120), "y": y})
    >>> table = stitch(LatentSpace(x, meta), LatentSpace(x @ q, meta), by="y", anchors=30)
    >>> bool(table.loc["relative", "stitched"] > 0.9)
    True
    """
    from sklearn.base import clone

    a, b = match_rows(space_a, space_b)
    # integer codes: scikit-learn refuses object arrays of mixed or numeric labels
    _, labels = np.unique(np.asarray([str(v) for v in a.labels(by)]), return_inverse=True)
    train, test = _split(a, labels, train_ids, test_ids, test_size, seed)
    if anchors is None:
        anchors = min(300, len(train))
    if isinstance(anchors, (int, np.integer)) and not isinstance(anchors, bool):
        anchors = select_anchors(a.take(train), int(anchors), strategy=strategy, by=by, seed=seed, device=device)
    anchor_ids = a.ids[anchor_positions(a, anchors)]
    classifier = default_classifier() if classifier is None else classifier

    def accuracy(model: Any, space: LatentSpace, rows: np.ndarray) -> float:
        return float(model.score(space.numpy()[rows], labels[rows]))

    absolute = clone(classifier).fit(a.numpy()[train], labels[train])
    project = RelativeProjection(anchors=anchor_ids, similarity=similarity, device=device)
    rel_a, rel_b = project.fit_transform(a), clone(project).fit_transform(b)
    relative = clone(classifier).fit(rel_a.numpy()[train], labels[train])
    aligned_b = Procrustes(device=device).fit(b, a, ids=anchor_ids).transform(b)

    same = accuracy(absolute, a, test)
    if a.dim == b.dim:
        absolute_stitched = accuracy(absolute, b, test)
    else:
        warn(
            f"absolute stitching needs equal widths ({a.name!r} has {a.dim}, {b.name!r} has {b.dim}); "
            "reporting relative and aligned only",
        )
        absolute_stitched = float("nan")
    table = pd.DataFrame(
        {
            "same_space": [same, accuracy(relative, rel_a, test), same],
            "stitched": [absolute_stitched, accuracy(relative, rel_b, test), accuracy(absolute, aligned_b, test)],
        },
        index=pd.Index(["absolute", "relative", "aligned"], name=f"{a.name} → {b.name}"),
    )
    counts = pd.Series(labels[test]).value_counts()
    table.attrs.update(
        chance=float(counts.iloc[0] / len(test)), n_train=len(train), n_test=len(test), anchors=jsonable(anchor_ids)
    )
    return table


def _split(
    space: LatentSpace,
    labels: np.ndarray,
    train_ids: Sequence | None,
    test_ids: Sequence | None,
    test_size: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the training and test samples."""
    from sklearn.model_selection import train_test_split

    every = np.arange(space.n)
    if train_ids is None and test_ids is None:
        _, counts = np.unique(labels.astype(str), return_counts=True)
        stratify = labels.astype(str) if counts.min() >= 2 else None
        train, test = train_test_split(every, test_size=test_size, random_state=seed, stratify=stratify)
        return np.sort(train), np.sort(test)
    train = None if train_ids is None else space.index_of(train_ids)
    test = None if test_ids is None else space.index_of(test_ids)
    if train is None:
        train = np.setdiff1d(every, test)
    if test is None:
        test = np.setdiff1d(every, train)
    if len(np.intersect1d(train, test)):
        raise ValueError("train_ids and test_ids overlap; a stitching score needs held-out samples")
    if len(train) == 0 or len(test) == 0:
        raise ValueError("the split leaves no training or no test samples")
    return train, test
