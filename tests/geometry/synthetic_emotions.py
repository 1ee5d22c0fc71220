"""A small synthetic emotion corpus with planted directions, shaped like the built-in one.

Every context (situation) is written once per emotion, so context offsets
are shared by all emotions of a context, exactly the structure ``centered``
directions exploit. Each emotion adds ``strength[layer] * intensity * v_e``
with a known unit vector ``v_e``; the strength rises then falls over layers,
so a probe sweep should peak in the middle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EMOTIONS = ("neutral", "joy", "fear", "anger")
# two Parrott secondaries under each primary, for the hierarchy tests
SECONDARIES = {"joy": ("cheerfulness", "zest"), "fear": ("horror", "nervousness"), "anger": ("rage", "irritation")}


def emotion_stack(
    *, n_contexts: int = 40, dim: int = 24, strengths=(0.2, 1.0, 2.5, 1.0), noise: float = 0.5, seed: int = 0
):
    """``(stack, planted)``: a LayerStack with meta like the built-in corpus, and the planted unit vectors."""
    from workbench import LayerStack

    rng = np.random.default_rng(seed)
    planted = {e: v / np.linalg.norm(v) for e, v in zip(EMOTIONS[1:], rng.normal(size=(3, dim)))}
    # the two secondaries of a primary sit on either side of it, so the primary's mean keeps its planted direction
    fine = {}
    for first, second in SECONDARIES.values():
        fine[first] = rng.normal(size=dim) * 0.25
        fine[second] = -fine[first]
    rows = []
    for c in range(n_contexts):
        for e in EMOTIONS:
            intensity = 0 if e == "neutral" else int(rng.integers(1, 4))
            secondary = "neutral" if e == "neutral" else SECONDARIES[e][int(rng.integers(0, 2))]
            rows.append((f"c{c}-{e}", e, secondary, intensity, f"c{c}", "test" if c % 4 == 0 else "train"))
    meta = pd.DataFrame(rows, columns=["id", "emotion", "secondary", "intensity", "context", "split"])
    context_offsets = rng.normal(size=(n_contexts, dim)) * 1.5
    ctx = meta["context"].str[1:].astype(int).to_numpy()
    layers = {}
    for layer, strength in enumerate(strengths):
        X = context_offsets[ctx] + noise * rng.normal(size=(len(meta), dim)) + 5.0
        for i, (e, s, t) in enumerate(zip(meta["emotion"], meta["secondary"], meta["intensity"])):
            if e != "neutral":
                X[i] += strength * t * planted[e] + strength * fine[s]
        layers[layer] = X.astype(np.float32)
    return LayerStack(layers, meta=meta), planted


def weak_and_strong_layers():
    """The synthetic stack reduced to layer 0 (almost no signal) and layer 2 (a strong one): small and quick to test nulls on."""
    from workbench import LayerStack

    full = emotion_stack()[0]
    return LayerStack({k: full[k].vectors.numpy() for k in (0, 2)}, meta=full.meta)
