"""How well do fitted directions classify unseen rows, and would random or shuffled-label directions do as well?

:func:`direction_accuracy` cross-validates a :class:`~workbench.geometry.directions.Directions`
recipe: the directions are fitted on the training folds and every test row is
labelled by :meth:`Directions.predict <workbench.geometry.directions.Directions.predict>`
(the direction with the largest intensity; the baseline when none reaches
half of a typical row). Two controls go through exactly the same folds and the
same rule:

- **random unit directions**: each fold's directions replaced by random unit
  vectors, keeping the fold's class means (so centre, reference and typical
  levels are computed from the same rows). What any set of directions scores
  on this data by geometry alone: ``random_mean``, ``random_q95``,
  ``random_p_value``.
- **shuffled-label directions**: the recipe refitted on shuffled labels
  (within each group when the folds are grouped) and scored against those
  labels: the permutation null, ``null_mean``, ``null_q95``, ``p_value``.

The interval (``ci_low``, ``ci_high``) resamples the out-of-fold predictions,
rows or whole groups, as :func:`~workbench.geometry.directions.probe_sweep`
does; see :mod:`workbench.geometry.directions.heldout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench._checks import check_int
from workbench.geometry.directions.direction_set import (
    DirectionSet,
    build_direction_set,
)
from workbench.geometry.directions.estimator import Directions
from workbench.geometry.directions.heldout import (
    bootstrap_scores,
    permuted_codes,
    resolve_groups,
    cv_folds,
    uncertainty_columns,
)
from workbench.geometry.directions.probes import label_codes, resolve_labels
from workbench.geometry.uncertainty import permutation_p_value
from workbench.space import LatentSpace, LayerStack

__all__ = ["direction_accuracy"]


def direction_accuracy(
    data: LayerStack | LatentSpace,
    directions: Directions | None = None,
    *,
    by: str | Sequence | None = None,
    cv: int = 5,
    groups: str | Sequence | None = "auto",
    n_random: int = 0,
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    level: float = 0.95,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Cross-validated accuracy of direction classification per layer, with its controls.

    Parameters
    ----------
    data : LayerStack or LatentSpace
        One space per layer (a single space is one layer).
    directions : Directions, optional
        The recipe to evaluate (its ``method``, ``baseline``, ``context``,
        ``tier``, ...); fitted or not, only its parameters are used. Default
        ``Directions()`` (diffmean against ``"neutral"``).
    by : str or array-like of shape (n_samples,), optional
        Labels: a meta column or one label per row; default the recipe's ``by``.
    cv : int, default 5
        Folds.
    groups : "auto", str, array-like or None, default "auto"
        As in :func:`~workbench.geometry.directions.probe_sweep`: ``"auto"``
        keeps the rows of a ``context`` together.
    n_random : int, default 0
        Random-direction draws per fold and layer.
    n_permutations : int, default 0
        Shuffled-label refits (each over all folds). The recipe is refitted
        ``cv * n_permutations`` times: cheap for ``diffmean`` and
        ``centered``, slow for ``svm``.
    n_bootstrap : int, default 0
        Resamples of the out-of-fold predictions for ``ci_low`` / ``ci_high``.
    level : float, default 0.95
    seed : int, default 0
        Folds, shuffles, random directions and resamples.
    progress : bool, default False
        A progress bar over folds.

    Returns
    -------
    DataFrame with one row per layer
        ``layer, accuracy, accuracy_std`` (mean and spread over folds), then,
        with ``n_permutations`` or ``n_bootstrap``, ``ci_low, ci_high,
        null_mean, null_q95, p_value`` (NaN for the part not asked; absent
        without either, as in :func:`workbench.compare`), with ``n_random``
        ``random_mean, random_q95, random_p_value``, then ``chance_majority,
        chance_uniform, n_samples, n_classes, folds, groups, method,
        n_random, n_permutations, n_bootstrap``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from workbench import LatentSpace
    >>> rng = np.random.default_rng(1)
    >>> y = np.repeat(["neutral", "calm", "angry"], 25)
    >>> shift = {"neutral": 0.0, "calm": -2.5, "angry": 2.5}
    >>> rows = rng.normal(size=(75, 6)) + np.outer([shift[label] for label in y], np.eye(6)[0])
    >>> table = direction_accuracy(LatentSpace(rows, pd.DataFrame({"emotion": y})), n_random=20,
    ...                            n_permutations=19, n_bootstrap=200)
    >>> row = table.iloc[0]
    >>> bool(row["accuracy"] > 0.7 and row["p_value"] == 0.05 and row["random_q95"] < row["ci_low"])
    True
    """
    n_random = check_int(n_random, "n_random", minimum=0)
    n_permutations = check_int(n_permutations, "n_permutations", minimum=0)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=0)
    recipe = Directions() if directions is None else directions
    if not isinstance(recipe, Directions):
        raise TypeError(f"directions must be a Directions estimator (its recipe is evaluated); got {type(recipe).__name__}")
    params = {**recipe.get_params(), "tier": None, "progress": False}
    stack = data if isinstance(data, LayerStack) else LayerStack({data.provenance.get("layer", 0): data})
    labels = resolve_labels(stack, recipe.by if by is None else by, tier=recipe.tier)
    labels = np.asarray([str(label) for label in labels], dtype=object)
    classes, codes = label_codes(labels)
    classes = np.asarray([str(c) for c in classes], dtype=object)
    group_values, group_name = resolve_groups(stack, groups)
    tests = cv_folds(codes, group_values, cv, seed)
    layers = list(stack.layers)

    # contexts read once: the recipe would otherwise rebuild them from the meta on every refit
    context = recipe._groups(stack.meta, None, stack.n)
    folds = []  # (test rows, training mask, training stack, held-out stack), built once for every refit
    for rows in tests:
        train = np.ones(stack.n, dtype=bool)
        train[rows] = False
        folds.append((rows, train, stack.subset(train), stack.take(rows)))

    def held_out(fold_labels: np.ndarray) -> tuple[np.ndarray, list[Directions]]:
        """Out-of-fold predicted codes (n_layers, n) for one labelling, and each fold's fitted directions."""
        predicted = np.empty((len(layers), stack.n), dtype=np.int64)
        fitted = []
        for rows, train, training, held in folds:
            groups_train = None if context is None else context[train]
            model = Directions(**params).fit(training, y=fold_labels[train], context=groups_train)
            fitted.append(model)
            for i, key in enumerate(layers):
                predicted[i, rows] = _codes(model.predict(held[key], layer=key), classes)
        return predicted, fitted

    from tqdm.auto import tqdm

    predicted, fitted = held_out(labels)
    fold_accuracy = _fold_accuracy(predicted, codes, tests)  # (L, F)
    null = None
    if n_permutations:
        shuffled = permuted_codes(codes, n_permutations, groups=group_values, seed=seed)
        null = np.stack([
            _fold_accuracy(held_out(classes[p])[0], p, tests).mean(axis=1)
            for p in tqdm(shuffled, desc="shuffled labels", disable=not progress)
        ], axis=1)  # (L, P)
    random = _random_control(folds, layers, fitted, codes, classes, n_random, seed) if n_random else None
    boot = None
    if n_bootstrap:
        boot = bootstrap_scores(torch.as_tensor(predicted), torch.as_tensor(codes), len(classes), n_bootstrap,
                                groups=group_values, seed=seed + 1)[0]

    rows = []
    for i, key in enumerate(layers):
        row: dict[str, Any] = {"layer": key, "accuracy": float(fold_accuracy[i].mean()),
                               "accuracy_std": float(fold_accuracy[i].std(ddof=1)) if len(tests) > 1 else 0.0}
        if n_permutations or n_bootstrap:
            row.update(uncertainty_columns(row["accuracy"], null=None if null is None else null[i],
                                           bootstrap=None if boot is None else boot[i], level=level))
        if random is not None:
            row.update(random_mean=float(random[i].mean()), random_q95=float(np.quantile(random[i], 0.95)),
                       random_p_value=permutation_p_value(row["accuracy"], random[i]))
        rows.append(row)
    frame = pd.DataFrame(rows)
    counts = np.bincount(codes)
    frame = frame.assign(
        chance_majority=counts.max() / stack.n, chance_uniform=1 / len(classes), n_samples=stack.n,
        n_classes=len(classes), folds=len(tests), groups=group_name or "none", method=recipe.method,
        n_random=n_random, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
    )
    frame.attrs.update(by=recipe.by if by is None else ("array" if not isinstance(by, str) else by), cv=cv,
                       seed=seed, level=level, classes=classes.tolist(), baseline=fitted[0].baseline_)
    return frame


