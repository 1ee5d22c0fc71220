"""Anchors: the samples every relative representation is measured against.

Anchors are chosen as *ids*, not as vectors. The same ids then pick the same
samples in every space that holds them (two seeds of a model, two layers, a
text and a speech model run on parallel data), which is what makes relative
representations of those spaces comparable coordinate by coordinate.

The strategies follow the relative-representations code (lucmos/relreps):

- ``"random"``: uniform without replacement (relreps' ``uniform``);
- ``"fps"``: farthest-point sampling on L2-normalised vectors, from a random
  start, so the anchors spread over the directions of the space;
- ``"kmeans"``: k-means on L2-normalised vectors, then the real sample nearest
  (by cosine) to each centroid;
- ``"stratified"``: round-robin over the classes of a meta column, a random
  sample per class, as relreps does for its vision anchors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch

from workbench._checks import check_int, warn
from workbench.device import resolve_device
from workbench.geometry.neighbors import knn
from workbench.space import LatentSpace

__all__ = ["select_anchors", "anchor_positions", "STRATEGIES"]

Strategy = Literal["random", "fps", "kmeans", "stratified"]
STRATEGIES = ("random", "fps", "kmeans", "stratified")


def select_anchors(
    space: LatentSpace,
    n: int,
    *,
    strategy: Strategy = "random",
    by: str | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """Choose ``n`` anchor samples of a space and return their ids.

    Parameters
    ----------
    space : LatentSpace
        The samples to choose from. To keep anchors out of a test set, pass
        ``space.subset(train_ids)``.
    n : int
        Number of anchors.
    strategy : {"random", "fps", "kmeans", "stratified"}, default "random"
        See the module docstring.
    by : str, optional
        Meta column whose classes ``"stratified"`` cycles through (required
        there, ignored otherwise).
    seed : int, default 0
        Seeds the random choice, the FPS start and k-means.
    device : {"auto", "cpu", "cuda", ...}
        Where farthest-point sampling runs.

    Returns
    -------
    ndarray of shape (n,)
        Anchor ids (values of ``space.meta["id"]``), distinct, in the order
        chosen. Pass them to :class:`~workbench.geometry.relative.RelativeProjection`
        for every space that shares these ids.

    Raises
    ------
    ValueError
        When the space has fewer than ``n`` samples, or ``strategy`` is unknown.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> space = LatentSpace(np.eye(6), pd.DataFrame({"id": list("abcdef"), "y": [0, 0, 0, 1, 1, 1]}))
    >>> ids = select_anchors(space, 4, strategy="stratified", by="y")
    >>> sorted(pd.Series(ids).map(dict(zip(space.ids, space.labels("y")))).tolist())
    [0, 0, 1, 1]
    """
    if not isinstance(space, LatentSpace):
        raise TypeError(f"select_anchors needs a LatentSpace (ids come from its meta); got {type(space).__name__}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")
    n = check_int(n, "n", minimum=1)
    if n > space.n:
        raise ValueError(
            f"asked for {n} anchors but space {space.name!r} has only {space.n} samples; "
            "ask for fewer anchors or select from a larger space"
        )
    if strategy == "stratified":
        if by is None:
            raise ValueError("strategy='stratified' needs by=<meta column holding the classes>")
        positions = _stratified(_class_labels(space, by, n), n, seed)
    elif strategy == "random":
        positions = np.random.default_rng(seed).choice(space.n, size=n, replace=False)
    elif strategy == "fps":
        positions = _farthest_points(space.vectors, n, seed, resolve_device(device))
    else:
        positions = _kmeans_medoids(space.vectors, n, seed)
    return space.ids[np.asarray(positions, dtype=np.int64)]


def anchor_positions(space: LatentSpace, ids: Sequence) -> np.ndarray:
    """Row positions of anchor ``ids`` in ``space``, with errors that name the problem.

    Raises
    ------
    ValueError
        When an id is repeated, or when some ids are not in the space.
    """
    ids = np.asarray(ids.tolist() if isinstance(ids, torch.Tensor) else list(ids), dtype=object)
    if len(ids) == 0:
        raise ValueError("no anchors given; pass anchor ids or a number of anchors")
    unique, counts = np.unique(ids.astype(str), return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"anchor ids must be distinct; repeated: {unique[counts > 1][:5].tolist()}")
    try:
        return space.index_of(ids)
    except KeyError:
        known = set(space.ids.tolist())
        missing = [i for i in ids.tolist() if i not in known]
        raise ValueError(
            f"{len(missing)} of {len(ids)} anchor ids are not in space {space.name!r}, e.g. {missing[:5]}; "
            "anchors must be samples that every projected space holds (same ids)"
        ) from None


# ----------------------------------------------------------------------------
# strategies
# ----------------------------------------------------------------------------


def _class_labels(space: LatentSpace, by: str, n: int) -> np.ndarray:
    """The ``by`` class of every row as a string, None where it is missing.

    A missing class (NaN, None) is no class: those rows are never anchors.
    Stringified, NaN would have become one more class named "nan".
    """
    labels = space.labels(by)
    missing = pd.isna(pd.Series(labels, dtype=object)).to_numpy()
    if missing.all():
        raise ValueError(
            f"strategy='stratified' needs classes in column {by!r}, but all {space.n} of its values are missing; "
            "pass by=<a column with classes>, or another strategy"
        )
    if (~missing).sum() < n:
        raise ValueError(
            f"asked for {n} anchors but only {int((~missing).sum())} rows of space {space.name!r} have a class "
            f"in column {by!r} ({int(missing.sum())} are missing)"
        )
    if missing.any():
        warn(f"{int(missing.sum())} rows have no class in column {by!r}; they are not chosen as anchors")
    return np.asarray([None if gone else str(label) for label, gone in zip(labels, missing)], dtype=object)


def _stratified(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Round-robin over classes (sorted), each class in a seeded random order; None rows left out."""
    rng = np.random.default_rng(seed)
    keys = np.asarray(labels, dtype=object)
    classes = sorted({key for key in keys.tolist() if key is not None})
    queues = [rng.permutation(np.flatnonzero(keys == c)).tolist() for c in classes]
    chosen: list[int] = []
    while len(chosen) < n:
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop())
    return np.asarray(chosen)


