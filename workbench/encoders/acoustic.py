"""Classical acoustic features as an encoder: what hand-crafted prosody already carries.

A self-supervised speech model is only interesting where it knows more than
pitch, loudness, tempo and spectral shape. :func:`encode_acoustic` turns each
clip into those classical measurements (the usual correlates of vocal emotion,
see :mod:`workbench.datasets.speech`), standardised, as a
:class:`~workbench.space.LatentSpace` that goes wherever a model's space goes:
relative projection, comparison, the Explorer.

Features (one row per clip; F0 in semitones relative to 100 Hz, energy in dB)
----------------------------------------------------------------------------
``f0_mean, f0_std, f0_range, f0_slope``   pitch level, variability, 5-95 % range,
                                          mean change per second (YIN, voiced frames)
``voiced_fraction``                       share of active frames that are voiced
``energy_mean, energy_std, energy_range`` RMS energy of active frames
``onset_rate, voiced_segment_rate``       onsets and voiced stretches per second
                                          of active speech (speaking-rate proxies)
``centroid_mean, centroid_std``           spectral centroid (Hz)
``rolloff_mean, flatness_mean``           85 % roll-off (Hz), spectral flatness
``mfcc{i}_mean, mfcc{i}_std``             13 MFCCs over active frames

The clip's duration is deliberately not a feature: it mostly says how long the
sentence is, which the text carries too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from workbench.datasets.schema import check_frame, fingerprint
from workbench.media import read_audio
from workbench.extras import require
from workbench.space import LatentSpace

__all__ = ["ACOUSTIC_FEATURES", "acoustic_features", "encode_acoustic"]

_SAMPLE_RATE = 16_000
_HOP = 320  # 20 ms
_FRAME = 1024
_N_MFCC = 13
_FMIN, _FMAX = 65.0, 600.0
_VOICING = 0.6  # periodicity above which a frame counts as voiced

#: Names of the columns :func:`acoustic_features` returns, in order.
ACOUSTIC_FEATURES: tuple[str, ...] = (
    "f0_mean", "f0_std", "f0_range", "f0_slope", "voiced_fraction",
    "energy_mean", "energy_std", "energy_range",
    "onset_rate", "voiced_segment_rate",
    "centroid_mean", "centroid_std", "rolloff_mean", "flatness_mean",
    *(f"mfcc{i}_{stat}" for stat in ("mean", "std") for i in range(_N_MFCC)),
)


def _runs(mask: np.ndarray) -> int:
    """Number of stretches of consecutive True values."""
    return int(np.count_nonzero(np.diff(mask.astype(np.int8), prepend=0) == 1))


def _periodicity(samples: np.ndarray, f0: np.ndarray, sr: int) -> np.ndarray:
    """Normalised autocorrelation of each frame at its YIN period (1 = perfectly periodic).

    A frame is voiced when this is high, as in Boersma's (1993) autocorrelation
    pitch tracker; it costs one vectorised pass, where pYIN's Viterbi decoding
    costs ~50x more for the same statistics on these clips.
    """
    librosa = require("librosa", feature="acoustic features")
    frames = librosa.util.frame(np.pad(samples, (_FRAME // 2, _FRAME // 2)), frame_length=_FRAME, hop_length=_HOP).T
    n = min(len(frames), len(f0))
    frames, lag = frames[:n], np.round(sr / f0[:n]).astype(int)
    width = _FRAME - int(np.ceil(sr / _FMIN))
    base = frames[:, :width]
    shifted = np.take_along_axis(frames, np.arange(width)[None, :] + lag[:, None], axis=1)
    norm = np.sqrt((base**2).sum(axis=1) * (shifted**2).sum(axis=1)) + 1e-12
    return (base * shifted).sum(axis=1) / norm


@functools.lru_cache(maxsize=4)
def _mel_basis(sr: int) -> np.ndarray:
    librosa = require("librosa", feature="acoustic features")
    return librosa.filters.mel(sr=sr, n_fft=_FRAME, n_mels=40)


def _clip_features(samples: np.ndarray, sr: int) -> np.ndarray:
    librosa = require("librosa", feature="acoustic features")
    if samples.size < _FRAME:
        samples = np.pad(samples, (0, _FRAME - samples.size))
    rms = librosa.feature.rms(y=samples, frame_length=_FRAME, hop_length=_HOP, center=True)[0]
    energy = 20 * np.log10(rms + 1e-6)
    f0 = librosa.yin(samples, fmin=_FMIN, fmax=_FMAX, sr=sr, frame_length=_FRAME, hop_length=_HOP)
    periodic = _periodicity(samples, f0, sr) > _VOICING
    n = len(periodic)
    active = energy[:n] > energy.max() - 35  # drop the silences around and between words
    voiced, f0, energy = periodic & active, f0[:n], energy[:n]
    seconds_active = max(active.sum() * _HOP / sr, 1e-3)
    semitones = 12 * np.log2(f0[voiced] / 100.0) if voiced.any() else np.zeros(1)
    times = np.flatnonzero(voiced) * _HOP / sr
    slope = np.polyfit(times, semitones, 1)[0] if voiced.sum() > 2 else 0.0

    spec = np.abs(librosa.stft(samples, n_fft=_FRAME, hop_length=_HOP))[:, :n]
    mel_db = librosa.power_to_db(_mel_basis(sr) @ spec**2)  # a plain matmul: librosa's einsum is 20x slower here
    onsets = librosa.onset.onset_detect(onset_envelope=librosa.onset.onset_strength(S=mel_db, sr=sr), sr=sr, hop_length=_HOP)
    centroid = librosa.feature.spectral_centroid(S=spec, sr=sr)[0][active]
    rolloff = librosa.feature.spectral_rolloff(S=spec, sr=sr)[0][active]
    flatness = librosa.feature.spectral_flatness(S=spec)[0][active]
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=_N_MFCC)[:, active]
    values = [
        semitones.mean(), semitones.std(), np.subtract(*np.percentile(semitones, [95, 5])), slope,
        voiced.sum() / max(active.sum(), 1),
        energy[active].mean(), energy[active].std(), np.subtract(*np.percentile(energy[active], [95, 5])),
        len(onsets) / seconds_active, _runs(voiced) / seconds_active,
        centroid.mean(), centroid.std(), rolloff.mean(), flatness.mean(),
        *mfcc.mean(axis=1), *mfcc.std(axis=1),
    ]
    return np.asarray(values, dtype=np.float64)


def _audio_column(data: pd.DataFrame | Sequence) -> tuple[list, pd.DataFrame]:
    if isinstance(data, pd.DataFrame):
        frame = check_frame(data, modality="audio")
        return list(frame["audio"]), frame
    items = list(data)
    return items, pd.DataFrame({"id": np.arange(len(items))})


def _load(items: list, ids: Sequence) -> Iterator[np.ndarray]:
    """The clips one by one, read as the speech encoders read them, at 16 kHz (bare arrays taken to be)."""
    for item, key in zip(items, ids):
        yield read_audio(item, _SAMPLE_RATE, default_rate=_SAMPLE_RATE, row=key)


def acoustic_features(data: pd.DataFrame | Sequence, *, progress: bool = False) -> pd.DataFrame:
    """The named acoustic features of every clip, unstandardised.

    Parameters
    ----------
    data : DataFrame with an ``audio`` column, or a sequence of clips
        Clips as paths, 1-D arrays at 16 kHz or ``{"array", "sampling_rate"}``
        dicts, read as the speech encoders read them
        (:func:`workbench.media.read_audio`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    DataFrame of shape (n_clips, len(ACOUSTIC_FEATURES))
        Columns :data:`ACOUSTIC_FEATURES`, indexed like ``data``'s rows.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> tone = (0.3 * np.sin(2 * np.pi * 200 * t)).astype("float32")
    >>> round(float(acoustic_features([tone])["f0_mean"][0]), 1)  # 200 Hz = 12 semitones above 100 Hz
    12.0
    """
    from tqdm.auto import tqdm

    from threadpoolctl import threadpool_limits

    items, meta = _audio_column(data)
    if not items:
        raise ValueError("no clips to describe")
    # every matrix here is tiny: BLAS threads only cost (30-100x on a busy 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        rows = [
            _clip_features(clip, _SAMPLE_RATE)
            for clip in tqdm(_load(items, meta["id"]), total=len(items), desc="acoustic features", disable=not progress)
        ]
    return pd.DataFrame(np.vstack(rows), columns=list(ACOUSTIC_FEATURES))


def encode_acoustic(
    data: pd.DataFrame | Sequence,
    *,
    standardize: bool = True,
    per: str | None = None,
    name: str = "acoustic",
    progress: bool = False,
) -> LatentSpace:
    """Encode clips as standardised classical acoustic features.

    Parameters
    ----------
    data : DataFrame with an ``audio`` column, or a sequence of clips
        See :func:`acoustic_features`. The frame becomes the space's ``meta``.
    standardize : bool
        Z-score every feature over the given clips (a constant feature becomes
        0), so that F0 in semitones and centroids in Hz weigh alike.
    per : str, optional
        A column of ``data`` (e.g. ``"speaker"``): standardise within each of
        its groups instead, the usual speaker normalisation of speech emotion
        recognition. It takes out each voice's own register and loudness,
        leaving how a clip departs from its speaker's habit.
    name : str
    progress : bool
        Show a progress bar.

    Returns
    -------
    LatentSpace of shape (n_clips, 40)
        float32; ``provenance`` names the features and the standardisation.

    Examples
    --------
    >>> from workbench.datasets import load_speech
    >>> space = encode_acoustic(load_speech().head(8))
    >>> space.shape
    (8, 40)
    """
    items, meta = _audio_column(data)
    if per is not None and per not in meta.columns:
        raise ValueError(f"per={per!r} is not a column of the data; columns are {list(meta.columns)}")
    features = acoustic_features(items, progress=progress).to_numpy(dtype=np.float64, copy=True)
    if standardize:
        groups = np.zeros(len(meta), dtype=int) if per is None else pd.factorize(meta[per])[0]
        for group in np.unique(groups):
            rows = groups == group
            mean, std = features[rows].mean(axis=0), features[rows].std(axis=0)
            features[rows] = (features[rows] - mean) / np.where(std > 1e-12, std, 1.0)
    provenance = {
        "model": "acoustic-features",
        "features": list(ACOUSTIC_FEATURES),
        "standardized": bool(standardize),
        "standardized_per": per,
        "sample_rate": _SAMPLE_RATE,
        "dataset": fingerprint(meta, ["id"]),
    }
    return LatentSpace(features.astype(np.float32), meta, name=name, provenance=provenance)
