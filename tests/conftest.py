"""Shared fixtures. No test reaches a network: the hub is switched off here."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# one encode cache per test session: tests share encodings with each other,
# never with the user's cache, and never depend on what an earlier run left
os.environ["WORKBENCH_CACHE"] = tempfile.mkdtemp(prefix="workbench-test-cache-")
atexit.register(shutil.rmtree, os.environ["WORKBENCH_CACHE"], True)
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import settings

# Property tests draw the same examples on every run, so CI cannot fail on a draw nobody can
# reproduce; `pytest --hypothesis-profile=explore` draws fresh ones, twenty times as many.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("ci")


def examples(n: int) -> int:
    """``n`` property examples, or twenty times as many under the explore profile."""
    return n * 20 if settings.get_current_profile_name() == "explore" else n


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default="cpu",
        help="device the `device` fixture hands to tests: cpu (default), cuda, cuda:1, mps",
    )


def pytest_configure(config: pytest.Config) -> None:
    device = config.getoption("--device")
    try:
        torch.device(device)
    except RuntimeError as error:
        raise pytest.UsageError(f"--device {device!r} is not a torch device: {error}") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise pytest.UsageError(f"--device {device} was asked for, but torch sees no CUDA GPU here")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    device = config.getoption("--device")
    if device == "cpu":
        return
    skip = pytest.mark.skip(reason=f"cpu_only: does not run under --device {device}")
    for item in items:
        if "cpu_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def device(request: pytest.FixtureRequest) -> str:
    """The device the run was started for (``pytest --device cuda``); "cpu" by default."""
    return request.config.getoption("--device")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(6)],
            "text": ["a", "b", "c", "d", "e", "f"],
            "emotion": ["joy", "fear", "joy", "anger", "fear", "joy"],
        }
    )


@pytest.fixture
def small_space(small_frame):
    from workbench import LatentSpace

    generator = torch.Generator().manual_seed(0)
    return LatentSpace(torch.randn(6, 4, generator=generator), small_frame, name="small", provenance={"layer": 1})


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """``tiny_models("gpt2")`` -> folder of a tiny random model saved with save_pretrained."""
    from tests.tiny_models import tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    return lambda kind: tiny_model(kind, root)


@pytest.fixture(scope="session")
def minilm_path():
    """Folder of the bundled real all-MiniLM-L6-v2."""
    from workbench.encoders.bundled import default_text_model

    return default_text_model()
