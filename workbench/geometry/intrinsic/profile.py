"""Local intrinsic dimension across the layers of a model.

:func:`lid_profile` runs :class:`~workbench.geometry.intrinsic.LocalIntrinsicDimension`
on every layer of a :class:`~workbench.space.LayerStack` and returns one tidy
row per layer (mean, median, spread), the curve "Less is More" (Ruppik et al.
2025) follows across layers and training checkpoints. With
``return_stack=True`` it also returns the stack with one meta column of
per-point values per layer, ``lid_<layer>``, ready to colour a map by.

Columns rather than a dict of arrays, because the stack's meta is what every
view of the workbench colours and filters by, and per-layer columns keep the
values aligned with their rows whatever subset is taken later.

:func:`token_lid` does the same on token-level stacks (``pooling="tokens"``)
with the paper's sampling: a random subset of tokens, duplicates removed
(keeping first occurrences), the first ``max_points`` kept.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd

from workbench._checks import layer_keys
from workbench.geometry.intrinsic.duplicates import unique_rows
from workbench.geometry.intrinsic.local import LocalIntrinsicDimension
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
        Seed of the random draw.
    return_stack : bool, default False
        Also return ``stack`` with a meta column ``lid_<layer>`` per layer
        (NaN for rows not estimated).
    progress : bool, default True
        A progress bar over layers.
    **options
        Passed to :class:`LocalIntrinsicDimension` (``estimator``,
        ``discard_fraction``, ``duplicates``, ``device``...).

    Returns
    -------
    profile : DataFrame with one row per layer
        Columns ``layer``, ``mean``, ``median``, ``std`` (over points with a
        defined estimate), ``n`` (how many) and ``n_duplicates`` (rows that
        repeat another: removed by ``dedupe`` among the sampled rows, or
        merged by the estimator).
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
        summaries.append(_summary(key, lid, removed + estimator.n_duplicates_))
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
        As in :func:`lid_profile`.

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
