"""One shared view across modalities: relative spaces on parallel anchors, and how shared they are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import LatentSpace
from workbench.geometry.relative.shared_view import (
    center_by,
    cross_modal_retrieval,
    emotion_agreement,
    match_spaces,
    shared_view,
)

EMOTIONS = ["neutral", "joy", "love", "surprise", "fear", "anger", "sadness"]


def parallel_pair(n: int = 70, width: int = 6, seed: int = 0):
    """A 'text' space and a 'speech' space that is the same items rotated, rescaled and zero-padded wider."""
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame({"id": [f"i{k}" for k in range(n)], "emotion": np.resize(EMOTIONS, n)})
    x = rng.normal(size=(n, width))
    rotation = np.linalg.qr(rng.normal(size=(width, width)))[0]
    wider = np.hstack([3.0 * x @ rotation, np.zeros((n, 4))])
    return LatentSpace(x, meta, name="t"), LatentSpace(wider, meta, name="s")


def test_a_rotated_wider_copy_shares_the_view_exactly():
    text, speech = parallel_pair()
    view = shared_view({"text": text, "speech": speech}, anchors=list(text.ids[:14]))
    assert view["text"].shape == view["speech"].shape == (70, 14)
    assert torch.allclose(view["text"].vectors, view["speech"].vectors, atol=1e-5)
    retrieval = view.retrieval()
    assert (retrieval["n"] == 56).all()  # the 14 anchors are left out
    assert (retrieval["top1"] == 1.0).all() and (retrieval["mrr"] == 1.0).all()
    summary = view.summary()
    assert set(summary["view"]) == {"relative", "procrustes"}
    assert (summary.loc[summary["view"] == "procrustes", "top1"] > 0.95).all()
    assert view["speech"].provenance["relative"]["anchors"] == list(text.ids[:14])
    assert view["speech"].provenance["modality"] == "speech"


def test_anchor_count_is_chosen_stratified_by_emotion():
    text, speech = parallel_pair()
    view = shared_view({"text": text, "speech": speech}, anchors=14)
    chosen = text.meta.set_index("id").loc[list(view.anchors), "emotion"]
    assert chosen.value_counts().tolist() == [2] * 7


def test_absolute_spaces_of_different_widths_need_an_alignment():
    text, speech = parallel_pair()
    with pytest.raises(ValueError, match="cannot be compared coordinate by coordinate"):
        cross_modal_retrieval({"text": text, "speech": speech})
    aligned = cross_modal_retrieval({"text": text, "speech": speech}, align="procrustes", fit_on=list(text.ids[:20]))
    assert (aligned["n"] == 50).all() and (aligned["top1"] > 0.95).all()
    with pytest.raises(ValueError, match="needs fit_on"):
        cross_modal_retrieval({"text": text, "speech": speech}, align="procrustes")


def test_retrieval_of_unrelated_spaces_is_near_chance():
    rng = np.random.default_rng(1)
    meta = pd.DataFrame({"id": range(300), "emotion": np.resize(EMOTIONS, 300)})
    a, b = (LatentSpace(rng.normal(size=(300, 8)), meta) for _ in range(2))
    table = cross_modal_retrieval({"a": a, "b": b}, ks=(10,))
    assert (table["top10"] < 0.1).all() and table["chance_top10"].iloc[0] == pytest.approx(10 / 300)
    agreement = emotion_agreement({"a": a, "b": b}, k=10)
    assert abs(agreement.loc["a", "b"] - agreement.attrs["chance"]) < 0.05


def test_emotion_agreement_leaves_the_counterpart_out_and_knows_chance():
    labels = np.repeat(["joy", "fear", "anger"], 5)
    meta = pd.DataFrame({"id": range(15), "emotion": labels})
    clusters = np.repeat(np.eye(3), 5, axis=0) + 0.01 * np.random.default_rng(0).normal(size=(15, 3))
    table = emotion_agreement({"a": LatentSpace(clusters, meta), "b": LatentSpace(clusters[:, ::-1].copy(), meta)}, k=4)
    assert table.loc["a", "a"] == 1.0 and table.loc["b", "b"] == 1.0
    assert table.loc["a", "b"] < 0.5  # b's axes are permuted: coordinates do not match, so neither do classes
    assert table.attrs["chance"] == pytest.approx(4 / 14)
    with pytest.raises(ValueError, match="needs more than"):
        emotion_agreement({"a": LatentSpace(clusters, meta), "b": LatentSpace(clusters, meta)}, k=15)


def test_match_spaces_keeps_shared_ids_in_the_first_order():
    meta = pd.DataFrame({"id": ["a", "b", "c", "d"]})
    first = LatentSpace(np.eye(4), meta)
    second = LatentSpace(np.eye(3), pd.DataFrame({"id": ["d", "b", "a"]}))
    matched = match_spaces({"x": first, "y": second})
    assert matched["x"].ids.tolist() == matched["y"].ids.tolist() == ["a", "b", "d"]
    with pytest.raises(ValueError, match="share no ids"):
        match_spaces({"x": first, "y": LatentSpace(np.eye(2), pd.DataFrame({"id": ["p", "q"]}))})
    with pytest.raises(TypeError, match="must be a LatentSpace"):
        match_spaces({"x": first, "y": np.eye(4)})


def test_center_by_removes_group_means():
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({"id": range(12), "speaker": np.repeat(["a", "b", "c"], 4)})
    space = LatentSpace(rng.normal(size=(12, 5)) + np.repeat(rng.normal(size=(3, 5)) * 10, 4, axis=0), meta)
    centred = center_by(space, "speaker").numpy()
    for speaker in "abc":
        assert np.abs(centred[meta["speaker"] == speaker].mean(axis=0)).max() < 1e-5
    assert centred.shape == (12, 5)


@pytest.mark.slow
def test_classical_encoders_agree_on_emotion_across_speech_and_faces():
    import workbench as wb

    items = wb.load_parallel(faces_by="speaker", face_size=64)
    speech = wb.encode_acoustic(items, per="speaker")
    vision = center_by(wb.encode_image_features(items, size=48), "identity")
    train = speech.subset(speech.labels("split") == "train")
    anchors = wb.select_anchors(train, 42, strategy="stratified", by="emotion", seed=0)
    view = shared_view({"speech": speech, "vision": vision}, anchors=anchors)
    agreement = view.agreement(k=10)
    chance = agreement.attrs["chance"]
    assert chance == pytest.approx(23 / 167)  # 24 held-out items per emotion
    assert agreement.loc["speech", "vision"] > chance + 0.1
    assert agreement.loc["vision", "speech"] > chance + 0.1
