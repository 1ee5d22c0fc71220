"""Linear probes on every layer: where does a model keep a label, and how well?

:func:`probe_sweep` trains a standardised multinomial logistic regression on
each layer of a :class:`~workbench.space.LayerStack`, cross-validated, and
returns one tidy row per layer (accuracy, macro-F1, their spread over folds,
and two chance levels). "Decoding Emotion in the Deep" (2025) found emotion
decodable early and peaking mid-network this way.

Why a torch engine and not one scikit-learn fit per (layer, fold): the
objective is scikit-learn's own (mean cross-entropy + ``||W||^2 / (2 C n)``
on standardised features, intercept not penalised), but all layers and folds
of a chunk are solved as one batched problem with L-BFGS, so the work is a
few large matrix products per iteration, which is what a GPU (and BLAS on a
CPU) does best. Standardisation uses each fold's training rows only and is
folded into the weights, so no standardised copy of the data is made.
``benchmarks/bench_probes.py`` times it side by side with scikit-learn.

Folds: rows that share a ``context`` (the same situation written with
several emotions, as in the built-in corpus) must not be split between
training and test, or the probe is scored on situations it has already seen.
``groups="auto"`` therefore keeps contexts together whenever the meta has a
``context`` column, and falls back to plain stratified folds otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
import torch

from workbench._checks import check_int
from workbench.device import free_memory, resolve_device
from workbench.geometry.directions.heldout import (
    bootstrap_scores,
    permuted_codes,
    resolve_groups,
    cv_folds,
    uncertainty_columns,
)
from workbench.space import LatentSpace, LayerStack

__all__ = ["probe_sweep", "plot_probe_sweep", "fit_logistic", "label_codes", "resolve_labels"]

Labels = Union[str, Sequence, np.ndarray]


def resolve_labels(data: LatentSpace | LayerStack, by: Labels, *, tier: str | None = None) -> np.ndarray:
    """Labels for every row: a meta column name or an array, optionally rolled up a Parrott tier."""
    if isinstance(by, str):
        labels = data.labels(by)
    else:
        labels = np.asarray(by, dtype=object)
        if labels.shape != (data.n,):
            raise ValueError(f"labels must have one entry per row ({data.n}); got shape {labels.shape}")
    if pd.isna(labels).any():
        raise ValueError(f"{int(pd.isna(labels).sum())} row(s) have no label; drop them first")
    if tier is not None:
        from workbench.taxonomy import roll_up

        labels = np.asarray(roll_up(labels, to=tier, unknown="keep"), dtype=object)
    return labels


def label_codes(labels: np.ndarray, *, min_count: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)``: sorted distinct labels and each row's index into them.

    Raises ValueError naming every label with fewer than ``min_count`` rows.
    """
    classes, codes, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"need at least 2 distinct labels; got {classes.tolist()}")
    rare = {str(c): int(n) for c, n in zip(classes, counts) if n < min_count}
    if rare:
        raise ValueError(f"every label needs at least {min_count} rows; too few for {rare}")
    # keep the caller's label objects (not their str form) as class names
    first = np.array([labels[np.flatnonzero(codes == k)[0]] for k in range(len(classes))], dtype=object)
    return first, codes


# ----------------------------------------------------------------------------
# the engine: batched multinomial logistic regression
# ----------------------------------------------------------------------------


