import collections

import numpy as np
import pytest

from workbench import taxonomy


def test_tree_shape():
    tree = taxonomy.parrott_tree()
    assert list(tree) == ["love", "joy", "surprise", "anger", "sadness", "fear"]
    assert sum(len(s) for s in tree.values()) == 25
    assert len(taxonomy.tier("tertiary")) > 130
    # every tertiary word belongs to exactly one secondary, so roll-up is a function
    words = [w for s in tree.values() for ws in s.values() for w in ws]
    assert [w for w, c in collections.Counter(words).items() if c > 1] == []


@pytest.mark.parametrize(
    "label, to, expected",
    [
        ("exasperation", "primary", "anger"),
        ("frustration", "primary", "anger"),
        ("frustration", "secondary", "exasperation"),
        ("glee", "secondary", "cheerfulness"),
        ("Homesickness", "primary", "sadness"),
        ("dread", "primary", "fear"),
        ("longing", "primary", "love"),
        ("joy", "primary", "joy"),
        ("disgust", "primary", "anger"),
        ("surprise", "secondary", "surprise"),
        ("neutral", "primary", "neutral"),
    ],
)
def test_roll_up(label, to, expected):
    assert taxonomy.roll_up(label, to=to) == expected


def test_roll_up_arrays_and_errors():
    out = taxonomy.roll_up(np.array(["rage", "relief", "neutral", "horror"], dtype=object))
    assert out.tolist() == ["anger", "joy", "neutral", "fear"] and out.dtype == object
    with pytest.raises(KeyError, match="not in Parrott"):
        taxonomy.roll_up("boredom")
    assert taxonomy.roll_up(["boredom"], unknown="keep").tolist() == ["boredom"]
    with pytest.raises(ValueError, match="primary emotion"):
        taxonomy.roll_up("anger", to="secondary")
    with pytest.raises(ValueError):
        taxonomy.roll_up("rage", to="tertiary")


def test_every_secondary_and_tertiary_rolls_to_its_primary():
    for primary, secondaries in taxonomy.parrott_tree().items():
        for secondary, words in secondaries.items():
            assert taxonomy.roll_up(secondary) == primary
            assert set(taxonomy.roll_up(words)) == {primary}


def test_ekman_and_goemotions():
    assert taxonomy.EKMAN == ("anger", "disgust", "fear", "joy", "sadness", "surprise")
    assert len(taxonomy.GOEMOTIONS) == 28 and taxonomy.GOEMOTIONS[-1] == "neutral"
    assert set(taxonomy.GOEMOTIONS_TO_EKMAN) == set(taxonomy.GOEMOTIONS)
    assert set(taxonomy.GOEMOTIONS_TO_EKMAN.values()) == {*taxonomy.EKMAN, "neutral"}
    assert taxonomy.goemotions_to_ekman(["remorse", "curiosity", "annoyance"]).tolist() == ["sadness", "surprise", "anger"]
    with pytest.raises(KeyError, match="not a GoEmotions label"):
        taxonomy.goemotions_to_ekman("boredom")
    # Ekman's six all sit in Parrott's tree
    assert set(taxonomy.roll_up(taxonomy.EKMAN)) <= set(taxonomy.PRIMARY)


def test_vad_has_every_primary_and_sensible_order():
    values = {e: taxonomy.vad(e) for e in (*taxonomy.PRIMARY, "neutral")}
    assert all(len(v) == 3 and all(0 <= x <= 1 for x in v) for v in values.values())
    assert values["joy"][0] > values["neutral"][0] > values["sadness"][0]  # valence
    assert values["anger"][1] > values["sadness"][1]  # arousal
    assert taxonomy.vad("fury") == values["anger"]
    assert set(taxonomy.sources()) == {"parrott", "ekman", "goemotions", "vad"}


def test_disgust_has_its_own_vad_entry_not_angers():
    # Parrott's tree has no disgust, so a roll-up fallback silently gave anger's coordinates
    assert taxonomy.vad("disgust") == (0.052, 0.775, 0.317)
    assert taxonomy.vad("disgust") != taxonomy.vad("anger")
    assert all(taxonomy.vad(e) for e in (*taxonomy.EKMAN, "neutral"))
