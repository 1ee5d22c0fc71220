import numpy as np
import pandas as pd
import pytest

from workbench import LatentSpace, LayerStack
from workbench.geometry.intrinsic.duplicates import DuplicateWarning
from workbench.geometry.intrinsic import LocalIntrinsicDimension
from workbench.geometry.intrinsic.profile import lid_profile, token_lid


def _patch(rng, n, d, width=24):
    return rng.uniform(size=(n, d)) @ rng.normal(size=(d, width))


@pytest.fixture
def stack(rng):
    meta = pd.DataFrame({"id": [f"s{i}" for i in range(300)], "emotion": ["joy", "fear", "anger"] * 100})
    return LayerStack({0: _patch(rng, 300, 2), 3: _patch(rng, 300, 6), "last": _patch(rng, 300, 4)}, meta=meta)


def test_profile_per_layer_and_per_point_columns(stack):
    profile, with_lid = lid_profile(stack, n_neighbors=40, return_stack=True, progress=False)
    assert list(profile.columns) == ["layer", "mean", "median", "std", "n", "n_duplicates"]
    assert profile["layer"].tolist() == [0, 3, "last"] and (profile["n"] == 300).all()
    assert profile["mean"][0] < profile["mean"][2] < profile["mean"][1]  # 2-D < 4-D < 6-D
    assert abs(profile["median"][0] - 2) < 0.4
    expected = LocalIntrinsicDimension(n_neighbors=40).fit(stack[3]).lid_
    np.testing.assert_allclose(with_lid.meta["lid_3"].to_numpy(), expected)
    assert profile["mean"][1] == pytest.approx(expected.mean())
    assert {"lid_0", "lid_3", "lid_last", "emotion"} <= set(with_lid.meta.columns)
    assert with_lid[3].vectors is stack[3].vectors  # columns added, vectors shared


def test_profile_layers_sample_and_space(stack):
    profile, with_lid = lid_profile(stack, n_neighbors=20, layers=[-1], sample=120, seed=1, return_stack=True)
    assert profile["layer"].tolist() == ["last"] and profile["n"].tolist() == [120]
    assert with_lid.meta["lid_last"].notna().sum() == 120
    single = lid_profile(stack["last"], n_neighbors=20, estimator="mle", progress=False)
    assert len(single) == 1 and single["n"][0] == 300
    with pytest.raises(TypeError, match="LayerStack or a LatentSpace"):
        lid_profile(np.zeros((10, 2)))
    with pytest.raises(KeyError, match="no layer 7"):
        lid_profile(stack, layers=[7])


def _token_stack(rng):
    """Token-level stack as encode(..., pooling="tokens") lays it out: repeated
    tokens in layer 0 have identical vectors (embedding lookup), later layers mix context."""
    vocabulary = np.array(["[CLS]", "the", "cat", "sat", "on", "a", "mat", "dog", "ran", "[SEP]"])
    rows = []
    for sample in range(60):
        words = rng.choice(vocabulary[1:-1], size=rng.integers(4, 9))
        for position, token in enumerate(["[CLS]", *words, "[SEP]"]):
            rows.append((sample, position, token))
    meta = pd.DataFrame(rows, columns=["sample_id", "position", "token"])
    meta.insert(0, "id", [f"t{i}" for i in range(len(meta))])
    table = rng.normal(size=(len(vocabulary), 16))
    token_index = {token: i for i, token in enumerate(vocabulary)}
    embedding = table[[token_index[t] for t in meta["token"]]]
    context = _patch(rng, len(meta), 3, width=16)
    return LayerStack({0: embedding, 1: embedding + context}, meta=meta)


