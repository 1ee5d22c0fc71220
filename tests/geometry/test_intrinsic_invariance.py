"""Intrinsic dimension depends on the shape of the data only: not on where it
sits, how it is turned, or its unit of length."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from workbench.geometry.intrinsic import LocalIntrinsicDimension
from workbench.geometry.intrinsic.mle import MLE
from workbench.geometry.intrinsic.twonn import TwoNN

_settings = settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _cloud(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(80, 3)) @ rng.normal(size=(3, 6))  # a 3-D patch in 6-D


def _estimates(x: np.ndarray) -> np.ndarray:
    local = LocalIntrinsicDimension(n_neighbors=12, device="cpu").fit(x).lid_
    mle = MLE(n_neighbors=10, device="cpu").fit(x)
    return np.concatenate([local, mle.lid_, [TwoNN(device="cpu").fit(x).dimension_, mle.dimension_]])


@_settings
@given(
    seed=st.integers(0, 2**16),
    rotation_seed=st.integers(0, 2**16),
    shift=st.floats(-100, 100),
    scale=st.floats(1e-3, 1e3),
)
def test_invariant_to_rotation_translation_and_scaling(seed, rotation_seed, shift, scale):
    x = _cloud(seed)
    rotation, _ = np.linalg.qr(np.random.default_rng(rotation_seed).normal(size=(6, 6)))
    offset = shift * np.random.default_rng(rotation_seed + 1).normal(size=6)
    moved = scale * (x @ rotation) + offset
    np.testing.assert_allclose(_estimates(moved), _estimates(x), rtol=1e-6, atol=1e-6)


@_settings
@given(seed=st.integers(0, 2**16), permutation_seed=st.integers(0, 2**16))
def test_row_order_only_permutes_the_local_values(seed, permutation_seed):
    x = _cloud(seed)
    order = np.random.default_rng(permutation_seed).permutation(len(x))
    lid = LocalIntrinsicDimension(n_neighbors=12, device="cpu").fit(x).lid_
    np.testing.assert_allclose(LocalIntrinsicDimension(n_neighbors=12, device="cpu").fit(x[order]).lid_, lid[order], rtol=1e-9)
