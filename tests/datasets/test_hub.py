"""from_hf on small datasets built here in the hub's layouts, loaded through the same call a hub id takes."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")
soundfile = pytest.importorskip("soundfile")
Image = pytest.importorskip("PIL.Image")

from workbench import taxonomy  # noqa: E402
from workbench.datasets import from_hf  # noqa: E402


def _hub_layout(dataset, folder, split: str = "train"):
    """A folder as the hub stores a dataset: parquet shards under data/."""
    (folder / "data").mkdir(parents=True)
    dataset.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return folder


def _wav(seconds: float, rate: int, pitch: float) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 10), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def go_emotions(tmp_path):
    names = list(taxonomy.GOEMOTIONS)
    code = names.index
    rows = {
        "text": ["thanks a lot", "this is awful and sad", "wow, and also scary", "ok", "so funny and I love it"],
        "labels": [[code("gratitude")], [code("disgust"), code("sadness")], [code("surprise"), code("fear")],
                   [code("neutral")], [code("amusement"), code("love")]],
        "id": ["a", "b", "c", "d", "e"],
    }
    features = datasets.Features({
        "text": datasets.Value("string"),
        "labels": datasets.Sequence(datasets.ClassLabel(names=names)),
        "id": datasets.Value("string"),
    })
    return _hub_layout(datasets.Dataset.from_dict(rows, features=features), tmp_path / "go_emotions")


def test_goemotions_from_parquet_shards_rolls_up_to_ekman_and_parrott(go_emotions):
    frame = from_hf(go_emotions)  # the recipe is chosen by the folder's name, as by the hub id
    # b (disgust + sadness) and c (surprise + fear) disagree in Ekman's terms: dropped and counted
    assert frame["id"].tolist() == ["a", "d", "e"]
    assert frame.attrs["dropped"] == 2 and frame.attrs["recipe"] == "go_emotions"
    assert frame["emotion"].tolist() == ["joy", "neutral", "joy"]
    # gratitude is not in Parrott's tree: it reaches it through Ekman's joy; amusement is a joy word
    assert frame["parrott"].tolist() == ["joy", "neutral", "joy"]
    assert frame["label"].tolist() == ["gratitude", "neutral", "amusement,love"]
    assert set(frame["split"]) == {"train"}


def test_goemotions_multi_label_policies(go_emotions):
    first = from_hf(go_emotions, multi_label="first")
    assert first["emotion"].tolist() == ["joy", "disgust", "surprise", "neutral", "joy"]
    assert first["parrott"].tolist() == ["joy", "anger", "surprise", "neutral", "joy"]
    exploded = from_hf(go_emotions, multi_label="explode")
    assert len(exploded) == 8 and exploded["id"].is_unique
    assert exploded.set_index("id").loc["c:fear", "emotion"] == "fear"
    with pytest.raises(ValueError, match="multi_label must be one of"):
        from_hf(go_emotions, multi_label="vote")


def test_text_with_bare_integer_labels_uses_the_recipe_codes(tmp_path):
    rows = datasets.Dataset.from_dict({"text": ["I miss her", "what a day!"], "label": [0, 1]})
    frame = from_hf(_hub_layout(rows, tmp_path / "emotion"), recipe="emotion", split="train")
    assert frame["emotion"].tolist() == ["sadness", "joy"]
    assert frame["id"].tolist() == ["train-0", "train-1"]


def _speech(tmp_path, rate: int):
    # the clips enter as {bytes, path} structs and are cast to Audio at the Arrow level: encoding
    # through the Audio feature would need torchcodec, which this machine (like many) lacks
    features = datasets.Features({
        "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
        "label": datasets.ClassLabel(names=["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]),
        "speaker_id": datasets.Value("string"),
    })
    rows = {
        "audio": [{"bytes": _wav(0.5, rate, 220), "path": "1001_DFA_ANG_XX.wav"},
                  {"bytes": _wav(0.25, rate, 330), "path": "1002_DFA_HAP_XX.wav"}],
        "label": [0, 3],
        "speaker_id": ["1001", "1002"],
    }
    folder = tmp_path / "cremad-saved"
    dataset = datasets.Dataset.from_dict(rows, features=features).cast_column("audio", datasets.Audio(sampling_rate=rate))
    assert type(dataset.features["audio"]).__name__ == "Audio"
    datasets.DatasetDict({"train": dataset}).save_to_disk(str(folder))
    return folder


def test_speech_from_save_to_disk_decodes_audio_without_torchcodec(tmp_path):
    folder = _speech(tmp_path, rate=8000)
    frame = from_hf(folder, recipe="cremad", sampling_rate=16_000)
    assert frame["emotion"].tolist() == ["anger", "joy"] and frame["label"].tolist() == ["ANG", "HAP"]
    assert frame["context"].tolist() == ["1001", "1002"]
    assert frame.attrs["sampling_rate"] == 16_000
    lengths = [len(clip) for clip in frame["audio"]]
    assert abs(lengths[0] - 8000) <= 16 and abs(lengths[1] - 4000) <= 16  # resampled 8 kHz -> 16 kHz
    assert all(clip.dtype == np.float32 and 0.2 < np.abs(clip).max() < 0.4 for clip in frame["audio"])


def test_speech_to_files_the_encoders_read(tmp_path):
    from workbench.media import read_audio

    frame = from_hf(_speech(tmp_path, rate=16_000), recipe="cremad", media_dir=tmp_path / "clips")
    paths = frame["audio"].tolist()
    assert all(str(tmp_path / "clips") in path for path in paths)
    assert len(read_audio(paths[0], 16_000)) == 8000
    with pytest.raises(ValueError, match="no split 'test'; its splits are"):
        from_hf(_speech(tmp_path / "again", rate=16_000), split="test", recipe="cremad")


def test_images_from_parquet_shards(tmp_path):
    names = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    rows = {"image": [{"bytes": _png((250, 200, 0)), "path": None}, {"bytes": _png((0, 0, 90)), "path": None}],
            "label": [1, 7]}
    folder = _hub_layout(datasets.Dataset.from_dict(rows, features=features), tmp_path / "emoset")
    frame = from_hf(folder)
    assert frame["emotion"].tolist() == ["awe", "sadness"]
    assert frame["parrott"].tolist() == ["surprise", "sadness"]
    first = frame["image"][0]
    assert first.size == (12, 10) and first.getpixel((3, 3)) == (250, 200, 0)


def test_errors_name_the_dataset_and_what_is_missing(tmp_path, monkeypatch):
    rows = datasets.Dataset.from_dict({"sentence": ["a", "b"], "label": [0, 1]})
    folder = _hub_layout(rows, tmp_path / "plain")
    with pytest.raises(ValueError, match=r"MELD \(.*plain\): no text column; looked for \['Utterance'"):
        from_hf(folder, recipe="meld")
    with pytest.raises(KeyError, match="no recipe 'goemotions'; the recipes are"):
        from_hf(folder, recipe="goemotions")
    with pytest.raises(ValueError, match="could not load the dataset .*nowhere"):
        from_hf(tmp_path / "nowhere")
    bad = _hub_layout(datasets.Dataset.from_dict({"text": ["a"], "label": [9]}), tmp_path / "emotion")
    with pytest.raises(ValueError, match=r"dair-ai/emotion .*label code 9 has no name"):
        from_hf(bad)
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'latent-workbench\[hf\]'"):
        from_hf(folder)

