"""How shared is a view? Cross-space retrieval and label agreement, with intervals and nulls.

Two numbers say whether several spaces of the same items (modalities, seeds,
layers) organise them alike:

- **cross-modal retrieval** (:func:`cross_modal_retrieval`): does item ``i``'s
  vector in one space find item ``i``'s vector in the other among its nearest
  neighbours? Chance is ``k / n``.
- **label agreement** (:func:`emotion_agreement`): of item ``i``'s ``k``
  nearest items *in the other space* (``i``'s own counterpart left out), the
  share with ``i``'s label. It asks for less than retrieval: that the spaces
  sort items by emotion alike, even when they cannot tell two items of one
  emotion apart. Chance is the share of each item's own class among the
  other items (about 1/7 for seven balanced emotions).

Both come with the vocabulary of :mod:`workbench.geometry.uncertainty` when
``n_permutations`` / ``n_bootstrap`` are given:

- retrieval's null breaks the **pairing**: item ``i``'s counterpart becomes
  item ``pi(i)`` of the other space, for random permutations ``pi``; its
  null mean sits at ``k / n`` for top-k;
- agreement's null **permutes the labels** over the items, keeping every
  neighbourhood as it is;
- the interval resamples the **query rows** (or whole groups of them, with
  ``groups=``), keeping the neighbourhoods found on the full data: a
  resample with repeated rows would otherwise make the copies each other's
  neighbours.

The similarity matrix of a pair of spaces is computed once, a block of query
rows at a time, and every permutation is answered by indexing into it (ranks
by a sorted copy and ``searchsorted``; agreement by gathering permuted
labels), on the GPU when there is one.

Ties are shared fairly: a counterpart tied with ``t`` other candidates
counts as a top-k hit with the probability a random tie-break would give,
and its reciprocal rank is the mean over the tied ranks, so duplicated
vectors neither win nor lose retrieval for free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from workbench._checks import check_int
from workbench.device import chunk_rows, compute_dtype, resolve_device
from workbench.geometry.relative.pairs import SpacePairs
from workbench.geometry.uncertainty import (
    COLUMNS,
    bootstrap_indices,
    estimate,
    permutations,
)
from workbench.space import LatentSpace

__all__ = ["cross_modal_retrieval", "emotion_agreement", "UNCERTAIN_COLUMNS"]
# NullOptions, retrieval_table and agreement_table are shared with SharedView.summary, not public API

#: the columns of a table with intervals and nulls, one row per (query, target, measure)
UNCERTAIN_COLUMNS = ("query", "target", "measure", "value", *COLUMNS, "chance", "n", "n_permutations", "n_bootstrap")


def cross_modal_retrieval(
    spaces: Mapping[str, LatentSpace],
    *,
    ks: Sequence[int] = (1, 5),
    exclude: Sequence | None = None,
    align: str | None = None,
    fit_on: Sequence | None = None,
    device: str | torch.device = "auto",
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    groups: str | None = None,
) -> pd.DataFrame:
    """Does item ``i`` of one modality find item ``i`` of another among its nearest neighbours?

    For every ordered pair of modalities (query, target), each item's query
    vector ranks the target modality's vectors by cosine similarity.

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
    n_permutations : int, default 0
        Pairings broken this many times (each query's counterpart replaced by
        a random item of the target space) for ``null_mean``, ``null_q95``
        and ``p_value``.
    n_bootstrap : int, default 0
        Resamples of the query rows for ``ci_low`` / ``ci_high``.
    seed : int, default 0
        Seeds the permutations (``seed``) and the resamples (``seed + 1``).
    level : float, default 0.95
        Coverage of the interval.
    groups : str, optional
        Meta column whose groups are resampled whole (e.g. ``"context"``:
        the seven sentences written for one situation are not independent).

    Returns
    -------
    DataFrame
        Without nulls or intervals: one row per (query, target) pair with
        ``top{k}`` for each k, ``mrr`` (mean reciprocal rank of the
        counterpart over all candidates), ``n`` (items searched) and
        ``chance_top{k}`` = k / n. With them: one row per (query, target,
        measure), measure ``top{k}`` or ``mrr``, columns
        :data:`UNCERTAIN_COLUMNS` (``chance`` is k / n, or ``H_n / n`` for
        the MRR).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.random.default_rng(0).normal(size=(30, 4))
    >>> meta = pd.DataFrame({"id": range(30)})
    >>> a = LatentSpace(x, meta)
    >>> float(cross_modal_retrieval({"a": a, "b": a}).loc[0, "top1"])
    1.0
    >>> table = cross_modal_retrieval({"a": a, "b": a}, ks=(1,), n_permutations=99, device="cpu")
    >>> table.loc[0, "measure"], float(table.loc[0, "p_value"])
    ('top1', 0.01)
    """
    return retrieval_table(SpacePairs(spaces, exclude, align, fit_on), ks, device,
                           NullOptions(n_permutations, n_bootstrap, seed, level, groups))


def emotion_agreement(
    spaces: Mapping[str, LatentSpace],
    *,
    label: str = "emotion",
    k: int = 10,
    exclude: Sequence | None = None,
    align: str | None = None,
    fit_on: Sequence | None = None,
    device: str | torch.device = "auto",
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    groups: str | None = None,
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
    n_permutations : int, default 0
        Label permutations (the labels shuffled over the items, every
        neighbourhood kept) for ``null_mean``, ``null_q95`` and ``p_value``.
    n_bootstrap, seed, level, groups
        As in :func:`cross_modal_retrieval`.

    Returns
    -------
    DataFrame of shape (n_modalities, n_modalities)
        Rows are query modalities, columns target modalities; the diagonal is
        the ordinary within-modality k-NN label agreement. ``.attrs["chance"]``
        holds the agreement of random neighbours (the mean over items of the
        share of *other* items with the item's label). With nulls or
        intervals: one row per (query, target), diagonal included, measure
        ``"agreement"``, columns :data:`UNCERTAIN_COLUMNS`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.repeat(np.eye(3), 5, axis=0) + 0.01 * np.random.default_rng(0).normal(size=(15, 3))
    >>> meta = pd.DataFrame({"id": range(15), "emotion": np.repeat(["joy", "fear", "anger"], 5)})
    >>> table = emotion_agreement({"a": LatentSpace(x, meta), "b": LatentSpace(2 * x, meta)}, k=3)
    >>> float(table.to_numpy().min())
    1.0
    """
    return agreement_table(SpacePairs(spaces, exclude, align, fit_on), label, k, device,
                           NullOptions(n_permutations, n_bootstrap, seed, level, groups))


