"""Uncertainty and null baselines: one vocabulary for every published number.

A number a user may publish (a probe accuracy, a CKA, a mutual-kNN agreement,
a mean LID) comes with two companions:

- its **interval**: a percentile bootstrap interval (``ci_low``, ``ci_high``)
  over the resampled units (rows, or whole groups of rows);
- its **null**: the same statistic recomputed after breaking the link under
  test (shuffled labels, or the rows of one space permuted), summarised as
  ``null_mean``, ``null_q95`` and a permutation ``p_value``.

Every estimator that offers ``n_permutations=`` / ``n_bootstrap=`` reports
them under exactly these names (:data:`COLUMNS`), so tables from probes,
comparisons, directions, shared views and LID line up.

The p-value is ``(1 + #{null >= observed}) / (1 + n_permutations)``
(Phipson & Smyth, 2010): never zero, and exact for a finite number of
permutations, so a statistic with no signal gives p-values uniform on the
grid ``{1/(n+1), ..., 1}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

__all__ = [
    "COLUMNS",
    "Estimate",
    "bootstrap_indices",
    "bootstrap_interval",
    "estimate",
    "half_samples",
    "permutation_p_value",
    "permutations",
]

#: the column names every uncertainty-aware table uses, in this order
COLUMNS = ("ci_low", "ci_high", "null_mean", "null_q95", "p_value")

Alternative = Literal["greater", "less"]


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap interval and its permutation null.

    Fields that were not asked for (no bootstrap, no permutations) are NaN.

    Attributes
    ----------
    value : float
        The statistic on the data as given.
    ci_low, ci_high : float
        Percentile bootstrap interval at ``level``.
    null_mean, null_q95 : float
        Mean and 95th percentile of the statistic under the null (for
        ``alternative="less"``, ``null_q95`` is the 5th percentile: the
        threshold an observed value has to pass).
    p_value : float
        One-sided permutation p-value in the direction of ``alternative``.
    n_bootstrap, n_permutations : int
    level : float
    """

    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    null_mean: float = math.nan
    null_q95: float = math.nan
    p_value: float = math.nan
    n_bootstrap: int = 0
    n_permutations: int = 0
    level: float = 0.95

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain dict (one row of a results table)."""
        return asdict(self)

    @property
    def significant(self) -> bool:
        """True when a permutation null was run and ``p_value < 0.05``."""
        return self.n_permutations > 0 and self.p_value < 0.05


def _generator(seed: int | None, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(0 if seed is None else int(seed))
    return generator


def _check_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0; got {value!r}")
    return int(value)


def permutations(
    n: int, n_permutations: int, *, seed: int | None = 0, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Random permutations of ``range(n)``, one per row.

    Parameters
    ----------
    n : int
        Length of each permutation.
    n_permutations : int
        How many.
    seed : int, default 0
        The same seed gives the same permutations on the same device.
    device : str or torch.device, default "cpu"

    Returns
    -------
    torch.Tensor of shape (n_permutations, n), int64

    Examples
    --------
    >>> p = permutations(5, 3, seed=1)
    >>> p.shape, sorted(p[0].tolist())
    (torch.Size([3, 5]), [0, 1, 2, 3, 4])
    """
    n_permutations = _check_count(n_permutations, "n_permutations")
    device = torch.device(device)
    keys = torch.rand((n_permutations, n), generator=_generator(seed, device), device=device)
    return keys.argsort(dim=1)


def bootstrap_indices(
    n: int,
    n_bootstrap: int,
    *,
    seed: int | None = 0,
    groups: Sequence | np.ndarray | None = None,
    device: str | torch.device = "cpu",
) -> list[torch.Tensor]:
    """Row positions of bootstrap resamples (with replacement).

    Parameters
    ----------
    n : int
        Rows in the data.
    n_bootstrap : int
        Number of resamples.
    seed : int, default 0
    groups : array-like of shape (n,), optional
        Resample whole groups (e.g. the situation a sentence was written
        for) instead of rows, so that rows that are not independent do not
        make the interval too narrow. Resamples then differ in length.
    device : str or torch.device, default "cpu"

    Returns
    -------
    list of torch.Tensor of shape (n,) (or the resampled groups' total length), int64

    Examples
    --------
    >>> [len(b) for b in bootstrap_indices(4, 2, seed=0)]
    [4, 4]
    """
    n_bootstrap = _check_count(n_bootstrap, "n_bootstrap")
    device = torch.device(device)
    generator = _generator(seed, device)
    if groups is None:
        draws = torch.randint(0, n, (n_bootstrap, n), generator=generator, device=device)
        return list(draws)
    codes, uniques = _group_codes(groups, n)
    members = [torch.as_tensor(np.flatnonzero(codes == g), device=device) for g in range(len(uniques))]
    draws = torch.randint(0, len(members), (n_bootstrap, len(members)), generator=generator, device=device)
    return [torch.cat([members[g] for g in row.tolist()]) for row in draws]


