"""Every estimator keeps scikit-learn's contract (DESIGN.md, "The core objects").

For each: it inherits ``BaseEstimator``; its constructor is keyword-only and
only stores parameters (so ``clone`` and ``get_params``/``set_params``
round-trip); ``fit`` returns self; learned state ends in ``_`` and is of the
type its class states; ``transform`` returns the kind it was given; anything
used before ``fit`` raises scikit-learn's ``NotFittedError``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from workbench.geometry.directions import Directions
from workbench.geometry.intrinsic import MLE, LocalIntrinsicDimension, TwoNN
from workbench.geometry.relative import Procrustes, RelativeProjection
from workbench.geometry.views import StreamingPCA
from workbench.space import LatentSpace

N, D = 80, 6
EMOTIONS = ["joy", "anger", "neutral", "fear"]


def _space(seed: int = 0) -> LatentSpace:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(np.float32)
    meta = pd.DataFrame({"id": np.arange(N), "emotion": [EMOTIONS[i % 4] for i in range(N)]})
    return LatentSpace(x, meta, name=f"s{seed}")


@dataclass
class Case:
    """How to fit one estimator and what its learned state and outputs are."""

    make: Callable[[], BaseEstimator]
    fit: Callable[[BaseEstimator, Any], Any]
    #: a method to call after fit with the data (None: the estimator has no transform)
    transform: Callable[[BaseEstimator, Any], Any] | None
    #: the learned attribute that must exist after fit, and its stated type
    fitted: dict[str, type | tuple[type, ...]] = field(default_factory=dict)
    #: what transform returns for a LatentSpace (the kind in, unless a documented exception)
    space_out: type = LatentSpace


CASES = {
    "TwoNN": Case(
        lambda: TwoNN(device="cpu"), lambda e, X: e.fit(X), None, {"dimension_": float}
    ),
    "MLE": Case(
        lambda: MLE(n_neighbors=10, device="cpu"), lambda e, X: e.fit(X), None, {"dimension_": float}
    ),
    "LocalIntrinsicDimension": Case(
        lambda: LocalIntrinsicDimension(n_neighbors=20, device="cpu"), lambda e, X: e.fit(X), None,
        {"lid_": np.ndarray},
    ),
    "RelativeProjection": Case(
        lambda: RelativeProjection(anchors=10, device="cpu"), lambda e, X: e.fit(X), lambda e, X: e.transform(X),
        {"anchors_": torch.Tensor, "anchor_ids_": np.ndarray},
    ),
    "Procrustes": Case(
        lambda: Procrustes(device="cpu"), lambda e, X: e.fit(X, X), lambda e, X: e.transform(X),
        {"rotation_": torch.Tensor},
    ),
    "Directions": Case(
        lambda: Directions(method="diffmean"),
        lambda e, X: e.fit(X, None if isinstance(X, LatentSpace) else [EMOTIONS[i % 4] for i in range(N)]),
        lambda e, X: e.transform(X),
        {"directions_": dict, "classes_": np.ndarray},
        # scores on the directions are a table of labels, not a space: documented exception
        space_out=np.ndarray,
    ),
    "StreamingPCA": Case(
        lambda: StreamingPCA(n_components=2), lambda e, X: e.fit(X), lambda e, X: e.transform(X),
        {"components_": np.ndarray, "mean_": np.ndarray},
    ),
}

ids = list(CASES)


@pytest.mark.parametrize("name", ids)
def test_is_a_scikit_learn_estimator_with_keyword_only_parameters(name):
    estimator = CASES[name].make()
    assert isinstance(estimator, BaseEstimator)
    parameters = list(inspect.signature(type(estimator).__init__).parameters.values())[1:]
    positional = [p.name for p in parameters if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert not positional, f"{name}.__init__ takes {positional} by position; make them keyword-only"


@pytest.mark.parametrize("name", ids)
def test_clone_and_params_round_trip(name):
    estimator = CASES[name].make()
    params = estimator.get_params()
    assert clone(estimator).get_params() == params
    assert estimator.set_params(**params) is estimator
    assert estimator.get_params() == params
    first = next(iter(params))
    changed = clone(estimator)
    changed.set_params(**{first: params[first]})
    assert changed.get_params() == params


@pytest.mark.parametrize("name", ids)
def test_fit_returns_self_and_learns_state_ending_in_underscore(name):
    case = CASES[name]
    estimator = case.make()
    before = dict(vars(estimator))
    assert case.fit(estimator, _space()) is estimator
    learned = {key for key in vars(estimator) if key not in before}
    assert learned and all(key.endswith("_") for key in learned if not key.startswith("_")), learned
    for attribute, kind in case.fitted.items():
        assert isinstance(getattr(estimator, attribute), kind), (attribute, type(getattr(estimator, attribute)))
    # fitting does not touch the parameters
    assert {key: before[key] for key in estimator.get_params()} == estimator.get_params()


@pytest.mark.parametrize("name", [name for name in ids if CASES[name].transform is not None])
@pytest.mark.parametrize("kind", ["space", "tensor", "array"])
def test_transform_returns_the_kind_it_was_given(name, kind):
    case = CASES[name]
    space = _space()
    data = {"space": space, "tensor": space.vectors, "array": space.vectors.numpy()}[kind]
    estimator = case.make()
    case.fit(estimator, data)
    out = case.transform(estimator, data)
    expected = {"space": case.space_out, "tensor": torch.Tensor, "array": np.ndarray}[kind]
    assert isinstance(out, expected), f"{name}.transform({kind}) gave {type(out).__name__}"
    assert (out.n if isinstance(out, LatentSpace) else out.shape[0]) == N


@pytest.mark.parametrize("name", [name for name in ids if CASES[name].transform is not None])
def test_not_fitted_raises_scikit_learns_error(name):
    case = CASES[name]
    with pytest.raises(NotFittedError, match="not fitted"):
        case.transform(case.make(), _space())
