"""2-D and 3-D views of a latent space, and how far they can be trusted.

A view is a low-dimensional map of the rows of a space: PCA, UMAP or t-SNE.
Every map distorts; this module also says *where* and *how much*:

- :func:`trustworthiness` (Venna & Kaski 2001, as in scikit-learn): one number
  in [0, 1] that penalises points that look like neighbours on the map but are
  far apart in the space. For large spaces it is estimated on a random sample
  of query points (their neighbours are still searched among all points),
  which is unbiased because the measure is a mean over query points.
- :func:`neighbour_preservation`: per point, the share of its ``k``
  high-dimensional neighbours that are also among its ``k`` neighbours on the
  map, so the map can be coloured by where it lies.

Both use :func:`workbench.geometry.neighbors.knn` for neighbour sets, high-D
and 2-D alike. UMAP is fed the same exact graph through ``precomputed_knn``.

Views are cached per (vectors, method, parameters): the cache holds the
vectors tensor by weak reference and keys on its identity and in-place
version counter, so an edited or discarded tensor never returns a stale map.
Plain NumPy inputs are not cached (NumPy has no version counter).

Procrustes alignment of one view onto another (:func:`align_to`,
:func:`align_chain`) lives here, in one place: it is a tiny
``scipy.linalg.orthogonal_procrustes`` call on 2-D/3-D maps, used to keep the
same point still when a user moves between layers.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

from workbench.device import chunk_rows, resolve_device
from workbench.geometry.neighbors import Data, KNNGraph, as_matrix, knn
from workbench.space import LatentSpace

__all__ = [
    "View",
    "METHODS",
    "project",
    "trustworthiness",
    "neighbour_preservation",
    "neighbour_graph",
    "align_to",
    "align_chain",
    "clear_cache",
]

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


# ----------------------------------------------------------------------------
# cache keyed by the vectors tensor's identity and version
# ----------------------------------------------------------------------------


class _TensorCache:
    """Per-tensor dictionaries that disappear with their tensor.

    A ``WeakKeyDictionary`` cannot be used: looking a tensor up there compares
    tensors with ``==``, which is element-wise.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, dict]] = {}

    def store(self, tensor: torch.Tensor) -> dict:
        key = id(tensor)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is tensor:
            return entry[1]
        entries = self._entries

        def forget(_ref: weakref.ref, key: int = key) -> None:
            entries.pop(key, None)

        store: dict = {}
        entries[key] = (weakref.ref(tensor, forget), store)
        return store

    def clear(self) -> None:
        self._entries.clear()


_VIEWS = _TensorCache()
_GRAPHS = _TensorCache()


def clear_cache() -> None:
    """Forget every cached view and neighbour graph."""
    _VIEWS.clear()
    _GRAPHS.clear()


def _cache_owner(data: Data) -> torch.Tensor | None:
    """The tensor whose identity and version key the caches (None: do not cache)."""
    if isinstance(data, LatentSpace):
        return data.vectors
    if isinstance(data, torch.Tensor):
        return data
    return None


def _hashable(params: dict) -> tuple:
    return tuple(sorted((key, repr(value)) for key, value in params.items()))


def neighbour_graph(data: Data, k: int, *, metric: str = "euclidean", progress: bool = False) -> KNNGraph:
    """The exact ``k``-NN graph of ``data``, computed once and reused.

    A graph computed for a larger ``k`` on the same vectors (and metric) is
    truncated rather than recomputed, so local intrinsic dimension (128),
    UMAP (``n_neighbors - 1``) and the preservation score (``k``) share one
    search when the largest is asked for first.

    Returns
    -------
    KNNGraph
        On the CPU, ``indices`` and ``distances`` of shape (n_samples, k).
    """
    owner = _cache_owner(data)
    store = _GRAPHS.store(owner) if owner is not None else {}
    version = owner._version if owner is not None else None
    cached = store.get(metric)
    if cached is not None and cached[0] == version and cached[1].k >= k:
        return cached[1].truncate(k)
    graph = knn(data, k, metric=metric, progress=progress).cpu()
    if owner is not None:
        store[metric] = (version, graph)  # per metric, the largest k asked for so far
    return graph


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
    matrix = as_matrix(data)
    n = matrix.shape[0]
    if n < 4:
        raise ValueError(f"a view needs at least 4 points; got {n}")
    merged = {**_DEFAULTS[method], **params}
    key = (method, _hashable({"dims": dims, "seed": seed, "metric": metric, **merged}), k if quality else None)
    owner = _cache_owner(data) if cache else None
    store = _VIEWS.store(owner) if owner is not None else {}
    version = owner._version if owner is not None else None
    if name is None:
        name = data.name if isinstance(data, LatentSpace) else ""
    cached = store.get((key, version))
    if cached is not None:
        return cached if cached.name == name else replace(cached, name=name)
    if method == "pca":
        coords = _pca(matrix, dims, metric)
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


