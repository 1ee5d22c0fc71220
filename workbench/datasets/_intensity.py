"""How strongly an emotion is expressed at a given corpus intensity.

The synthetic speech and faces share one mapping, so that "intensity 2" means
the same fraction of the full expression in both modalities.
"""

from __future__ import annotations

import math

__all__ = ["intensity_scale", "interpolate"]


def intensity_scale(intensity: float) -> float:
    """Fraction of the full expression shown at ``intensity`` (0 .. 3).

    ``s(i) = 0.1 + 0.3 i`` for ``i > 0``: 0.4, 0.7 and 1.0 at the corpus
    intensities 1 (mild), 2 and 3 (strong); ``s(0) = 0`` (no expression).

    Examples
    --------
    >>> [round(intensity_scale(i), 2) for i in (0, 1, 2, 3)]
    [0.0, 0.4, 0.7, 1.0]
    """
    try:
        value = float(intensity)
    except (TypeError, ValueError):
        raise ValueError(f"intensity must be a number between 0 and 3; got {intensity!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 3:
        raise ValueError(f"intensity must be between 0 and 3 (1 = mild .. 3 = strong); got {intensity!r}")
    return 0.1 + 0.3 * value if value > 0 else 0.0


def interpolate(neutral: dict[str, float], full: dict[str, float], intensity: float) -> dict[str, float]:
    """``neutral + s(intensity) * (full - neutral)``, key by key."""
    s = intensity_scale(intensity)
    return {key: neutral[key] + s * (full[key] - neutral[key]) for key in full}
