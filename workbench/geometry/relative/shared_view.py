"""One shared view across modalities: relative representations on parallel anchors.

A text model's space (width 384), a speech model's (768) and a vision model's
(1764 HOG bins, say) have nothing in common coordinate-wise. Re-express every
item in each of them by its similarities to the *same anchor items* --
parallel anchors, each encoded by its own modality's model -- and all three
become spaces of one width whose coordinate ``j`` means the same thing
everywhere: "how much like anchor ``j`` is this item" (Moschella et al.,
ICLR 2023). No training, no paired fitting beyond choosing the anchors.

:func:`shared_view` builds that view with
:class:`~workbench.geometry.relative.RelativeProjection`; how shared it is
comes from :mod:`.cross_modal` (cross-modal retrieval, label agreement, with
their intervals and nulls), re-exported here.

Absolute spaces of different widths cannot be compared coordinate by
coordinate at all; ``align="procrustes"`` rotates the query modality onto
the other with :class:`~workbench.geometry.relative.procrustes.Procrustes`, fitted on the
anchor pairs only, so relative and absolute views are judged on the same
supervision. :meth:`SharedView.summary` sets the relative view against that
baseline (and against the raw absolute spaces when their widths agree), and
warns when the relative view agrees *less* than the absolute one did: with
unlucky settings (no centring, few or random anchors on an anisotropic
space) a relative projection can lose what the coordinates already shared.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from workbench._checks import warn
from workbench.geometry.compare import compare
from workbench.geometry.relative.anchors import select_anchors
from workbench.geometry.relative.cross_modal import (
    NullOptions,
    agreement_table,
    cross_modal_retrieval,
    emotion_agreement,
    retrieval_table,
)
from workbench.geometry.relative.pairs import SpacePairs, match_spaces
from workbench.geometry.relative.projection import RelativeProjection, jsonable
from workbench.geometry.uncertainty import COLUMNS
from workbench.space import LatentSpace

__all__ = ["SharedView", "shared_view", "match_spaces", "center_by", "cross_modal_retrieval", "emotion_agreement"]

#: relative below absolute by more than this (on a 0-1 measure) is reported; smaller gaps are noise at
#: the sizes of a notebook (a few hundred items)
WORSE_BY = 0.01


def center_by(space: LatentSpace, column: str) -> LatentSpace:
    """Subtract from every row the mean of its group: take a nuisance factor out of a space.

    Each modality has a factor that dominates its neighbourhoods and has
    nothing to do with the emotion: the situation a sentence describes, the
    voice that speaks it, the person whose face shows it. Where every group
    holds every emotion (the built-in corpus: every situation with all seven;
    the shipped speech: every speaker with all seven), subtracting the group
    means removes the factor and keeps the emotion.

    Parameters
    ----------
    space : LatentSpace
    column : str
        Meta column naming the groups (``"context"``, ``"speaker"``, ``"identity"``).

    Returns
    -------
    LatentSpace
        Same shape and meta; provenance records ``centered_by``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> meta = pd.DataFrame({"id": range(4), "speaker": ["a", "a", "b", "b"]})
    >>> center_by(LatentSpace(np.array([[1.0], [3.0], [10.0], [14.0]]), meta), "speaker").vectors.flatten().tolist()
    [-1.0, 1.0, -2.0, 2.0]
    """
    groups = torch.as_tensor(pd.factorize(space.labels(column))[0], device=space.device)
    if bool((groups < 0).any()):
        raise ValueError(f"column {column!r} has missing values; every row needs a group")
    x = space.vectors.to(torch.float64)
    sums = torch.zeros(int(groups.max()) + 1, space.dim, dtype=x.dtype, device=x.device).index_add_(0, groups, x)
    counts = torch.bincount(groups).to(x.dtype)
    centred = (x - (sums / counts[:, None])[groups]).to(space.dtype)
    provenance = {**space.provenance, "centered_by": column}
    return space.with_vectors(centred, name=f"{space.name} − {column}", provenance=provenance)


class SharedView(Mapping):
    """Relative spaces of several modalities on the same anchors (see :func:`shared_view`).

    Behaves as a read-only mapping modality -> relative LatentSpace, so it
    goes where a dict of spaces goes (``compare(view["text"], view["speech"])``,
    a linked Explorer).

    Attributes
    ----------
    anchors : ndarray of shape (n_anchors,)
        The anchor ids, in coordinate order.
    absolute : dict of str to LatentSpace
        The input spaces on the shared items, in the same row order.
    projections : dict of str to RelativeProjection
        The fitted projection of each modality.
    """

    def __init__(self, relative: dict[str, LatentSpace], absolute: dict[str, LatentSpace],
                 projections: dict[str, RelativeProjection], anchors: np.ndarray) -> None:
        self._relative, self.absolute, self.projections, self.anchors = relative, absolute, projections, anchors

    def __getitem__(self, key: str) -> LatentSpace:
        return self._relative[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._relative)

    def __len__(self) -> int:
        return len(self._relative)

    def __repr__(self) -> str:
        widths = ", ".join(f"{key}: {space.n}x{space.dim}" for key, space in self._relative.items())
        return f"SharedView({len(self.anchors)} anchors; {widths})"

    def retrieval(self, *, ks: Sequence[int] = (1, 5), device: str | torch.device = "auto", n_permutations: int = 0,
                  n_bootstrap: int = 0, seed: int = 0, level: float = 0.95, groups: str | None = None) -> pd.DataFrame:
        """:func:`cross_modal_retrieval` on the relative spaces (anchors left out).

        Parameters
        ----------
        ks, device, n_permutations, n_bootstrap, seed, level, groups
            As in :func:`cross_modal_retrieval`: ``n_permutations`` breaks the
            pairing of the items (null mean ~ k / n), ``n_bootstrap``
            resamples the query items (whole ``groups`` when given).

        Returns
        -------
        DataFrame
            One row per (query, target) pair; with nulls or intervals one
            row per (query, target, measure) with ``value``, ``ci_low``,
            ``ci_high``, ``null_mean``, ``null_q95``, ``p_value``, ``chance``.
        """
        return cross_modal_retrieval(self._relative, ks=ks, device=device, n_permutations=n_permutations,
                                     n_bootstrap=n_bootstrap, seed=seed, level=level, groups=groups)

    def agreement(self, *, label: str = "emotion", k: int = 10, device: str | torch.device = "auto",
                  n_permutations: int = 0, n_bootstrap: int = 0, seed: int = 0, level: float = 0.95,
                  groups: str | None = None) -> pd.DataFrame:
        """:func:`emotion_agreement` on the relative spaces (anchors left out).

        Parameters
        ----------
        label, k, device, n_permutations, n_bootstrap, seed, level, groups
            As in :func:`emotion_agreement`: ``n_permutations`` shuffles the
            labels over the items (null mean ~ ``attrs["chance"]``).

        Returns
        -------
        DataFrame
            The (query, target) matrix; with nulls or intervals one row per
            (query, target) with the columns of :meth:`retrieval`.
        """
        return emotion_agreement(self._relative, label=label, k=k, device=device, n_permutations=n_permutations,
                                 n_bootstrap=n_bootstrap, seed=seed, level=level, groups=groups)

    def summary(self, *, label: str = "emotion", k: int = 10, ks: Sequence[int] = (1, 5),
                device: str | torch.device = "auto", n_permutations: int = 0, n_bootstrap: int = 0, seed: int = 0,
                level: float = 0.95, groups: str | None = None) -> pd.DataFrame:
        """Relative view against the absolute spaces, on the same held-out items.

        The absolute baselines are ``"procrustes"`` (the absolute query space
        rotated onto the target's, fitted on the anchor pairs: the same
        supervision the relative view has) and, when every space has the
        same width, ``"absolute"`` (the coordinates as they are: two layers
        of one model, or two seeds).

        A UserWarning names both numbers and the settings to try when the
        relative view agrees with its partner less than the absolute spaces
        did (``"absolute"`` when there, else ``"procrustes"``; mean over the
        pairs, lower by more than :data:`WORSE_BY`) on Jaccard@k -- the
        relreps measure the defaults of
        :class:`~workbench.geometry.relative.RelativeProjection` were chosen
        by -- or on label agreement. Counterpart retrieval is left out of
        that test: a residual stream keeps two layers' coordinates so close
        that the raw vectors find their counterparts almost always, which
        no relative view on a hundred anchors matches, though its
        neighbourhoods agree better.

        Parameters
        ----------
        label, k, ks, device
            As in :meth:`agreement` and :meth:`retrieval`; ``k`` is also the
            neighbourhood of Jaccard@k.
        n_permutations, n_bootstrap, seed, level, groups
            As in :func:`cross_modal_retrieval`.

        Returns
        -------
        DataFrame
            One row per view and (query, target) pair: top-k retrieval, MRR,
            emotion agreement and their chance levels, and ``jaccard``
            (:func:`~workbench.geometry.compare.compare`'s Jaccard@k: the
            query's k nearest targets against the counterpart's own). With
            nulls or intervals: one row per view, (query, target) and
            measure (``top{k}``, ``mrr``, ``agreement``, ``jaccard``),
            columns ``value``, ``ci_low``, ``ci_high``, ``null_mean``,
            ``null_q95``, ``p_value``, ``chance`` (NaN for ``jaccard``,
            which has no null here).
        """
        views = {
            "relative": SpacePairs(self._relative, self.anchors, None, None),
            "procrustes": SpacePairs(self.absolute, self.anchors, "procrustes", self.anchors),
        }
        if len({space.dim for space in self.absolute.values()}) == 1:
            views["absolute"] = SpacePairs(self.absolute, self.anchors, None, None)
        nulls = NullOptions(n_permutations, n_bootstrap, seed, level, groups)
        frames = []
        for view, pairs in views.items():
            retrieval = retrieval_table(pairs, ks, device, nulls)
            agreement = agreement_table(pairs, label, k, device, nulls)
            jaccard = {(a, b): _jaccard(pairs, a, b, k, device) for a, b in pairs.keys(include_self=False)}
            if nulls.asked:
                overlap = retrieval[retrieval["measure"] == "mrr"].assign(measure="jaccard", value=list(jaccard.values()))
                overlap[[*COLUMNS, "chance"]] = np.nan
                overlap[["n_permutations", "n_bootstrap"]] = 0
                frame = pd.concat([retrieval, agreement[agreement["query"] != agreement["target"]], overlap])
            else:
                frame = retrieval
                frame["agreement"] = [agreement.loc[a, b] for a, b in zip(frame["query"], frame["target"])]
                frame["chance_agreement"] = agreement.attrs["chance"]
                frame["jaccard"] = list(jaccard.values())
            frame.insert(0, "view", view)
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        self._warn_if_relative_lost(table, "absolute" if "absolute" in views else "procrustes", nulls.asked)
        return table

    def _warn_if_relative_lost(self, table: pd.DataFrame, baseline: str, long: bool) -> None:
        """Warn when the relative view scores below ``baseline`` on Jaccard@k or on label agreement."""
        measures = ["jaccard", "agreement"]
        if long:
            means = table[table["measure"].isin(measures)].groupby(["view", "measure"])["value"].mean()
            means = means.unstack("measure")
        else:
            means = table.groupby("view")[measures].mean()
        lost = [
            f"{measure} {means.loc['relative', measure]:.3f} relative vs {means.loc[baseline, measure]:.3f} {baseline}"
            for measure in measures
            if means.loc["relative", measure] < means.loc[baseline, measure] - WORSE_BY
        ]
        if lost:
            warn(f"the relative view agrees with its partner less than the {baseline} spaces did "
                 f"({'; '.join(lost)}; mean over pairs): the projection lost what the coordinates shared. "
                 f"{self._settings_to_try()}")

    def _settings_to_try(self) -> str:
        settings = next(iter(self.projections.values())).get_params()
        now = f"now center={settings['center']}, {len(self.anchors)} anchors, similarity={settings['similarity']!r}"
        hints = ([] if settings["center"] else ["center=True"]) + [f"more anchors (e.g. {2 * len(self.anchors)})",
                                                                     "anchors chosen with strategy='fps'"]
        return f"Try {', '.join(hints)} ({now})."


def _jaccard(pairs: SpacePairs, a: str, b: str, k: int, device: str | torch.device) -> float:
    """compare's Jaccard@k of ``a`` queried among ``b`` (rotated first when the pairs are aligned)."""
    return float(compare(pairs.queries(a, b), pairs.evaluated[b].vectors, k=k, metrics=["jaccard"], device=device)["jaccard"])


