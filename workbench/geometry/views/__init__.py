"""2-D and 3-D views of a space: projections (one PCA) and how faithful they are.

- :mod:`.projection`: :func:`project` (PCA, UMAP, t-SNE), cached per space, and
  :func:`align_to` to keep a map still across layers.
- :mod:`.quality`: :func:`trustworthiness`, :func:`neighbor_preservation`.
- :mod:`.pca`: the one PCA, in memory (views) and :class:`StreamingPCA` over chunks.
"""

from __future__ import annotations

from workbench.geometry.neighbors import KNNGraph, knn, neighbor_graph
from workbench.geometry.views.pca import StreamingPCA
from workbench.geometry.views.projection import (
    METHODS,
    View,
    align_chain,
    align_to,
    clear_cache,
    neighbour_graph,
    project,
)
from workbench.geometry.views.quality import neighbor_preservation, neighbour_preservation, trustworthiness

__all__ = [
    "View", "METHODS", "project", "align_to", "align_chain", "clear_cache", "trustworthiness",
    "neighbor_preservation", "neighbour_preservation", "neighbor_graph", "neighbour_graph", "StreamingPCA",
    "KNNGraph", "knn",
]  # fmt: skip
