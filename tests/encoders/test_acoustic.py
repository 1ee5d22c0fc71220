"""Classical acoustic features as an encoder."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.datasets import load_speech
from workbench.encoders.acoustic import ACOUSTIC_FEATURES, acoustic_features, encode_acoustic
from workbench.media import MediaError

RATE = 16_000


def tone(hz: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_pitch_and_voicing_of_known_signals():
    noise = np.random.default_rng(0).normal(scale=0.1, size=RATE).astype(np.float32)
    features = acoustic_features([tone(200), tone(100), noise])
    assert features.shape == (3, len(ACOUSTIC_FEATURES))
    assert features.loc[0, "f0_mean"] == pytest.approx(12.0, abs=0.2)  # 200 Hz is 12 semitones above 100 Hz
    assert features.loc[1, "f0_mean"] == pytest.approx(0.0, abs=0.2)
    assert features.loc[0, "voiced_fraction"] > 0.9 > 0.2 > features.loc[2, "voiced_fraction"]
    assert features.loc[2, "flatness_mean"] > 10 * features.loc[0, "flatness_mean"]


def test_audio_inputs_are_read_like_the_speech_encoders_read_them():
    half_rate = {"array": tone(200)[::2], "sampling_rate": 8000}  # resampled to 16 kHz first
    assert acoustic_features([half_rate]).loc[0, "f0_mean"] == pytest.approx(12.0, abs=0.2)
    with pytest.raises(MediaError, match=r"/no/such\.wav.*cannot read audio"):
        acoustic_features(["/no/such.wav"])
    with pytest.raises(ValueError, match="no clips"):
        acoustic_features([])


def test_shipped_clips_encode_and_carry_the_prosody():
    clips = load_speech(emotions=["anger", "sadness"]).groupby(["emotion", "speaker"]).head(2)
    space = encode_acoustic(clips, per="speaker")
    assert space.shape == (len(clips), len(ACOUSTIC_FEATURES))
    assert space.ids.tolist() == clips["id"].tolist()
    assert space.provenance["features"] == list(ACOUSTIC_FEATURES)
    vectors = space.numpy()
    for speaker in set(clips["speaker"]):  # standardised within each voice
        rows = space.labels("speaker") == speaker
        assert np.abs(vectors[rows].mean(axis=0)).max() < 1e-4
    angry = space.labels("emotion") == "anger"
    column = {name: i for i, name in enumerate(ACOUSTIC_FEATURES)}
    for name in ("f0_mean", "energy_mean", "onset_rate"):  # anger higher, louder, faster than sadness
        assert vectors[angry, column[name]].mean() > vectors[~angry, column[name]].mean() + 1.0


def test_global_standardisation_and_bad_column():
    clips = load_speech().iloc[:6]
    space = encode_acoustic(clips)
    varying = space.numpy().std(axis=0) > 0
    assert np.allclose(space.numpy().mean(axis=0), 0, atol=1e-5)
    assert np.allclose(space.numpy().std(axis=0)[varying], 1, atol=1e-4)
    with pytest.raises(ValueError, match="per='voice' is not a column"):
        encode_acoustic(clips, per="voice")
