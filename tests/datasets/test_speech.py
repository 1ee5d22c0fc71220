"""Synthetic emotional speech: the shipped clips, the prosody table, and the espeak-ng generator."""

from __future__ import annotations

import shutil
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
import soundfile

from workbench.datasets import PROSODY, SPEAKERS, espeak_executable, load_speech, make_speech, prosody_for, synthesize
from workbench.datasets.speech import SAMPLE_RATE, assign_speakers

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (Debian: apt-get install espeak-ng)"
)


def test_shipped_clips_are_a_balanced_latin_square_of_speakers():
    clips = load_speech()
    assert len(clips) == 210 and clips["id"].is_unique
    cells = clips.groupby(["emotion", "speaker"]).size()
    assert len(cells) == 7 * 6 and (cells == 5).all()
    assert (clips.groupby("context")["emotion"].nunique() == 7).all()  # whole situations
    assert (clips.groupby("context")["speaker"].nunique() >= 6).all()  # no situation said by one voice
    for path in clips["audio"].iloc[::50]:
        info = soundfile.info(path)
        assert (info.samplerate, info.channels) == (SAMPLE_RATE, 1)
        assert abs(info.duration - clips.set_index("audio").loc[path, "duration"]) < 0.05


def test_shipped_clips_carry_the_corpus_rows():
    from workbench.datasets import load_emotion_sentences

    clips = load_speech(emotions=["fear"], speakers=["ava", "dev"])
    assert set(clips["emotion"]) == {"fear"} and set(clips["speaker"]) == {"ava", "dev"}
    corpus = load_emotion_sentences().set_index("id")
    assert clips["text"].tolist() == corpus.loc[clips["id"], "text"].tolist()
    assert clips["intensity"].tolist() == corpus.loc[clips["id"], "intensity"].tolist()
    with pytest.raises(ValueError, match="unknown speaker"):
        load_speech(speakers=["zed"])


def test_prosody_follows_the_literature_direction_and_scales_with_intensity():
    neutral = PROSODY["neutral"]
    assert PROSODY["anger"].rate > neutral.rate > PROSODY["sadness"].rate
    assert PROSODY["joy"].pitch > neutral.pitch > PROSODY["sadness"].pitch
    assert PROSODY["sadness"].range < neutral.range < PROSODY["anger"].range
    assert PROSODY["anger"].volume > neutral.volume > PROSODY["sadness"].volume
    rates = [prosody_for("anger", i).rate for i in (1, 2, 3)]
    assert 1.0 < rates[0] < rates[1] < rates[2] == pytest.approx(PROSODY["anger"].rate)
    assert asdict(prosody_for("neutral", 1)) == asdict(neutral)
    with pytest.raises(ValueError, match="no prosody for emotion 'disgust'"):
        prosody_for("disgust")


def test_speakers_are_assigned_independently_of_emotion():
    frame = pd.DataFrame({"emotion": ["joy", "fear"] * 6, "context": np.repeat([f"c{i}" for i in range(6)], 2)})
    speakers = assign_speakers(frame)
    table = pd.crosstab(frame["emotion"], speakers)
    assert (table.to_numpy() == 1).all()  # each voice says each emotion once


def test_missing_espeak_gives_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a real PATH without espeak-ng on it
    monkeypatch.delenv("WORKBENCH_ESPEAK", raising=False)
    with pytest.raises(FileNotFoundError, match=r"needs the espeak-ng program.*apt-get install espeak-ng"):
        espeak_executable()
    rows = pd.DataFrame({"text": ["Hello."], "emotion": ["joy"], "intensity": [2]})
    with pytest.raises(FileNotFoundError, match="espeak-ng"):
        make_speech(tmp_path / "out", rows)
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match="not found at '/no/such/espeak-ng'"):
        espeak_executable("/no/such/espeak-ng")
    monkeypatch.setenv("WORKBENCH_ESPEAK", "/no/such/espeak-ng")
    with pytest.raises(FileNotFoundError, match="not found at '/no/such/espeak-ng'"):
        espeak_executable()


@pytest.mark.slow
@needs_espeak
def test_synthesis_is_deterministic_and_prosody_is_audible():
    from workbench.encoders.acoustic import acoustic_features

    text = "I waited at the station for an hour."
    first = synthesize(text, emotion="anger", intensity=3, speaker="eli")
    assert first.dtype == np.float32 and first.ndim == 1
    assert np.array_equal(first, synthesize(text, emotion="anger", intensity=3, speaker="eli"))
    sad = synthesize(text, emotion="sadness", intensity=3, speaker="eli")
    assert len(sad) > 1.3 * len(first)  # slower
    features = acoustic_features([first, sad])
    angry, sorry = features.iloc[0], features.iloc[1]
    assert angry["f0_mean"] > sorry["f0_mean"] + 3  # semitones
    assert angry["f0_std"] > sorry["f0_std"]
    assert angry["energy_mean"] > sorry["energy_mean"] + 3  # dB
    with pytest.raises(ValueError, match="unknown speaker"):
        synthesize(text, speaker="zed")


@needs_espeak
def test_make_speech_writes_a_loadable_folder(tmp_path):
    rows = pd.DataFrame({
        "id": ["a1", "b2", "c3"],
        "text": ["We won the cup!", "Please, don't go.", "The bus leaves at nine."],
        "emotion": ["joy", "sadness", "neutral"],
        "intensity": [3, 2, 1],
    })
    made = make_speech(tmp_path / "clips", rows, progress=False)
    assert made["id"].tolist() == ["a1", "b2", "c3"]
    assert made["speaker"].isin(list(SPEAKERS)).all()
    assert {"rate", "pitch", "range", "volume", "duration"} <= set(made.columns)
    for path in made["audio"]:
        samples, rate = soundfile.read(path)
        assert rate == SAMPLE_RATE and samples.ndim == 1 and np.abs(samples).max() > 0.05
        assert soundfile.info(path).subtype == "PCM_16"
    assert load_speech(tmp_path / "clips")["audio"].tolist() == made["audio"].tolist()
    with pytest.raises(FileExistsError):
        make_speech(tmp_path / "clips", rows, progress=False)


@needs_espeak
def test_make_speech_leaves_nothing_behind_when_it_fails_halfway(tmp_path):
    rows = pd.DataFrame({"id": ["ok", "bad"], "text": ["Fine.", "   "], "emotion": ["joy", "joy"], "intensity": [1, 1]})
    with pytest.raises(ValueError, match="non-empty string"):
        make_speech(tmp_path / "clips", rows, progress=False)
    assert list(tmp_path.iterdir()) == []
