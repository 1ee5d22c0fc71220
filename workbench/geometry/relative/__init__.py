"""Relative representations and alignment: anchors, projection, Procrustes, stitching, shared views.

- :mod:`.anchors`: :func:`select_anchors`, which rows become anchors.
- :mod:`.projection`: :class:`RelativeProjection`, similarities to the anchors.
- :mod:`.procrustes`: :class:`Procrustes`, the one orthogonal alignment.
- :mod:`.stitching`: :func:`stitch`, a classifier trained in one space, used in another.
- :mod:`.pairs`: which rows of several spaces are compared (matched by id, anchors left out).
- :mod:`.cross_modal`: cross-modal retrieval and label agreement, with intervals and nulls.
- :mod:`.shared_view`: :func:`shared_view`, several modalities in one relative space.
"""

from __future__ import annotations

from workbench.geometry.relative.anchors import STRATEGIES, anchor_positions, select_anchors
from workbench.geometry.relative.procrustes import Procrustes
from workbench.geometry.relative.projection import SIMILARITIES, RelativeProjection
from workbench.geometry.relative.shared_view import (
    SharedView,
    center_by,
    cross_modal_retrieval,
    emotion_agreement,
    shared_view,
)
from workbench.geometry.relative.stitching import stitch

__all__ = [
    "select_anchors", "anchor_positions", "STRATEGIES", "RelativeProjection", "SIMILARITIES", "Procrustes",
    "stitch", "SharedView", "shared_view", "center_by", "cross_modal_retrieval", "emotion_agreement",
]  # fmt: skip
