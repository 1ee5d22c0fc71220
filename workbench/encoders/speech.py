"""Speech encoders: wav2vec 2.0, HuBERT, WavLM (raw waveform) and Whisper's encoder (log-mel).

Audio is read mono and resampled to the feature extractor's rate (see
:mod:`workbench.media`). Lengths are read from file headers first, so
batches are bucketed by duration before anything is decoded; decoding,
resampling and feature extraction of the next batch run in a background
thread while the model runs.

Mean pooling uses each clip's real number of output frames, computed from its
length with the model's own formula:

- wav2vec2 / HuBERT / WavLM: ``model._get_feat_extract_output_lengths`` (the
  conv stack: about one frame per 20 ms). The attention mask is passed only
  when the feature extractor asks for it (``return_attention_mask``): models
  with group-norm feature extractors (wav2vec2-base) were trained on
  zero-padded audio without one. Either way, padding frames never enter the
  mean.
- Whisper: the encoder always reads 30 s (3000 mel frames, shorter clips are
  padded, longer ones cut) and returns 1500 frames; a clip of n samples
  fills ``ceil(ceil(n / hop) / 2)`` of them, and only those are averaged.

Tested here with a tiny wav2vec2 (stable layer norm), HuBERT, WavLM and
Whisper saved with ``save_pretrained``; checkpoints of other audio families
that lack the length formula fall back to a proportional frame count (noted
in provenance).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench.encoders.batching import ranges_index
from workbench.encoders.base import Batch, Encoder, Prepared
from workbench.encoders.reporting import examples, warn
from workbench.media import MediaError, audio_length, check_on_error, read_audio, record_failure

__all__ = ["SpeechEncoder"]

class SpeechEncoder(Encoder):
    """Every layer of a speech model for a column of audio.

    Parameters
    ----------
    model, processor, **loading
        See :class:`~workbench.encoders.base.Encoder` (``device``, ``dtype``,
        ``revision``, ``trust_remote_code``, ``hub_kwargs``); ``processor`` is
        the feature extractor (or a processor holding one).
    sampling_rate : int, optional
        The rate of audio given as bare arrays (files and ``datasets`` dicts
        carry their own). Default: the feature extractor's rate.
    max_seconds : float, optional
        Keep at most this much of each clip (Whisper reads 30 s at most).
    on_error : {"raise", "skip"}, default "raise"
        An unreadable file raises an error naming the row and the path, or
        is skipped with a warning and listed in ``provenance["skipped"]``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> clips = pd.DataFrame({"id": ["a", "b"], "audio": [np.zeros(16000), np.zeros(8000)]})
    >>> encoder = SpeechEncoder("facebook/wav2vec2-base")  # doctest: +SKIP
    >>> encoder.encode(clips, pooling="mean")[-1].shape  # doctest: +SKIP
    (2, 768)
    """

    modality = "audio"
    default_batch_size = 8

    def __init__(
        self,
        model: Any,
        processor: Any = None,
        *,
        sampling_rate: int | None = None,
        max_seconds: float | None = None,
        on_error: str = "raise",
        **loading: Any,
    ) -> None:
        super().__init__(model, processor, **loading)
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive; got {max_seconds}")
        self._options = {"sampling_rate": sampling_rate, "max_seconds": max_seconds, "on_error": check_on_error(on_error)}
        self.rate = int(self.processor.sampling_rate)
        # Whisper-like extractors pad every clip to a fixed window of log-mel frames
        self.whisper = hasattr(self.processor, "nb_max_frames") and hasattr(self.processor, "hop_length")
        self.samples_per_frame = self._samples_per_frame()

    @property
    def options(self) -> dict:
        return dict(self._options)

    def _describe(self) -> dict:
        return {"sampling_rate_model": self.rate, "seconds_per_frame": self.samples_per_frame / self.rate}

    def _samples_per_frame(self) -> int:
        if self.whisper:
            return int(self.processor.hop_length) * 2  # conv2 has stride 2
        strides = getattr(self.model.config, "conv_stride", None)
        return int(np.prod(strides)) if strides else 320

    def _max_samples(self) -> int | None:
        limits = []
        if self._options["max_seconds"] is not None:
            limits.append(int(self._options["max_seconds"] * self.rate))
        if self.whisper:
            limits.append(int(self.processor.n_samples))
        return min(limits) if limits else None

    def frames(self, samples: np.ndarray) -> np.ndarray:
        """Output frames for clips of ``samples`` samples (at the model's rate)."""
        samples = np.asarray(samples, dtype=np.int64)
        if self.whisper:
            mel = np.minimum(-(-samples // int(self.processor.hop_length)), int(self.processor.nb_max_frames))
            frames = (mel - 1) // 2 + 1
            return np.minimum(frames, getattr(self.model.config, "max_source_positions", frames.max()))
        formula = getattr(self.model, "_get_feat_extract_output_lengths", None)
        if formula is not None:
            return np.asarray(formula(torch.from_numpy(samples)).cpu().numpy(), dtype=np.int64)
        return np.maximum(samples // self.samples_per_frame, 0)

    def _prepare(self, frame: pd.DataFrame, column: str, pooling: str) -> Prepared:
        on_error, default_rate = self._options["on_error"], self._options["sampling_rate"] or self.rate
        values, ids = frame[column].tolist(), frame["id"].to_numpy()
        failed: dict[int, str] = {}
        lengths = np.zeros(len(values), dtype=np.int64)
        for position, value in enumerate(values):
            try:
                lengths[position] = audio_length(value, self.rate, default_rate=default_rate, row=ids[position])
            except MediaError as error:
                record_failure(error, failed, position, on_error)
        limit = self._max_samples()
        cut = np.flatnonzero(lengths > limit) if limit else np.zeros(0, dtype=np.int64)
        if cut.size:
            warn(f"{cut.size} clip(s) are longer than {limit / self.rate:g} s and were cut, e.g. ids {examples(ids[cut])}")
            lengths = np.minimum(lengths, limit)
        counts = self.frames(lengths)
        for position in np.flatnonzero(counts < 1):
            if position not in failed:
                problem = "the clip is empty" if lengths[position] == 0 else f"the clip is too short for the model ({lengths[position]} samples)"
                record_failure(MediaError(f"row {ids[position]!r}: {problem}", row=ids[position]), failed, int(position), on_error)
        counts = np.maximum(counts, 0)
        if pooling == "frames":
            row_start = np.cumsum(counts) - counts
            row_sample = np.repeat(np.arange(len(values)), counts)
            position = np.arange(int(counts.sum())) - np.repeat(row_start, counts)
            sample_ids = ids[row_sample]
            rows = pd.DataFrame(
                {
                    "id": pd.Series(sample_ids).astype(str) + ":" + pd.Series(position).astype(str),
                    "sample_id": sample_ids,
                    "position": position,
                    "time": position * (self.samples_per_frame / self.rate),
                }
            )
        else:
            row_start, row_sample, rows = None, np.arange(len(values)), pd.DataFrame({"id": ids})

        def load(batch: np.ndarray) -> Batch:
            arrays, kept, batch_failed = [], [], {}
            for position in batch:
                try:
                    audio = read_audio(values[position], self.rate, default_rate=default_rate, row=ids[position])
                except MediaError as error:
                    record_failure(error, batch_failed, int(position), on_error)
                    continue
                # exactly the probed length, so frame counts and rows agree (resampling may differ by a sample)
                wanted = int(lengths[position])
                arrays.append(audio[:wanted] if audio.size >= wanted else np.pad(audio, (0, wanted - audio.size)))
                kept.append(position)
            if not arrays:
                return Batch({}, np.zeros(0, dtype=np.int64), failed=batch_failed)
            kept = np.asarray(kept, dtype=np.int64)
            inputs = self._features(arrays)
            rows_filled = ranges_index(row_start[kept], counts[kept]) if row_start is not None else kept
            return Batch(inputs, rows_filled, torch.from_numpy(counts[kept]), failed=batch_failed)

        notes = {"cut": int(cut.size)} if cut.size else {}
        if not self.whisper and not hasattr(self.model, "_get_feat_extract_output_lengths"):
            notes["frame_counts"] = "approximate (length / samples per frame): the model has no length formula"
        return Prepared(lengths=lengths, rows=rows, row_sample=row_sample, load=load, failed=failed, notes=notes, prefetch=True)

    def _features(self, arrays: list[np.ndarray]) -> dict[str, torch.Tensor]:
        if self.whisper:
            features = self.processor(arrays, sampling_rate=self.rate, return_tensors="pt")
            return {"input_features": features["input_features"]}
        with_mask = bool(getattr(self.processor, "return_attention_mask", False))
        features = self.processor(
            arrays, sampling_rate=self.rate, padding="longest", return_tensors="pt", return_attention_mask=with_mask
        )
        inputs = {"input_values": features["input_values"]}
        if with_mask:
            inputs["attention_mask"] = features["attention_mask"]
        return inputs

