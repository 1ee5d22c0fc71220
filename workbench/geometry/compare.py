"""How alike are two latent spaces? Neighbour retrieval, cosine and linear CKA.

Two spaces are compared on the samples they share, matched by ``id``: two
seeds of one model, two models, two layers, a text and a speech model on
parallel data. The measures are those of the relative-representations paper
(lucmos/relreps, word-embedding study) plus linear CKA:

- ``"jaccard"`` and ``"mrr"`` are *retrieval across spaces*: sample ``i``'s
  vector in space A is used as a query among the rows of space B. They ask
  whether the two spaces put the samples in the same coordinates, so they
  need equal widths; they are what tells relative spaces (same anchors) from
  absolute ones (coordinates fixed by the seed).
- ``"cosine"``: mean cosine between a sample's two vectors; equal widths too.
- ``"cka"``: linear CKA (Kornblith et al., 2019), for any two widths,
  invariant to rotations and isotropic scaling of either space.
- ``"overlap"``: Jaccard of each space's *own* k-NN sets (the "mutual
  neighbours" measure), for any two widths: do both spaces agree on which
  samples are neighbours, whatever their coordinates?

All neighbour searches go through :func:`workbench.geometry.neighbors.knn`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from workbench._checks import Data, check_int, warn
from workbench._space_checks import match_rows
from workbench.device import resolve_device
from workbench.geometry.neighbors import Metric, knn, neighbor_graph
from workbench.geometry.similarity import MEASURES, centred, linear_cka, similarity
from workbench.geometry.similarity.mutual_knn import shared_entries
from workbench.geometry.similarity.registry import mutual_knn_estimate
from workbench.geometry.uncertainty import COLUMNS
from workbench.space import LatentSpace, LayerStack

__all__ = ["compare", "compare_layers", "linear_cka", "match_rows", "METRICS"]

#: compare's own neighbour measures, then every measure of the similarity registry
METRICS = ("jaccard", "mrr", "cosine", "overlap", *MEASURES)
#: metrics that compare coordinates directly, so need spaces of one width
CROSS_SPACE = ("jaccard", "mrr", "cosine")


def compare(
    space_a: Data,
    space_b: Data,
    *,
    k: int = 10,
    metrics: Sequence[str] = ("jaccard", "mrr", "cosine", "cka"),
    distance: Metric = "cosine",
    device: str | torch.device = "auto",
    progress: bool = False,
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
) -> pd.Series | pd.DataFrame:
    """Compare two latent spaces on the samples they share (matched by id).

    Parameters
    ----------
    space_a, space_b : LatentSpace, tensor or array
        The spaces. Arrays are matched by row position.
    k : int, default 10
        Neighbourhood size for ``"jaccard"``, ``"mrr"`` and ``"overlap"``.
    metrics : sequence of {"jaccard", "mrr", "cosine", "cka", "overlap"}
        What to compute:

        ``"jaccard"``
            Jaccard@k of retrieval across spaces (relreps): for each shared
            sample ``i``, the set of the k rows of B nearest to ``b_i``
            (``b_i`` itself included, first) against the set of the k rows of
            B nearest to ``a_i`` -- A's vector used as a query in B's
            coordinates. Mean over samples of ``|S ∩ T| / |S ∪ T|``.
        ``"mrr"``
            Mean reciprocal rank of the counterpart (relreps): ``1 / r`` where
            ``r`` is the rank of ``b_i`` among the k rows of B nearest to the
            query ``a_i``, and 0 when ``b_i`` is not among them.
        ``"cosine"``
            Mean over samples of ``cos(a_i, b_i)``.
        ``"cka"``
            :func:`linear_cka`.
        ``"overlap"``
            Mean over samples of the Jaccard of ``i``'s k nearest neighbours
            in A and in B, each space searched on its own (self excluded).
        ``"mutual_knn"``, ``"cka_debiased"``, ``"svcca"``, ``"pwcca"``, ``"rsa"``, ``"procrustes"``
            The measures of :data:`workbench.geometry.similarity.MEASURES`
            (mutual-kNN alignment, debiased CKA, SVCCA, PWCCA, RSA,
            orthogonal Procrustes distance -- lower is closer), for any two
            widths.

        The first three read coordinates of one space in the other, so they
        need equal widths, and they mean something only when the coordinates
        correspond: relative spaces on the same anchor ids, or a space and
        its Procrustes alignment. For spaces of different widths they are
        NaN, with a warning. ``"jaccard"`` and ``"mrr"`` are not symmetric:
        A queries B.
    distance : {"cosine", "euclidean"}, default "cosine"
        Neighbour distance (relreps uses cosine).
    device : {"auto", "cpu", "cuda", ...}
        Where the neighbour searches run.
    progress : bool, default False
        Show progress bars over the chunks of large neighbour searches.
    n_permutations : int, default 0
        Rows of B shuffled this many times for a permutation null (``null_mean``,
        ``null_q95``, ``p_value``). Global measures such as CKA sit far above
        zero for unrelated models at realistic N and D (Gröger et al. 2026):
        read them next to their null.
    n_bootstrap : int, default 0
        Resamples for a percentile interval (``ci_low``, ``ci_high``).
    seed : int, default 0
    level : float, default 0.95

    Returns
    -------
    pandas.Series
        One value per metric, named ``"<a> vs <b>"``; ``attrs["n"]`` is the
        number of shared samples.
    pandas.DataFrame
        With ``n_permutations`` or ``n_bootstrap``: one row per metric,
        columns ``value``, ``ci_low``, ``ci_high``, ``null_mean``,
        ``null_q95``, ``p_value`` (the vocabulary of
        :mod:`workbench.geometry.uncertainty`); only the registry's measures
        (:data:`~workbench.geometry.similarity.MEASURES`) have nulls here.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(60, 6, generator=torch.Generator().manual_seed(0))
    >>> compare(x, x, k=5).round(6).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    metrics = _check_metrics(metrics)
    a, b = match_rows(space_a, space_b, warn_partial=True)
    _check_k(k, a.n, metrics)
    n_permutations = check_int(n_permutations, "n_permutations", minimum=0)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=0)
    if n_permutations or n_bootstrap:
        return _with_uncertainty(a, b, metrics, k=k, distance=distance, device=device, n_permutations=n_permutations,
                                 n_bootstrap=n_bootstrap, seed=seed, level=level)
    cache = _Neighbours(k, distance, device, progress)
    key_b = "a" if space_a is space_b else "b"
    values = {metric: _pair_value(metric, a, b, cache, "a", key_b) for metric in metrics}
    _warn_if_incomparable(a, b, metrics)
    result = pd.Series(values, name=f"{a.name} vs {b.name}", dtype=float)
    result.attrs["n"] = a.n
    return result


