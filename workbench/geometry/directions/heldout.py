"""Held-out predictions with their uncertainty: the bootstrap and the label null shared by probes and directions.

Both :func:`~workbench.geometry.directions.probe_sweep` and
:func:`~workbench.geometry.directions.direction_accuracy` score a classifier
on cross-validation folds. Their intervals and nulls are computed here, once,
so the two tables mean the same thing:

- **interval**: the out-of-fold predictions (every row is predicted once, by
  the model that did not see it) are resampled, rows or whole groups, and the
  accuracy and macro-F1 recomputed; nothing is refitted. The interval is
  therefore around the *pooled* out-of-fold accuracy, which equals the mean
  of the fold accuracies when the folds are of equal size and is within a
  row or two of it otherwise.
- **folds**: stratified, whole groups kept together (:func:`cv_folds`,
  :func:`resolve_groups`), the same for both.
- **null**: labels shuffled, refitted, scored against the shuffled labels;
  with grouped folds the labels are shuffled *within* each group (see
  :func:`permuted_codes` for why).

The column names are those of :mod:`workbench.geometry.uncertainty`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench.geometry.uncertainty import (
    COLUMNS,
    bootstrap_indices,
    estimate,
    permutations,
)
from workbench.space import LatentSpace, LayerStack

__all__ = ["cv_folds", "resolve_groups", "permuted_codes", "bootstrap_scores", "uncertainty_columns"]


def cv_folds(codes: np.ndarray, groups: np.ndarray | None, cv: int, seed: int) -> list[np.ndarray]:
    """The test rows of each of ``cv`` stratified folds (whole groups kept together when ``groups`` is given)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if cv < 2:
        raise ValueError(f"cv must be at least 2; got {cv}")
    counts = np.bincount(codes)
    if groups is None:
        if counts.min() < cv:
            raise ValueError(
                f"cv={cv} folds need at least {cv} rows of every label; the rarest has {counts.min()}. "
                "Lower cv or drop rare labels."
            )
        splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(codes)), codes)
    else:
        n_groups = len(pd.unique(groups))
        if n_groups < cv:
            raise ValueError(f"cv={cv} folds need at least {cv} groups; there are {n_groups}")
        splitter = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(codes)), codes, groups)
    return [test for _, test in splits]


def resolve_groups(data: LatentSpace | LayerStack, groups: Any) -> tuple[np.ndarray | None, str | None]:
    """``groups=`` as the sweeps take it ("auto", a meta column, one value per row, None) -> (values, name)."""
    if groups is None or groups is False:
        return None, None
    if isinstance(groups, str):
        if groups == "auto":
            return (data.labels("context"), "context") if "context" in data.meta.columns else (None, None)
        if groups not in data.meta.columns:
            raise KeyError(f"no column {groups!r} to group folds by; columns are {list(data.meta.columns)}")
        return data.labels(groups), groups
    array = np.asarray(groups, dtype=object)
    if array.shape != (data.n,):
        raise ValueError(f"groups must have one entry per row ({data.n}); got shape {array.shape}")
    return array, "array"


