"""The shipped clips go through the same speech-model path a user's wav2vec 2.0 takes."""

from __future__ import annotations

import numpy as np
import pytest

import workbench as wb


@pytest.mark.slow
def test_shipped_clips_load_through_the_speech_encoder(tiny_models):
    clips = wb.load_speech().groupby("emotion").head(1)  # one clip per emotion, 3-8 s each
    stack = wb.encode(tiny_models("wav2vec2"), clips, cache=False, progress=False)
    last = stack[-1]
    assert last.shape == (7, 32)
    assert last.ids.tolist() == clips["id"].tolist()
    assert last.labels("emotion").tolist() == clips["emotion"].tolist()
    vectors = last.numpy()
    assert np.isfinite(vectors).all()
    assert np.linalg.matrix_rank(vectors) > 1  # different clips, different vectors