def shared_view(
    spaces: Mapping[str, LatentSpace],
    anchors: Sequence | int,
    *,
    similarity: str = "cosine",
    center: bool = True,
    strategy: str = "stratified",
    by: str | None = "emotion",
    seed: int = 0,
    device: str | torch.device = "auto",
) -> SharedView:
    """Project every modality onto the same parallel anchors.

    Parameters
    ----------
    spaces : mapping of str to LatentSpace
        One space per modality (any widths), paired by ``id``. Only the items
        all of them hold are kept, in the first space's order.
    anchors : sequence of ids or int
        The anchor items' ids (every space must hold them), or a number of
        anchors to choose from the first space with
        :func:`~workbench.geometry.relative.anchors.select_anchors` (``strategy``,
        ``by``, ``seed``). Choose them from a training split to keep test
        items out.
    similarity : {"cosine", "euclidean", "l1", "rbf"}
        See :class:`~workbench.geometry.relative.RelativeProjection`.
    center : bool, default True
        Subtract each modality's anchor mean before the similarity. The
        original method does not; across modalities it matters, because
        hand-crafted features (HOG: all positive) and sentence embeddings
        (anisotropic) put every item at a high cosine to every anchor, which
        hides the differences the shared view is about.
    strategy, by, seed
        How to choose anchors when ``anchors`` is a number; by default
        stratified over ``emotion`` so every emotion has anchors.
    device : {"auto", "cpu", "cuda", ...}

    Returns
    -------
    SharedView
        A mapping modality -> relative LatentSpace of shape (n_items, n_anchors),
        each with its modality's meta and a provenance recording the anchors;
        ``.retrieval()``, ``.agreement()`` and ``.summary()`` give the numbers.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 5))
    >>> meta = pd.DataFrame({"id": range(40), "emotion": ["joy", "fear"] * 20})
    >>> text = LatentSpace(x, meta)
    >>> speech = LatentSpace(np.hstack([x @ np.linalg.qr(rng.normal(size=(5, 5)))[0], np.zeros((40, 3))]), meta)
    >>> view = shared_view({"text": text, "speech": speech}, anchors=list(range(10)))
    >>> view["speech"].shape, float(view.retrieval()["top1"].min())
    ((40, 10), 1.0)
    """
    matched = match_spaces(spaces)
    first = next(iter(matched.values()))
    if isinstance(anchors, (int, np.integer)) and not isinstance(anchors, bool):
        anchors = select_anchors(first, int(anchors), strategy=strategy, by=by, seed=seed, device=device)
    anchor_ids = np.asarray(list(anchors), dtype=object)
    relative, projections = {}, {}
    for key, space in matched.items():
        projection = RelativeProjection(anchors=list(anchor_ids), similarity=similarity, center=center, device=device)
        projected = projection.fit_transform(space)
        provenance = {**projected.provenance, "modality": key, "anchors_shared_with": list(matched)}
        relative[key] = projected.with_vectors(projected.vectors, name=f"{key} (relative)", provenance=provenance)
        projections[key] = projection
    return SharedView(relative, matched, projections, np.asarray(jsonable(anchor_ids), dtype=object))
