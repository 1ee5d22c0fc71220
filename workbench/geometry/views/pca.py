"""The one PCA: in memory for 2-D/3-D views, and over data read in chunks.

:func:`pca_coordinates` serves :func:`workbench.geometry.views.project`
(torch, where the vectors are). :class:`StreamingPCA` reads chunks and never
holds the rows. Both follow scikit-learn's sign convention (:func:`_flip_signs`).

StreamingPCA: exact, in one pass, without holding the rows.

The covariance matrix (dim x dim) is accumulated chunk by chunk in float64,
on rows shifted by the first chunk's mean (the shift does not change the
covariance, and keeps the sums from cancelling), then diagonalised. The result
is the exact PCA, equal to scikit-learn's ``PCA`` up to rounding, with the
same sign convention (the largest loading of each component positive), not an
incremental approximation like ``IncrementalPCA``. Memory is one chunk plus
``dim x dim``; time is one pass over the rows to fit and one to transform.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from workbench._checks import check_fitted
from workbench.device import chunk_rows
from workbench.geometry.neighbors.chunked import ChunkedVectors, as_chunked, is_chunked
from workbench.space import LatentSpace

__all__ = ["StreamingPCA", "pca_coordinates"]


def _flip_signs(components: torch.Tensor) -> torch.Tensor:
    """scikit-learn's ``svd_flip`` convention: each row's largest absolute loading is positive."""
    biggest = components.abs().argmax(1)
    signs = torch.sign(components[torch.arange(components.shape[0], device=components.device), biggest])
    return components * torch.where(signs == 0, torch.ones_like(signs), signs)[:, None]


class StreamingPCA(BaseEstimator):
    """Principal components of a LatentSpace, an array or a space on disk.

    Parameters
    ----------
    n_components : int, default 2
    chunk_size : int, optional
        Rows read at a time; by default sized from the free memory.
    progress : bool, default False
        Show a progress bar over chunks.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    components_ : ndarray of shape (n_components, n_features)
        Unit vectors, by decreasing variance.
    explained_variance_ : ndarray of shape (n_components,)
        Variance along each component (denominator ``n - 1``, as scikit-learn).
    explained_variance_ratio_ : ndarray of shape (n_components,)
    n_samples_ : int

    Learned state is NumPy (float64 arrays), as scikit-learn's PCA keeps it.
    ``transform`` returns the kind it is given: a LatentSpace (or a space on
    disk) gives a LatentSpace, a tensor a float32 tensor, an array an ndarray.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(500, 5)) * [5, 2, 1, 1, 1]
    >>> pca = StreamingPCA(n_components=2, chunk_size=64).fit(x)
    >>> pca.components_.shape, bool(abs(pca.components_[0, 0]) > 0.99)
    ((2, 5), True)
    """

    def __init__(self, *, n_components: int = 2, chunk_size: int | None = None, progress: bool = False) -> None:
        self.n_components = n_components
        self.chunk_size = chunk_size
        self.progress = progress

    def _chunks(self, source: ChunkedVectors, what: str) -> Iterator[torch.Tensor]:
        rows = self.chunk_size or chunk_rows(source.dim * 8 * 4, n_rows=source.n, max_rows=65536)
        chunks = source.iter_chunks(rows)
        if self.progress:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, total=-(-source.n // rows), desc=f"PCA: {what}", unit="chunk")
        for chunk in chunks:
            yield chunk.to("cpu", torch.float64)

    def fit(self, data: Any, y: Any = None) -> StreamingPCA:
        """Learn the components from the rows of ``data`` (one pass)."""
        source = as_chunked(data)
        n_components = int(self.n_components)
        if not 1 <= n_components <= min(source.n, source.dim):
            raise ValueError(
                f"n_components must be between 1 and min(n_samples, n_features) = {min(source.n, source.dim)}; "
                f"got {self.n_components}"
            )
        if source.n < 2:
            raise ValueError("PCA needs at least 2 rows")
        shift = None
        total = torch.zeros(source.dim, dtype=torch.float64)
        scatter = torch.zeros(source.dim, source.dim, dtype=torch.float64)
        for chunk in self._chunks(source, "fit"):
            if shift is None:
                shift = chunk.mean(0)
            centred = chunk - shift
            total += centred.sum(0)
            scatter += centred.T @ centred
        n = source.n
        mean_shifted = total / n
        covariance = (scatter - n * torch.outer(mean_shifted, mean_shifted)) / (n - 1)
        values, vectors = torch.linalg.eigh(covariance)
        order = torch.argsort(values, descending=True)[:n_components]
        self.components_ = _flip_signs(vectors[:, order].T).numpy()
        self.mean_ = (shift + mean_shifted).numpy()
        self.explained_variance_ = values[order].clamp(min=0).numpy()
        self.explained_variance_ratio_ = self.explained_variance_ / max(float(values.clamp(min=0).sum()), 1e-300)
        self.n_samples_ = n
        return self

    def transform(self, data: Any) -> np.ndarray | torch.Tensor | LatentSpace:
        """Coordinates along the components.

        Returns
        -------
        LatentSpace of dimension n_components (for a LatentSpace or a space on
        disk: the same meta, name ``"<name> PCA"``), a tensor for a tensor, else
        ndarray of shape (n_samples, n_components).
        """
        check_fitted(self, "components_")
        source = as_chunked(data)
        if source.dim != self.components_.shape[1]:
            raise ValueError(f"data has {source.dim} features but the PCA was fitted on {self.components_.shape[1]}")
        components = torch.from_numpy(self.components_)
        mean = torch.from_numpy(self.mean_)
        parts = [((chunk - mean) @ components.T).float() for chunk in self._chunks(source, "transform")]
        coordinates = torch.cat(parts).numpy()
        if isinstance(data, torch.Tensor):
            return torch.from_numpy(coordinates).to(data.device)
        if isinstance(data, LatentSpace) or (is_chunked(data) and hasattr(data, "meta")):
            provenance = {**data.provenance, "projection": f"PCA({self.components_.shape[0]})"}
            return LatentSpace(coordinates, data.meta, name=f"{data.name} PCA", provenance=provenance)
        return coordinates

    def fit_transform(self, data: Any, y: Any = None) -> np.ndarray | LatentSpace:
        return self.fit(data).transform(data)


def pca_coordinates(matrix: torch.Tensor, dims: int, metric: str = "euclidean") -> np.ndarray:
    """Principal components in torch, where the vectors are.

    The eigenvectors of the smaller of the covariance (d×d) and the Gram
    matrix (n×n), in float64; signs fixed as scikit-learn's ``svd_flip``
    does (largest loading positive), so the maps agree with ``PCA``. Torch
    rather than scikit-learn because mixing torch's OpenMP threads with
    NumPy's BLAS threads made the same PCA several times slower on few cores.

    Returns
    -------
    ndarray of shape (n_samples, dims), float32
        A space narrower than ``dims`` gets flat extra axes.

    Examples
    --------
    >>> x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [4.0, 0.1]])
    >>> coords = pca_coordinates(x, 1)
    >>> coords.shape, bool(coords[0, 0] < 0 < coords[2, 0])
    ((3, 1), True)
    """
    x = matrix.detach().float()
    if metric == "cosine":
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    x = x - x.mean(0, keepdim=True)
    n, width = x.shape
    keep = min(dims, width, n)
    if width <= n:
        values, vectors = torch.linalg.eigh((x.T @ x).double())
        components = vectors[:, -keep:].flip(1)  # (width, keep), largest first
    else:
        values, vectors = torch.linalg.eigh((x @ x.T).double())
        scores = vectors[:, -keep:].flip(1) * values[-keep:].flip(0).clamp_min(0).sqrt()
        components = x.double().T @ scores  # unnormalised loadings: only their signs and direction matter
        components = components / components.norm(dim=0, keepdim=True).clamp_min(1e-300)
    components = _flip_signs(components.T).T
    coords = (x @ components.float()).cpu().numpy()
    if keep < dims:  # a 2-D space shown in 3-D: the third axis is flat
        coords = np.hstack([coords, np.zeros((n, dims - keep), coords.dtype)])
    return coords
