"""One layer's fitted directions: :class:`DirectionSet`, and how it is built and projected on.

A ``DirectionSet`` is everything needed to score, edit and steer with the
directions of one layer: the vectors, the point where every score is 0
(``center``), each label's typical score and its reference level, and where
the vectors were read in the model (``provenance``). All statistics derive
from the class centroids, so a set can be rebuilt for coarser labels
(:meth:`workbench.geometry.directions.Directions.rolled_up`) without the
training rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["DirectionSet", "SIGN_CONVENTION", "build_direction_set", "project"]

SIGN_CONVENTION = (
    "positive = toward the label: its rows score higher than the reference's (the baseline label, else the "
    "other labels; for 'centered', the other emotions); score 0 = the baseline's mean (else the mean of the "
    "label means)"
)


@dataclass(frozen=True)
class DirectionSet:
    """The directions of one layer, with what is needed to score and edit.

    Attributes
    ----------
    layer : int or str
    labels : tuple of str
        One per row of ``vectors``.
    vectors : tensor of shape (n_labels, n_features)
        Unit vectors (or raw-length ones when fitted with ``normalize=False``).
    center : tensor of shape (n_features,)
        Where every score is 0.
    reference_score, label_score : tensor of shape (n_labels,)
        Mean score of the reference (the baseline's rows, else the other
        labels', class-balanced; the other emotions' for ``centered``) and of
        the label's own training rows: intensity 0 and 1.
    classes : tuple of str
        Every label seen in training (baseline included).
    centroids : tensor of shape (n_classes, n_features)
    counts : tuple of int
        Training rows per class.
    method : str
    baseline : str or None
    provenance : dict
        The fitted space's provenance (model, site, block...).
    """

    layer: Any
    labels: tuple
    vectors: torch.Tensor
    center: torch.Tensor
    reference_score: torch.Tensor
    label_score: torch.Tensor
    classes: tuple
    centroids: torch.Tensor
    counts: tuple
    method: str
    baseline: str | None
    provenance: dict = field(default_factory=dict)
    sign: str = SIGN_CONVENTION

    @property
    def site(self) -> str | None:
        """Where in the model the vectors were read (``provenance['site']``), if known."""
        return self.provenance.get("site")

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def unit(self) -> torch.Tensor:
        """The directions scaled to unit length, shape (n_labels, n_features)."""
        return self.vectors / self.vectors.norm(dim=1, keepdim=True)

    def index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            extra = f" ({label!r} is the baseline: it is the reference, not a direction)" if label == self.baseline else ""
            raise KeyError(f"no direction for {label!r}{extra}; labels are {list(self.labels)}") from None

    def __getitem__(self, label: str) -> torch.Tensor:
        return self.vectors[self.index(label)]

    def __repr__(self) -> str:
        return (
            f"DirectionSet(layer={self.layer!r}, method={self.method!r}, labels={list(self.labels)}, "
            f"dim={self.dim}, site={self.site!r})"
        )



def build_direction_set(*, layer, labels, vectors, classes, centroids, counts, method, baseline, provenance) -> DirectionSet:
    """Build a DirectionSet, deriving the center and the score statistics from the centroids."""
    vectors = vectors.detach().float().cpu()
    centroids = centroids.detach().float().cpu()
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    index = {name: i for i, name in enumerate(classes)}
    center = centroids[index[baseline]] if baseline is not None else centroids.mean(dim=0)
    scores = (centroids - center) @ unit.T  # (n_classes, n_labels): each class mean on each direction
    own = torch.tensor([index[name] for name in labels])
    label_score = scores[own, torch.arange(len(labels))]
    if baseline is not None and method != "centered":
        reference_score = scores[index[baseline]]
    else:  # the other labels, class-balanced (for "centered", the other emotions: what its directions contrast)
        reference_score = (scores[own].sum(0) - label_score) / max(len(labels) - 1, 1)
    return DirectionSet(
        layer=layer, labels=tuple(labels), vectors=vectors, center=center, reference_score=reference_score,
        label_score=label_score, classes=tuple(classes), centroids=centroids, counts=tuple(counts),
        method=method, baseline=baseline, provenance=dict(provenance),
    )


def project(fitted: DirectionSet, matrix: torch.Tensor) -> torch.Tensor:
    """Scores ``(x - center) . unit`` of every row: tensor of shape (n_samples, n_labels)."""
    if matrix.shape[1] != fitted.dim:
        raise ValueError(
            f"rows have width {matrix.shape[1]} but the directions at layer {fitted.layer!r} have width {fitted.dim}"
        )
    matrix = matrix.float() if matrix.dtype not in (torch.float32, torch.float64) else matrix
    return (matrix - fitted.center.to(matrix)) @ fitted.unit.to(matrix).T