def _unit_rows(vectors: torch.Tensor) -> torch.Tensor:
    x = vectors.float() if vectors.dtype in (torch.float16, torch.bfloat16) else vectors
    # zero rows stay zero rather than becoming NaN: they are simply never far
    return torch.nn.functional.normalize(x, dim=1)


def _farthest_points(vectors: torch.Tensor, n: int, seed: int, device: torch.device) -> np.ndarray:
    """Greedy farthest-point sampling on the unit sphere (relreps normalises first)."""
    x = _unit_rows(vectors.to(device))
    start = int(np.random.default_rng(seed).integers(x.shape[0]))
    chosen = torch.empty(n, dtype=torch.int64, device=device)
    chosen[0] = start
    # squared distance from every point to its nearest chosen point; one
    # vectorised pass per new anchor keeps the whole thing O(n * N * D)
    nearest = ((x - x[start]) ** 2).sum(1)
    nearest[start] = -1.0
    for i in range(1, n):
        pick = torch.argmax(nearest)
        chosen[i] = pick
        # chosen points keep -1 (the minimum never raises it), so even exact
        # duplicates of an anchor cannot be chosen twice
        nearest = torch.minimum(nearest, ((x - x[pick]) ** 2).sum(1))
        nearest[pick] = -1.0
    return chosen.cpu().numpy()


def _kmeans_medoids(vectors: torch.Tensor, n: int, seed: int) -> np.ndarray:
    """k-means on normalised vectors, then the real sample nearest each centroid."""
    from sklearn.cluster import KMeans

    x = _unit_rows(vectors).cpu()
    centroids = KMeans(n_clusters=n, random_state=seed, n_init=1).fit(x.numpy()).cluster_centers_
    centroids = _unit_rows(torch.as_tensor(centroids, dtype=x.dtype))
    # on unit vectors euclidean order is cosine order, and zero rows do no harm;
    # two centroids can share a nearest sample: each takes its nearest unused one
    candidates = knn(x, min(x.shape[0], 16), queries=centroids, device="cpu").indices
    used: set[int] = set()
    chosen = []
    for row, options in enumerate(candidates.tolist()):
        pick = next((p for p in options if p not in used), None)
        if pick is None:  # all 16 taken: fall back to a full scan for this centroid
            order = torch.argsort(-(x @ centroids[row]))
            pick = next(p for p in order.tolist() if p not in used)
        used.add(pick)
        chosen.append(pick)
    return np.asarray(chosen)
