"""Parallel triples: one item as a sentence, a clip and a face, sharing id, emotion and intensity."""

from __future__ import annotations

import pytest

from workbench.datasets import expression_for, load_emotion_sentences, load_parallel
from workbench.datasets.schema import MODALITY_COLUMNS


def test_every_item_is_the_same_sentence_clip_and_face():
    items = load_parallel(emotions=["joy", "sadness"], face_size=48)
    assert len(items) == 60 and items["id"].is_unique
    assert set(MODALITY_COLUMNS) <= set(items.columns)
    corpus = load_emotion_sentences().set_index("id").loc[items["id"]]
    assert items["text"].tolist() == corpus["text"].tolist()
    assert items["emotion"].tolist() == corpus["emotion"].tolist()
    assert items["intensity"].tolist() == corpus["intensity"].tolist()
    assert all(path.endswith(f"{item}.ogg") for path, item in zip(items["audio"], items["id"]))
    assert all(image.size == (48, 48) for image in items["image"])
    expected = [expression_for(e, i).mouth_curve for e, i in zip(items["emotion"], items["intensity"])]
    assert items["mouth_curve"].tolist() == pytest.approx(expected)


def test_split_and_faces_by_speaker():
    test = load_parallel(split="test", faces_by="speaker", face_size=32)
    assert set(test["split"]) == {"test"} and len(test) > 0
    assert test.groupby("speaker")["identity"].nunique().eq(1).all()  # one face per voice
    assert test["identity"].nunique() == test["speaker"].nunique()
    with pytest.raises(ValueError, match="split must be"):
        load_parallel(split="dev")
