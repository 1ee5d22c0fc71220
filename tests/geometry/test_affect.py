"""Valence/arousal axes of emotion directions, with their two controls."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench import taxonomy
from workbench.geometry.directions import affect_axes
from workbench.geometry.directions import Directions

EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]


def _directions(planted: float, seed: int, dim: int = 64):
    g = torch.Generator().manual_seed(seed)
    ratings = torch.tensor([taxonomy.vad(e) for e in EMOTIONS], dtype=torch.float32)
    centres = torch.randn(len(EMOTIONS), dim, generator=g)
    centres[:, 0] += planted * ratings[:, 0]  # valence
    X = centres.repeat_interleave(20, 0) + 0.05 * torch.randn(20 * len(EMOTIONS), dim, generator=g)
    y = [e for e in EMOTIONS for _ in range(20)]
    return Directions(method="diffmean").fit(X, y).direction_set()


def _row(table, axis, dimension):
    return table[(table.axis == axis) & (table.dimension == dimension)].iloc[0]


def test_a_planted_valence_axis_is_found_and_beats_both_controls():
    table = affect_axes(_directions(planted=12.0, seed=0), n_components=2)
    valence = _row(table, 1, "valence")
    assert valence.r > 0.9
    assert valence.p_value < 0.05
    assert valence.beats_random
    # neutral is the baseline the directions are measured from, so six emotions are correlated
    assert table.attrs["labels"] == [e for e in EMOTIONS if e != "neutral"]
    assert table.attrs["exact"] and table.attrs["n_permutations"] == math.factorial(6)
    assert table.explained_variance.iloc[0] >= table.explained_variance.iloc[-1]


def test_without_a_planted_axis_the_exact_test_keeps_its_level():
    p_values = [_row(affect_axes(_directions(planted=0.0, seed=s), n_components=1), 1, "valence").p_value for s in range(60)]
    assert np.mean(np.asarray(p_values) < 0.05) <= 0.15


def test_affect_axes_names_what_it_cannot_use():
    with pytest.raises(TypeError, match="DirectionSet"):
        affect_axes(torch.zeros(3, 3))
    X = torch.randn(60, 8, generator=torch.Generator().manual_seed(1))
    unrated = Directions(method="diffmean").fit(X, ["calm", "bored", "tired", "keen", "odd", "shy"] * 10).direction_set()
    with pytest.raises(ValueError, match="no valence/arousal rating for the label"):
        affect_axes(unrated)
    with pytest.raises(ValueError, match="n_components"):
        affect_axes(_directions(planted=1.0, seed=2), n_components=7)
