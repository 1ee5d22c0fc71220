"""One shared view across modalities: relative representations on parallel anchors.

A text model's space (width 384), a speech model's (768) and a vision model's
(1764 HOG bins, say) have nothing in common coordinate-wise. Re-express every
item in each of them by its similarities to the *same anchor items* --
parallel anchors, each encoded by its own modality's model -- and all three
become spaces of one width whose coordinate ``j`` means the same thing
everywhere: "how much like anchor ``j`` is this item" (Moschella et al.,
ICLR 2023). No training, no paired fitting beyond choosing the anchors.

:func:`shared_view` builds that view with
:class:`~workbench.geometry.relative.RelativeProjection`. Two numbers say how
shared it is (:func:`cross_modal_retrieval`, :func:`emotion_agreement`):

- **cross-modal retrieval**: does item ``i``'s speech vector find item ``i``'s
  text vector among its nearest neighbours in the other modality's space?
  Chance is ``k / n``.
- **emotion agreement**: of item ``i``'s ``k`` nearest items *in the other
  modality* (``i``'s own counterpart left out), the share with ``i``'s
  emotion. It asks for less than retrieval: that the modalities sort items by
  emotion alike, even when they cannot tell two sentences of one emotion
  apart. Chance is the share of each item's own class among the other
  items (about 1/7 for seven balanced emotions).

Anchors are left out of both measures: an anchor's relative vector has its
own coordinate at 1 in every modality, so it would find itself for free.

Absolute spaces of different widths cannot be compared coordinate by
coordinate at all; ``align="procrustes"`` rotates the query modality onto
the other with :class:`~workbench.geometry.relative.procrustes.Procrustes`, fitted on the
anchor pairs only, so relative and absolute views are judged on the same
supervision.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import product

import numpy as np
import pandas as pd
import torch

from workbench.geometry.neighbors import knn
from workbench.geometry.relative.anchors import select_anchors
from workbench.geometry.relative.procrustes import Procrustes
from workbench.geometry.relative.projection import RelativeProjection, jsonable
from workbench.space import LatentSpace

__all__ = ["SharedView", "shared_view", "match_spaces", "center_by", "cross_modal_retrieval", "emotion_agreement"]


def match_spaces(spaces: Mapping[str, LatentSpace]) -> dict[str, LatentSpace]:
    """The rows every space holds, matched by ``id``, in the first space's order.

    Raises
    ------
    TypeError, ValueError
        When a value is not a LatentSpace, or the spaces share no id.
    """
    if not isinstance(spaces, Mapping) or len(spaces) < 2:
        raise ValueError("pass at least two spaces as a mapping, e.g. {'text': space_t, 'speech': space_s}")
    for key, space in spaces.items():
        if not isinstance(space, LatentSpace):
            raise TypeError(f"spaces[{key!r}] must be a LatentSpace (ids pair the modalities); got {type(space).__name__}")
    first = next(iter(spaces.values()))
    shared = pd.Index(first.ids)
    for space in spaces.values():
        shared = shared.intersection(pd.Index(space.ids), sort=False)
    if len(shared) == 0:
        names = {key: space.ids[:3].tolist() for key, space in spaces.items()}
        raise ValueError(f"the spaces share no ids (first ids: {names}); parallel data needs one id per item in all")
    order = first.ids[pd.Index(first.ids).isin(shared)]
    return {key: space.take(space.index_of(order)) for key, space in spaces.items()}


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


def _anchor_ids(spaces: Mapping[str, LatentSpace]) -> np.ndarray | None:
    """Anchor ids recorded by RelativeProjection, when every space has the same ones."""
    recorded = [space.provenance.get("relative", {}).get("anchors") for space in spaces.values()]
    if recorded[0] is None or any(r != recorded[0] for r in recorded):
        return None
    return np.asarray(recorded[0], dtype=object)


def _evaluation_rows(spaces: dict[str, LatentSpace], exclude: Sequence | None) -> dict[str, LatentSpace]:
    if exclude is None:
        exclude = _anchor_ids(spaces)
    if exclude is None or len(exclude) == 0:
        return spaces
    first = next(iter(spaces.values()))
    keep = ~pd.Index(first.ids).isin(pd.Index(list(exclude)))
    if keep.sum() < 2:
        raise ValueError("fewer than two items are left once the anchors are excluded; use fewer anchors")
    return {key: space.take(np.flatnonzero(keep)) for key, space in spaces.items()}


class _Pairs:
    """The spaces of a comparison: matched by id, anchors left out, query vectors per pair."""

    def __init__(self, spaces: Mapping[str, LatentSpace], exclude: Sequence | None,
                 align: str | None, fit_on: Sequence | None) -> None:
        if align not in (None, "procrustes"):
            raise ValueError(f"align must be None or 'procrustes'; got {align!r}")
        self.full = match_spaces(spaces)
        if align is not None and fit_on is None:
            fit_on = _anchor_ids(self.full)
            if fit_on is None:
                raise ValueError("align='procrustes' needs fit_on= (the ids of the pairs the rotation is fitted on)")
        self.align, self.fit_on = align, fit_on
        self.evaluated = _evaluation_rows(self.full, fit_on if exclude is None and align else exclude)
        self._queries: dict[tuple[str, str], torch.Tensor] = {}

    def keys(self, *, include_self: bool) -> Iterator[tuple[str, str]]:
        for a, b in product(self.evaluated, repeat=2):
            if a != b or include_self:
                yield a, b

    def queries(self, a: str, b: str) -> torch.Tensor:
        """Modality ``a``'s evaluated vectors, in modality ``b``'s coordinates."""
        source, target = self.evaluated[a], self.evaluated[b]
        if a == b or self.align is None:
            if source.dim != target.dim:
                raise ValueError(
                    f"{a!r} (width {source.dim}) and {b!r} (width {target.dim}) cannot be compared coordinate "
                    "by coordinate; use shared_view(...) for relative spaces, or align='procrustes'"
                )
            return source.vectors
        if (a, b) not in self._queries:  # one rotation per ordered pair, shared by every measure
            rotation = Procrustes().fit(self.full[a], self.full[b], ids=self.fit_on)
            self._queries[a, b] = rotation.transform(source.vectors)
        return self._queries[a, b]


def cross_modal_retrieval(
    spaces: Mapping[str, LatentSpace],
    *,
    ks: Sequence[int] = (1, 5),
    exclude: Sequence | None = None,
    align: str | None = None,
    fit_on: Sequence | None = None,
    device: str | torch.device = "auto",
) -> pd.DataFrame:
    """Does item ``i`` of one modality find item ``i`` of another among its nearest neighbours?

    For every ordered pair of modalities (query, target), each item's query
    vector searches the target modality's vectors by cosine distance.

    Parameters
    ----------
    spaces : mapping of str to LatentSpace
        One space per modality, paired by ``id`` (e.g. a :class:`SharedView`).
    ks : sequence of int
        Report top-k accuracy for each k.
    exclude : sequence of ids, optional
        Items left out of queries and candidates. Default: the anchors, when
        the spaces are relative projections on the same anchors (or
        ``fit_on`` with ``align``).
    align : {None, "procrustes"}
        None compares coordinates as they are (relative spaces, or absolute
        ones of one width); "procrustes" first rotates the query space onto
        the target space, fitted on the ``fit_on`` pairs.
    fit_on : sequence of ids, optional
        The pairs Procrustes is fitted on (typically the anchors).
    device : {"auto", "cpu", "cuda", ...}

    Returns
    -------
    DataFrame
        One row per (query, target) pair with ``top{k}`` for each k, ``mrr``
        (mean reciprocal rank of the counterpart over all candidates),
        ``n`` (items searched) and ``chance_top{k}`` = k / n.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.random.default_rng(0).normal(size=(30, 4))
    >>> meta = pd.DataFrame({"id": range(30)})
    >>> a, b = LatentSpace(x, meta), LatentSpace(x @ np.diag([1, 2, 3, 4]), meta)
    >>> float(cross_modal_retrieval({"a": a, "b": a}).loc[0, "top1"])
    1.0
    """
    return _retrieval_table(_Pairs(spaces, exclude, align, fit_on), ks, device)


def _retrieval_table(pairs: _Pairs, ks: Sequence[int], device: str | torch.device) -> pd.DataFrame:
    rows = []
    for a, b in pairs.keys(include_self=False):
        target = pairs.evaluated[b]
        n = target.n
        ranking = knn(target.vectors, n, metric="cosine", queries=pairs.queries(a, b), device=device).indices.cpu()
        rank = (ranking == torch.arange(n)[:, None]).float().argmax(dim=1) + 1  # 1 = found first
        row = {"query": a, "target": b, "n": n}
        for k in ks:
            row[f"top{k}"] = float((rank <= k).float().mean())
        row["mrr"] = float((1.0 / rank.float()).mean())
        for k in ks:
            row[f"chance_top{k}"] = min(k / n, 1.0)
        rows.append(row)
    return pd.DataFrame(rows)


def emotion_agreement(
    spaces: Mapping[str, LatentSpace],
    *,
    label: str = "emotion",
    k: int = 10,
    exclude: Sequence | None = None,
    align: str | None = None,
    fit_on: Sequence | None = None,
    device: str | torch.device = "auto",
) -> pd.DataFrame:
    """How often an item's nearest items *in another modality* share its label.

    Parameters
    ----------
    spaces : mapping of str to LatentSpace
        One space per modality, paired by ``id``; ``label`` is read from the
        first space's meta (parallel items share it).
    label : str
        Meta column, default ``"emotion"``.
    k : int
        Neighbours per item. The item's own counterpart is left out, so the
        measure does not just repeat :func:`cross_modal_retrieval`.
    exclude, align, fit_on, device
        As in :func:`cross_modal_retrieval`.

    Returns
    -------
    DataFrame of shape (n_modalities, n_modalities)
        Rows are query modalities, columns target modalities; the diagonal is
        the ordinary within-modality k-NN label agreement. ``.attrs["chance"]``
        holds the agreement of random neighbours (the mean over items of the
        share of *other* items with the item's label).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.repeat(np.eye(3), 5, axis=0) + 0.01 * np.random.default_rng(0).normal(size=(15, 3))
    >>> meta = pd.DataFrame({"id": range(15), "emotion": np.repeat(["joy", "fear", "anger"], 5)})
    >>> table = emotion_agreement({"a": LatentSpace(x, meta), "b": LatentSpace(2 * x, meta)}, k=3)
    >>> float(table.to_numpy().min())
    1.0
    """
    return _agreement_table(_Pairs(spaces, exclude, align, fit_on), label, k, device)


def _agreement_table(pairs: _Pairs, label: str, k: int, device: str | torch.device) -> pd.DataFrame:
    labels = next(iter(pairs.evaluated.values())).labels(label)
    codes = torch.as_tensor(pd.factorize(labels)[0])
    n = len(codes)
    if k + 1 > n:
        raise ValueError(f"k={k} needs more than {k + 1} items; there are {n}")
    same = codes[:, None] == codes[None, :]
    table = pd.DataFrame(index=list(pairs.evaluated), columns=list(pairs.evaluated), dtype=float)
    for a, b in pairs.keys(include_self=True):
        # k + 1 neighbours, then the item's own counterpart (itself, within a modality) is dropped
        target = pairs.evaluated[b]
        found = knn(target.vectors, k + 1, metric="cosine", queries=pairs.queries(a, b), device=device).indices.cpu()
        own = found == torch.arange(n)[:, None]
        keep = ~own
        keep[own.sum(dim=1) == 0, -1] = False  # counterpart not among them: drop the farthest instead
        neighbours = found[keep].reshape(n, k)
        table.loc[a, b] = float(same.gather(1, neighbours).float().mean())
    counts = np.bincount(codes.numpy())
    table.attrs["chance"] = float(((counts[codes.numpy()] - 1) / (n - 1)).mean())
    table.attrs["k"] = k
    return table


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

    def retrieval(self, *, ks: Sequence[int] = (1, 5), device: str | torch.device = "auto") -> pd.DataFrame:
        """:func:`cross_modal_retrieval` on the relative spaces (anchors left out)."""
        return cross_modal_retrieval(self._relative, ks=ks, device=device)

    def agreement(self, *, label: str = "emotion", k: int = 10, device: str | torch.device = "auto") -> pd.DataFrame:
        """:func:`emotion_agreement` on the relative spaces (anchors left out)."""
        return emotion_agreement(self._relative, label=label, k=k, device=device)

    def summary(self, *, label: str = "emotion", k: int = 10, ks: Sequence[int] = (1, 5),
                device: str | torch.device = "auto") -> pd.DataFrame:
        """Relative view against the absolute spaces aligned by Procrustes on the same anchors.

        Returns
        -------
        DataFrame
            One row per (query, target) pair and view (``"relative"``, and
            ``"procrustes"``: the absolute query space rotated onto the
            target's, fitted on the anchor pairs): top-k retrieval, MRR,
            emotion agreement and their chance levels. Absolute spaces of
            equal widths can be compared unaligned with
            ``cross_modal_retrieval(view.absolute)``.
        """
        views = {
            "relative": _Pairs(self._relative, self.anchors, None, None),
            "procrustes": _Pairs(self.absolute, self.anchors, "procrustes", self.anchors),
        }
        frames = []
        for view, pairs in views.items():
            retrieval = _retrieval_table(pairs, ks, device)
            agreement = _agreement_table(pairs, label, k, device)
            retrieval["agreement"] = [agreement.loc[a, b] for a, b in zip(retrieval["query"], retrieval["target"])]
            retrieval["chance_agreement"] = agreement.attrs["chance"]
            retrieval.insert(0, "view", view)
            frames.append(retrieval)
        return pd.concat(frames, ignore_index=True)


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
