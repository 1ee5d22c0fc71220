"""Property tests: malformed arrays, frames, ids and damaged files end in a workbench error or a correct result.

A *workbench error* is a ValueError, TypeError or OSError (or a subclass)
whose message names the argument or the file. Anything else (an IndexError
from deep inside pandas, a torch RuntimeError, a wrong but quiet result) fails.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.conftest import examples
from workbench import LatentSpace, LayerStack

WORKBENCH_ERRORS = (ValueError, TypeError, OSError)
ARGUMENT_WORDS = ("vectors", "meta", "id", "layer", "provenance", "name")

_dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.int8, np.bool_, np.complex64, np.str_])
_arrays = hnp.arrays(
    dtype=_dtypes,
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    elements=None,
)
_ids = st.one_of(
    st.lists(st.integers(-3, 3), max_size=5),
    st.lists(st.text(max_size=2), max_size=5),
    st.lists(st.one_of(st.none(), st.floats(allow_nan=True), st.integers(0, 2), st.text(max_size=1)), max_size=5),
)


@st.composite
def _frames(draw):
    kind = draw(st.sampled_from(["none", "no-id", "ids", "not-a-frame"]))
    rows = draw(st.integers(0, 5))
    if kind == "none":
        return None
    if kind == "not-a-frame":
        return draw(st.sampled_from([{"id": [1]}, [1, 2], "meta", np.zeros(3)]))
    frame = pd.DataFrame({"x": np.arange(rows)})
    if kind == "ids":
        ids = draw(_ids)
        frame = pd.DataFrame({"id": pd.Series(ids, dtype=object)})
    return frame


def _check_space(space: LatentSpace, vectors, meta) -> None:
    """A space that was built must be exactly what was asked for, and valid."""
    array = np.asarray(vectors)
    assert space.shape == array.shape
    assert bool(torch.isfinite(space.vectors).all())
    np.testing.assert_array_equal(space.numpy(), array.astype(space.numpy().dtype))
    assert len(space.meta) == space.n and space.meta["id"].is_unique and not space.meta["id"].isna().any()
    if isinstance(meta, pd.DataFrame) and "id" in meta.columns:
        assert space.meta["id"].tolist() == meta["id"].tolist()


def _assert_workbench_error(error: BaseException, names: tuple[str, ...]) -> None:
    assert isinstance(error, WORKBENCH_ERRORS), f"{type(error).__name__}: {error}"
    assert any(name in str(error) for name in names), f"the message names none of {names}: {error}"


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vectors=_arrays, meta=_frames())
def test_latent_space_constructor(vectors, meta):
    try:
        space = LatentSpace(vectors, meta)
    except BaseException as error:  # noqa: BLE001 - the property is about which errors come out
        _assert_workbench_error(error, ARGUMENT_WORDS)
        return
    _check_space(space, vectors, meta)


@settings(max_examples=examples(80), deadline=None)
@given(
    layers=st.lists(st.tuples(st.one_of(st.integers(-2, 2), st.text(max_size=1), st.booleans(), st.floats()), _arrays),
                    min_size=0, max_size=3),  # fmt: skip
    meta=_frames(),
)
def test_layer_stack_constructor(layers, meta):
    try:
        stack = LayerStack(dict(layers), meta=meta)
    except BaseException as error:  # noqa: BLE001
        _assert_workbench_error(error, ARGUMENT_WORDS)
        return
    for key, vectors in dict(layers).items():
        _check_space(stack[key], vectors, meta)


# ----------------------------------------------------------------------------
# damaged files
# ----------------------------------------------------------------------------

_ROOT = Path(tempfile.mkdtemp(prefix="workbench-properties-"))
_SPACE = LatentSpace(np.arange(12.0).reshape(4, 3), pd.DataFrame({"id": ["a", "b", "c", "d"], "y": [1, 2, 3, 4]}),
                     name="good", provenance={"layer": 2})  # fmt: skip
_PRISTINE = {
    "space": _SPACE.save(_ROOT / "space"),
    "stack": LayerStack({0: _SPACE, "mlp": _SPACE.with_vectors(-_SPACE.vectors)}).save(_ROOT / "stack"),
}

_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.floats(allow_nan=False), st.text(max_size=6)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8,
)


@st.composite
def _damage(draw):
    file = draw(st.sampled_from(["vectors.safetensors", "meta.parquet", "manifest"]))
    how = draw(st.sampled_from(["truncate", "flip", "delete", "json-field", "json-any", "frame"]))
    return file, how, draw(st.integers(0, 10_000)), draw(_json_values), draw(st.sampled_from(list(_PRISTINE)))


def _apply(folder: Path, manifest: str, file: str, how: str, where: int, value) -> None:
    path = folder / (manifest if file == "manifest" else file)
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: where % max(len(data), 1)])
    elif how == "flip":
        flipped = bytearray(data)
        flipped[where % len(flipped)] ^= 1 << (where % 8)
        path.write_bytes(bytes(flipped))
    elif how == "delete":
        path.unlink()
    elif how == "json-field":
        info = json.loads((folder / manifest).read_text())
        keys = sorted(info) + [f"layers.{i}.{k}" for i, layer in enumerate(info.get("layers", [])) for k in layer]
        key = keys[where % len(keys)]
        if key.startswith("layers."):
            _, i, name = key.split(".", 2)
            info["layers"][int(i)][name] = value
        else:
            info[key] = value
        info.pop("files", None)  # as an older save without checksums: the readers themselves must catch it
        (folder / manifest).write_text(json.dumps(info))
    elif how == "json-any":
        (folder / manifest).write_text(json.dumps(value))
    else:  # a meta frame that lost or broke its ids
        frame = pd.DataFrame({"id": ["a", "a", None, "d"][: 1 + where % 4], "y": range(1 + where % 4)})
        frame.drop(columns="id" if where % 2 else []).to_parquet(folder / "meta.parquet")
        info = json.loads((folder / manifest).read_text())
        info.pop("files", None)
        (folder / manifest).write_text(json.dumps(info))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=_damage())
def test_loaders_on_damaged_files(damage):
    file, how, where, value, kind = damage
    cls, manifest = (LatentSpace, "space.json") if kind == "space" else (LayerStack, "stack.json")
    folder = Path(tempfile.mkdtemp(dir=_ROOT)) / kind
    shutil.copytree(_PRISTINE[kind], folder)
    _apply(folder, manifest, file, how, where, value)
    try:
        loaded = cls.load(folder)
    except BaseException as error:  # noqa: BLE001
        _assert_workbench_error(error, (str(folder),))
        return
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    # loaded anyway: it must be the saved object, bit for bit (a damaged name or provenance may differ)
    original = cls.load(_PRISTINE[kind])
    spaces = [(loaded, original)] if kind == "space" else list(zip(loaded, original))
    assert kind == "space" or loaded.layers == original.layers
    for got, expected in spaces:
        assert torch.equal(got.vectors, expected.vectors)
        pd.testing.assert_frame_equal(got.meta, expected.meta)


@pytest.fixture(scope="module", autouse=True)
def _clean_root():
    yield
    shutil.rmtree(_ROOT, ignore_errors=True)
