"""Orthogonal Procrustes alignment: the classical way to put two spaces in one frame.

Where a relative projection makes two spaces comparable by describing each
sample through its anchors, Procrustes *rotates* one space onto the other
using the samples both hold. It is the baseline users will compare relative
representations with, done as latentis' ``Procrustes`` translator does it:

1. standardise each space with its own per-feature mean and standard
   deviation (fitted on the paired samples);
2. zero-pad the narrower one to the wider width;
3. the rotation ``R = U V^T`` from the SVD ``X^T Y = U S V^T`` minimises
   ``|X R - Y|_F`` over orthogonal ``R``;
4. transforming maps through ``R``, drops the padding, and undoes the
   target's standardisation, so the result lives in the target's coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
import torch
from sklearn.base import BaseEstimator

from workbench._checks import Data, check_fitted
from workbench._space_checks import match_rows
from workbench._space_checks import as_space
from workbench.device import resolve_device
from workbench.geometry.relative.anchors import anchor_positions
from workbench.space import LatentSpace

__all__ = ["Procrustes", "orthogonal_map"]


class Procrustes(BaseEstimator):
    """Rotate a source space onto a target space (orthogonal Procrustes).

    Parameters
    ----------
    standardize : bool, default True
        Centre and scale each feature of both spaces before the rotation (as
        latentis does). Without it the rotation acts on the raw vectors.
    device : {"auto", "cpu", "cuda", ...}, default "auto"
        Where the fit and the transform run; results come back on the input's device.

    Attributes
    ----------
    rotation_ : torch.Tensor of shape (width, width)
        Orthogonal; ``width = max(n_features_in_, n_features_out_)``.
    source_mean_, source_scale_ : torch.Tensor of shape (n_features_in_,)
    target_mean_, target_scale_ : torch.Tensor of shape (n_features_out_,)
    n_features_in_, n_features_out_ : int
        Widths of the source and target spaces.
    fit_ids_ : ndarray of shape (n_pairs,)
        Ids of the pairs the rotation was fitted on.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(100, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    >>> aligned = Procrustes(standardize=False).fit(x @ q, x).transform(x @ q)
    >>> bool(torch.allclose(aligned, x))
    True
    """

    def __init__(self, *, standardize: bool = True, device: str | torch.device = "auto") -> None:
        self.standardize = standardize
        self.device = device

    def fit(self, source: Data, target: Data, ids: Sequence | None = None) -> Procrustes:
        """Fit the rotation on the samples both spaces hold (or on ``ids`` of them).

        Parameters
        ----------
        source : LatentSpace, tensor or array of shape (n_samples, n_features_in)
        target : LatentSpace, tensor or array of shape (n_samples_target, n_features_out)
            Paired with ``source`` by id (by position for arrays).
        ids : sequence, optional
            Fit on these shared ids only (anchors, a training split).

        Returns
        -------
        self
        """
        a, b = match_rows(source, target)
        if ids is not None:
            a, b = a.take(anchor_positions(a, ids)), b.take(anchor_positions(b, ids))
        device = resolve_device(self.device)
        x, y = _float(a.vectors, device), _float(b.vectors, device)
        self.source_mean_, self.source_scale_ = self._statistics(x)
        self.target_mean_, self.target_scale_ = self._statistics(y)
        self.n_features_in_, self.n_features_out_ = a.dim, b.dim
        x = self._pad((x - self.source_mean_) / self.source_scale_)
        y = self._pad((y - self.target_mean_) / self.target_scale_)
        self.rotation_, _ = orthogonal_map(x, y)
        self.fit_ids_ = a.ids
        self._names = (a.name, b.name)
        return self

    def transform(self, source: Data) -> Data:
        """Map source vectors into the target's coordinates.

        Parameters
        ----------
        source : LatentSpace, tensor or array of shape (n_samples, n_features_in)

        Returns
        -------
        LatentSpace, tensor or array of shape (n_samples, n_features_out)
            Of the same kind as ``source``; a LatentSpace's provenance gains an
            ``"aligned"`` entry.
        """
        check_fitted(self, "rotation_")
        space = as_space(source, "source")
        if space.dim != self.n_features_in_:
            raise ValueError(f"source has {space.dim} features; the alignment was fitted on {self.n_features_in_}")
        x = _float(space.vectors, self.rotation_.device)
        x = self._pad((x - self.source_mean_) / self.source_scale_) @ self.rotation_
        out = x[:, : self.n_features_out_] * self.target_scale_ + self.target_mean_
        out = out.to(device=space.device, dtype=space.dtype if space.dtype == torch.float64 else torch.float32)
        if isinstance(source, LatentSpace):
            record = {"method": "procrustes", "to": self._names[1], "fitted_on": len(self.fit_ids_)}
            provenance = {**source.provenance, "aligned": {**record, "standardize": bool(self.standardize)}}
            return source.with_vectors(out, name=f"{source.name} → {self._names[1]}", provenance=provenance)
        return out if isinstance(source, torch.Tensor) else out.cpu().numpy()

    def fit_transform(self, source: Data, target: Data, ids: Sequence | None = None) -> Data:
        """``fit(source, target, ids).transform(source)``."""
        return self.fit(source, target, ids).transform(source)

    def _statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.standardize:
            return x.new_zeros(x.shape[1]), x.new_ones(x.shape[1])
        if x.shape[0] < 2:
            raise ValueError("standardising needs at least 2 paired samples")
        scale = x.std(0)
        # a constant feature keeps scale 1 rather than dividing by zero
        scale = torch.where(scale < 10 * torch.finfo(x.dtype).eps, torch.ones_like(scale), scale)
        return x.mean(0), scale

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        width = max(self.n_features_in_, self.n_features_out_)
        return torch.nn.functional.pad(x, (0, width - x.shape[1]))


def _float(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    # float64 for the small SVD problem costs little and keeps R orthogonal to 1e-12
    return x.to(device=device, dtype=torch.float64)


def orthogonal_map(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The orthogonal ``R`` that minimises ``|x R - y|``, and the sum of the singular values.

    The one orthogonal Procrustes of the workbench: :class:`Procrustes`
    aligns spaces with it, :func:`workbench.geometry.views.align_to` maps
    (where the singular value sum gives the least-squares scale).

    Parameters
    ----------
    x : tensor of shape (n_samples, width)
    y : tensor of shape (n_samples, width)

    Returns
    -------
    rotation : tensor of shape (width, width)
    singular_sum : tensor of shape ()

    Examples
    --------
    >>> turn = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    >>> x = torch.eye(2, dtype=torch.float64)
    >>> rotation, _ = orthogonal_map(x, x @ turn)
    >>> bool(torch.allclose(rotation, turn))
    True
    """
    u, singular, vh = torch.linalg.svd(x.T @ y)
    return u @ vh, singular.sum()
