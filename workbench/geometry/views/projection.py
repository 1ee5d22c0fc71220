"""2-D and 3-D views of a latent space: PCA, UMAP or t-SNE.

A view is a low-dimensional map of the rows of a space. Every map distorts;
each :class:`View` carries its trustworthiness, measured by
:mod:`workbench.geometry.views.quality`. UMAP is fed the space's shared exact
neighbour graph (:func:`workbench.geometry.neighbors.neighbor_graph`) through
``precomputed_knn``.

Views are cached per (vectors, method, parameters): the cache holds the
vectors tensor by weak reference and keys on its identity and in-place
version counter, so an edited or discarded tensor never returns a stale map.
Plain NumPy inputs are not cached (NumPy has no version counter).

Procrustes alignment of one view onto another (:func:`align_to`,
:func:`align_chain`) keeps the same point still when a user moves between
layers; it uses the workbench's one orthogonal Procrustes
(:func:`workbench.geometry.relative.procrustes.orthogonal_map`) plus a scale.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

from workbench._checks import Data, check_matrix, warn
from workbench.geometry.neighbors import KNNGraph, neighbor_graph
from workbench.geometry.neighbors.cache import TensorCache, cache_owner, clear_graphs
from workbench.geometry.relative.procrustes import orthogonal_map
from workbench.geometry.views.pca import pca_coordinates
from workbench.geometry.views.quality import trustworthiness
from workbench.space import LatentSpace

__all__ = ["View", "METHODS", "project", "align_to", "align_chain", "clear_cache", "neighbour_graph"]

Method = Literal["pca", "umap", "tsne"]
METHODS: tuple[str, ...] = ("pca", "umap", "tsne")
_DEFAULTS: dict[str, dict[str, Any]] = {
    "pca": {},
    "umap": {"n_neighbors": 15, "min_dist": 0.1},
    "tsne": {"perplexity": 30.0},
}


@dataclass(frozen=True, eq=False)
class View:
    """A low-dimensional map of the rows of a space.

    Attributes
    ----------
    coords : ndarray of shape (n_samples, dims), float32
        The map. Row ``i`` is row ``i`` of the space.
    method : {"pca", "umap", "tsne"}
    params : dict
        Everything that determined the map (dims, seed, metric, method
        parameters), so two views with equal ``params`` on the same vectors
        are the same map.
    trustworthiness : float or None
        Trustworthiness of the map at ``k`` neighbours (None when not asked for).
    k : int
        Neighbours used for the trustworthiness.
    sampled : int or None
        Number of query points the trustworthiness was estimated on, or None
        when all points were used (exact, equal to scikit-learn's).
    name : str
        Name of the space the view was made from.
    """

    coords: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    trustworthiness: float | None = None
    k: int = 10
    sampled: int | None = None
    name: str = ""

    @property
    def n(self) -> int:
        return self.coords.shape[0]

    @property
    def dims(self) -> int:
        return self.coords.shape[1]

    def describe(self) -> str:
        """One line for a figure: method, trustworthiness and how it was measured."""
        text = f"{self.method.upper()} of {self.name}" if self.name else self.method.upper()
        if self.trustworthiness is not None:
            how = f", {self.sampled:,} sampled points" if self.sampled else ""
            text += f" · trustworthiness {self.trustworthiness:.3f} (k={self.k}{how})"
        return text

    def __repr__(self) -> str:
        return f"View({self.describe()!r}, n={self.n}, dims={self.dims})"


_VIEWS = TensorCache()


def clear_cache() -> None:
    """Forget every cached view and neighbour graph."""
    _VIEWS.clear()
    clear_graphs()


def neighbour_graph(data: Data, k: int, *, metric: str = "euclidean", progress: bool = False) -> KNNGraph:
    """Deprecated spelling of :func:`workbench.geometry.neighbors.neighbor_graph`."""
    warn(
        "neighbour_graph is deprecated; use workbench.geometry.neighbors.neighbor_graph", DeprecationWarning
    )
    return neighbor_graph(data, k, metric=metric, progress=progress)


def _hashable(params: dict) -> tuple:
    return tuple(sorted((key, repr(value)) for key, value in params.items()))


# ----------------------------------------------------------------------------
# projections
# ----------------------------------------------------------------------------


def project(
    data: Data,
    method: Method = "pca",
    *,
    dims: int = 2,
    seed: int = 0,
    metric: str = "euclidean",
    k: int = 10,
    quality: bool = True,
    sample: int = 1000,
    graph: KNNGraph | None = None,
    cache: bool = True,
    progress: bool = False,
    name: str | None = None,
    **params: Any,
) -> View:
    """A 2-D or 3-D map of the rows of a space, with its trustworthiness.

    Parameters
    ----------
    data : LatentSpace, tensor or array of shape (n_samples, n_features)
    method : {"pca", "umap", "tsne"}
        PCA (in torch; scikit-learn's ``PCA`` up to rounding), UMAP (umap-learn, fed the exact neighbour graph
        through ``precomputed_knn``) or t-SNE (scikit-learn, Barnes-Hut).
    dims : {2, 3}
    seed : int
        Makes UMAP and t-SNE reproducible (UMAP then runs single-threaded).
    metric : {"euclidean", "cosine"}
        High-dimensional distance. For PCA, "cosine" means PCA of the
        L2-normalised vectors.
    k : int
        Neighbours for the trustworthiness.
    quality : bool
        Compute the trustworthiness (a few seconds for 100 000 points).
    sample : int
        Query points for the trustworthiness estimate when there are more
        rows than this; all rows otherwise (then it equals scikit-learn's).
    graph : KNNGraph, optional
        A precomputed neighbour graph of ``data`` (with ``metric``) for UMAP.
    cache : bool
        Reuse a view already computed on the same tensor with the same parameters.
    progress : bool
        Progress bars for the neighbour search.
    name : str, optional
        Name shown with the view; by default the space's name.
    **params
        Method parameters: UMAP ``n_neighbors`` (15), ``min_dist`` (0.1), ...;
        t-SNE ``perplexity`` (30), ...

    Returns
    -------
    View
        ``coords`` of shape (n_samples, dims), float32.

    Examples
    --------
    >>> import torch
    >>> view = project(torch.randn(200, 16), "pca", k=5)
    >>> view.coords.shape, 0.0 <= view.trustworthiness <= 1.0
    ((200, 2), True)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3; got {dims!r}")
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"metric must be 'euclidean' or 'cosine'; got {metric!r}")
    matrix = check_matrix(data)
    n = matrix.shape[0]
    if n < 4:
        raise ValueError(f"a view needs at least 4 points; got {n}")
    merged = {**_DEFAULTS[method], **params}
    key = (method, _hashable({"dims": dims, "seed": seed, "metric": metric, **merged}), k if quality else None)
    owner = cache_owner(data) if cache else None
    store = _VIEWS.store(owner) if owner is not None else {}
    version = owner._version if owner is not None else None
    if name is None:
        name = data.name if isinstance(data, LatentSpace) else ""
    cached = store.get((key, version))
    if cached is not None:
        return cached if cached.name == name else replace(cached, name=name)
    if method == "pca":
        coords = pca_coordinates(matrix, dims, metric)
    else:
        array = matrix.detach().to("cpu", torch.float32).numpy()
        if method == "umap":
            coords = _umap(data, array, dims, metric, seed, merged, graph, progress)
        else:
            coords = _tsne(array, dims, metric, seed, merged)
    coords = np.ascontiguousarray(coords, dtype=np.float32)
    trust = sampled = None
    if quality:
        k = max(1, min(int(k), (n - 1) // 2))  # tiny spaces: as many neighbours as the measure allows
        trust = trustworthiness(matrix, coords, k=k, metric=metric, sample=sample, seed=seed)
        sampled = sample if n > sample else None
    view = View(coords, method, {"dims": dims, "seed": seed, "metric": metric, **merged}, trust, k, sampled, name)
    if owner is not None:
        store[(key, version)] = view
    return view


def _umap(
    data: Data,
    array: np.ndarray,
    dims: int,
    metric: str,
    seed: int,
    params: dict,
    graph: KNNGraph | None,
    progress: bool,
) -> np.ndarray:
    import umap

    n = len(array)
    n_neighbors = int(min(params.pop("n_neighbors"), n - 1))
    if graph is None or graph.k < n_neighbors - 1 or graph.metric != metric or graph.n != n:
        graph = neighbor_graph(data, n_neighbors - 1, metric=metric, progress=progress)
    indices, distances = graph.cpu().truncate(n_neighbors - 1).for_umap()
    reducer = umap.UMAP(
        n_components=dims,
        n_neighbors=n_neighbors,
        metric=metric,
        random_state=seed,
        n_jobs=1,  # a seed makes umap-learn single-threaded anyway; say so up front
        precomputed_knn=(indices.astype(np.int32), distances.astype(np.float32)),
        **params,
    )
    with warnings.catch_warnings():
        # no NNDescent index is passed: only `transform` of new data is lost
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        return reducer.fit_transform(array)


def _tsne(array: np.ndarray, dims: int, metric: str, seed: int, params: dict) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(params.pop("perplexity"), (len(array) - 1) / 3))
    method = "barnes_hut" if dims <= 3 else "exact"
    return TSNE(
        n_components=dims,
        perplexity=perplexity,
        metric=metric,
        init="pca",
        random_state=seed,
        method=method,
        **params,
    ).fit_transform(array)


# ----------------------------------------------------------------------------
# alignment of views
# ----------------------------------------------------------------------------


def align_to(coords: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate (or reflect), scale and shift ``coords`` to best match ``reference``.

    Orthogonal Procrustes with scaling: the least-squares similarity
    transform of one map onto another of the same rows. Distances within the
    map keep their ratios, so nothing the map shows changes, only its pose.

    Parameters
    ----------
    coords, reference : ndarray of shape (n_samples, dims)

    Returns
    -------
    ndarray of shape (n_samples, dims), float32

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).normal(size=(30, 2))
    >>> turned = ref @ np.array([[0.0, -1.0], [1.0, 0.0]]) * 3 + 5
    >>> bool(np.allclose(align_to(turned, ref), ref, atol=1e-5))
    True
    """
    coords = np.asarray(coords, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if coords.shape != reference.shape:
        raise ValueError(f"cannot align a view of shape {coords.shape} to one of shape {reference.shape}")
    a = coords - coords.mean(0)
    b = reference - reference.mean(0)
    norm = float((a * a).sum())
    if norm == 0.0:
        return np.broadcast_to(reference.mean(0), coords.shape).astype(np.float32)
    rotation, singular_sum = orthogonal_map(torch.from_numpy(a), torch.from_numpy(b))
    return ((a @ rotation.numpy()) * (float(singular_sum) / norm) + reference.mean(0)).astype(np.float32)


def align_chain(views: list[np.ndarray]) -> list[np.ndarray]:
    """Align each map onto the (aligned) one before it, as for a row of layers.

    Returns
    -------
    list of ndarray of shape (n_samples, dims), float32
        The first map unchanged, then each next one posed like its neighbour.
    """
    aligned: list[np.ndarray] = []
    for coords in views:
        aligned.append(np.asarray(coords, np.float32) if not aligned else align_to(coords, aligned[-1]))
    return aligned
