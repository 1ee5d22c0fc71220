import re

import numpy as np
import pandas as pd
import pytest

from workbench import load_emotion_sentences, taxonomy
from workbench.datasets import STANDARD_COLUMNS, check_frame, fingerprint, modality_of

EMOTIONS = {"love", "joy", "surprise", "anger", "sadness", "fear", "neutral"}


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return load_emotion_sentences()


def test_corpus_size_and_balance(corpus):
    assert len(corpus) >= 700
    counts = corpus["emotion"].value_counts()
    assert set(counts.index) == EMOTIONS
    assert counts.min() >= 100
    assert corpus["domain"].nunique() >= 8


def test_every_context_has_several_emotions(corpus):
    per_context = corpus.groupby("context")["emotion"].nunique()
    assert per_context.min() >= 3
    # the design: every situation is written with all seven emotions
    assert (per_context == len(EMOTIONS)).mean() > 0.9


def test_standard_columns_and_values(corpus):
    for column in ("id", "text", "emotion", "context", "intensity", "split"):
        assert column in corpus.columns
    assert set(STANDARD_COLUMNS) >= {"id", "text", "emotion", "context", "intensity", "split"}
    assert corpus["id"].is_unique
    assert set(corpus["intensity"].unique()) <= {1, 2, 3}
    assert set(corpus["split"].unique()) == {"train", "test"}
    # split is by situation, so test situations are unseen in training
    assert corpus.groupby("context")["split"].nunique().max() == 1
    assert 0.1 < (corpus["split"] == "test").mean() < 0.35


def test_no_duplicate_sentences(corpus):
    normalised = corpus["text"].str.lower().map(lambda t: re.sub(r"[^a-z0-9 ]", "", t).strip())
    assert normalised.is_unique
    assert corpus["text"].str.split().str.len().between(3, 60).all()


def test_secondary_labels_roll_up_to_the_primary(corpus):
    emotional = corpus[corpus["emotion"] != "neutral"]
    rolled = taxonomy.roll_up(emotional["secondary"])
    assert (rolled == np.asarray(emotional["emotion"], dtype=object)).all()
    assert set(emotional["secondary"]) <= set(taxonomy.tier("secondary"))


def test_filters(corpus):
    test_joy = load_emotion_sentences("test", emotions=["joy"])
    assert set(test_joy["emotion"]) == {"joy"} and set(test_joy["split"]) == {"test"}
    assert len(test_joy) == ((corpus["split"] == "test") & (corpus["emotion"] == "joy")).sum()
    assert set(load_emotion_sentences(domains="work")["domain"]) == {"work"}
    with pytest.raises(ValueError, match="unknown emotion"):
        load_emotion_sentences(emotions=["boredom"])
    with pytest.raises(ValueError, match="split"):
        load_emotion_sentences("dev")


def test_check_frame_messages():
    assert modality_of(pd.DataFrame({"audio": ["a.wav"]})) == "audio"
    with pytest.raises(ValueError, match="no modality column"):
        modality_of(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="several modality columns"):
        modality_of(pd.DataFrame({"text": ["a"], "image": ["b"]}))
    with pytest.raises(ValueError, match="no rows"):
        check_frame(pd.DataFrame({"text": []}))
    with pytest.raises(ValueError, match="no 'text' column"):
        check_frame(pd.DataFrame({"sentence": ["a"]}), modality="text")
    with pytest.raises(ValueError, match="duplicated"):
        check_frame(pd.DataFrame({"id": [1, 1], "text": ["a", "b"]}))
    with pytest.raises(ValueError, match="have no text"):
        check_frame(pd.DataFrame({"id": [1, 2], "text": ["a", None]}))
    with pytest.raises(TypeError, match="DataFrame"):
        check_frame([{"text": "a"}])
    framed = check_frame(pd.DataFrame({"text": ["a", "b"]}, index=[5, 9]))
    assert framed["id"].tolist() == [0, 1] and list(framed.index) == [0, 1]


def test_fingerprint_changes_with_content():
    frame = pd.DataFrame({"id": [1, 2], "text": ["a", "b"]})
    assert fingerprint(frame) == fingerprint(frame.copy())
    assert fingerprint(frame) != fingerprint(frame.assign(text=["a", "c"]))
    audio = pd.DataFrame({"audio": [np.zeros(4, np.float32), np.ones(4, np.float32)]})
    assert fingerprint(audio) != fingerprint(audio.iloc[::-1].reset_index(drop=True))
    # images hash by pixels, not by their repr (which holds a memory address)
    from PIL import Image

    def images():
        return pd.DataFrame({"image": [Image.new("RGB", (4, 4), c) for c in ("red", "blue")]})

    assert fingerprint(images()) == fingerprint(images())
    assert fingerprint(images()) != fingerprint(images().iloc[::-1].reset_index(drop=True))