def _pca(matrix: torch.Tensor, dims: int, metric: str) -> np.ndarray:
    """Principal components in torch, where the vectors are.

    The eigenvectors of the smaller of the covariance (d×d) and the Gram
    matrix (n×n), in float64; signs fixed as scikit-learn's ``svd_flip``
    does (largest loading positive), so the maps agree with ``PCA``. Torch
    rather than scikit-learn because mixing torch's OpenMP threads with
    NumPy's BLAS threads made the same PCA several times slower on few cores.
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
    biggest = components.abs().argmax(0)
    signs = torch.sign(components[biggest, torch.arange(keep, device=components.device)])
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
    coords = (x @ components.float()).cpu().numpy()
    if keep < dims:  # a 2-D space shown in 3-D: the third axis is flat
        coords = np.hstack([coords, np.zeros((n, dims - keep), coords.dtype)])
    return coords


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
        graph = neighbour_graph(data, n_neighbors - 1, metric=metric, progress=progress)
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
# how much a map can be trusted
# ----------------------------------------------------------------------------


def _as_coords(coords: Any, n: int) -> torch.Tensor:
    tensor = as_matrix(coords, "coords")
    if tensor.shape[0] != n:
        raise ValueError(f"coords have {tensor.shape[0]} rows but the space has {n}")
    return tensor


def _neighbours_of_rows(data: torch.Tensor, rows: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Indices of the ``k`` nearest neighbours of ``data[rows]`` among all rows, self excluded."""
    if len(rows) == data.shape[0]:
        return knn(data, k, metric=metric).indices.cpu().numpy()
    index = torch.as_tensor(rows, device=data.device)
    found = knn(data, k + 1, metric=metric, queries=data.index_select(0, index)).indices.cpu().numpy()
    # a query is usually its own first neighbour; with duplicates it may sit
    # anywhere (or be pushed out), so drop it wherever it is, else drop the last
    is_self = found == rows[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(found, order, axis=1)[:, :k]


def _sample_rows(n: int, sample: int | None, seed: int) -> np.ndarray:
    if sample is None or n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=int(sample), replace=False))