def _codes(predicted: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return np.searchsorted(classes, predicted.astype(str).astype(object))


def _fold_accuracy(predicted: np.ndarray, codes: np.ndarray, tests: list[np.ndarray]) -> np.ndarray:
    """Accuracy of each layer on each test fold: (n_layers, n_folds)."""
    return np.stack([(predicted[:, rows] == codes[rows]).mean(axis=1) for rows in tests], axis=1)


def _random_control(
    folds: list, layers: list, fitted: list[Directions], codes: np.ndarray, classes: np.ndarray, n_random: int, seed: int,
) -> np.ndarray:
    """Accuracy of random unit directions, per layer and draw, averaged over folds: (n_layers, n_random).

    Each fold keeps its fitted class means, so only the directions change; the
    rule is :meth:`Directions.predict`'s, applied to all draws at once by
    :func:`predict_many`.
    """
    generator = torch.Generator().manual_seed(seed + 2)
    scores = np.zeros((len(layers), n_random))
    for model, (rows, _, _, held) in zip(fitted, folds):
        for i, key in enumerate(layers):
            real = model.directions_[key]
            draws = [_random_set(real, generator) for _ in range(n_random)]
            guess = predict_many(draws, held[key].vectors)  # (R, n) indices into real.classes
            order = _codes(np.asarray(real.classes, dtype=object), classes)
            scores[i] += (order[guess] == codes[rows]).mean(axis=1) / len(folds)
    return scores


def predict_many(sets: Sequence[DirectionSet], matrix: torch.Tensor) -> np.ndarray:
    """:meth:`Directions.predict` for many direction sets of one layer at once, as class indices.

    Every set must share the classes and the baseline (e.g. random twins of
    one fitted set); the rule is the same: the largest intensity
    ``(score - reference) / (typical - reference)`` wins, and with a baseline
    a row whose largest intensity is below 0.5 is the baseline.

    Parameters
    ----------
    sets : sequence of DirectionSet
    matrix : tensor of shape (n_samples, n_features)

    Returns
    -------
    ndarray of shape (n_sets, n_samples)
        Indices into ``sets[0].classes``.
    """
    first = sets[0]
    matrix = matrix.float()
    units = torch.stack([s.unit for s in sets])  # (R, K, D)
    centers = torch.stack([s.center for s in sets])  # (R, D)
    scores = torch.einsum("nd,rkd->rnk", matrix, units) - torch.einsum("rd,rkd->rk", centers, units)[:, None, :]
    reference = torch.stack([s.reference_score for s in sets])[:, None, :]
    typical = torch.stack([s.label_score for s in sets])[:, None, :]
    intensity = (scores - reference) / (typical - reference)
    best, winner = intensity.max(dim=2)
    to_class = torch.as_tensor([first.classes.index(label) for label in first.labels])
    predicted = to_class[winner]
    if first.baseline is not None:
        predicted = torch.where(best < 0.5, first.classes.index(first.baseline), predicted)
    return predicted.numpy()


def _random_set(real: DirectionSet, generator: torch.Generator) -> DirectionSet:
    """``real`` with its directions replaced by random unit vectors (its class means kept)."""
    vectors = torch.randn(real.vectors.shape, generator=generator)
    return build_direction_set(
        layer=real.layer, labels=real.labels, vectors=vectors / vectors.norm(dim=1, keepdim=True),
        classes=real.classes, centroids=real.centroids, counts=real.counts, method=real.method,
        baseline=real.baseline, provenance=real.provenance,
    )
