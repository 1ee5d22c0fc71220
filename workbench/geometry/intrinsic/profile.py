"""Local intrinsic dimension across the layers of a model.

:func:`lid_profile` runs :class:`~workbench.geometry.intrinsic.LocalIntrinsicDimension`
on every layer of a :class:`~workbench.space.LayerStack` and returns one tidy
row per layer (mean, median, spread), the curve "Less is More" (Ruppik et al.
2025) follows across layers and training checkpoints. With
``return_stack=True`` it also returns the stack with one meta column of
per-point values per layer, ``lid_<layer>``, ready to colour a map by.

With ``n_bootstrap`` and ``n_permutations`` every layer's mean LID also gets
an interval and a null, in the columns every uncertainty-aware table of the
workbench uses (:data:`~workbench.geometry.uncertainty.COLUMNS`):

- **interval** (``ci_low``, ``ci_high``): from half-samples, not from
  resampling per-point values. Per-point LIDs share most of their neighbours,
  so resampling them as if independent gives intervals 4-12x too narrow
  (measured: the mean LID of 700 Gaussian points in 5-D varies by 0.16-0.23
  from one draw of the data to the next, a row bootstrap of the per-point
  values says 0.02-0.04). Resampling rows *with* replacement is no way out:
  the copies it makes have ``r1 = 0``, which TwoNN cannot use. So each
  replicate re-estimates on a random half of the rows (or of the ``groups``)
  without replacement; for a statistic whose variance falls like ``1 / n``,
  the spread of half-sample estimates equals the spread of the full-sample
  estimate (the delete-``n/2`` jackknife, Shao & Wu 1989). The replicates are
  centred on the full-data value before the percentiles are taken, because a
  half-sample sees coarser neighbourhoods and reads a slightly different
  LID. Measured on Gaussian data the interval is conservative, about 1.3x
  wider than the true spread.
- **null** (``null_mean``, ``null_q95``, ``p_value``): the same estimate after
  every feature column is permuted on its own, which keeps each coordinate's
  distribution and destroys the joint structure (the manifold). The
  ``p_value`` is one-sided, for the alternative that the layer's mean LID is
  *lower* than this structureless baseline; ``null_q95`` is then the null's
  5th percentile, the value a layer has to fall below.

Columns rather than a dict of arrays, because the stack's meta is what every
view of the workbench colours and filters by, and per-layer columns keep the
values aligned with their rows whatever subset is taken later.

:func:`token_lid` does the same on token-level stacks (``pooling="tokens"``)
with the paper's sampling: a random subset of tokens, duplicates removed
(keeping first occurrences), the first ``max_points`` kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
import torch

from workbench._checks import check_int, layer_keys
from workbench.geometry.intrinsic.duplicates import unique_rows
from workbench.geometry.intrinsic.local import LocalIntrinsicDimension
from workbench.geometry.uncertainty import COLUMNS, estimate, half_samples, permutations
from workbench.space import LatentSpace, LayerStack

__all__ = ["lid_profile", "token_lid"]

LayerKey = Union[int, str]
_TOKEN_COLUMNS = ("sample_id", "token")


def _as_stack(data: LayerStack | LatentSpace) -> LayerStack:
    if isinstance(data, LayerStack):
        return data
    if isinstance(data, LatentSpace):
        layer = data.provenance.get("layer", 0)
        key = layer if isinstance(layer, (int, str)) and not isinstance(layer, bool) else 0
        return LayerStack({key: data}, name=data.name, provenance=data.provenance)
    raise TypeError(f"expected a LayerStack or a LatentSpace; got {type(data).__name__}")


def _summary(layer: LayerKey, lid: np.ndarray, n_duplicates: int) -> dict[str, Any]:
    finite = lid[np.isfinite(lid)]
    return {
        "layer": layer,
        "mean": float(finite.mean()) if len(finite) else np.nan,
        "median": float(np.median(finite)) if len(finite) else np.nan,
        "std": float(finite.std()) if len(finite) else np.nan,
        "n": int(len(finite)),
        "n_duplicates": int(n_duplicates),
    }


def _permute_columns(vectors: torch.Tensor, seed: int) -> torch.Tensor:
    """``vectors`` with every column shuffled on its own: the marginals stay, the joint structure goes."""
    order = permutations(vectors.shape[0], vectors.shape[1], seed=seed, device=vectors.device)
    return vectors.gather(0, order.T)


def _mean_lid(vectors: torch.Tensor, n_neighbors: int, options: dict[str, Any]) -> float:
    # replicates repeat the warnings (k against N, duplicates) the full fit already gave
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lid = LocalIntrinsicDimension(n_neighbors=n_neighbors, **options).fit(vectors).lid_
    finite = lid[np.isfinite(lid)]
    return float(finite.mean()) if len(finite) else np.nan


def _uncertainty(
    vectors: torch.Tensor,
    value: float,
    *,
    n_neighbors: int,
    options: dict[str, Any],
    n_bootstrap: int,
    n_permutations: int,
    groups: np.ndarray | None,
    seed: int,
    level: float,
) -> dict[str, float]:
    """Half-sample interval and column-permutation null of one layer's mean LID."""
    boot = None
    if n_bootstrap:
        halves = half_samples(len(vectors), n_bootstrap, seed=seed, groups=groups)
        smallest = min(len(h) for h in halves)
        if smallest <= n_neighbors:
            raise ValueError(
                f"n_bootstrap re-estimates on half of the rows{' (groups)' if groups is not None else ''}; a half "
                f"of {smallest} rows cannot hold n_neighbors={n_neighbors} neighbours. Use a smaller "
                "n_neighbors, more rows, or n_bootstrap=0"
            )
        replicates = np.array([_mean_lid(vectors[torch.as_tensor(h)], n_neighbors, options) for h in halves])
        # centred on the full-data value: a half-sample reads coarser neighbourhoods
        boot = value + replicates - np.nanmean(replicates)
    null = None
    if n_permutations:
        seeds = np.random.SeedSequence(seed).generate_state(n_permutations)
        null = [_mean_lid(_permute_columns(vectors, int(s)), n_neighbors, options) for s in seeds]
    result = estimate(value, null=null, bootstrap=boot, level=level, alternative="less")
    return {name: getattr(result, name) for name in COLUMNS}


