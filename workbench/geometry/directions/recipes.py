"""The recipes behind :class:`~workbench.geometry.directions.Directions`, one function each.

Every recipe takes one layer's rows and returns one (not yet normalised)
vector per label, oriented so that rows of the label project higher than the
reference rows. The reference is the baseline label (``neutral``) when the
data has it, otherwise the other labels, except for ``centered``, whose
reference is the average emotion within each context (the emotion-circuits
recipe).

Shapes: ``X`` is ``(n_samples, n_features)``; ``codes`` holds each row's
class index; ``targets`` are the class indices that get a direction;
``baseline`` is the baseline's class index or None. Results are
``(len(targets), n_features)`` tensors on ``X``'s device.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["METHODS", "centroids", "diffmean", "centered", "pca_diff", "probe", "probe_weights", "svm"]

METHODS = ("diffmean", "centered", "probe", "svm", "pca_diff")


def _group_sums(X: torch.Tensor, index: torch.Tensor, n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    sums = torch.zeros(n_groups, X.shape[1], dtype=X.dtype, device=X.device).index_add_(0, index, X)
    counts = torch.zeros(n_groups, dtype=X.dtype, device=X.device).index_add_(0, index, torch.ones_like(index, dtype=X.dtype))
    return sums, counts


def centroids(X: torch.Tensor, codes: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean row of every class: tensor of shape (n_classes, n_features)."""
    sums, counts = _group_sums(X, codes, n_classes)
    return sums / counts[:, None]


def _others_mean(means: torch.Tensor, targets: list[int]) -> torch.Tensor:
    """For each target class, the mean of the other classes' centroids (class-balanced)."""
    total = means.sum(dim=0)
    return torch.stack([(total - means[t]) / (len(means) - 1) for t in targets])


def diffmean(X, codes, *, targets, baseline, n_classes, **_) -> torch.Tensor:
    """Difference of means: ``mean(label) - mean(baseline)``, or ``- mean of the other labels' means``."""
    means = centroids(X, codes, n_classes)
    reference = means[baseline].expand(len(targets), -1) if baseline is not None else _others_mean(means, targets)
    return means[targets] - reference


def centered(X, codes, *, targets, groups, n_classes, **_) -> torch.Tensor:
    """Emotion circuits' context-agnostic directions.

    Within each context, subtract the context's mean over its emotion rows;
    average the result per emotion; subtract the mean of those emotion
    centroids. Baseline rows take no part. Contexts that hold fewer than two
    distinct emotions carry no contrast and are skipped.
    """
    if groups is None:
        raise ValueError("method='centered' needs a context for every row")
    keep = torch.isin(codes, torch.as_tensor(targets, device=codes.device))
    X, codes, groups = X[keep], codes[keep], groups[keep]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    pair = groups * n_classes + codes
    distinct = torch.zeros(n_groups * n_classes, device=X.device).index_fill_(0, pair, 1.0).view(n_groups, n_classes).sum(1)
    useful = distinct[groups] >= 2
    if not bool(useful.any()):
        raise ValueError("method='centered' needs contexts that hold at least two different emotions; none does")
    X, codes, groups = X[useful], codes[useful], groups[useful]
    sums, counts = _group_sums(X, groups, n_groups)
    residual = X - (sums / counts.clamp_min(1)[:, None])[groups]
    means = centroids(residual, codes, n_classes)[targets]
    if torch.isnan(means).any():
        missing = [t for t, row in zip(targets, means) if torch.isnan(row).any()]
        raise ValueError(f"method='centered': classes {missing} appear in no context shared with another emotion")
    return means - means.mean(dim=0, keepdim=True)