def test_token_lid_follows_the_paper_sampling(rng):
    tokens = _token_stack(rng)
    skip = {"[CLS]", "[SEP]"}
    profile, with_lid = token_lid(
        tokens, n_tokens=300, max_points=150, n_neighbors=20, skip_tokens=skip, layers=[1], return_stack=True
    )
    lid = with_lid.meta["lid_1"]
    assert len(with_lid.meta) == tokens.n and "lid_0" not in with_lid.meta
    assert lid.notna().sum() == 150 and lid[with_lid.meta["token"].isin(skip)].isna().all()
    assert profile["n"].tolist() == [150] and profile["n_duplicates"].tolist() == [0]
    # the same seed draws the same tokens; another seed other ones
    again = token_lid(tokens, n_tokens=300, max_points=150, n_neighbors=20, skip_tokens=skip, layers=[1], return_stack=True)
    other = token_lid(
        tokens, n_tokens=300, max_points=150, n_neighbors=20, skip_tokens=skip, layers=[1], seed=1, return_stack=True
    )
    np.testing.assert_array_equal(again[1].meta["lid_1"].notna(), lid.notna())
    assert not np.array_equal(other[1].meta["lid_1"].notna(), lid.notna())


def test_token_lid_dedupes_before_truncating(rng):
    tokens = _token_stack(rng)
    # layer 0: one vector per word type, so deduplication leaves 8 (10 with [CLS], [SEP])
    with pytest.raises(ValueError, match="layer 0: n_neighbors=20 needs at least 21 points.*got 8"):
        token_lid(tokens, layers=[0], n_neighbors=20, skip_tokens={"[CLS]", "[SEP]"}, progress=False)
    # without deduplication the estimator's own policy merges them, and says so
    with pytest.raises(ValueError, match="only 10 distinct rows"), pytest.warns(DuplicateWarning):
        token_lid(tokens, layers=[0], dedupe=False, n_neighbors=20, progress=False)
    profile = token_lid(tokens, layers=[0], n_neighbors=5, progress=False)
    assert profile["n"][0] == 10 and profile["n_duplicates"][0] == tokens.n - 10


def test_token_lid_needs_token_level_stack(stack):
    with pytest.raises(ValueError, match="pooling='tokens'"):
        token_lid(stack)
    space = LatentSpace(np.zeros((3, 2)), pd.DataFrame({"id": [0, 1, 2], "sample_id": [0, 0, 1], "token": ["a"] * 3}))
    with pytest.raises(ValueError, match="nothing is left"):
        token_lid(space, skip_tokens={"a"})


@pytest.mark.slow
def test_minilm_per_layer_lid_on_the_builtin_corpus(minilm_path):
    import workbench as wb

    skdim = pytest.importorskip("skdim")
    corpus = wb.load_emotion_sentences()
    sentences = wb.encode(minilm_path, corpus, cache=False, progress=False)
    profile, with_lid = lid_profile(sentences, n_neighbors=128, return_stack=True, progress=False)
    assert profile["layer"].tolist() == list(range(7)) and (profile["n"] == len(corpus)).all()
    means = profile["mean"].to_numpy()
    # sentences sit on tens of directions of the 384, fewer after the blocks than
    # in the averaged word embeddings (42 -> 26 measured)
    assert (means > 10).all() and (means < 80).all() and means[-1] < means[0] - 5
    # the per-sentence values are scikit-dimension's on the same neighbourhoods
    last = sentences[-1].numpy()
    graph = LocalIntrinsicDimension().fit(last).knn_graph_
    some = np.arange(0, len(corpus), 73)
    reference = [skdim.id.TwoNN(discard_fraction=0.1).fit(last[graph.indices[i].numpy()]).dimension_ for i in some]
    np.testing.assert_allclose(with_lid.meta["lid_6"].to_numpy()[some], reference, atol=1e-4, rtol=0)

    tokens = wb.encode(minilm_path, corpus.head(200), pooling="tokens", layers=[0, 6], cache=False, progress=False)
    token_profile = token_lid(tokens, n_tokens=2000, n_neighbors=64, progress=False)
    assert token_profile["layer"].tolist() == [0, 6]
    # the embedding layer repeats a vector for every repeated (token, position) pair
    first, last_layer = token_profile.to_dict("records")
    assert first["n_duplicates"] > 0 and first["n"] == 2000 - first["n_duplicates"]
    assert last_layer["n_duplicates"] == 0 and last_layer["n"] == 2000
    assert 2 < last_layer["mean"] < 40