# ----------------------------------------------------------------------------
# the tables, shared with SharedView.summary
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NullOptions:
    """What the caller asked for beyond the plain values: permutations, resamples, seed, level, groups."""

    n_permutations: int = 0
    n_bootstrap: int = 0
    seed: int = 0
    level: float = 0.95
    groups: str | None = None

    def __post_init__(self) -> None:
        check_int(self.n_permutations, "n_permutations", minimum=0)
        check_int(self.n_bootstrap, "n_bootstrap", minimum=0)
        if not 0 < self.level < 1:
            raise ValueError(f"level must be between 0 and 1; got {self.level!r}")

    @property
    def asked(self) -> bool:
        return bool(self.n_permutations or self.n_bootstrap)

    def resamples(self, pairs: SpacePairs, device: torch.device) -> list[torch.Tensor] | None:
        if not self.n_bootstrap:
            return None
        first = next(iter(pairs.evaluated.values()))
        groups = None
        if self.groups is not None:
            if self.groups not in first.meta.columns:
                raise ValueError(f"groups={self.groups!r} is not a meta column; columns: {list(first.meta.columns)}")
            groups = first.labels(self.groups)
        return bootstrap_indices(first.n, self.n_bootstrap, seed=self.seed + 1, groups=groups, device=device)


def retrieval_table(pairs: SpacePairs, ks: Sequence[int], device: str | torch.device,
                    nulls: NullOptions = NullOptions()) -> pd.DataFrame:
    """Retrieval of every ordered pair of ``pairs``: wide without nulls, long with them.

    The table behind :func:`cross_modal_retrieval` and :meth:`SharedView.summary`, which hands
    each view's :class:`SpacePairs` in turn so the rotations of one view are fitted once.
    """
    ks = [check_int(k, "ks", minimum=1) for k in ks]
    where = resolve_device(device)
    n = next(iter(pairs.evaluated.values())).n
    columns = _counterparts(n, nulls.n_permutations, nulls.seed, where)
    resamples = nulls.resamples(pairs, where)
    rows = []
    for a, b in pairs.keys(include_self=False):
        scores = _score(pairs.queries(a, b), pairs.evaluated[b].vectors, (a, b), where, columns=columns, ks=ks)
        measures = {f"top{k}": scores.hits[k] for k in ks} | {"mrr": scores.reciprocal}
        chance = {f"top{k}": min(k / n, 1.0) for k in ks} | {"mrr": float((1.0 / np.arange(1, n + 1)).sum() / n)}
        if nulls.asked:
            rows += [_row(a, b, name, per_row, chance[name], resamples, nulls) for name, per_row in measures.items()]
        else:
            row = {"query": a, "target": b, "n": n} | {name: float(v[0].mean()) for name, v in measures.items()}
            rows.append(row | {f"chance_{name}": chance[name] for name in measures if name != "mrr"})
    return pd.DataFrame(rows)