def _with_uncertainty(a: LatentSpace, b: LatentSpace, metrics: list[str], **options) -> pd.DataFrame:
    without = [m for m in metrics if m not in MEASURES]
    if without:
        raise ValueError(
            f"n_permutations / n_bootstrap give nulls and intervals for the measures {sorted(MEASURES)}; "
            f"{without} have none here: leave them out of metrics= (or compare them without nulls)"
        )
    k, distance = options.pop("k"), options.pop("distance")
    rows = {m: similarity(a.vectors, b.vectors, m, k=k, metric=distance, **options).as_dict() for m in metrics}
    table = pd.DataFrame.from_dict(rows, orient="index")[["value", *COLUMNS, "n_permutations", "n_bootstrap"]]
    table.index.name = f"{a.name} vs {b.name}"
    table.attrs["n"] = a.n
    return table


def compare_layers(
    stack: LayerStack,
    other: LayerStack | None = None,
    *,
    metric: str = "cka",
    k: int = 10,
    distance: Metric = "cosine",
    device: str | torch.device = "auto",
    progress: bool = True,
    n_permutations: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Layer × layer similarity matrix, within one model or between two.

    Parameters
    ----------
    stack : LayerStack
        Rows of the matrix.
    other : LayerStack, optional
        Columns of the matrix (another model on samples shared by id);
        by default ``stack`` itself.
    metric : {"cka", "overlap", "jaccard", "mrr", "cosine"}, default "cka"
        One of :func:`compare`'s metrics. Entry ``[i, j]`` is
        ``compare(stack[i], other[j])``: for the asymmetric ``"jaccard"`` and
        ``"mrr"`` the row layer queries the column layer.
    k, distance, device
        As in :func:`compare`.
    progress : bool, default True
        Show a progress bar over layer pairs.
    n_permutations : int, default 0
        For the measures of :data:`~workbench.geometry.similarity.MEASURES`:
        a permutation null per layer pair (rows of the column layer shuffled),
        whose ``p_value`` and ``null_q95`` matrices come in ``attrs``.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame of shape (n_layers, n_layers_other)
        Ready for ``plotly.express.imshow``. With ``n_permutations``,
        ``attrs["p_value"]`` and ``attrs["null_q95"]`` are DataFrames of the
        same shape.

    Examples
    --------
    >>> import torch, pandas as pd
    >>> x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    >>> stack = LayerStack({0: x, 1: 2 * x, 2: torch.randn(40, 4)}, meta=pd.DataFrame({"id": range(40)}))
    >>> float(compare_layers(stack, progress=False).round(3).iloc[0, 1])
    1.0
    """
    (metric,) = _check_metrics([metric])
    other = stack if other is None else other
    for which in (stack, other):
        if not isinstance(which, LayerStack):
            raise TypeError(f"compare_layers needs LayerStacks; got {type(which).__name__} (use compare for two spaces)")
    # match once on the shared meta; then every layer pair shares rows
    first_a, first_b = match_rows(stack[stack.layers[0]], other[other.layers[0]])
    rows_a = pd.Index(stack.ids).get_indexer(first_a.ids)
    rows_b = pd.Index(other.ids).get_indexer(first_b.ids)
    _check_k(k, len(rows_a), [metric])
    layers_a = _rows(stack, rows_a)
    layers_b = layers_a if other is stack else _rows(other, rows_b)
    # the other stack's layers get their own cache keys unless it is the same stack
    side_b = "a" if other is stack else "b"
    index = pd.Index(stack.layers, name=stack.name)
    columns = pd.Index(other.layers, name=other.name)
    if check_int(n_permutations, "n_permutations", minimum=0):
        return _layers_with_nulls(layers_a, layers_b, index, columns, metric=metric, k=k, distance=distance,
                                  device=device, n_permutations=n_permutations, seed=seed, progress=progress)
    if metric == "cka" and (len(layers_a) + len(layers_b)) * len(rows_a) ** 2 * 8 <= _GRAM_BYTES:
        matrix = _cka_matrix(layers_a, layers_b)
    else:
        cache = _Neighbours(k, distance, device)
        pairs = [(i, j) for i in range(len(layers_a)) for j in range(len(layers_b))]
        if progress and len(pairs) > 1:
            from tqdm.auto import tqdm

            pairs = tqdm(pairs, desc=f"{metric} between layers", unit="pair")
        matrix = np.empty((len(layers_a), len(layers_b)))
        for i, j in pairs:
            matrix[i, j] = _pair_value(metric, layers_a[i], layers_b[j], cache, ("a", i), (side_b, j))
        pair = next(((x, y) for x in layers_a for y in layers_b if x.dim != y.dim), (layers_a[0], layers_b[0]))
        _warn_if_incomparable(*pair, [metric])
    frame = pd.DataFrame(matrix, index=index, columns=columns)
    frame.attrs.update(metric=metric, n=len(rows_a))
    return frame


def _layers_with_nulls(layers_a: list, layers_b: list, index: pd.Index, columns: pd.Index, *, metric: str,
                       progress: bool, **options) -> pd.DataFrame:
    if metric not in MEASURES:
        raise ValueError(f"n_permutations gives nulls for the measures {sorted(MEASURES)}; {metric!r} has none here")
    k, distance = options.pop("k"), options.pop("distance")
    pairs = [(i, j) for i in range(len(layers_a)) for j in range(len(layers_b))]
    if progress and len(pairs) > 1:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, desc=f"{metric} between layers, with nulls", unit="pair")
    shape = (len(layers_a), len(layers_b))
    values, p_values, q95 = np.empty(shape), np.empty(shape), np.empty(shape)
    graphs = _layer_graphs(layers_a, layers_b, k, distance, options["device"]) if metric == "mutual_knn" else None
    for i, j in pairs:
        if graphs is not None:  # one search per layer, not one per pair: a shuffle only relabels a graph
            result = mutual_knn_estimate(graphs[0][i], graphs[1][j], n_permutations=options["n_permutations"],
                                         seed=options["seed"])  # fmt: skip
        else:
            result = similarity(layers_a[i].vectors, layers_b[j].vectors, metric, k=k, metric=distance, **options)
        values[i, j], p_values[i, j], q95[i, j] = result.value, result.p_value, result.null_q95
    frame = pd.DataFrame(values, index=index, columns=columns)
    frame.attrs.update(
        metric=metric, n=layers_a[0].n, n_permutations=options["n_permutations"],
        p_value=pd.DataFrame(p_values, index=index, columns=columns),
        null_q95=pd.DataFrame(q95, index=index, columns=columns),
    )
    return frame


# ----------------------------------------------------------------------------
# internals
# ----------------------------------------------------------------------------

#: CKA between many layers goes through per-layer Gram matrices (n × n,
#: float64) when they all fit in this many bytes, and pair by pair otherwise
_GRAM_BYTES = 2**30


def _layer_graphs(layers_a: list[LatentSpace], layers_b: list[LatentSpace], k: int, distance: Metric,
                  device: str | torch.device) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each layer's k-NN indices: sorted by index for the rows' side, as found for the columns' side."""
    where = resolve_device(device)
    indices_a = [knn(space.vectors, k, metric=distance, device=where).indices for space in layers_a]
    indices_b = indices_a if layers_b is layers_a else [knn(s.vectors, k, metric=distance, device=where).indices for s in layers_b]
    return [indices.sort(dim=1).values for indices in indices_a], indices_b


def _rows(stack: LayerStack, positions: np.ndarray) -> list[LatentSpace]:
    """Every layer restricted to ``positions`` (no copy when that is every row in order)."""
    if np.array_equal(positions, np.arange(stack.n)):
        return list(stack)
    return [space.take(positions) for space in stack]


def _check_metrics(metrics: Sequence[str]) -> list[str]:
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must be among {METRICS}; got {list(metrics)}")
    return list(metrics)


def _check_k(k: int, n: int, metrics: Sequence[str]) -> None:
    if not any(m in ("jaccard", "mrr", "overlap", "mutual_knn") for m in metrics):
        return
    if not 1 <= int(k) < n:
        raise ValueError(f"k must be between 1 and {n - 1} (the spaces share {n} samples); got {k}")


def _warn_if_incomparable(a: LatentSpace, b: LatentSpace, metrics: Sequence[str]) -> None:
    cross = [m for m in metrics if m in CROSS_SPACE]
    if not cross:
        return
    if a.dim != b.dim:
        warn(
            f"{', '.join(cross)} read one space's coordinates in the other, so they need equal widths "
            f"({a.name!r} has {a.dim}, {b.name!r} has {b.dim}); they are NaN. Project both spaces onto the "
            "same anchor ids with RelativeProjection (or align them with Procrustes), or use 'cka' / 'overlap'.",
        )
        return
    anchors_a = a.provenance.get("relative", {}).get("anchors")
    anchors_b = b.provenance.get("relative", {}).get("anchors")
    if anchors_a is not None and anchors_b is not None and anchors_a != anchors_b:
        warn(
            f"{a.name!r} and {b.name!r} are relative to different anchors, so their coordinates do not "
            f"correspond and {', '.join(cross)} are not meaningful; project both on the same anchor ids",
        )


class _Neighbours:
    """k-NN results reused across the metrics and layer pairs of one call."""

    def __init__(self, k: int, distance: Metric, device: str | torch.device, progress: bool = False) -> None:
        self.k, self.distance, self.device, self.progress = int(k), distance, device, progress
        self._own: dict = {}
        self._cross: dict = {}

    def own(self, key, space: LatentSpace, k: int) -> torch.Tensor:
        """Each row's ``k`` nearest other rows of ``space``."""
        if key not in self._own:
            # the space's own graph comes from the shared cache: views and LID reuse it
            graph = neighbor_graph(space, self.k, metric=self.distance, device=self.device, progress=self.progress)
            self._own[key] = graph.indices
        return self._own[key][:, :k]

    def cross(self, key_a, key_b, a: LatentSpace, b: LatentSpace) -> torch.Tensor:
        """The ``k`` rows of ``b`` nearest to each row of ``a`` used as a query."""
        if (key_a, key_b) not in self._cross:
            graph = knn(b, self.k, queries=a, metric=self.distance, device=self.device, progress=self.progress)
            self._cross[key_a, key_b] = graph.indices.cpu()
        return self._cross[key_a, key_b]

    def retrieval(self, key_a, key_b, a: LatentSpace, b: LatentSpace) -> tuple[torch.Tensor, torch.Tensor]:
        """``(found, target)``: B's top-k for query ``a_i``; B's top-k for ``b_i``, itself first."""
        found = self.cross(key_a, key_b, a, b)
        own = torch.arange(b.n)[:, None]
        target = torch.cat([own, self.own(key_b, b, self.k - 1)], dim=1) if self.k > 1 else own
        return found, target


def _pair_value(metric: str, a: LatentSpace, b: LatentSpace, cache: _Neighbours, key_a, key_b) -> float:
    if metric == "cka":
        return linear_cka(a, b)
    if metric == "mutual_knn":  # from the graphs the other neighbour measures share
        own_a = cache.own(key_a, a, cache.k).sort(dim=1).values
        return float((shared_entries(own_a.cpu(), cache.own(key_b, b, cache.k).cpu()) / cache.k).mean())
    if metric in MEASURES:
        return similarity(a.vectors, b.vectors, metric, k=cache.k, metric=cache.distance, device=cache.device).value
    if metric == "overlap":
        return float(_row_jaccard(cache.own(key_a, a, cache.k), cache.own(key_b, b, cache.k)).mean())
    if a.dim != b.dim:
        return float("nan")
    if metric == "cosine":
        return float(_mean_cosine(a.vectors, b.vectors))
    found, target = cache.retrieval(key_a, key_b, a, b)
    if metric == "jaccard":
        return float(_row_jaccard(found, target).mean())
    ranks = (found == torch.arange(b.n)[:, None]).to(torch.float64)
    reciprocal = ranks / torch.arange(1, found.shape[1] + 1, dtype=torch.float64)
    return float(reciprocal.sum(1).mean())


def _row_jaccard(x: torch.Tensor, y: torch.Tensor, chunk: int = 16384) -> torch.Tensor:
    """Per-row Jaccard of two index sets of shape (n, k) with distinct entries per row."""
    inter = torch.cat([
        shared_entries(x[start : start + chunk].sort(dim=1).values, y[start : start + chunk])
        for start in range(0, x.shape[0], chunk)
    ])
    return inter / (x.shape[1] + y.shape[1] - inter)


def _mean_cosine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x, y = x.to(torch.float64), y.to(torch.float64)
    norms = x.norm(dim=1) * y.norm(dim=1)
    zero = torch.nonzero(norms == 0).flatten()
    if len(zero):
        raise ValueError(f"cosine is undefined for zero vectors; {len(zero)} shared row(s) are zero in a space")
    return ((x * y).sum(1) / norms).mean()


def _cka_matrix(spaces_a: list[LatentSpace], spaces_b: list[LatentSpace]) -> np.ndarray:
    """Linear CKA between every pair, from normalised centred Gram matrices."""

    def grams(spaces):
        out = []
        for space in spaces:
            x = centred(space, space.name)
            gram = x @ x.T
            out.append((gram / gram.norm()).flatten())
        return torch.stack(out)

    left = grams(spaces_a)
    right = left if spaces_b is spaces_a else grams(spaces_b)
    return (left @ right.T).numpy()
