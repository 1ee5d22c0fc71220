"""Synthetic faces: deterministic, expression set by the table, identity independent of emotion."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from workbench.datasets import FACE_EXPRESSIONS, draw_face, expression_for, faces_for, make_faces
from workbench.datasets.faces import Identity, random_identity


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_same_seed_gives_identical_pixels_and_another_seed_other_people():
    first = make_faces(1, emotions=["joy", "anger"], size=48, seed=3)
    again = make_faces(1, emotions=["joy", "anger"], size=48, seed=3)
    other = make_faces(1, emotions=["joy", "anger"], size=48, seed=4)
    assert first["id"].tolist() == again["id"].tolist()
    for a, b in zip(first["image"], again["image"]):
        assert np.array_equal(pixels(a), pixels(b))
    differing = [np.abs(pixels(a) - pixels(b)).mean() > 2 for a, b in zip(first["image"], other["image"])]
    assert sum(differing) >= len(differing) - 1  # two seeds could draw one alike person, not all


def test_different_identities_differ_with_the_same_expression():
    expression = expression_for("joy", 2)
    people = [random_identity(np.random.default_rng(seed)) for seed in range(6)]
    assert len({person for person in people}) > 1
    images = [pixels(draw_face(expression, person, size=64)) for person in people]
    distinct = {(a, b) for a in range(6) for b in range(a + 1, 6) if people[a] != people[b]}
    assert distinct
    assert all(np.abs(images[a] - images[b]).mean() > 2 for a, b in distinct)


def test_expression_moves_brows_and_mouth_and_leaves_hair_and_chin_alone():
    person = Identity(hair_style="short", glasses=False)
    joy, sadness = (pixels(draw_face(expression_for(e, 3), person, size=96)) for e in ("joy", "sadness"))
    difference = np.abs(joy - sadness).sum(axis=2).sum(axis=1)  # per image row
    assert difference[:28].max() == 0  # hair and forehead
    assert difference[30:42].sum() > 1000  # the brows
    assert difference[60:78].sum() > 1000  # the mouth
    assert difference[82:].max() == 0  # chin and background


def test_expression_scales_with_intensity_along_the_table():
    assert asdict(expression_for("sadness", 3)) == pytest.approx(asdict(FACE_EXPRESSIONS["sadness"]))
    curves = [expression_for("joy", i).mouth_curve for i in (1, 2, 3)]
    assert curves[0] < curves[1] < curves[2] == pytest.approx(1.0)
    assert expression_for("neutral", 1) == FACE_EXPRESSIONS["neutral"]
    assert expression_for("anger", 3).brow_angle < 0 < expression_for("fear", 3).brow_angle
    assert expression_for("surprise", 3).eye_open > 1 > expression_for("sadness", 3).eye_open


def test_make_faces_crosses_identity_with_emotion():
    faces = make_faces(2, size=32)
    assert len(faces) == 7 * 6  # 6 emotions x 3 intensities x 2, and 6 neutral
    assert set(faces["emotion"]) == set(FACE_EXPRESSIONS)
    per_person = faces.groupby("identity")["emotion"].nunique()
    assert len(per_person) == 6 and (per_person == 7).all()
    assert all(image.size == (32, 32) for image in faces["image"])


def test_faces_for_keys_identity_by_id_not_by_position():
    rows = pd.DataFrame({"id": ["a", "b", "c"], "emotion": ["joy", "fear", "anger"], "intensity": [1, 2, 3]})
    all_three = faces_for(rows, size=32)
    only_c = faces_for(rows.iloc[[2]], size=32)
    assert all_three["identity"].iloc[2] == only_c["identity"].iloc[0]
    assert np.array_equal(pixels(all_three["image"].iloc[2]), pixels(only_c["image"].iloc[0]))
    assert all_three["mouth_curve"].tolist() == pytest.approx([0.4, -0.21, -0.5])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="no face expression for emotion 'disgust'"):
        expression_for("disgust")
    with pytest.raises(ValueError, match="intensity must be between 0 and 3"):
        expression_for("joy", 5)
    with pytest.raises(ValueError, match=r"needs column\(s\) \['intensity'\]"):
        faces_for(pd.DataFrame({"emotion": ["joy"]}))
    with pytest.raises(ValueError, match="at least 16 pixels"):
        draw_face(expression_for("joy"), size=8)
