"""Emotion directions: vectors in a layer's space that carry a label.

:class:`Directions` finds one direction per label (on one space, or on every
layer of a stack), scores rows along them, predicts, edits rows along a
direction (EmoReg-style intensity control) and ablates a direction.

Conventions, the same for every method:

- **Sign**: a positive direction points from the reference to the label:
  the label's rows score higher than the reference's. The reference is the
  ``baseline`` label (``"neutral"``) when the data has it, otherwise the
  other labels on average; for ``method="centered"`` it is the other
  emotions (the emotion-circuits recipe contrasts emotions with each other,
  within each context).
- **Score**: ``score(x) = (x - center) . d`` with ``d`` the unit direction and
  ``center`` the baseline's mean row (or, without a baseline, the mean of the
  label means). Score 0 is the baseline level; scores are distances in the
  layer's units.
- **Edit**: ``x + alpha * d`` moves the score by exactly ``alpha``.
  ``target_intensity=t`` moves each row to the score
  ``reference + t * (typical - reference)`` where *typical* is the mean score
  of the label's training rows and *reference* that of the reference rows
  (class-balanced): 0 is the reference level, 1 a typical row of the label,
  values above 1 extrapolate. ``score(..., intensity=True)`` reports the same
  scale. For a row at the baseline mean this
  is ``x + t * (mean(label) - mean(baseline))`` for ``diffmean``, which is how
  we read EmoReg's "move the embedding along the direction scaled by the
  target intensity" (the paper's exact formula is unverified).
- **Ablate**: ``x - ((x - center) . d) d`` sets the score to exactly 0 (the
  baseline level) and leaves every orthogonal component alone. With
  ``center = 0`` this is the refusal-direction operator ``x - (x . d) d``.

Layer keys are the stack's keys (``hidden_states`` indices for stacks from
encoders and from :func:`workbench.steering.block_outputs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from workbench._checks import Data, check_fitted, check_matrix, layer_key
import workbench.geometry.directions.recipes as direction_methods
from workbench.geometry.directions.direction_set import SIGN_CONVENTION, DirectionSet, build_direction_set, project
from workbench.geometry.directions.probes import label_codes, resolve_labels
from workbench.space import LatentSpace, LayerStack

__all__ = ["Directions", "DirectionSet", "SIGN_CONVENTION"]

LabelArg = Union[str, Sequence[str]]

def _matrix_and_meta(X: Data) -> tuple[torch.Tensor, pd.DataFrame | None]:
    """The checked matrix (float64 stays float64) and the meta of a space (None for arrays)."""
    return check_matrix(X, "X"), X.meta if isinstance(X, LatentSpace) else None


class Directions(BaseEstimator):
    """One direction per label, per layer: fit, score, predict, edit, ablate.

    Parameters
    ----------
    method : {"diffmean", "centered", "probe", "svm", "pca_diff"}, default "diffmean"
        - ``diffmean``: ``mean(label) - mean(baseline)`` (or minus the mean of
          the other labels' means when there is no baseline).
        - ``centered``: "Do LLMs Feel?" (2025): within each context subtract
          the mean over its emotions, average per emotion, subtract the mean of
          the emotion centroids. Needs a context column; baseline rows are not
          used for the directions.
        - ``probe``: a standardised multinomial logistic regression;
          ``w_label - w_baseline``.
        - ``svm``: one linear SVM per label against the baseline (or the
          rest); its normal (SVM-boundary emotion compensation, 2024).
        - ``pca_diff``: repeng: first principal axis of the differences
          between each label row and the baseline rows of the same context.
    by : str, default "emotion"
        Meta column with the labels.
    context : str or list of str, optional
        Column(s) that identify a context (``centered``, ``pca_diff``);
        ``None`` means ``"context"``. Several columns group by their
        combination (e.g. ``["context", "valence"]``, as the paper does).
    baseline : str or None, default "neutral"
        The reference label; it gets no direction. Ignored when absent from
        the data (then each label is contrasted with the others).
    normalize : bool, default True
        Keep unit vectors in ``directions_``. With False the vectors keep
        their natural length (e.g. the distance between the two means), which
        is what :func:`workbench.steering.steer` adds with ``scale="raw"``.
        Scores, edits and ablations always use the unit direction.
    tier : {"primary", "secondary"}, optional
        Roll the labels up Parrott's tree before fitting.
    C : float, default 1.0
        Regularisation of ``probe`` and ``svm`` (scikit-learn's meaning).
    progress : bool, default True
        A progress bar over layers when fitting a stack.

    Attributes
    ----------
    directions_ : dict of layer -> DirectionSet
        One unit vector per label per layer, with its center, score
        statistics and metadata (method, layer, site, sign convention).
    labels_ : ndarray of str
        Labels that have a direction.
    classes_ : ndarray of str
        All labels seen (baseline included).
    baseline_ : str or None
        The baseline actually used.
    layers_ : list
        Fitted layer keys, in order.

    Learned vectors are computed in the data's dtype (float64 stays float64)
    and kept as float32 torch tensors on the CPU inside each DirectionSet (what
    steering adds to a model's hidden states); label arrays are NumPy arrays.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from workbench import LatentSpace
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(["neutral", "joy", "fear"], 30)
    >>> X = rng.normal(size=(90, 8)) + 3 * np.c_[labels == "joy", labels == "fear", np.zeros((90, 6))]
    >>> space = LatentSpace(X, pd.DataFrame({"emotion": labels}))
    >>> d = Directions().fit(space)
    >>> d.labels_.tolist()
    ['fear', 'joy']
    >>> float((d.predict(space) == labels).mean()) > 0.8
    True
    >>> moved = d.edit(space, "joy", alpha=2.0)
    >>> np.allclose(d.score(moved)["joy"] - d.score(space)["joy"], 2.0, atol=1e-4)
    True
    """

    def __init__(
        self,
        *,
        method: str = "diffmean",
        by: str = "emotion",
        context: str | Sequence[str] | None = None,
        baseline: str | None = "neutral",
        normalize: bool = True,
        tier: str | None = None,
        C: float = 1.0,
        progress: bool = True,
    ) -> None:
        self.method = method
        self.by = by
        self.context = context
        self.baseline = baseline
        self.normalize = normalize
        self.tier = tier
        self.C = C
        self.progress = progress

    def __repr__(self) -> str:
        state = f", layers={self.layers_}" if hasattr(self, "directions_") else ""
        return f"Directions(method={self.method!r}, by={self.by!r}{state})"

    # -- fitting ----------------------------------------------------------------

    def _context_columns(self) -> list[str]:
        if self.context is None:
            return ["context"]
        return [self.context] if isinstance(self.context, str) else list(self.context)

    def _groups(self, meta: pd.DataFrame | None, context: Any, n: int) -> np.ndarray | None:
        needs = self.method in ("centered", "pca_diff")
        if isinstance(context, str):  # a column of the meta, as the constructor's context= takes
            if meta is None or context not in meta.columns:
                have = [] if meta is None else list(meta.columns)
                raise ValueError(f"context={context!r} names no meta column (meta columns: {have}); pass a column name "
                                 "or one context per row")  # fmt: skip
            context = meta[context]
        if context is not None:
            values = np.asarray(context, dtype=object)
            if values.shape != (n,):
                raise ValueError(f"context must have one entry per row ({n}); got shape {values.shape}")
            return pd.factorize(pd.Series(values).astype(str))[0]
        if not needs:
            return None
        columns = self._context_columns()
        missing = [c for c in columns if meta is None or c not in meta.columns]
        if missing:
            have = [] if meta is None else list(meta.columns)
            raise ValueError(
                f"method={self.method!r} works within contexts, so it needs a context column; {missing} "
                f"not found (meta columns: {have}). Pass context='<column>' (the built-in corpus has 'context'), "
                "or context=<one value per row> to fit()."
            )
        keys = meta[columns].astype(str).agg("\x1f".join, axis=1)
        return pd.factorize(keys)[0]

    def fit(self, X: Data | LayerStack, y: Sequence | None = None, *, context: str | Sequence | None = None) -> Directions:
        """Find the directions of every label.

        Parameters
        ----------
        X : LatentSpace, LayerStack, or array of shape (n_samples, n_features)
            A stack is fitted layer by layer.
        y : array-like of shape (n_samples,), optional
            Labels; by default the ``by`` column of ``X.meta`` (required for arrays).
        context : str or array-like of shape (n_samples,), optional
            A meta column, or one context per row; by default the ``context``
            column(s) of ``X.meta``.

        Returns
        -------
        self
        """
        from tqdm.auto import tqdm

        if self.method not in direction_methods.METHODS:
            raise ValueError(f"method must be one of {direction_methods.METHODS}; got {self.method!r}")
        if isinstance(X, (LatentSpace, LayerStack)):
            spaces = list(X.items()) if isinstance(X, LayerStack) else [(X.provenance.get("layer", 0), X)]
            meta = X.meta
            labels = resolve_labels(X, self.by if y is None else y, tier=self.tier)
        else:
            if y is None:
                raise ValueError("fitting on a plain array needs the labels: fit(X, y)")
            matrix, _ = _matrix_and_meta(X)
            spaces = [(0, LatentSpace(matrix))]
            meta = None
            labels = np.asarray(y, dtype=object)
            if labels.shape != (matrix.shape[0],):
                raise ValueError(f"y must have one label per row ({matrix.shape[0]}); got shape {labels.shape}")
        classes, codes = label_codes(labels)
        classes = np.asarray([str(c) for c in classes], dtype=object)
        groups = self._groups(meta, context, len(codes))
        baseline = self.baseline if self.baseline in set(classes) else None
        targets = [k for k, c in enumerate(classes) if c != baseline]
        shared = self._shared_work(spaces, codes, len(classes))
        fits = {}
        for layer, space in tqdm(spaces, desc="directions", disable=not self.progress or len(spaces) == 1):
            fits[layer] = self._fit_layer(space, layer, classes, codes, groups, baseline, targets, shared.get(layer, {}))
        self.directions_ = fits
        self.classes_ = classes
        self.labels_ = classes[targets]
        self.baseline_ = baseline
        self.layers_ = list(fits)
        return self

    def _shared_work(self, spaces, codes, n_classes) -> dict:
        """Work done for all layers at once: the probes of a stack are one batched problem."""
        if self.method != "probe" or len(spaces) < 2 or len({space.dim for _, space in spaces}) != 1:
            return {}
        X = torch.stack([space.vectors.float() for _, space in spaces])
        codes_t = torch.as_tensor(codes, device=X.device)
        weights = direction_methods.probe_weights(X, codes_t, n_classes=n_classes, C=self.C)
        return {layer: {"weights": weights[i]} for i, (layer, _) in enumerate(spaces)}

    def _fit_layer(self, space, layer, classes, codes, groups, baseline, targets, extra) -> DirectionSet:
        X = space.vectors
        X = X.float() if X.dtype not in (torch.float32, torch.float64) else X
        codes_t = torch.as_tensor(codes, device=X.device)
        groups_t = None if groups is None else torch.as_tensor(groups, device=X.device)
        recipe = getattr(direction_methods, self.method)
        reference = None if baseline is None else int(np.flatnonzero(classes == baseline)[0])
        raw = recipe(
            X, codes_t, targets=targets, baseline=reference, groups=groups_t, n_classes=len(classes), C=self.C, **extra
        )
        norms = raw.norm(dim=1, keepdim=True)
        if bool((norms <= torch.finfo(raw.dtype).tiny).any()):
            flat = [str(classes[t]) for t, n in zip(targets, norms[:, 0]) if n <= torch.finfo(raw.dtype).tiny]
            raise ValueError(f"layer {layer!r}: the direction of {flat} is zero (identical means?)")
        means = direction_methods.centroids(X, codes_t, len(classes))
        return build_direction_set(
            layer=layer, labels=tuple(classes[targets]), vectors=raw if not self.normalize else raw / norms,
            classes=tuple(classes), centroids=means, counts=tuple(np.bincount(codes, minlength=len(classes)).tolist()),
            method=self.method, baseline=baseline, provenance=dict(space.provenance),
        )

    # -- choosing a layer --------------------------------------------------------

    def _check_fitted(self) -> None:
        check_fitted(self, "directions_")

    def _layer_key(self, X: Any, layer: Any) -> Any:
        self._check_fitted()
        if layer is not None:
            try:
                return layer_key(layer, self.layers_)
            except KeyError:
                raise KeyError(f"no directions for layer {layer!r}; fitted layers are {self.layers_}") from None
        if len(self.layers_) == 1:
            return self.layers_[0]
        own = X.provenance.get("layer") if isinstance(X, LatentSpace) else None
        if own in self.directions_:
            return own
        raise ValueError(f"directions were fitted on layers {self.layers_}; pass layer= to choose one")

    def direction_set(self, layer: Any = None) -> DirectionSet:
        """The :class:`DirectionSet` of one layer (the only one when a single layer was fitted)."""
        return self.directions_[self._layer_key(None, layer)]

    def vector(self, label: str, layer: Any = None) -> torch.Tensor:
        """The direction of ``label`` at ``layer``: tensor of shape (n_features,)."""
        return self.direction_set(layer)[label]

    def _on_layers(self, X: Data | LayerStack, layer: Any, fn) -> Any:
        """Apply ``fn(direction_set, matrix)`` to one layer, or to every fitted layer of a stack."""
        if isinstance(X, LayerStack) and layer is None:
            self._check_fitted()
            return {key: fn(self.directions_[key], space) for key, space in X.items() if key in self.directions_}
        if isinstance(X, LayerStack):
            key = self._layer_key(None, layer)
            return fn(self.directions_[key], X[key])
        key = self._layer_key(X, layer)
        return fn(self.directions_[key], X)

    # -- scoring ------------------------------------------------------------------

    def transform(self, X: Data | LayerStack, *, layer: Any = None) -> np.ndarray | torch.Tensor:
        """Scores of every row on every direction, of shape (n_samples, n_labels).

        A tensor gives a tensor (on its device); a LatentSpace or an array
        gives an ndarray: the scores are a table over labels, not a space
        (:meth:`score` gives them as a DataFrame indexed by id).
        """
        if isinstance(X, LayerStack):
            X = X[self._layer_key(None, layer)]
        key = self._layer_key(X, layer)
        fitted = self.directions_[key]
        scores = project(fitted, _matrix_and_meta(X)[0])
        return scores if isinstance(X, torch.Tensor) else scores.cpu().numpy()

    def score(self, X: Data | LayerStack, *, layer: Any = None, intensity: bool = False) -> pd.DataFrame:
        """Per-row projection on each direction, as a DataFrame ready to colour a plot.

        Unlike scikit-learn's ``score`` (an accuracy), this is the signed
        distance of every row along every direction (see the module notes).

        Parameters
        ----------
        X : LatentSpace, LayerStack or array of shape (n_samples, n_features)
        layer : layer key, optional
            Needed when several layers were fitted, unless ``X`` is a stack
            (then every fitted layer is scored) or a space whose provenance
            names a fitted layer.
        intensity : bool, default False
            Report ``(score - reference) / (typical - reference)`` instead:
            0 at the reference level, 1 for a typical training row of the label.

        Returns
        -------
        DataFrame of shape (n_samples, n_labels)
            Indexed by the rows' ids; for a stack with ``layer=None`` the
            columns are a (layer, label) MultiIndex.
        """

        def one(fitted: DirectionSet, data) -> pd.DataFrame:
            matrix, meta = _matrix_and_meta(data)
            values = project(fitted, matrix)
            if intensity:
                ref, typical = fitted.reference_score.to(values), fitted.label_score.to(values)
                values = (values - ref) / (typical - ref)
            index = pd.Index(meta["id"] if meta is not None else np.arange(len(values)), name="id")
            return pd.DataFrame(values.cpu().numpy(), index=index, columns=pd.Index(fitted.labels, name=self.by))

        result = self._on_layers(X, layer, one)
        if isinstance(result, dict):
            return pd.concat(result, axis=1, names=["layer", self.by])
        return result

    def predict(self, X: Data | LayerStack, *, layer: Any = None, tier: str | None = None) -> np.ndarray:
        """The label whose direction scores highest, relative to its typical level.

        Each row gets ``intensity = (score - reference) / (typical - reference)``
        per label and the label with the largest one; with a baseline, rows
        whose largest intensity is below 0.5 (closer to the baseline level than
        to a typical row of any label) are predicted as the baseline.

        Parameters
        ----------
        tier : {"primary", "secondary"}, optional
            Roll the predicted labels up Parrott's tree.

        Returns
        -------
        ndarray of shape (n_samples,), dtype object
        """
        if isinstance(X, LayerStack):
            X = X[self._layer_key(None, layer)]
        frame = self.score(X, layer=layer, intensity=True)
        values = frame.to_numpy()
        labels = np.asarray(frame.columns, dtype=object)[values.argmax(axis=1)]
        if self.baseline_ is not None:
            labels = np.where(values.max(axis=1) < 0.5, self.baseline_, labels).astype(object)
        if tier is not None:
            from workbench.taxonomy import roll_up

            labels = np.asarray(roll_up(labels, to=tier, unknown="keep"), dtype=object)
        return labels

    # -- editing ------------------------------------------------------------------

    def edit(
        self,
        X: Data | LayerStack,
        label: str,
        alpha: float | Sequence[float] | None = None,
        *,
        target_intensity: float | Sequence[float] | None = None,
        layer: Any = None,
    ) -> Data | LayerStack:
        """Move rows along the direction of ``label``.

        Parameters
        ----------
        X : LatentSpace, LayerStack or array of shape (n_samples, n_features)
            A stack is edited at every fitted layer (unless ``layer`` is given).
        label : str
        alpha : float or array-like of shape (n_samples,)
            ``x + alpha * d``: the score on ``label`` grows by exactly ``alpha``.
        target_intensity : float or array-like of shape (n_samples,)
            Move each row to the score ``reference + t * (typical - reference)``
            (0 = reference level, 1 = typical row of the label). Give either
            ``alpha`` or ``target_intensity``.
        layer : layer key, optional

        Returns
        -------
        The same kind of object as ``X``, with edited vectors.
        """
        if (alpha is None) == (target_intensity is None):
            raise ValueError("give exactly one of alpha= and target_intensity=")

        def move(fitted: DirectionSet, matrix: torch.Tensor) -> torch.Tensor:
            i = fitted.index(label)
            d = fitted.unit[i].to(matrix)
            if alpha is not None:
                step = _per_row(alpha, matrix)
            else:
                ref, typical = float(fitted.reference_score[i]), float(fitted.label_score[i])
                target = ref + _per_row(target_intensity, matrix) * (typical - ref)
                step = target - (matrix - fitted.center.to(matrix)) @ d
            return matrix + step[:, None] * d

        return self._rewrite(X, layer, move, f"edit {label}")

    def ablate(self, X: Data | LayerStack, label: LabelArg, *, layer: Any = None) -> Data | LayerStack:
        """Remove the direction(s) of ``label``: their scores become exactly 0.

        ``x - ((x - center) . d) d`` for one label; for several labels the
        component in their span is removed at once, so every one of their
        scores is 0 (removing them one by one would not do that when the
        directions are not orthogonal).
        """
        wanted = [label] if isinstance(label, str) else list(label)

        def remove(fitted: DirectionSet, matrix: torch.Tensor) -> torch.Tensor:
            basis = fitted.unit[[fitted.index(name) for name in wanted]].to(matrix)  # (m, D)
            q, _ = torch.linalg.qr(basis.T)  # orthonormal basis of their span, (D, m)
            centred = matrix - fitted.center.to(matrix)
            return matrix - (centred @ q) @ q.T

        return self._rewrite(X, layer, remove, f"ablate {', '.join(wanted)}")

    def _rewrite(self, X: Data | LayerStack, layer: Any, fn, what: str) -> Data | LayerStack:
        def apply(fitted: DirectionSet, data):
            matrix, _ = _matrix_and_meta(data)
            if matrix.shape[1] != fitted.dim:
                raise ValueError(f"rows have width {matrix.shape[1]}; directions at layer {fitted.layer!r} have {fitted.dim}")
            new = fn(fitted, matrix)
            if isinstance(data, LatentSpace):
                provenance = {**data.provenance, "edits": [*data.provenance.get("edits", []), what]}
                return data.with_vectors(new, provenance=provenance)
            return new if isinstance(data, torch.Tensor) else new.numpy()

        result = self._on_layers(X, layer, apply)
        if isinstance(X, LayerStack):
            edited = result if isinstance(result, dict) else {self._layer_key(None, layer): result}
            return LayerStack({k: edited.get(k, s) for k, s in X.items()}, name=X.name, provenance=X.provenance)
        return result

    # -- the label hierarchy --------------------------------------------------------

    def rolled_up(self, to: str = "primary") -> Directions:
        """A fitted copy whose labels are rolled up Parrott's tree.

        Each coarse direction is the count-weighted mean of its fine
        directions (renormalised when ``normalize``); coarse centroids are the
        count-weighted means of the fine ones, so scores, predictions and
        intensities keep their meaning. The baseline stays as it is.
        """
        from workbench.taxonomy import roll_up

        self._check_fitted()
        coarse = np.asarray(roll_up(self.classes_, to=to, unknown="keep"), dtype=object)
        new_classes = np.asarray(sorted(set(coarse.tolist())), dtype=object)
        fits = {}
        for key, fitted in self.directions_.items():
            counts = torch.as_tensor(fitted.counts, dtype=fitted.centroids.dtype)
            means, vectors, labels = [], [], []
            for name in new_classes:
                members = np.flatnonzero(coarse == name)
                weight = counts[members] / counts[members].sum()
                means.append((weight[:, None] * fitted.centroids[members]).sum(0))
                if name != self.baseline_:
                    rows = [fitted.labels.index(self.classes_[m]) for m in members]
                    vec = (weight[:, None] * fitted.vectors[rows]).sum(0)
                    vectors.append(vec / vec.norm() if self.normalize else vec)
                    labels.append(name)
            fits[key] = build_direction_set(
                layer=key, labels=tuple(labels), vectors=torch.stack(vectors), classes=tuple(new_classes),
                centroids=torch.stack(means),
                counts=tuple(int(counts[np.flatnonzero(coarse == n)].sum()) for n in new_classes),
                method=fitted.method, baseline=fitted.baseline, provenance=fitted.provenance,
            )
        new = Directions(**{**self.get_params(), "tier": to})
        new.directions_, new.layers_, new.classes_ = fits, list(fits), new_classes
        new.labels_ = np.asarray(fits[new.layers_[0]].labels, dtype=object)
        new.baseline_ = self.baseline_
        return new

    def similarity(self, other: Directions | None = None, *, layer: Any = None) -> pd.DataFrame:
        """Cosine similarity between these directions and ``other``'s (or among themselves).

        Compare, e.g., directions fitted on Parrott's secondary labels with
        those fitted on the primaries: each secondary should be closest to its
        own primary.

        Returns
        -------
        DataFrame of shape (n_labels, n_other_labels)
        """
        mine = self.direction_set(layer)
        theirs = mine if other is None else other.direction_set(layer if layer is not None else mine.layer)
        if theirs.dim != mine.dim:
            raise ValueError(f"widths differ: {mine.dim} and {theirs.dim}")
        values = (mine.unit @ theirs.unit.to(mine.vectors).T).cpu().numpy()
        return pd.DataFrame(values, index=list(mine.labels), columns=list(theirs.labels))

    def get_params(self, deep: bool = True) -> dict:
        return {
            "method": self.method, "by": self.by, "context": self.context, "baseline": self.baseline,
            "normalize": self.normalize, "tier": self.tier, "C": self.C, "progress": self.progress,
        }

    def set_params(self, **params: Any) -> Directions:
        for name, value in params.items():
            if name not in self.get_params():
                raise ValueError(f"unknown parameter {name!r}; parameters are {sorted(self.get_params())}")
            setattr(self, name, value)
        return self


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


def _per_row(value: Any, matrix: torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(value, dtype=np.float64)).to(matrix)
    if tensor.ndim == 0:
        return tensor.expand(matrix.shape[0])
    if tensor.shape != (matrix.shape[0],):
        raise ValueError(f"expected a number or one value per row ({matrix.shape[0]}); got shape {tuple(tensor.shape)}")
    return tensor