def fit_logistic(
    X: torch.Tensor,
    codes: torch.Tensor,
    weights: torch.Tensor,
    *,
    n_classes: int,
    C: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised multinomial logistic regressions, many at once.

    Solves, for every layer ``l`` and fold ``f`` independently, scikit-learn's
    ``LogisticRegression(C=C)`` objective on the rows with weight 1 of fold
    ``f``, after standardising the features with those rows' mean and
    standard deviation.

    Parameters
    ----------
    X : tensor of shape (n_layers, n_samples, n_features)
    codes : int64 tensor of shape (n_samples,) or (n_labelings, n_samples)
        Class index of every row; several labelings (e.g. shuffled labels for
        a permutation null) are fitted in the same batch, sharing ``X`` and
        its standardisation: each is just more output columns.
    weights : tensor of shape (n_folds, n_samples)
        1 for the training rows of each fold, 0 elsewhere.
    n_classes : int
    C : float, default 1.0
        Inverse regularisation strength, as in scikit-learn.
    max_iter : int, default 100
        L-BFGS iterations.
    tol : float, default 1e-4
        Stop when every gradient entry is below this (scikit-learn's default
        for L-BFGS, on the same mean loss).

    Returns
    -------
    coef : tensor of shape (n_layers, n_folds, n_features, n_classes)
        Weights in the original (unstandardised) coordinates; with 2-D
        ``codes``, (n_layers, n_labelings, n_folds, n_features, n_classes).
    intercept : tensor of shape (n_layers, n_folds, n_classes)
        (n_layers, n_labelings, n_folds, n_classes) with 2-D ``codes``.
    """
    n_layers, n_samples, n_features = X.shape
    n_folds = weights.shape[0]
    dtype = X.dtype if X.dtype in (torch.float32, torch.float64) else torch.float32
    X = X.to(dtype)
    weights = weights.to(X.device, dtype)
    n_train = weights.sum(dim=1)  # (F,)
    # per (layer, fold) mean and std of the training rows: (L, F, D)
    mean = torch.einsum("fn,lnd->lfd", weights, X) / n_train[None, :, None]
    second = torch.einsum("fn,lnd->lfd", weights, X * X) / n_train[None, :, None]
    std = (second - mean * mean).clamp_min(0).sqrt()
    std = torch.where(std > 1e-12 * (1 + mean.abs()), std, torch.ones_like(std))
    several = codes.ndim == 2
    codes = codes.to(X.device) if several else codes.to(X.device)[None]
    n_sets = codes.shape[0]
    onehot = torch.nn.functional.one_hot(codes, n_classes).to(dtype)  # (P, N, K)
    row_weight = weights / n_train[:, None]  # (F, N): mean over each fold's training rows
    penalty = 1.0 / (2.0 * C * n_train)  # (F,)

    width = n_sets * n_folds * n_classes  # output columns, ordered (labeling, fold, class)
    coef = torch.zeros(n_layers, n_features, width, dtype=dtype, device=X.device, requires_grad=True)
    bias = torch.zeros(n_layers, 1, width, dtype=dtype, device=X.device, requires_grad=True)
    scale = (1.0 / std).permute(0, 2, 1).repeat(1, 1, n_sets).repeat_interleave(n_classes, dim=2)  # (L, D, P*F*K)
    shift = (mean / std).permute(0, 2, 1).repeat(1, 1, n_sets).repeat_interleave(n_classes, dim=2)

    def logits() -> torch.Tensor:
        # standardised model folded into the weights: ((x - mu) / sd) W = x (W / sd) - (mu / sd) W
        w = coef * scale
        b = bias - (shift * coef).sum(dim=1, keepdim=True)
        return (torch.bmm(X, w) + b).view(n_layers, n_samples, n_sets, n_folds, n_classes)

    optimizer = torch.optim.LBFGS(
        [coef, bias], lr=1, max_iter=max_iter, history_size=10, line_search_fn="strong_wolfe",
        tolerance_grad=tol, tolerance_change=1e-10,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        z = logits()
        nll = torch.logsumexp(z, dim=4) - torch.einsum("lnpfk,pnk->lnpf", z, onehot)  # (L, N, P, F)
        loss = torch.einsum("lnpf,fn->", nll, row_weight)
        reg = (coef.view(n_layers, n_features, n_sets, n_folds, n_classes) ** 2).sum(dim=(1, 4))  # (L, P, F)
        loss = loss + (reg * penalty[None, None, :]).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        w = (coef * scale).view(n_layers, n_features, n_sets, n_folds, n_classes).permute(0, 2, 3, 1, 4)
        b = (bias - (shift * coef).sum(dim=1, keepdim=True)).view(n_layers, n_sets, n_folds, n_classes)
    if not several:
        w, b = w[:, 0], b[:, 0]
    return w.detach().contiguous(), b.detach().contiguous()


# ----------------------------------------------------------------------------
# the sweep
# ----------------------------------------------------------------------------


def _macro_f1(pred: torch.Tensor, codes: torch.Tensor, test: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Macro-F1 over the classes present in truth or prediction, per (layer, fold).

    pred: (L, F, N) predicted codes; test: (F, N) bool. Matches scikit-learn's
    ``f1_score(average="macro")`` on each fold's test rows.
    """
    eye = torch.eye(n_classes, device=pred.device)
    predicted = eye[pred] * test[None, :, :, None]  # (L, F, N, K)
    truth = (eye[codes] * test[:, :, None])[None]  # (1, F, N, K)
    tp = (predicted * truth).sum(dim=2)
    denom = predicted.sum(dim=2) + truth.sum(dim=2)
    present = denom > 0
    f1 = torch.where(present, 2 * tp / denom.clamp_min(1), torch.zeros_like(tp))
    return f1.sum(dim=2) / present.sum(dim=2).clamp_min(1)


def _layer_chunks(stack: LayerStack, n_folds: int, n_classes: int, device: torch.device) -> list[list]:
    """Layers grouped so that one chunk's working set fits in a quarter of the free memory.

    On a CPU every layer is its own chunk: each L-BFGS pass reads the whole
    chunk from memory, and a joint fit runs until its slowest problem has
    converged (N = 20 000, D = 768, 12 layers: 40 s jointly, 19 s layer by
    layer, measured on 2 cores).
    """
    if device.type == "cpu":
        return [[key] for key in stack.layers]
    n, d = stack.n, stack[stack.layers[0]].dim
    per_layer = 4 * (n * d * 3 + n * n_folds * n_classes * 8 + d * n_folds * n_classes * 30)
    budget = free_memory(device) // 4
    size = max(1, int(budget // max(per_layer, 1)))
    keys = stack.layers
    chunks, current = [], []
    for key in keys:
        if current and (len(current) >= size or stack[key].dim != stack[current[0]].dim):
            chunks.append(current)
            current = []
        current.append(key)
    chunks.append(current)
    return chunks


def probe_sweep(
    data: LayerStack | LatentSpace,
    by: Labels = "emotion",
    *,
    cv: int = 5,
    groups: str | Sequence | None = "auto",
    tier: str | None = None,
    C: float = 1.0,
    max_iter: int = 100,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Cross-validated linear-probe accuracy and macro-F1 for every layer, with intervals and a null.

    Parameters
    ----------
    data : LayerStack or LatentSpace
        One space per layer (a single space is a one-layer sweep).
    by : str or array-like of shape (n_samples,), default "emotion"
        The meta column to predict, or the labels themselves.
    cv : int, default 5
        Number of folds.
    groups : "auto", str, array-like or None, default "auto"
        Rows with the same group are never split between training and test.
        ``"auto"`` groups by the ``context`` column when there is one (the
        built-in corpus writes every situation with every emotion; splitting a
        situation across folds would let the probe recognise it), else uses
        plain stratified folds. A column name or one value per row groups by
        that; ``None`` forces stratified folds.
    tier : {"primary", "secondary"}, optional
        Roll labels up Parrott's tree first (``workbench.taxonomy.roll_up``).
    C : float, default 1.0
        Inverse L2 regularisation strength (scikit-learn's meaning).
    max_iter : int, default 100
        L-BFGS iterations per chunk of layers.
    seed : int, default 0
        Shuffles the folds, the labels of the null and the resamples.
    device : {"auto", "cpu", "cuda", ...}
        Where the probes are trained.
    progress : bool, default True
        Show a progress bar over chunks of layers.
    n_permutations : int, default 0
        Label-permutation null: the probes are refitted on the same folds
        with the labels shuffled this many times (within each group when the
        folds are grouped: :func:`~workbench.geometry.directions.heldout.permuted_codes`
        says why) and scored against the shuffled labels. All shuffles are
        one batched fit with the real one's features (extra output columns),
        so 100 shuffles cost far less than 100 sweeps. The observed columns
        are fitted apart from them and do not change when a null is asked.
    n_bootstrap : int, default 0
        Percentile interval of accuracy and macro-F1 from resampling the
        out-of-fold predictions (whole groups when the folds are grouped);
        nothing is refitted. The interval is around the pooled out-of-fold
        score, which differs from ``accuracy`` (the mean over folds) by at
        most the effect of unequal fold sizes.
    level : float, default 0.95
        Level of the bootstrap interval.

    Returns
    -------
    DataFrame with one row per layer
        Columns ``layer, accuracy, accuracy_std, macro_f1, macro_f1_std,
        chance_majority, chance_uniform, n_samples, n_classes, folds, groups``.
        ``chance_majority`` is the share of the most frequent label (what
        always guessing it scores); ``chance_uniform`` is ``1 / n_classes``.
        With ``n_permutations`` or ``n_bootstrap``, as in
        :func:`workbench.compare`, the accuracy's ``ci_low, ci_high,
        null_mean, null_q95, p_value`` (:data:`~workbench.geometry.uncertainty.COLUMNS`),
        ``macro_f1_ci_low, macro_f1_ci_high`` and ``n_permutations,
        n_bootstrap`` are added, NaN for the part not asked; without either
        they are absent. ``frame.attrs`` records the settings.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from workbench import LayerStack
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["a", "b"], 20)
    >>> layers = {k: rng.normal(size=(40, 5)) + k * (y == "a")[:, None] for k in range(3)}
    >>> sweep = probe_sweep(LayerStack(layers, meta=pd.DataFrame({"label": y})), by="label", progress=False)
    >>> sweep["layer"].tolist(), bool(sweep["accuracy"].iloc[2] > 0.9)
    ([0, 1, 2], True)
    >>> tested = probe_sweep(LayerStack(layers, meta=pd.DataFrame({"label": y})), by="label", progress=False,
    ...                      n_permutations=19, n_bootstrap=200)
    >>> bool(tested["p_value"].iloc[2] == 0.05 and tested["ci_low"].iloc[2] > tested["null_q95"].iloc[2])
    True
    """
    from tqdm.auto import tqdm

    n_permutations = check_int(n_permutations, "n_permutations", minimum=0)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=0)
    stack = data if isinstance(data, LayerStack) else LayerStack({data.provenance.get("layer", 0): data})
    labels = resolve_labels(stack, by, tier=tier)
    classes, codes = label_codes(labels)
    group_values, group_name = resolve_groups(stack, groups)
    tests = cv_folds(codes, group_values, cv, seed)
    device = resolve_device(device)

    n, n_classes, n_folds = stack.n, len(classes), len(tests)
    test = torch.zeros(n_folds, n, dtype=torch.bool)
    for f, rows in enumerate(tests):
        test[f, torch.as_tensor(rows)] = True
    test = test.to(device)
    codes_t = torch.as_tensor(codes, device=device)
    fold_of_row = test.float().argmax(dim=0)  # every row is in exactly one test fold
    shuffled = None
    if n_permutations:
        shuffled = torch.as_tensor(permuted_codes(codes, n_permutations, groups=group_values, seed=seed), device=device)

    rows = []
    chunks = _layer_chunks(stack, n_folds * (1 + n_permutations), n_classes, device)
    for chunk in tqdm(chunks, desc="probe sweep", disable=not progress):
        X = torch.stack([stack[key].vectors for key in chunk]).to(device)
        pred = _predict_folds(X, codes_t, test, n_classes=n_classes, C=C, max_iter=max_iter)  # (L, F, N)
        with torch.no_grad():
            correct = ((pred == codes_t) & test).sum(dim=2) / test.sum(dim=1)
            f1 = _macro_f1(pred, codes_t, test, n_classes)
            out_of_fold = pred.gather(1, fold_of_row.expand(len(chunk), 1, n)).squeeze(1)  # (L, N)
        null = boot = None
        if shuffled is not None:
            null_pred = _predict_folds(X, shuffled, test, n_classes=n_classes, C=C, max_iter=max_iter)  # (L, P, F, N)
            null = (((null_pred == shuffled[None, :, None, :]) & test).sum(dim=3) / test.sum(dim=1)).mean(dim=2)
        if n_bootstrap:
            boot = bootstrap_scores(out_of_fold, codes_t, n_classes, n_bootstrap, groups=group_values, seed=seed + 1)
        for i, key in enumerate(chunk):
            row = {
                "layer": key,
                "accuracy": float(correct[i].mean()),
                "accuracy_std": float(correct[i].std()) if n_folds > 1 else 0.0,
                "macro_f1": float(f1[i].mean()),
                "macro_f1_std": float(f1[i].std()) if n_folds > 1 else 0.0,
            }
            if n_permutations or n_bootstrap:
                row.update(uncertainty_columns(
                    row["accuracy"], null=None if null is None else null[i], level=level,
                    bootstrap=None if boot is None else boot[0][i],
                ))
                f1_interval = uncertainty_columns(
                    row["macro_f1"], null=None, bootstrap=None if boot is None else boot[1][i], level=level,
                )
                row.update(macro_f1_ci_low=f1_interval["ci_low"], macro_f1_ci_high=f1_interval["ci_high"])
            rows.append(row)
        del X, pred
    frame = pd.DataFrame(rows)
    counts = np.bincount(codes)
    frame["chance_majority"] = counts.max() / n
    frame["chance_uniform"] = 1.0 / n_classes
    frame["n_samples"] = n
    frame["n_classes"] = n_classes
    frame["folds"] = n_folds
    frame["groups"] = group_name or "none"
    if n_permutations or n_bootstrap:
        frame["n_permutations"] = n_permutations
        frame["n_bootstrap"] = n_bootstrap
    frame.attrs.update(
        by=by if isinstance(by, str) else "array", tier=tier, cv=cv, C=C, seed=seed, level=level,
        classes=[str(c) for c in classes], device=str(device),
    )
    return frame


def _predict_folds(X: torch.Tensor, codes: torch.Tensor, test: torch.Tensor, **options) -> torch.Tensor:
    """Fit on each fold's training rows and predict every row: (L, F, N), or (L, P, F, N) for (P, N) codes."""
    coef, intercept = fit_logistic(X, codes, (~test).float(), **options)
    with torch.no_grad():
        if codes.ndim == 1:
            return (torch.einsum("lnd,lfdk->lfnk", X.to(coef.dtype), coef) + intercept[:, :, None, :]).argmax(-1)
        return (torch.einsum("lnd,lpfdk->lpfnk", X.to(coef.dtype), coef) + intercept[:, :, :, None, :]).argmax(-1)


def plot_probe_sweep(sweeps: pd.DataFrame | Mapping[str, pd.DataFrame], *, title: str | None = None):
    """A plotly Figure of probe accuracy and macro-F1 over layers, with chance levels.

    Parameters
    ----------
    sweeps : DataFrame or dict of name -> DataFrame
        What :func:`probe_sweep` returned; several (e.g. two models, or
        grouped vs stratified folds) are drawn side by side.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Lines with a band (the bootstrap interval when the sweep has one,
        else +/- one standard deviation over folds), a dashed line at the
        majority-class chance level, a dotted line at the permutation null's
        95th percentile when the sweep has a null (what an accuracy must beat)
        and a marker on each curve's best layer.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    if isinstance(sweeps, pd.DataFrame):
        sweeps = {"": sweeps}
    fig = go.Figure()
    palette = qualitative.Plotly
    for i, (name, frame) in enumerate(sweeps.items()):
        x = [str(layer) for layer in frame["layer"]]
        for metric, dash in (("accuracy", "solid"), ("macro_f1", "dot")):
            color = palette[(2 * i + (metric == "macro_f1")) % len(palette)]
            label = f"{name} {metric.replace('_', '-')}".strip()
            mean, low, high = _band(frame, metric)
            fig.add_trace(go.Scatter(
                x=x + x[::-1], y=np.r_[high, low[::-1]], fill="toself", line=dict(width=0),
                fillcolor=color, opacity=0.15, hoverinfo="skip", showlegend=False, legendgroup=label,
            ))
            fig.add_trace(go.Scatter(
                x=x, y=mean, mode="lines+markers", name=label, legendgroup=label,
                line=dict(color=color, dash=dash),
                hovertemplate=f"layer %{{x}}<br>{metric} %{{y:.3f}}<extra>{name}</extra>",
            ))
            best = int(np.argmax(mean))
            fig.add_trace(go.Scatter(
                x=[x[best]], y=[mean[best]], mode="markers", marker=dict(size=13, symbol="star", color=color),
                name=f"best: layer {x[best]}", legendgroup=label, showlegend=False,
                hovertemplate=f"best layer %{{x}}: %{{y:.3f}}<extra>{label}</extra>",
            ))
        if "null_q95" in frame and frame["null_q95"].notna().any():
            fig.add_trace(go.Scatter(
                x=x, y=frame["null_q95"], mode="lines", name=f"{name} shuffled labels, 95th pct".strip(),
                line=dict(color=palette[(2 * i) % len(palette)], dash="dashdot", width=1),
                hovertemplate=f"layer %{{x}}<br>null 95th percentile %{{y:.3f}}<extra>{name}</extra>",
            ))
    for chance in sorted({round(float(frame["chance_majority"].iloc[0]), 6) for frame in sweeps.values()}):
        fig.add_hline(y=chance, line=dict(dash="dash", color="grey"),
                      annotation_text=f"chance (majority) {chance:.2f}", annotation_position="bottom right")
    fig.update_layout(
        title=title or "Linear probe per layer", xaxis_title="layer", yaxis_title="cross-validated score",
        yaxis=dict(range=[0, 1.02]), template="plotly_white", hovermode="x unified",
    )
    return fig


def _band(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(value, low, high)`` of a metric: its bootstrap interval when there is one, else +/- one fold std."""
    mean = frame[metric].to_numpy(dtype=float)
    low_column, high_column = ("ci_low", "ci_high") if metric == "accuracy" else (f"{metric}_ci_low", f"{metric}_ci_high")
    if low_column in frame and frame[low_column].notna().all():
        return mean, frame[low_column].to_numpy(dtype=float), frame[high_column].to_numpy(dtype=float)
    std = frame[f"{metric}_std"].to_numpy(dtype=float)
    return mean, mean - std, mean + std