def half_samples(n: int, n_samples: int, *, seed: int = 0, groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Random halves of ``range(n)``, drawn without replacement.

    Parameters
    ----------
    n : int
        Rows in the data.
    n_samples : int
        How many halves.
    seed : int, default 0
    groups : array-like of shape (n,), optional
        Draw half of the groups and keep all their rows (resamples then
        differ in length).

    Used where a resample with repeated rows would be wrong (a repeated row
    is its own nearest neighbour, so LID and kNN measures break): the spread
    over halves, centred on the full-data value, gives a conservative
    interval (:func:`workbench.geometry.intrinsic.lid_profile`).

    Returns
    -------
    list of ndarray of int64, each sorted, of length ``n // 2`` without groups

    Examples
    --------
    >>> [len(h) for h in half_samples(9, 3)]
    [4, 4, 4]
    """
    if groups is None:
        return [np.sort(p[: n // 2].numpy()) for p in permutations(n, n_samples, seed=seed)]
    codes, uniques = _group_codes(groups, n)
    drawn = permutations(len(uniques), n_samples, seed=seed)[:, : len(uniques) // 2].numpy()
    return [np.flatnonzero(np.isin(codes, half)) for half in drawn]


def _group_codes(groups: Sequence | np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(groups, dtype=object)
    if values.shape != (n,):
        raise ValueError(f"groups must hold one value per row ({n}); got shape {values.shape}")
    uniques, codes = np.unique(values.astype(str), return_inverse=True)
    if len(uniques) < 2:
        raise ValueError("groups must hold at least two different groups to resample them")
    return codes, uniques


def bootstrap_interval(samples: Sequence[float] | np.ndarray | torch.Tensor, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates.

    Parameters
    ----------
    samples : array-like of shape (n_bootstrap,)
        The statistic recomputed on each resample; NaN replicates (a
        resample on which the statistic is undefined) are ignored.
    level : float, default 0.95

    Returns
    -------
    (low, high) : tuple of float

    Examples
    --------
    >>> low, high = bootstrap_interval(list(range(101)), level=0.9)
    >>> round(low, 6), round(high, 6)
    (5.0, 95.0)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1; got {level!r}")
    values = _finite(samples)
    if values.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def permutation_p_value(
    observed: float, null: Sequence[float] | np.ndarray | torch.Tensor, alternative: Alternative = "greater"
) -> float:
    """One-sided permutation p-value, ``(1 + #extreme) / (1 + n)``.

    Parameters
    ----------
    observed : float
    null : array-like of shape (n_permutations,)
    alternative : {"greater", "less"}, default "greater"
        "greater" when larger values mean more agreement (CKA, accuracy),
        "less" for distances.

    Examples
    --------
    >>> permutation_p_value(0.9, [0.1, 0.2, 0.95])
    0.5
    """
    values = _finite(null)
    if alternative == "greater":
        extreme = int((values >= observed).sum())
    elif alternative == "less":
        extreme = int((values <= observed).sum())
    else:
        raise ValueError(f"alternative must be 'greater' or 'less'; got {alternative!r}")
    return (1 + extreme) / (1 + values.size)


def estimate(
    value: float,
    *,
    null: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    bootstrap: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    level: float = 0.95,
    alternative: Alternative = "greater",
) -> Estimate:
    """Summarise a statistic, its null replicates and its bootstrap replicates.

    Parameters
    ----------
    value : float
        The observed statistic.
    null : array-like of shape (n_permutations,), optional
    bootstrap : array-like of shape (n_bootstrap,), optional
    level : float, default 0.95
    alternative : {"greater", "less"}, default "greater"

    Returns
    -------
    Estimate

    Examples
    --------
    >>> e = estimate(0.8, null=[0.1, 0.2, 0.3], bootstrap=[0.7, 0.8, 0.9])
    >>> round(e.p_value, 2), round(e.null_mean, 2)
    (0.25, 0.2)
    """
    fields: dict = {"value": float(value), "level": level}
    if null is not None:
        values = _finite(null)
        fields.update(
            null_mean=float(values.mean()) if values.size else math.nan,
            null_q95=float(np.quantile(values, 0.95 if alternative == "greater" else 0.05)) if values.size else math.nan,
            p_value=permutation_p_value(value, values, alternative),
            n_permutations=int(np.asarray(null).size),
        )
    if bootstrap is not None:
        low, high = bootstrap_interval(bootstrap, level)
        fields.update(ci_low=low, ci_high=high, n_bootstrap=int(np.asarray(bootstrap).size))
    return Estimate(**fields)


def _finite(values: Sequence[float] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]
