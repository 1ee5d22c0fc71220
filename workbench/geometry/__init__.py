"""Geometry of latent spaces, one folder per concern.

- :mod:`.neighbors`: the k-NN graph, its engines (exact torch, chunked, FAISS,
  k-d tree), the :func:`~.neighbors.knn` dispatcher and the one graph cache.
- :mod:`.intrinsic`: intrinsic dimension (TwoNN, MLE, local LID, per-layer profiles).
- :mod:`.relative`: anchors, relative projections, Procrustes, stitching, shared views.
- :mod:`.directions`: directions per label and layer, their recipes, probes.
- :mod:`.compare`: measures that compare two spaces or every pair of layers.
- :mod:`.views`: 2-D/3-D projections and their quality.

Imports run one way: neighbors <- intrinsic, views, compare, relative;
directions stands alone. Input is checked at one door, :mod:`workbench._checks`.
"""
