"""Speech encoders through the public path: tiny wav2vec2 / HuBERT / WavLM / Whisper, real sound files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile
import soxr
import torch

import workbench as wb


def _direct(folder, audio: np.ndarray, *, whisper: bool = False) -> torch.Tensor:
    """All hidden states of one clip run alone, straight through transformers: (layers, frames, width)."""
    from transformers import AutoFeatureExtractor, AutoModel

    extractor = AutoFeatureExtractor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    features = extractor(audio, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        if whisper:
            hidden = model.get_encoder()(features["input_features"], output_hidden_states=True).hidden_states
        else:
            hidden = model(features["input_values"], output_hidden_states=True).hidden_states
    return torch.stack(hidden)[:, 0]


def _clips(rng, lengths=(16000, 5000, 23000)) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [f"c{i}" for i in range(len(lengths))], "audio": [rng.normal(0, 0.1, n).astype(np.float32) for n in lengths],
         "emotion": ["joy", "fear", "anger"][: len(lengths)]}
    )


def test_mean_uses_only_real_frames(tiny_models, rng):
    folder = tiny_models("wav2vec2")
    clips = _clips(rng)
    stack = wb.encode(folder, clips, batch_size=3, cache=False, progress=False)
    assert stack.layers == [0, 1, 2] and stack.ids.tolist() == ["c0", "c1", "c2"]
    for row in range(3):
        expected = _direct(folder, clips["audio"][row]).mean(dim=1)
        torch.testing.assert_close(stack.tensor()[:, row], expected, atol=2e-5, rtol=1e-4)
    assert "before the model's final norm" in stack.provenance["final_layer"]  # stable layer norm in transformers 5


@pytest.mark.parametrize("kind", ["hubert", "wavlm"])
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")  # inside torch, for WavLM
def test_hubert_and_wavlm_batch_like_single(extra_models, rng, kind):
    folder = extra_models(kind)
    clips = _clips(rng)
    batched = wb.encode(folder, clips, batch_size=3, cache=False, progress=False)
    for row in (1, 2):
        expected = _direct(folder, clips["audio"][row]).mean(dim=1)
        torch.testing.assert_close(batched.tensor()[:, row], expected, atol=2e-5, rtol=1e-4)


def test_frames_rows_and_times(tiny_models, rng):
    from transformers import AutoModel

    folder = tiny_models("wav2vec2")
    clips = _clips(rng)
    stack = wb.encode(folder, clips, pooling="frames", batch_size=2, cache=False, progress=False)
    model = AutoModel.from_pretrained(folder)
    counts = model._get_feat_extract_output_lengths(torch.tensor([16000, 5000, 23000])).tolist()
    meta = stack.meta
    assert meta.groupby("sample_id", sort=False).size().tolist() == counts
    first = meta[meta["sample_id"] == "c1"]
    assert first["position"].tolist() == list(range(counts[1]))
    hop = int(np.prod(model.config.conv_stride))  # 80 samples in this tiny model (320 in the real ones)
    np.testing.assert_allclose(first["time"].to_numpy(), np.arange(counts[1]) * hop / 16000)
    assert set(first["emotion"]) == {"fear"}
    expected = _direct(folder, clips["audio"][1])
    torch.testing.assert_close(stack.tensor()[:, list(first.index)], expected, atol=2e-5, rtol=1e-4)


def test_whisper_mean_over_the_real_frames_of_the_30s_window(extra_models, rng):
    folder = extra_models("whisper")
    clips = _clips(rng, lengths=(16000, 4000))
    stack = wb.encode(folder, clips, batch_size=2, cache=False, progress=False)
    for row, samples in enumerate((16000, 4000)):
        hidden = _direct(folder, clips["audio"][row], whisper=True)
        frames = -(-(-(-samples // 160)) // 2)  # ceil(ceil(n / hop) / 2)
        torch.testing.assert_close(stack.tensor()[:, row], hidden[:, :frames].mean(dim=1), atol=2e-5, rtol=1e-4)
        # the padded 30 s would give another vector: the real frame count matters
        assert (hidden.mean(dim=1) - stack.tensor()[:, row]).abs().max() > 1e-3
    assert stack.provenance["architecture"] == "WhisperEncoder"
    assert "last_hidden_state" in stack.provenance["final_layer"]


def test_files_are_read_mono_and_resampled(tiny_models, audio_files):
    folder = tiny_models("wav2vec2")
    paths = pd.DataFrame({"id": ["m", "s", "f"], "audio": [str(audio_files[k]) for k in ("mono16k", "stereo8k", "flac44k")]})
    stack = wb.encode(folder, paths, cache=False, progress=False)
    stereo, rate = soundfile.read(audio_files["stereo8k"], dtype="float32")
    by_hand = soxr.resample(stereo.mean(axis=1), rate, 16000)
    torch.testing.assert_close(stack.tensor()[:, 1], _direct(folder, by_hand).mean(dim=1), atol=2e-5, rtol=1e-4)
    # the same audio as an array with its rate, or as a datasets-style dict, gives the same vectors
    as_arrays = pd.DataFrame({"id": ["s"], "audio": [stereo.T]})
    as_dicts = pd.DataFrame({"id": ["s"], "audio": [{"array": stereo.mean(axis=1), "sampling_rate": rate}]})
    from_array = wb.encode(folder, as_arrays, sampling_rate=rate, cache=False, progress=False)
    from_dict = wb.encode(folder, as_dicts, cache=False, progress=False)
    torch.testing.assert_close(from_array.tensor()[:, 0], stack.tensor()[:, 1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(from_dict.tensor()[:, 0], stack.tensor()[:, 1], atol=1e-5, rtol=1e-4)


def test_unreadable_file_is_named_or_skipped(tiny_models, audio_files):
    folder = tiny_models("wav2vec2")
    paths = pd.DataFrame({"id": ["good", "bad", "gone"], "audio": [str(audio_files["mono16k"]), str(audio_files["broken"]), "/nowhere/x.wav"]})
    with pytest.raises(wb.encoders.MediaError, match=r"row 'bad' \(.*broken\.wav\): cannot read audio"):
        wb.encode(folder, paths, cache=False, progress=False)
    with pytest.warns(UserWarning, match=r"2 row\(s\) could not be read and were skipped"):
        stack = wb.encode(folder, paths, on_error="skip", cache=False, progress=False)
    assert stack.ids.tolist() == ["good"]
    assert [entry["id"] for entry in stack.provenance["skipped"]] == ["bad", "gone"]
    assert "x.wav" in stack.provenance["skipped"][1]["reason"]
    with pytest.raises(ValueError, match="on_error must be one of"):
        wb.encode(folder, paths, on_error="ignore", cache=False, progress=False)


def test_too_short_and_too_long_clips(tiny_models, rng):
    folder = tiny_models("wav2vec2")
    clips = pd.DataFrame({"id": ["tiny", "long"], "audio": [np.zeros(20, np.float32), rng.normal(0, 0.1, 48000).astype(np.float32)]})
    with pytest.raises(wb.encoders.MediaError, match="row 'tiny': the clip is too short"):
        wb.encode(folder, clips, cache=False, progress=False)
    with pytest.warns(UserWarning, match=r"1 clip\(s\) are longer than 2 s and were cut"):
        stack = wb.encode(folder, clips.tail(1), max_seconds=2, cache=False, progress=False)
    expected = _direct(folder, clips["audio"][1][:32000]).mean(dim=1)
    torch.testing.assert_close(stack.tensor()[:, 0], expected, atol=2e-5, rtol=1e-4)
