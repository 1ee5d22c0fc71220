"""The registry of similarity measures, and :func:`similarity`: one measure with its null and interval."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from workbench._checks import Data
from workbench.device import resolve_device
from workbench.geometry.similarity.cca import pwcca, svcca
from workbench.geometry.similarity.geometry_of_distances import procrustes_distance, rsa
from workbench.geometry.similarity.kernel import _cka_null, cka_debiased, linear_cka
from workbench.geometry.similarity.matched import Metric, pair
from workbench.geometry.similarity.mutual_knn import _graphs, _mutual_knn_null, _overlap, mutual_knn
from workbench.geometry.uncertainty import Estimate, bootstrap_indices, estimate, permutations

__all__ = ["MEASURES", "Measure", "similarity"]


@dataclass(frozen=True)
class Measure:
    """A registered similarity measure.

    Attributes
    ----------
    name : str
    function : callable ``(x, y, **options) -> float``
    higher_is_closer : bool
        False for distances (then the permutation p-value is one-sided
        towards smaller values).
    reference : str
    """

    name: str
    function: Callable[..., float]
    higher_is_closer: bool
    reference: str


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("mutual_knn", mutual_knn, True, "Huh et al., The Platonic Representation Hypothesis, ICML 2024"),
        Measure("cka", linear_cka, True, "Kornblith et al., ICML 2019 (biased upwards at small N / high D)"),
        Measure("cka_debiased", cka_debiased, True, "Song et al. 2012 (unbiased HSIC); Kornblith et al., ICML 2019"),
        Measure("svcca", svcca, True, "Raghu et al., SVCCA, NeurIPS 2017"),
        Measure("pwcca", pwcca, True, "Morcos et al., Insights on representational similarity, NeurIPS 2018"),
        Measure("rsa", rsa, True, "Kriegeskorte et al., Representational similarity analysis, 2008"),
        Measure("procrustes", procrustes_distance, False, "Ding et al., Grounding representation similarity, NeurIPS 2021"),
    )
}


def similarity(
    x: Data,
    y: Data,
    measure: str = "mutual_knn",
    *,
    k: int = 10,
    metric: Metric = "cosine",
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    level: float = 0.95,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> Estimate:
    """One similarity measure with its permutation null and bootstrap interval.

    Parameters
    ----------
    x : LatentSpace, tensor or array of shape (n_samples, n_features_x)
    y : LatentSpace, tensor or array of shape (n_samples, n_features_y)
        Row ``i`` is the same sample in both.
    measure : str, default "mutual_knn"
        A key of :data:`MEASURES`.
    k : int, default 10
        Neighbours, for ``"mutual_knn"``.
    metric : {"cosine", "euclidean"}, default "cosine"
        Neighbour metric for ``"mutual_knn"``; distance for ``"rsa"``.
    n_permutations : int, default 0
        Rows of ``y`` shuffled this many times to give ``null_mean``,
        ``null_q95`` and ``p_value``.
    n_bootstrap : int, default 0
        Resamples for ``ci_low`` / ``ci_high``. For ``"mutual_knn"`` the
        per-row agreements are resampled (the graphs stay those of the full
        data, since a resample with repeated rows would make copies each
        other's nearest neighbours); for the others the rows are.
    level : float, default 0.95
    seed : int, default 0
    device : {"auto", "cpu", "cuda", ...}, default "auto"

    Returns
    -------
    Estimate

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(300, 16, generator=g)
    >>> e = similarity(x, x + 0.1 * torch.randn(300, 16, generator=g), "cka_debiased", n_permutations=99, device="cpu")
    >>> e.value > 0.9, e.p_value
    (True, 0.01)
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {sorted(MEASURES)}")
    spec = MEASURES[measure]
    where = resolve_device(device)
    a, b = pair(x, y, where)
    n = a.shape[0]
    options = _options(measure, k=k, metric=metric, seed=seed)
    null = boot = None
    if measure == "mutual_knn":
        sorted_a, b_idx = _graphs(a, b, k, metric, where)
        return mutual_knn_estimate(sorted_a, b_idx, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
                                   level=level, seed=seed)  # fmt: skip
    else:
        value = spec.function(a, b, **options)
        if n_permutations:
            perms = permutations(n, n_permutations, seed=seed, device=where)
            if measure == "cka_debiased":
                null = _cka_null(a, b, perms)
            else:
                null = [spec.function(a, b[p], **options) for p in perms]
        if n_bootstrap:
            boot = [_or_nan(spec.function, a[i], b[i], options) for i in bootstrap_indices(n, n_bootstrap, seed=seed + 1, device=where)]
    return estimate(value, null=null, bootstrap=boot, level=level, alternative="greater" if spec.higher_is_closer else "less")


def mutual_knn_estimate(
    sorted_a: torch.Tensor,
    b_idx: torch.Tensor,
    *,
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Mutual-kNN alignment, null and interval from two neighbour graphs already searched.

    ``sorted_a`` holds each row's ``k`` neighbours in x sorted by index,
    ``b_idx`` its neighbours in y, both of shape (n_samples, k) and on one
    device. Shuffling y's rows only relabels its graph, so many comparisons
    (every pair of layers) can share the searches.
    """
    n, k = b_idx.shape
    rows = _overlap(sorted_a, b_idx)
    null = boot = None
    if n_permutations:
        perms = permutations(n, n_permutations, seed=seed, device=b_idx.device)
        null = _mutual_knn_null(sorted_a, b_idx, perms, chunk=max(1, (1 << 26) // (n * k * k)))
    if n_bootstrap:
        boot = [float(rows[i].mean()) for i in bootstrap_indices(n, n_bootstrap, seed=seed + 1, device=b_idx.device)]
    return estimate(float(rows.mean()), null=null, bootstrap=boot, level=level, alternative="greater")


def _options(measure: str, *, k: int, metric: Metric, seed: int) -> dict:
    if measure == "mutual_knn":
        return {"k": k, "metric": metric}
    if measure == "rsa":
        return {"metric": metric, "seed": seed}
    return {}


def _or_nan(function: Callable[..., float], a: torch.Tensor, b: torch.Tensor, options: dict) -> float:
    # A resample can make a measure undefined (e.g. too few distinct rows for
    # CCA); it then counts as missing rather than stopping the whole interval.
    try:
        return function(a, b, **options)
    except ValueError:
        return math.nan
