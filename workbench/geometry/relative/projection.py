"""Relative representations (Moschella et al., ICLR 2023).

Every sample is re-expressed as its similarities to a fixed set of anchor
samples. Two spaces that differ by a rotation, a reflection or a rescaling --
two training seeds, say -- have different absolute coordinates but the same
relative ones, so after the projection they can be compared coordinate by
coordinate, stitched, and drawn in one view.

The default departs from the authors' code (lucmos/relreps: L2-normalised
samples and anchors, cosine similarity, random anchors, no centring) where
measurement says so: ``benchmarks/relative_defaults.py`` scored 48 settings
in three situations (two seeds of an MLP, two layers of MiniLM, text vs
speech) by cross-space Jaccard@10. The paper's setting gave MiniLM layers 3
and 6 a Jaccard of 0.040, against 0.189 for the *absolute* vectors; centring
on the anchors' mean with farthest-point anchors won in all three (0.270 /
0.161 / 0.614 at 100 anchors, 0.291 / 0.204 / 0.619 at 200, against 0.040 /
0.117 / 0.564), so ``center=True`` and ``strategy="fps"`` are the defaults.
Pass ``center=False, strategy="random"`` for the paper's setting.

Optional pre-transforms are *fitted on the anchors*, as latentis does: with
``center=True`` the anchors' mean is subtracted from anchors and samples
alike, so the projection of a sample never depends on which other samples
are projected with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator

from workbench._checks import Data, check_fitted
from workbench._space_checks import as_space
from workbench.device import chunk_rows, compute_dtype, resolve_device
from workbench.geometry.relative.anchors import Strategy, anchor_positions, select_anchors
from workbench.space import LatentSpace

__all__ = ["RelativeProjection", "SIMILARITIES", "jsonable"]

Similarity = Literal["cosine", "euclidean", "l1", "rbf"]
SIMILARITIES = ("cosine", "euclidean", "l1", "rbf")


def jsonable(ids: Any) -> list:
    """Ids as plain Python values, for JSON provenance."""
    return [value.item() if hasattr(value, "item") else value for value in np.asarray(ids, dtype=object)]


class RelativeProjection(BaseEstimator):
    """Project samples onto their similarities to a set of anchors.

    Parameters
    ----------
    anchors : int or sequence of ids, default 100
        Anchor ids (values of the ``id`` column; row positions for a plain
        array), or a number of anchors to choose with :func:`select_anchors`
        from the space passed to :meth:`fit`. Use the *same ids* for every
        space you want to compare.
    similarity : {"cosine", "euclidean", "l1", "rbf"}, default "cosine"
        What each relative coordinate is: cosine similarity (the paper's
        choice), Euclidean or L1 *distance*, or the Gaussian kernel
        ``exp(-gamma * |x - a|^2)``.
    center : bool, default True
        Subtract the anchors' mean from anchors and samples first (the paper
        does not; measured better in every situation tried, see above).
    normalize : bool, optional
        L2-normalise samples and anchors (after centering) before the
        similarity. Cosine always normalises (``False`` is an error); for the
        distances it is off by default, and turning it on makes them
        invariant to a rescaling of the space.
    gamma : float, optional
        Width of the ``"rbf"`` kernel. By default ``1 / median`` of the squared
        distances between anchors, fitted on the anchors, which keeps the
        projection invariant to a rescaling of the space.
    strategy : {"random", "fps", "kmeans", "stratified"}, default "fps"
        How to choose anchors when ``anchors`` is a number (farthest-point
        sampling spreads them over the space; the paper picks at random).
    by : str, optional
        Meta column for ``strategy="stratified"``.
    seed : int, default 0
        Seeds the anchor choice when ``anchors`` is a number.
    device : {"auto", "cpu", "cuda", ...}, default "auto"
        Where the projection runs; results come back on the input's device.

    Attributes
    ----------
    anchor_ids_ : ndarray of shape (n_anchors,)
        Ids of the anchors, in coordinate order.
    anchors_ : torch.Tensor of shape (n_anchors, n_features)
        The anchors after the pre-transforms (centred, normalised).
    shift_ : torch.Tensor of shape (n_features,) or None
        The anchors' mean, subtracted when ``center=True``.
    gamma_ : float or None
        The RBF width used.
    n_features_in_ : int
        Width of the absolute space.

    Notes
    -----
    Cosine, and the distances with ``normalize=True``, are invariant to any
    orthogonal transformation and positive rescaling of the absolute space;
    centering keeps that and adds invariance to translation. L1 distance is
    not rotation invariant.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    >>> q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(1)))
    >>> rel = RelativeProjection(anchors=range(10)).fit_transform(x)
    >>> rel_rotated = RelativeProjection(anchors=range(10)).fit_transform(3.0 * x @ q)
    >>> rel.shape, bool(torch.allclose(rel, rel_rotated, atol=1e-5))
    (torch.Size([50, 10]), True)
    """

    def __init__(
        self,
        *,
        anchors: int | Sequence = 100,
        similarity: Similarity = "cosine",
        center: bool = True,
        normalize: bool | None = None,
        gamma: float | None = None,
        strategy: Strategy = "fps",
        by: str | None = None,
        seed: int = 0,
        device: str | torch.device = "auto",
    ) -> None:
        self.anchors = anchors
        self.similarity = similarity
        self.center = center
        self.normalize = normalize
        self.gamma = gamma
        self.strategy = strategy
        self.by = by
        self.seed = seed
        self.device = device

    # -- fitting ---------------------------------------------------------------

    def _normalizes(self) -> bool:
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}; got {self.similarity!r}")
        if self.similarity == "cosine":
            if self.normalize is False:
                raise ValueError("cosine similarity normalises by definition; drop normalize=False")
            return True
        return bool(self.normalize)

    def fit(self, X: Data, y: Any = None) -> RelativeProjection:
        """Take the anchors' vectors (and the statistics of the pre-transforms) from ``X``.

        Parameters
        ----------
        X : LatentSpace, tensor or array of shape (n_samples, n_features)
            A space holding every anchor id.
        y : ignored

        Returns
        -------
        self
        """
        self._normalizes()
        space = as_space(X, "X")
        if isinstance(self.anchors, (int, np.integer)) and not isinstance(self.anchors, bool):
            ids = select_anchors(
                space, int(self.anchors), strategy=self.strategy, by=self.by, seed=self.seed, device=self.device
            )
        else:
            ids = self.anchors
        positions = anchor_positions(space, ids)
        device = resolve_device(self.device)
        vectors = space.vectors.index_select(0, torch.as_tensor(positions, device=space.device))
        vectors = vectors.to(device=device, dtype=compute_dtype(vectors, device))
        self.anchor_ids_ = space.ids[positions]
        self.n_features_in_ = space.dim
        self.shift_ = vectors.mean(0) if self.center else None
        self.anchors_ = self._pre_transform(vectors, self.anchor_ids_, "anchor")
        self.gamma_ = self._fit_gamma() if self.similarity == "rbf" else None
        return self

    def _fit_gamma(self) -> float:
        if self.gamma is not None:
            if not self.gamma > 0:
                raise ValueError(f"gamma must be positive; got {self.gamma}")
            return float(self.gamma)
        squared = torch.cdist(self.anchors_, self.anchors_).pow(2)
        off_diagonal = squared[~torch.eye(len(squared), dtype=torch.bool, device=squared.device)]
        median = float(off_diagonal.median()) if off_diagonal.numel() else 0.0
        if not median > 0:
            raise ValueError("fitting the RBF width needs at least two distinct anchors; pass gamma=")
        return 1.0 / median

    def _pre_transform(self, x: torch.Tensor, ids: np.ndarray, what: str) -> torch.Tensor:
        if self.shift_ is not None:
            x = x - self.shift_
        if self._normalizes():
            norms = x.norm(dim=1, keepdim=True)
            zero = torch.nonzero(norms.squeeze(1) == 0).flatten().cpu().numpy()
            if len(zero):
                where = " after centering on the anchors' mean" if self.shift_ is not None else ""
                raise ValueError(
                    f"{len(zero)} {what} vector(s) are zero{where}, e.g. ids {jsonable(ids[zero[:5]])}: "
                    f"{self.similarity} similarity after L2 normalisation is undefined for them; "
                    "drop those rows or choose other anchors"
                )
            x = x / norms
        return x

    # -- projecting ------------------------------------------------------------

    def transform(self, X: Data) -> Data:
        """Relative representation of ``X``.

        Parameters
        ----------
        X : LatentSpace, tensor or array of shape (n_samples, n_features)

        Returns
        -------
        LatentSpace, tensor or array of shape (n_samples, n_anchors)
            Of the same kind as ``X``. A LatentSpace keeps its meta; its
            provenance gains a ``"relative"`` entry recording the anchor ids
            and every option, so the view can be rebuilt.
        """
        check_fitted(self, "anchors_")
        space = as_space(X, "X")
        if space.dim != self.n_features_in_:
            raise ValueError(
                f"X has {space.dim} features but the anchors have {self.n_features_in_}; "
                "fit a projection on each space (with the same anchor ids) rather than reusing one"
            )
        relative = self._project(space).to(space.device)
        if isinstance(X, LatentSpace):
            provenance = {**X.provenance, "relative": self._record(X.name)}
            # _project has checked every value is finite: skip a second full pass
            return LatentSpace._trusted(relative, X.meta, f"{X.name} (relative)", provenance)
        return relative if isinstance(X, torch.Tensor) else relative.cpu().numpy()

    def fit_transform(self, X: Data, y: Any = None) -> Data:
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)

    def _project(self, space: LatentSpace) -> torch.Tensor:
        device = self.anchors_.device
        dtype = self.anchors_.dtype
        n_anchors = self.anchors_.shape[0]
        per_row = dtype.itemsize * (3 * n_anchors + 2 * space.dim)
        size = chunk_rows(per_row, device=device, n_rows=space.n)
        out = torch.empty((space.n, n_anchors), dtype=dtype, device=device)
        with torch.inference_mode():
            for start in range(0, space.n, size):
                rows = slice(start, start + size)
                block = space.vectors[rows].to(device=device, dtype=dtype)
                block = self._pre_transform(block, space.ids[rows], "sample")
                out[rows] = self._similarities(block)
        finite = torch.isfinite(out).all(1)
        if not bool(finite.all()):
            bad = torch.nonzero(~finite).flatten().cpu().numpy()
            raise ValueError(
                f"the projection gave non-finite similarities for {len(bad)} sample(s), e.g. ids "
                f"{jsonable(space.ids[bad[:5]])}; their vectors are too large for {dtype} or degenerate"
            )
        return out

    def _similarities(self, x: torch.Tensor) -> torch.Tensor:
        if self.similarity == "cosine":
            return x @ self.anchors_.T
        if self.similarity == "l1":
            return torch.cdist(x, self.anchors_, p=1.0)
        a = self.anchors_
        scale = (x * x).sum(1, keepdim=True) + (a * a).sum(1)
        squared = (scale - 2.0 * x @ a.T).clamp_(min=0.0)
        # the fast expansion cancels badly for a sample next to an anchor (a
        # sample that *is* an anchor would get sqrt(rounding) ~ 1e-4, not 0):
        # recompute those few pairs from their differences
        close = torch.nonzero(squared < 1e-3 * scale)
        if len(close):
            rows, cols = close[:, 0], close[:, 1]
            squared[rows, cols] = ((x[rows] - a[cols]) ** 2).sum(1)
        if self.similarity == "euclidean":
            return squared.sqrt_()
        return torch.exp(-self.gamma_ * squared)

    def _record(self, source: str) -> dict:
        return {
            "anchors": jsonable(self.anchor_ids_),
            "similarity": self.similarity,
            "center": bool(self.center),
            "normalize": self._normalizes(),
            "gamma": self.gamma_,
            "source": source,
        }
