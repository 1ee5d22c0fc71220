"""Valence and arousal axes: do a layer's emotion directions line up with human ratings?

The 2026 emotion-concept studies of language models take the mean-centred
emotion vectors of a layer, find their principal axes, and correlate each
emotion's coordinate on an axis with human valence / arousal ratings: on
large models the first axis tracks valence (r ~ 0.8) and the second arousal
(r ~ 0.66). :func:`affect_axes` does the same for any fitted
:class:`~workbench.geometry.directions.direction_set.DirectionSet`, against the NRC-VAD
coordinates that :func:`workbench.taxonomy.vad` carries, with two controls:

- **label permutation**: the ratings shuffled among the emotions, every
  permutation when there are at most 8 emotions (an exact test), else
  ``n_random`` of them. With 7 emotions a correlation needs |r| of about
  0.75 to pass at 5 %; few points make large correlations cheap.
- **random directions**: the emotion vectors projected on ``n_random``
  random unit directions of the layer and correlated the same way; a
  principal axis that does no better than a random direction says little.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import torch

from workbench import taxonomy
from workbench.geometry.directions.direction_set import DirectionSet

__all__ = ["affect_axes", "AFFECT_DIMENSIONS"]

AFFECT_DIMENSIONS = ("valence", "arousal", "dominance")
_EXACT_UP_TO = 8  # 8! = 40 320 permutations: cheap enough to enumerate


def _ratings(labels: tuple) -> np.ndarray:
    rows = []
    for label in labels:
        try:
            rows.append(taxonomy.vad(str(label)))
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"no valence/arousal rating for the label {label!r}: affect_axes needs labels that "
                f"workbench.taxonomy.vad knows (Ekman's six, Parrott's tree, neutral); {exc}"
            ) from None
    return np.asarray(rows, dtype=np.float64)


def _correlations(scores: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """Pearson r of every score column with every rating column: (..., n_scores, n_ratings)."""
    s = scores - scores.mean(-2, keepdims=True)
    r = ratings - ratings.mean(-2, keepdims=True)
    s = s / np.linalg.norm(s, axis=-2, keepdims=True)
    r = r / np.linalg.norm(r, axis=-2, keepdims=True)
    return np.swapaxes(s, -1, -2) @ r


def affect_axes(
    directions: DirectionSet,
    *,
    n_components: int = 3,
    n_random: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Principal axes of one layer's emotion directions and their agreement with valence / arousal / dominance.

    Parameters
    ----------
    directions : DirectionSet
        One layer's fitted directions (``Directions().fit(...).direction_set(layer)``).
        Their unit vectors are centred over the emotions before the PCA.
    n_components : int, default 3
        Principal axes to report (at most one fewer than the emotions).
    n_random : int, default 2000
        Random unit directions for the random-direction control, and label
        permutations when there are more than 8 emotions.
    seed : int, default 0

    Returns
    -------
    DataFrame with one row per (axis, rating dimension) and columns
    ``axis`` (1-based), ``explained_variance`` (share of the centred
    vectors' variance), ``dimension`` (valence / arousal / dominance), ``r``
    (Pearson, the axis oriented so that its strongest correlation is
    positive), ``null_mean`` and ``null_q95`` of |r| under label
    permutation, ``p_value`` (two-sided, permutation), ``random_q95``
    (95th percentile of |r| for random directions) and ``beats_random``.

    Examples
    --------
    >>> import torch
    >>> from workbench.geometry.directions import Directions, affect_axes
    >>> import workbench as wb
    >>> g = torch.Generator().manual_seed(0)
    >>> labels = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]
    >>> valence = torch.tensor([wb.taxonomy.vad(e)[0] for e in labels])
    >>> centres = torch.randn(6, 16, generator=g) * 0.2
    >>> centres[:, 0] += 5 * valence  # a valence axis planted in the first coordinate
    >>> X = centres.repeat_interleave(30, 0) + 0.1 * torch.randn(180, 16, generator=g)
    >>> y = [e for e in labels for _ in range(30)]
    >>> table = affect_axes(Directions(method="diffmean").fit(X, y).direction_set())
    >>> row = table[(table.axis == 1) & (table.dimension == "valence")].iloc[0]
    >>> bool(row.r > 0.9 and row.p_value < 0.05)
    True
    """
    if not isinstance(directions, DirectionSet):
        raise TypeError(
            f"directions must be a DirectionSet (Directions().fit(...).direction_set(layer)); got {type(directions).__name__}"
        )
    labels = directions.labels
    n = len(labels)
    if n < 4:
        raise ValueError(f"affect axes need at least 4 emotions to correlate; the set has {n}: {list(labels)}")
    if not 1 <= n_components <= n - 1:
        raise ValueError(f"n_components must be between 1 and {n - 1} (one fewer than the {n} emotions); got {n_components}")
    ratings = _ratings(labels)

    vectors = directions.unit.to(torch.float64).cpu().numpy()
    centred = vectors - vectors.mean(0, keepdims=True)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    share = s**2 / (s**2).sum()
    scores = u[:, :n_components] * s[:n_components]
    r = _correlations(scores, ratings)  # (n_components, 3)
    orient = np.sign(r[np.arange(n_components), np.abs(r).argmax(1)])
    r = r * orient[:, None]

    rng = np.random.default_rng(seed)
    if n <= _EXACT_UP_TO:
        orders = np.asarray(list(itertools.permutations(range(n))))
    else:
        orders = np.stack([rng.permutation(n) for _ in range(n_random)])
    null = np.abs(_correlations(scores[None], ratings[orders]))  # (n_perm, n_components, 3)
    random_dirs = rng.normal(size=(n_random, vectors.shape[1]))
    random_dirs /= np.linalg.norm(random_dirs, axis=1, keepdims=True)
    random_r = np.abs(_correlations(centred @ random_dirs.T, ratings))  # (n_random, 3)

    rows = []
    for axis in range(n_components):
        for j, dimension in enumerate(AFFECT_DIMENSIONS):
            observed = abs(r[axis, j])
            random_q95 = float(np.quantile(random_r[:, j], 0.95))
            rows.append(
                {
                    "axis": axis + 1,
                    "explained_variance": float(share[axis]),
                    "dimension": dimension,
                    "r": float(r[axis, j]),
                    "null_mean": float(null[:, axis, j].mean()),
                    "null_q95": float(np.quantile(null[:, axis, j], 0.95)),
                    # every permutation includes the identity, so the exact p-value is never 0
                    "p_value": float((null[:, axis, j] >= observed - 1e-12).mean()),
                    "random_q95": random_q95,
                    "beats_random": bool(observed > random_q95),
                }
            )
    table = pd.DataFrame(rows)
    table.attrs.update(layer=directions.layer, labels=list(labels), n_permutations=len(orders), exact=n <= _EXACT_UP_TO)
    if any(math.isnan(v) for v in table["r"]):
        raise ValueError("a principal axis gives every emotion the same score, so it has no correlation; fit more distinct directions")
    return table