def _layer_groups(stack: LayerStack, groups: str | Sequence | np.ndarray | None) -> np.ndarray | None:
    if groups is None:
        return None
    if isinstance(groups, str):
        if groups not in stack.meta.columns:
            raise KeyError(f"groups={groups!r} is not a meta column; the stack has {list(stack.meta.columns)}")
        return stack.meta[groups].to_numpy()
    values = np.asarray(groups, dtype=object)
    if values.shape != (stack.n,):
        raise ValueError(f"groups must hold one value per row of the stack ({stack.n}); got shape {values.shape}")
    return values


def lid_profile(
    stack: LayerStack | LatentSpace,
    *,
    n_neighbors: int = 128,
    layers: Sequence[LayerKey] | None = None,
    sample: int | None = None,
    dedupe: bool = False,
    max_points: int | None = None,
    seed: int = 0,
    return_stack: bool = False,
    progress: bool = True,
    n_bootstrap: int = 0,
    n_permutations: int = 0,
    groups: str | Sequence | np.ndarray | None = None,
    level: float = 0.95,
    **options: Any,
) -> pd.DataFrame | tuple[pd.DataFrame, LayerStack]:
    """Mean, median and spread of the local intrinsic dimension, layer by layer.

    Parameters
    ----------
    stack : LayerStack or LatentSpace
        A LatentSpace counts as a stack of one layer.
    n_neighbors : int, default 128
        Neighbourhood size ``L`` (the paper's value).
    layers : sequence of layer keys, optional
        Which layers; all by default.
    sample : int, optional
        Estimate on this many rows drawn at random (the same rows in every
        layer, so layers stay comparable); all rows by default.
    dedupe : bool, default False
        Remove repeated rows of each layer *before* ``max_points`` truncates
        (first occurrences in the random order are kept), as the paper does.
        Without it, copies are left to the estimator's ``duplicates`` policy.
    max_points : int, optional
        Keep at most this many of the (sampled, deduplicated) rows.
    seed : int, default 0
        Seed of the random draw, the half-samples and the permutations.
    return_stack : bool, default False
        Also return ``stack`` with a meta column ``lid_<layer>`` per layer
        (NaN for rows not estimated).
    progress : bool, default True
        A progress bar over layers.
    n_bootstrap : int, default 0
        Half-samples for the interval of each layer's mean (``ci_low``,
        ``ci_high``; see the module's notes for why halves). Each costs one
        estimate on half the rows; 50-200 is usual.
    n_permutations : int, default 0
        Column-permuted copies of each layer for the null (``null_mean``,
        ``null_q95``, ``p_value`` for "the mean LID is lower than without
        structure"). Each costs one estimate on all the rows; with ``n``
        permutations the smallest p-value is ``1 / (n + 1)``.
    groups : str, or array-like of shape (n_samples,), optional
        Meta column (or values) of rows that are not independent, e.g. the
        sentence a token comes from; the half-samples then draw whole groups.
    level : float, default 0.95
        Coverage of the interval.
    **options
        Passed to :class:`LocalIntrinsicDimension` (``estimator``,
        ``discard_fraction``, ``duplicates``, ``device``...).

    Returns
    -------
    profile : DataFrame with one row per layer
        Columns ``layer``, ``mean``, ``median``, ``std`` (over points with a
        defined estimate), ``n`` (how many) and ``n_duplicates`` (rows that
        repeat another: removed by ``dedupe`` among the sampled rows, or
        merged by the estimator). With ``n_bootstrap`` or
        ``n_permutations``, also ``ci_low``, ``ci_high``, ``null_mean``,
        ``null_q95``, ``p_value`` (NaN for the part not asked for),
        ``n_bootstrap`` and ``n_permutations``.
    stack : LayerStack, only with ``return_stack=True``

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> meta = pd.DataFrame({"id": range(400)})
    >>> stack = LayerStack({0: rng.normal(size=(400, 3)) @ rng.normal(size=(3, 16)),
    ...                     1: rng.normal(size=(400, 8)) @ rng.normal(size=(8, 16))}, meta=meta)
    >>> profile = lid_profile(stack, n_neighbors=50, progress=False)
    >>> profile["layer"].tolist(), bool(profile["mean"][0] < profile["mean"][1])
    ([0, 1], True)
    >>> tested = lid_profile(stack, n_neighbors=50, layers=[0], n_bootstrap=20, n_permutations=9, progress=False)
    >>> bool(tested["ci_low"][0] < tested["mean"][0] < tested["ci_high"][0]), float(tested["p_value"][0])
    (True, 0.1)
    """
    stack = _as_stack(stack)
    keys = layer_keys(layers, stack.layers)  # a string is one key, never its characters
    rows = np.arange(stack.n)
    if sample is not None:
        if not 0 < sample:
            raise ValueError(f"sample must be a positive number of rows; got {sample}")
        rows = np.random.default_rng(seed).permutation(stack.n)[: int(sample)]
    if max_points is not None and max_points < 1:
        raise ValueError(f"max_points must be positive; got {max_points}")
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=0)
    n_permutations = check_int(n_permutations, "n_permutations", minimum=0)
    group_values = _layer_groups(stack, groups)
    summaries, columns = [], {}
    iterator = keys
    if progress and len(keys) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(keys, desc="LID per layer", unit="layer")
    for key in iterator:
        vectors = stack[key].vectors
        used = rows
        if dedupe:
            used = rows[unique_rows(vectors[rows]).keep]
        removed = len(rows) - len(used)
        if max_points is not None:
            used = used[: int(max_points)]
        estimator = LocalIntrinsicDimension(n_neighbors=n_neighbors, **options)
        try:
            lid = estimator.fit(vectors[used]).lid_
        except ValueError as exc:
            raise ValueError(f"layer {key!r}: {exc}") from exc
        summary = _summary(key, lid, removed + estimator.n_duplicates_)
        if n_bootstrap or n_permutations:
            try:
                summary.update(
                    _uncertainty(
                        vectors[used],
                        summary["mean"],
                        n_neighbors=n_neighbors,
                        options=options,
                        n_bootstrap=n_bootstrap,
                        n_permutations=n_permutations,
                        groups=None if group_values is None else group_values[used],
                        seed=seed,
                        level=level,
                    ),
                    n_bootstrap=n_bootstrap,
                    n_permutations=n_permutations,
                )
            except ValueError as exc:
                raise ValueError(f"layer {key!r}: {exc}") from exc
        summaries.append(summary)
        column = np.full(stack.n, np.nan)
        column[used] = lid
        columns[f"lid_{key}"] = column
    profile = pd.DataFrame(summaries)
    if return_stack:
        return profile, stack.assign(**columns)
    return profile


