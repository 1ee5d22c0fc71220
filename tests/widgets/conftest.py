"""Fixtures for the widget tests: a small table and a three-layer stack over it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def meta() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 120
    emotions = np.array(["joy", "fear", "anger", "love"])[np.arange(n) % 4]
    fine = np.array(["glee", "dread", "rage", "longing", "joy", "neutral"])[np.arange(n) % 6]
    return pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(n)],
            "text": [f"sentence {i} <b>not bold</b> & more" for i in range(n)],
            "emotion": emotions,
            "fine": fine,
            "intensity": rng.integers(1, 4, n),
            "score": rng.normal(size=n),
        }
    )


@pytest.fixture
def stack(meta):
    """Three layers of the same rows: emotion clusters that sharpen with depth, each layer turned."""
    from workbench import LayerStack

    rng = np.random.default_rng(1)
    codes = pd.factorize(meta["emotion"])[0]
    centres = rng.normal(size=(4, 16))
    layers = {}
    for layer in range(3):
        rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
        vectors = (centres[codes] * (1 + 2 * layer) + rng.normal(size=(len(meta), 16))) @ rotation
        layers[layer] = torch.as_tensor(vectors, dtype=torch.float32)
    return LayerStack(layers, meta=meta, name="toy")