def agreement_table(pairs: SpacePairs, label: str, k: int, device: str | torch.device,
                    nulls: NullOptions = NullOptions()) -> pd.DataFrame:
    """Label agreement of every ordered pair (diagonal included): matrix without nulls, long with them.

    The table behind :func:`emotion_agreement` and :meth:`SharedView.summary`.
    """
    k = check_int(k, "k", minimum=1)
    where = resolve_device(device)
    first = next(iter(pairs.evaluated.values()))
    codes = torch.as_tensor(pd.factorize(first.labels(label))[0], device=where)
    if bool((codes < 0).any()):
        raise ValueError(f"column {label!r} has missing values; every item needs a {label}")
    n = len(codes)
    if k + 1 > n:
        raise ValueError(f"k={k} needs more than {k + 1} items; there are {n}")
    relabel = _counterparts(n, nulls.n_permutations, nulls.seed, where)
    resamples = nulls.resamples(pairs, where)
    counts = torch.bincount(codes).to(torch.float64)
    chance = float(((counts[codes] - 1) / (n - 1)).mean())
    table = pd.DataFrame(index=list(pairs.evaluated), columns=list(pairs.evaluated), dtype=float)
    rows = []
    for a, b in pairs.keys(include_self=True):
        neighbours = _score(pairs.queries(a, b), pairs.evaluated[b].vectors, (a, b), where, k=k).neighbours
        shares = _label_shares(codes, neighbours, relabel)
        table.loc[a, b] = float(shares[0].mean())
        if nulls.asked:
            rows.append(_row(a, b, "agreement", shares, chance, resamples, nulls))
    result = pd.DataFrame(rows) if nulls.asked else table
    result.attrs.update(chance=chance, k=k, label=label)
    return result


def _row(a: str, b: str, measure: str, per_row: torch.Tensor, chance: float,
         resamples: list[torch.Tensor] | None, nulls: NullOptions) -> dict:
    """One line of an uncertainty table from per-row values: row 0 observed, rows 1.. the null."""
    observed = per_row[0]
    null = per_row[1:].mean(dim=1) if nulls.n_permutations else None
    boot = None
    if resamples is not None:
        if all(len(r) == len(observed) for r in resamples):  # rows, not groups: one gather for all
            boot = observed[torch.stack(resamples)].mean(dim=1)
        else:
            boot = torch.stack([observed[r].mean() for r in resamples])
    e = estimate(float(observed.mean()), null=null, bootstrap=boot, level=nulls.level)
    return {"query": a, "target": b, "measure": measure, "value": e.value, **{c: getattr(e, c) for c in COLUMNS},
            "chance": chance, "n": len(observed), "n_permutations": e.n_permutations, "n_bootstrap": e.n_bootstrap}


# ----------------------------------------------------------------------------
# one pass over the similarity matrix of a pair
# ----------------------------------------------------------------------------


@dataclass
class _Scores:
    hits: dict[int, torch.Tensor]  # k -> (1 + n_permutations, n) chance of a top-k hit per query row
    reciprocal: torch.Tensor | None  # (1 + n_permutations, n) reciprocal rank of the counterpart
    neighbours: torch.Tensor | None  # (n, k) nearest targets of each query, counterpart left out