def permuted_codes(
    codes: np.ndarray, n_permutations: int, *, groups: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Label codes shuffled ``n_permutations`` times, within groups when given.

    Why within groups: with grouped folds (the built-in corpus writes each
    situation once per emotion) the rows of a group are not independent, so
    the exchangeable unit is not the row. Shuffling inside each group keeps
    every group's mix of labels, which is what the grouped folds already
    condition on, and breaks only the link the probe is tested for: *which*
    row of a group carries which label. A group whose rows share one label
    is left as it is, so data where every group holds a single label gives a
    null equal to the observed value (p = 1): there the data cannot separate
    the label from the group; use ``groups=None`` to test against the
    unrestricted null instead.

    Parameters
    ----------
    codes : int array of shape (n_samples,)
    n_permutations : int
    groups : array-like of shape (n_samples,), optional
    seed : int, default 0

    Returns
    -------
    ndarray of shape (n_permutations, n_samples), int64

    Examples
    --------
    >>> codes = np.array([0, 1, 0, 1, 2, 2])
    >>> shuffled = permuted_codes(codes, 3, groups=np.array([0, 0, 1, 1, 2, 2]), seed=0)
    >>> shuffled.shape, bool((np.sort(shuffled[:, :2], axis=1) == [0, 1]).all()), shuffled[:, 4:].tolist()
    ((3, 6), True, [[2, 2], [2, 2], [2, 2]])
    """
    codes = np.asarray(codes, dtype=np.int64)
    n = len(codes)
    order = permutations(n, n_permutations, seed=seed).numpy()  # (P, n)
    if groups is None:
        return codes[order]
    group_codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)[1].reshape(-1)
    # a random rank per row (the inverse of a random permutation), made to sort inside its own group's block
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None, :].repeat(len(order), axis=0), axis=1)
    shuffled_order = np.argsort(group_codes[None, :] * n + rank, axis=1, kind="stable")
    blocks = np.argsort(group_codes, kind="stable")  # the same group blocks, rows in their own order
    result = np.empty((len(order), n), dtype=np.int64)
    result[:, blocks] = codes[shuffled_order]
    return result


def bootstrap_scores(
    predicted: torch.Tensor,
    codes: torch.Tensor,
    n_classes: int,
    n_bootstrap: int,
    *,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Accuracy and macro-F1 of out-of-fold predictions on bootstrap resamples.

    Parameters
    ----------
    predicted : int tensor of shape (n_layers, n_samples)
        Each row's out-of-fold prediction, per layer.
    codes : int tensor of shape (n_samples,)
        The true class of each row.
    n_classes : int
    n_bootstrap : int
    groups : array-like of shape (n_samples,), optional
        Resample whole groups instead of rows.
    seed : int, default 0

    Returns
    -------
    accuracy, macro_f1 : tensors of shape (n_layers, n_bootstrap)
        Macro-F1 averages over the classes present in the resample's truth
        or predictions, as scikit-learn's ``f1_score(average="macro")``.

    Examples
    --------
    >>> pred = torch.tensor([[0, 1, 1, 0]])
    >>> acc, f1 = bootstrap_scores(pred, torch.tensor([0, 1, 1, 0]), 2, 5)
    >>> acc.shape, bool((acc == 1).all() and (f1 == 1).all())
    (torch.Size([1, 5]), True)
    """
    n = predicted.shape[1]
    draws = bootstrap_indices(n, n_bootstrap, seed=seed, groups=groups, device=predicted.device)
    weight = torch.stack([torch.bincount(rows, minlength=n) for rows in draws]).to(torch.float64)  # (B, N)
    eye = torch.eye(n_classes, dtype=torch.float64, device=predicted.device)
    said, truth = eye[predicted], eye[codes.to(predicted.device)]  # (L, N, K), (N, K)
    hit = said * truth[None]
    total = weight.sum(dim=1)  # (B,)
    accuracy = torch.einsum("bn,lnk->lb", weight, hit) / total[None, :]
    tp = torch.einsum("bn,lnk->lbk", weight, hit)
    denom = torch.einsum("bn,lnk->lbk", weight, said) + torch.einsum("bn,nk->bk", weight, truth)[None]
    present = denom > 0
    f1 = torch.where(present, 2 * tp / denom.clamp_min(1e-12), torch.zeros_like(tp))
    macro = f1.sum(dim=2) / present.sum(dim=2).clamp_min(1)
    return accuracy.float(), macro.float()


def uncertainty_columns(
    value: float,
    *,
    null: np.ndarray | torch.Tensor | None,
    bootstrap: np.ndarray | torch.Tensor | None,
    level: float,
    prefix: str = "",
) -> dict[str, float]:
    """The :data:`~workbench.geometry.uncertainty.COLUMNS` of one statistic, NaN where not asked.

    Examples
    --------
    >>> row = uncertainty_columns(0.9, null=np.array([0.2, 0.3]), bootstrap=None, level=0.95)
    >>> list(row), round(row["p_value"], 3)
    (['ci_low', 'ci_high', 'null_mean', 'null_q95', 'p_value'], 0.333)
    """
    fields = estimate(value, null=null, bootstrap=bootstrap, level=level).as_dict()
    return {f"{prefix}{name}": fields[name] for name in COLUMNS}