def token_lid(
    stack: LayerStack | LatentSpace,
    *,
    n_tokens: int | None = 150_000,
    max_points: int | None = 60_000,
    dedupe: bool = True,
    skip_tokens: Collection[str] = (),
    n_neighbors: int = 128,
    layers: Sequence[LayerKey] | None = None,
    seed: int = 0,
    return_stack: bool = False,
    progress: bool = True,
    **options: Any,
) -> pd.DataFrame | tuple[pd.DataFrame, LayerStack]:
    """Token-level local intrinsic dimension per layer, sampled as in "Less is More".

    The paper draws 150 000 random tokens (padding and end-of-sequence
    removed), removes duplicate vectors with ``np.unique`` keeping the first
    occurrences in order, keeps the first 60 000 and estimates with
    ``L = 128``. Those are the defaults here; on a small corpus every token
    is used.

    Parameters
    ----------
    stack : LayerStack or LatentSpace
        Token-level vectors, one row per token, as ``encode(...,
        pooling="tokens")`` gives them (meta columns ``sample_id`` and
        ``token``).
    n_tokens : int or None, default 150_000
        Size of the random subset of tokens; None for all.
    max_points : int or None, default 60_000
        Keep at most this many tokens after deduplication.
    dedupe : bool, default True
        Remove repeated vectors (per layer) before truncating.
    skip_tokens : collection of str
        Token strings to leave out (e.g. ``{"[CLS]", "[SEP]", "[PAD]"}``).
    n_neighbors, layers, seed, return_stack, progress, **options
        As in :func:`lid_profile`, including its interval and null
        (``n_bootstrap``, ``n_permutations``; pass ``groups="sample_id"``
        so that half-samples draw whole sentences).

    Returns
    -------
    As :func:`lid_profile`.
    """
    stack = _as_stack(stack)
    missing = [column for column in _TOKEN_COLUMNS if column not in stack.meta.columns]
    if missing:
        raise ValueError(
            f"token_lid needs token-level vectors (meta columns {list(_TOKEN_COLUMNS)}; missing {missing}); "
            "encode with pooling='tokens'"
        )
    keep = np.ones(stack.n, dtype=bool)
    if skip_tokens:
        keep = ~np.isin(stack.labels("token"), list(skip_tokens))
    if not keep.any():
        raise ValueError("every token is in skip_tokens; nothing is left to estimate")
    kept = stack if keep.all() else stack.subset(keep)
    result = lid_profile(
        kept,
        n_neighbors=n_neighbors,
        layers=layers,
        # always a random order, so that "the first max_points" is a random subset
        sample=kept.n if n_tokens is None else min(int(n_tokens), kept.n),
        dedupe=dedupe,
        max_points=max_points,
        seed=seed,
        return_stack=return_stack,
        progress=progress,
        **options,
    )
    if not return_stack:
        return result
    profile, estimated = result
    if keep.all():
        return profile, estimated
    columns = {}
    for name in estimated.meta.columns:
        if name.startswith("lid_"):
            column = np.full(stack.n, np.nan)
            column[keep] = estimated.meta[name].to_numpy()
            columns[name] = column
    return profile, stack.assign(**columns)