def pca_diff(X, codes, *, targets, baseline, groups, n_classes, **_) -> torch.Tensor:
    """repeng's ``pca_diff`` on pairs formed inside each context.

    Each row of a label is paired with the baseline rows of its own context
    (their mean), or, without a baseline, with the other labels' rows of that
    context. The direction is the first principal axis of the differences,
    oriented so that most pairs project higher on the label's side, and scaled
    by the mean projected difference (so that an unnormalised vector is
    comparable with a difference of means).

    repeng fits scikit-learn's PCA, which centres the differences first; when
    every pair differs the same way that removes the very shift the pairs
    share, so here the axis is taken from the uncentred differences (the
    direction of largest mean squared difference).
    """
    if groups is None:
        raise ValueError("method='pca_diff' pairs rows within a context; it needs a context for every row")
    n_groups = int(groups.max()) + 1
    cell_sums, cell_counts = _group_sums(X, groups * n_classes + codes, n_groups * n_classes)
    cell_sums = cell_sums.view(n_groups, n_classes, -1)
    cell_counts = cell_counts.view(n_groups, n_classes)
    vectors = []
    for target in targets:
        rows = codes == target
        g = groups[rows]
        if baseline is not None:
            ref_sum, ref_count = cell_sums[g, baseline], cell_counts[g, baseline]
        else:
            ref_sum = cell_sums[g].sum(1) - cell_sums[g, target]
            ref_count = cell_counts[g].sum(1) - cell_counts[g, target]
        paired = ref_count > 0
        if int(paired.sum()) < 2:
            raise ValueError(
                f"method='pca_diff' found {int(paired.sum())} pair(s) for class {target}: a label needs at least 2 "
                "rows whose context also holds reference rows"
            )
        diffs = X[rows][paired] - ref_sum[paired] / ref_count[paired, None]
        axis = torch.linalg.svd(diffs, full_matrices=False).Vh[0]
        projected = diffs @ axis
        if (projected > 0).float().mean() < 0.5:
            axis, projected = -axis, -projected
        vectors.append(axis * projected.mean().clamp_min(torch.finfo(X.dtype).eps))
    return torch.stack(vectors)


def probe_weights(X, codes, *, n_classes, C=1.0, max_iter=100) -> torch.Tensor:
    """Class weights of standardised multinomial logistic regressions on all rows, one per layer.

    ``X`` has shape (n_layers, n_samples, n_features); the result (n_layers,
    n_classes, n_features), in the original coordinates. All layers are
    solved in one batched problem (see :func:`workbench.geometry.directions.probes.fit_logistic`).
    """
    from workbench.geometry.directions.probes import fit_logistic

    weights = torch.ones(1, X.shape[1], device=X.device)
    coef, _ = fit_logistic(X, codes, weights, n_classes=n_classes, C=C, max_iter=max_iter)
    return coef[:, 0].transpose(1, 2)


def probe(X, codes, *, targets, baseline, n_classes, C=1.0, weights=None, **_) -> torch.Tensor:
    """A standardised multinomial logistic regression on all rows.

    The direction of label ``e`` is the gradient of its log-odds against the
    baseline, ``w_e - w_baseline`` (in the original coordinates), or against
    the other labels on average, ``w_e - mean(w_others)``. ``weights`` of
    shape (n_classes, n_features) may come precomputed by :func:`probe_weights`.
    """
    w = probe_weights(X[None], codes, n_classes=n_classes, C=C)[0] if weights is None else weights.to(X)
    reference = w[baseline].expand(len(targets), -1) if baseline is not None else _others_mean(w, targets)
    return (w[targets] - reference).to(X.dtype)


def svm(X, codes, *, targets, baseline, C=1.0, max_iter=5000, **_) -> torch.Tensor:
    """One linear SVM per label (label vs baseline, or vs the rest); its normal points to the label.

    Features are standardised for the fit; the normal is mapped back to the
    original coordinates (``w / std``).
    """
    from sklearn.svm import LinearSVC

    data = X.detach().double().cpu().numpy()
    labels = codes.cpu().numpy()
    mean, std = data.mean(axis=0), data.std(axis=0)
    std[std < 1e-12] = 1.0
    data = (data - mean) / std
    vectors = []
    for target in targets:
        rows = labels == target
        others = labels == baseline if baseline is not None else ~rows
        use = rows | others
        model = LinearSVC(C=C, max_iter=max_iter, class_weight="balanced")
        model.fit(data[use], rows[use].astype(int))
        vectors.append(model.coef_[0] / std)
    return torch.as_tensor(np.stack(vectors), dtype=X.dtype, device=X.device)
