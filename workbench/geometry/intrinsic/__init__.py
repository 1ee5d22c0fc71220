"""Intrinsic dimension: global (TwoNN, MLE), per point (local LID), per layer, and duplicates.

- :mod:`.twonn`: :class:`TwoNN`, the two-nearest-neighbour estimator.
- :mod:`.mle`: :class:`MLE`, Levina-Bickel's maximum likelihood.
- :mod:`.local`: :class:`LocalIntrinsicDimension`, one estimate per point.
- :mod:`.profile`: :func:`lid_profile` over layers, :func:`token_lid` over tokens.
- :mod:`.duplicates`: exact copies, which every estimator must see past.
"""

from __future__ import annotations

from workbench.geometry.intrinsic.duplicates import DuplicateWarning, unique_rows
from workbench.geometry.intrinsic.gride import id_scaling
from workbench.geometry.intrinsic.local import LocalIntrinsicDimension
from workbench.geometry.intrinsic.mle import MLE
from workbench.geometry.intrinsic.profile import lid_profile, token_lid
from workbench.geometry.intrinsic.twonn import TwoNN

__all__ = ["TwoNN", "MLE", "LocalIntrinsicDimension", "lid_profile", "token_lid", "DuplicateWarning", "unique_rows", "id_scaling"]