def trustworthiness(
    data: Data,
    coords: Any,
    *,
    k: int = 10,
    metric: str = "euclidean",
    sample: int | None = 1000,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> float:
    """How far the neighbours on a map are true neighbours (1 = all are).

    Venna & Kaski's trustworthiness, computed exactly as scikit-learn's
    ``sklearn.manifold.trustworthiness`` when all points are used:
    ``T = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in U_k(i)} (r(i, j) - k)``
    where ``U_k(i)`` are the map neighbours of ``i`` that are not among its
    ``k`` nearest in the space and ``r(i, j)`` is the rank of ``j`` among
    ``i``'s neighbours in the space. Unlike scikit-learn it never builds the
    n×n distance matrix: ranks are counted in chunks on ``device``.

    Parameters
    ----------
    data : LatentSpace, tensor or array of shape (n_samples, n_features)
    coords : array of shape (n_samples, dims)
        The map.
    k : int
        Neighbours, ``k < n_samples / 2``.
    metric : {"euclidean", "cosine"}
        Distance in the space; the map always uses Euclidean distance.
    sample : int or None
        With more rows than this, estimate on this many random query rows.
    seed : int
        Seed of that sample.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 5))
    >>> round(trustworthiness(x, x[:, :2], k=5), 2) < 1.0, trustworthiness(x, x, k=5)
    (True, 1.0)
    """
    matrix = as_matrix(data)
    n = matrix.shape[0]
    low = _as_coords(coords, n)
    k = int(k)
    if not 1 <= k < n / 2:
        raise ValueError(f"k must be between 1 and n/2 = {n / 2:g}; got {k}")
    rows = _sample_rows(n, sample, seed)
    map_neighbours = _neighbours_of_rows(low, rows, k, "euclidean")
    ranks = _ranks(matrix, rows, map_neighbours, metric, resolve_device(device))
    penalty = np.clip(ranks - k, 0, None).sum(dtype=np.float64)
    mean_penalty = penalty / len(rows)
    return float(1.0 - mean_penalty * 2.0 / (k * (2.0 * n - 3.0 * k - 1.0)))


def _ranks(matrix: torch.Tensor, rows: np.ndarray, targets: np.ndarray, metric: str, device: torch.device) -> np.ndarray:
    """Rank (1 = nearest, self excluded) in the space of each ``targets[i, j]`` as a neighbour of ``rows[i]``.

    The rank is 1 + the number of points strictly closer (ties count in the
    target's favour; scikit-learn breaks them in arbitrary argsort order).
    Per chunk of query rows: one distance matrix, one pass keeping the
    distances below the row's farthest target, and a histogram of those
    against the row's sorted targets, instead of one pass per target.
    """
    dtype = torch.float64 if matrix.dtype == torch.float64 else torch.float32
    x = matrix.to(device=device, dtype=dtype)
    if metric == "cosine":
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    else:
        x = x - x.mean(0, keepdim=True)
    n, k = x.shape[0], targets.shape[1]
    x_sq = (x * x).sum(1)
    # distances, mask, and at worst every index of the kept ones (two int64) with their bucket
    chunk = chunk_rows(n * (dtype.itemsize * 2 + 1 + 3 * 8), device=device, n_rows=len(rows), max_rows=256)
    out = np.empty(targets.shape, dtype=np.int64)
    rows_t = torch.as_tensor(rows, device=device)
    targets_t = torch.as_tensor(targets, device=device)
    with torch.inference_mode():
        for start in range(0, len(rows), chunk):
            query_rows = rows_t[start : start + chunk]
            b = len(query_rows)
            block = x[query_rows]
            # only the order within a row matters, so the row's own |q|^2 (and
            # the 1 of 1 - cos) are left out: one fused matrix product
            if metric == "cosine":
                dist = torch.mm(block, x.T).neg_()
            else:
                dist = torch.addmm(x_sq.expand(b, n), block, x.T, alpha=-2.0)
            dist[torch.arange(b, device=device), query_rows] = float("inf")  # not its own neighbour
            target_dist, order = torch.gather(dist, 1, targets_t[start : start + chunk]).sort(1)
            row, col = (dist < target_dist[:, -1:]).nonzero(as_tuple=True)
            # bucket = how many of the row's targets are <= the distance; a
            # point closer than the j-th target falls in a bucket <= j
            bucket = torch.searchsorted(target_dist[row], dist[row, col][:, None], right=True).squeeze(1)
            hist = torch.bincount(row * (k + 1) + bucket, minlength=b * (k + 1))
            closer = hist.view(b, k + 1).cumsum(1)[:, :k]
            out[start : start + b] = (1 + torch.empty_like(closer).scatter_(1, order, closer)).cpu().numpy()
    return out


def neighbour_preservation(
    data: Data,
    coords: Any,
    *,
    k: int = 10,
    metric: str = "euclidean",
    graph: KNNGraph | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Per point, the share of its ``k`` nearest neighbours in the space that stay among its ``k`` nearest on the map.

    1 means the map keeps the point's neighbourhood; 0 means its map
    neighbours are all strangers. The mean over points is the "neighbourhood
    hit" of a map.

    Parameters
    ----------
    data : LatentSpace, tensor or array of shape (n_samples, n_features)
    coords : array of shape (n_samples, dims)
    k : int
    metric : {"euclidean", "cosine"}
        Distance in the space.
    graph : KNNGraph, optional
        The space's neighbour graph (at least ``k`` neighbours, same metric);
        by default computed once and cached.

    Returns
    -------
    ndarray of shape (n_samples,), float32, values in {0, 1/k, ..., 1}

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 3))
    >>> float(neighbour_preservation(x, x, k=5).mean())
    1.0
    """
    matrix = as_matrix(data)
    n = matrix.shape[0]
    low = _as_coords(coords, n)
    k = int(k)
    if graph is None or graph.k < k or graph.metric != metric or graph.n != n:
        graph = neighbour_graph(data, k, metric=metric, progress=progress)
    high = graph.truncate(k).indices.cpu().numpy()
    near = knn(low, k, progress=progress).indices.cpu().numpy()
    # both rows hold k distinct indices, so shared ones are the equal
    # neighbours in the sorted concatenation
    both = np.sort(np.hstack([high, near]), axis=1)
    shared = (both[:, 1:] == both[:, :-1]).sum(1)
    return (shared / k).astype(np.float32)


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
    from scipy.linalg import orthogonal_procrustes

    coords = np.asarray(coords, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if coords.shape != reference.shape:
        raise ValueError(f"cannot align a view of shape {coords.shape} to one of shape {reference.shape}")
    a = coords - coords.mean(0)
    b = reference - reference.mean(0)
    norm = float((a * a).sum())
    if norm == 0.0:
        return np.broadcast_to(reference.mean(0), coords.shape).astype(np.float32)
    rotation, singular_sum = orthogonal_procrustes(a, b)
    return ((a @ rotation) * (singular_sum / norm) + reference.mean(0)).astype(np.float32)


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
