"""Fixtures for the encoder tests: real media files, extra tiny speech models, a private cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """No encoder test reads or writes the user's cache, even one that forgets cache_dir."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "workbench-cache"))


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "encode-cache"


@pytest.fixture
def texts() -> pd.DataFrame:
    sentences = [
        "I am so happy today",
        "this is terrible news",
        "what",
        "the train is late again and I miss you so much",
        "thank you so much",
        "we won the match",
        "I am scared of the dark and the meeting starts at nine",
    ]
    return pd.DataFrame(
        {"id": [f"t{i}" for i in range(len(sentences))], "text": sentences, "emotion": ["joy", "sadness", "surprise", "sadness", "joy", "joy", "fear"]}
    )


def _tone(seconds: float, rate: int, frequency: float, channels: int = 1) -> np.ndarray:
    time = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * frequency * time) + 0.05 * np.sin(2 * np.pi * 3.1 * frequency * time)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave, 0.5 * wave], axis=1)


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory) -> dict[str, Path]:
    """Real sound files: 16 kHz mono, 8 kHz stereo, 44.1 kHz FLAC, a broken one."""
    import soundfile

    root = tmp_path_factory.mktemp("audio")
    files = {
        "mono16k": (root / "mono16k.wav", _tone(1.0, 16000, 220.0), 16000),
        "stereo8k": (root / "stereo8k.wav", _tone(0.6, 8000, 330.0, channels=2), 8000),
        "flac44k": (root / "flac44k.flac", _tone(0.8, 44100, 440.0), 44100),
    }
    paths = {}
    for name, (path, samples, rate) in files.items():
        soundfile.write(path, samples, rate)
        paths[name] = path
    broken = root / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    paths["broken"] = broken
    return paths


@pytest.fixture(scope="session")
def image_files(tmp_path_factory) -> dict[str, Path]:
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = {}
    for name, size in (("wide", (48, 32)), ("tall", (20, 40))):
        path = root / f"{name}.png"
        Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(path)
        paths[name] = path
    broken = root / "broken.png"
    broken.write_bytes(b"\x89PNG but not an image")
    paths["broken"] = broken
    return paths


def _build_whisper(folder: Path) -> None:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    WhisperFeatureExtractor(feature_size=80, sampling_rate=16000).save_pretrained(folder)
    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=64, num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=1500,
        max_target_positions=32, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )
    WhisperModel(config).eval().save_pretrained(folder)


def _build_hubert(folder: Path) -> None:
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True, do_normalize=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = HubertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, conv_dim=(16, 16, 16),
        conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        feat_extract_norm="layer", do_stable_layer_norm=True,
    )
    HubertModel(config).eval().save_pretrained(folder)


def _build_wavlm(folder: Path) -> None:
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True, do_normalize=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = WavLMConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, conv_dim=(16, 16, 16),
        conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        num_buckets=16, max_bucket_distance=64, feat_extract_norm="layer", do_stable_layer_norm=True,
    )
    WavLMModel(config).eval().save_pretrained(folder)


def _build_clip(folder: Path) -> None:
    """A full CLIPModel (text + vision): the vision tower must be found inside it."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"vocab_size": 64, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 64},
        projection_dim=16,
    )
    CLIPModel(config).eval().save_pretrained(folder)


_BUILDERS = {"whisper": _build_whisper, "hubert": _build_hubert, "wavlm": _build_wavlm, "clip": _build_clip}


@pytest.fixture(scope="session")
def extra_models(tmp_path_factory):
    """``extra_models("whisper")`` -> folder of a tiny random model not in tests/tiny_models.py."""
    root = tmp_path_factory.mktemp("extra-models")

    def build(kind: str) -> Path:
        folder = root / kind
        if not (folder / "config.json").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            _BUILDERS[kind](folder)
        return folder

    return build
