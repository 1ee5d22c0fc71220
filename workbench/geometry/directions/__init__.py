"""Directions in a layer's space: the estimator, its recipes, the fitted sets, and probes.

- :mod:`.estimator`: :class:`Directions`, fit / score / predict / edit / ablate.
- :mod:`.recipes`: how a direction is computed (diffmean, centered, probe, svm, pca_diff).
- :mod:`.direction_set`: :class:`DirectionSet`, one layer's fitted directions.
- :mod:`.probes`: :func:`probe_sweep`, linear probes layer by layer.
- :mod:`.controls`: :func:`direction_accuracy`, held-out accuracy of directions against random and shuffled-label ones.
- :mod:`.heldout`: the intervals and label nulls of cross-validated predictions, shared by the two above.
- :mod:`.affect`: :func:`affect_axes`, principal axes of the directions against valence / arousal.
"""

from __future__ import annotations

from workbench.geometry.directions.affect import affect_axes
from workbench.geometry.directions.controls import direction_accuracy
from workbench.geometry.directions.direction_set import SIGN_CONVENTION, DirectionSet
from workbench.geometry.directions.estimator import Directions
from workbench.geometry.directions.probes import plot_probe_sweep, probe_sweep

__all__ = ["Directions", "DirectionSet", "SIGN_CONVENTION", "probe_sweep", "plot_probe_sweep", "affect_axes",
           "direction_accuracy"]