def _counterparts(n: int, n_permutations: int, seed: int, device: torch.device) -> torch.Tensor:
    """Row 0 the identity, then one random permutation per row: shape (1 + n_permutations, n)."""
    identity = torch.arange(n, device=device)[None]
    if not n_permutations:
        return identity
    return torch.cat([identity, permutations(n, n_permutations, seed=seed, device=device)])


def _unit_rows(x: torch.Tensor, what: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    x = x.to(device=device, dtype=dtype)
    norms = x.norm(dim=1, keepdim=True)
    zero = torch.nonzero(norms.squeeze(1) == 0).flatten()
    if len(zero):
        raise ValueError(f"cosine similarity is undefined for zero vectors; {what} has {len(zero)}, "
                         f"at rows {zero[:5].tolist()}")
    return x / norms


def _score(queries: torch.Tensor, targets: torch.Tensor, names: tuple[str, str], device: torch.device, *,
           columns: torch.Tensor | None = None, ks: Sequence[int] = (), k: int | None = None) -> _Scores:
    """Ranks of the counterparts (``columns[p, i]`` is query ``i``'s under permutation ``p``) and k-NN lists.

    The cosine similarities are computed a block of query rows at a time,
    once; each block is sorted so that the rank of any candidate is two
    ``searchsorted`` calls, for the observed pairing and every permutation.
    """
    a, b = names
    dtype = compute_dtype(torch.promote_types(queries.dtype, targets.dtype), device)
    q = _unit_rows(queries, f"space {a!r}", device, dtype)
    t = _unit_rows(targets, f"space {b!r}", device, dtype)
    n = t.shape[0]
    draws = 0 if columns is None else columns.shape[0]
    per_row = n * (3 * dtype.itemsize + 8) + 48 * draws * (1 + len(ks))
    size = chunk_rows(per_row, device=device, n_rows=q.shape[0])
    harmonic = torch.cat([torch.zeros(1, dtype=torch.float64, device=device),
                          (1.0 / torch.arange(1, n + 1, dtype=torch.float64, device=device)).cumsum(0)])
    hits: dict[int, list] = {kk: [] for kk in ks}
    reciprocal, neighbours = [], []
    with torch.inference_mode():
        for start in range(0, q.shape[0], size):
            block = q[start : start + size] @ t.T
            if columns is not None:
                own = columns[:, start : start + size].T.contiguous()  # (rows, draws)
                value = block.gather(1, own)
                ordered = block.sort(dim=1).values
                below = torch.searchsorted(ordered, value)
                upto = torch.searchsorted(ordered, value, right=True)
                above, tied = n - upto, (upto - below).to(torch.float64)
                for kk in ks:
                    hits[kk].append(((kk - above).clamp(min=0).to(torch.float64).minimum(tied) / tied).T)
                reciprocal.append(((harmonic[above + (upto - below)] - harmonic[above]) / tied).T)
            if k is not None:
                neighbours.append(_without_counterpart(block, start, k))
    return _Scores(
        hits={kk: torch.cat(v, dim=1) for kk, v in hits.items()},
        reciprocal=torch.cat(reciprocal, dim=1) if reciprocal else None,
        neighbours=torch.cat(neighbours) if neighbours else None,
    )


def _without_counterpart(block: torch.Tensor, start: int, k: int) -> torch.Tensor:
    """The ``k`` nearest targets of each query row of ``block``, its own counterpart left out."""
    found = block.topk(k + 1, dim=1).indices
    own = found == torch.arange(start, start + len(block), device=block.device)[:, None]
    keep = ~own
    keep[own.sum(dim=1) == 0, -1] = False  # counterpart not among them: drop the farthest instead
    return found[keep].reshape(len(block), k)


def _label_shares(codes: torch.Tensor, neighbours: torch.Tensor, relabel: torch.Tensor) -> torch.Tensor:
    """Share of each row's neighbours with its label, under each relabelling: shape (len(relabel), n).

    Row ``p`` gives item ``i`` the label ``codes[relabel[p, i]]``; row 0 is
    the identity, the observed labels.
    """
    n, k = neighbours.shape
    chunk = max(1, (1 << 25) // max(n * k, 1))
    out = []
    for start in range(0, len(relabel), chunk):
        labels = codes[relabel[start : start + chunk]]  # (c, n)
        out.append((labels[:, neighbours] == labels[:, :, None]).to(torch.float64).mean(dim=2))
    return torch.cat(out)
