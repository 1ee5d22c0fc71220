"""Synthetic emotional speech: the built-in corpus spoken by espeak-ng.

Every sentence of :func:`~workbench.datasets.load_emotion_sentences` can be
spoken with a prosody set by its ``emotion`` and ``intensity``, by one of six
synthetic speakers. Speaker identity (accent, pitch register, vocal-tract
length) is assigned independently of emotion, so a model that groups clips by
emotion is not just grouping voices.

A small generated set ships in ``data/speech/`` (:func:`load_speech`), so no
one needs espeak-ng to use it. Generating new clips (:func:`make_speech`,
:func:`synthesize`) needs the ``espeak-ng`` program (Debian/Ubuntu:
``apt-get install espeak-ng``; macOS: ``brew install espeak-ng``).

Prosody per emotion
-------------------
The acoustic correlates of emotion in speech are summarised by Banse &
Scherer (1996), Scherer (2003) and the meta-analysis of Juslin & Laukka
(2003); Murray & Arnott (1993) reviewed how to synthesise them. Qualitatively
they agree that **anger** (hot anger) and **joy** are spoken faster, higher,
with a wider pitch range and louder, anger with more high-frequency energy (a
tenser voice); **sadness** slower, lower, with a narrow, flat pitch range,
quieter and with less high-frequency energy; **fear** fast and high, with
irregular voicing (the reports on its pitch range disagree, so we keep it near
neutral); **tenderness**, our proxy for *love* (Juslin & Laukka), slow, soft
and low. **Surprise** is not covered by these reviews; we give it the highest
pitch and widest range, a common reading of it as a burst of high arousal.
The numbers below are our own choices in that direction, not values from
those papers.

Values at full intensity (intensity 3); the prosody at intensity ``i`` is
``neutral + s(i) * (full - neutral)`` with ``s(i) = 0.1 + 0.3 i``, the same
scale the synthetic faces use.

==========  =====  ======  =====  ======  =====  ======  ======
emotion     rate   pitch   range  volume  tilt   breath  tremor
==========  =====  ======  =====  ======  =====  ======  ======
neutral     1.00   +0 %    1.0    1.00     0.0   0.0     0.0
anger       1.25   +20 %   1.7    1.40    +1.0   0.0     0.0
joy         1.15   +30 %   1.8    1.25    +0.5   0.0     0.0
surprise    1.10   +40 %   2.0    1.20    +0.3   0.0     0.0
fear        1.35   +35 %   0.9    1.00    +0.3   0.3     1.0
sadness     0.72   -18 %   0.4    0.60    -1.0   0.5     0.0
love        0.85   -5 %    1.2    0.75    -0.6   0.6     0.0
==========  =====  ======  =====  ======  =====  ======  ======

``rate``, ``pitch``, ``range`` and ``volume`` go to SSML ``<prosody>``
(relative to the speaker's own voice). Voice quality goes into the voice
file: ``tilt`` shapes espeak-ng's ``tone`` curve (+1 brighter/tenser, -1
darker/softer), ``breath`` adds breath noise, ``tremor`` raises ``flutter``
(pitch jitter).

Speakers
--------
=======  ======  ==============  ==============  ===============
name     gender  accent          pitch (Hz)      formant scale
=======  ======  ==============  ==============  ===============
ava      female  US              175-260         1.15
bea      female  British         155-235         1.10
cai      female  Scottish        145-215         1.06
dev      male    US              85-125          0.96
eli      male    British         100-145         1.00
fox      male    Caribbean       112-160         1.03
=======  ======  ==============  ==============  ===============
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from workbench._format import atomic_directory
from workbench.datasets._intensity import interpolate
from workbench.datasets.schema import check_frame
from workbench.extras import require

__all__ = [
    "Prosody",
    "Speaker",
    "PROSODY",
    "SPEAKERS",
    "SAMPLE_RATE",
    "espeak_executable",
    "prosody_for",
    "synthesize",
    "assign_speakers",
    "make_speech",
    "load_speech",
    "speech_dir",
]

#: Sampling rate of every clip written or shipped (what speech models expect).
SAMPLE_RATE = 16_000
_TABLE = "speech.csv"
# soundfile arguments per file type; Vorbis at 0.9 is ~4 KB/s for these clips, and
# the acoustic features of a clip correlate > 0.9 with those of its lossless version
_FORMATS = {
    "wav": {"subtype": "PCM_16"},
    "flac": {"subtype": "PCM_16"},
    "ogg": {"format": "OGG", "subtype": "VORBIS", "compression_level": 0.9},
}
_INSTALL_HINT = (
    "Install it with your package manager (Debian/Ubuntu: sudo apt-get install espeak-ng; "
    "Fedora: sudo dnf install espeak-ng; macOS: brew install espeak-ng), or pass its path as "
    "executable=... or in the WORKBENCH_ESPEAK environment variable. The clips shipped with "
    "workbench (load_speech()) need no espeak-ng."
)


@dataclass(frozen=True)
class Prosody:
    """How an emotion is spoken (see the module docstring for the meaning of each field)."""

    rate: float = 1.0
    pitch: float = 0.0
    range: float = 1.0
    volume: float = 1.0
    tilt: float = 0.0
    breath: float = 0.0
    tremor: float = 0.0


@dataclass(frozen=True)
class Speaker:
    """A synthetic voice: accent (an espeak-ng language file), register and vocal-tract length."""

    gender: str
    accent: str
    pitch: tuple[int, int]
    formant_scale: float


#: Prosody of each emotion at full intensity (intensity 3).
PROSODY: dict[str, Prosody] = {
    "neutral": Prosody(),
    "anger": Prosody(1.25, 0.20, 1.7, 1.40, 1.0, 0.0, 0.0),
    "joy": Prosody(1.15, 0.30, 1.8, 1.25, 0.5, 0.0, 0.0),
    "surprise": Prosody(1.10, 0.40, 2.0, 1.20, 0.3, 0.0, 0.0),
    "fear": Prosody(1.35, 0.35, 0.9, 1.00, 0.3, 0.3, 1.0),
    "sadness": Prosody(0.72, -0.18, 0.4, 0.60, -1.0, 0.5, 0.0),
    "love": Prosody(0.85, -0.05, 1.2, 0.75, -0.6, 0.6, 0.0),
}

#: The six synthetic speakers; ``accent`` is the espeak-ng language file (``lang/gmw/...``).
SPEAKERS: dict[str, Speaker] = {
    "ava": Speaker("female", "en-US", (175, 260), 1.15),
    "bea": Speaker("female", "en", (155, 235), 1.10),
    "cai": Speaker("female", "en-GB-scotland", (145, 215), 1.06),
    "dev": Speaker("male", "en-US", (85, 125), 0.96),
    "eli": Speaker("male", "en", (100, 145), 1.00),
    "fox": Speaker("male", "en-029", (112, 160), 1.03),
}

# espeak-ng's ``tone``: amplitude at 600, 1200, 2000 and 4000 Hz (voiced sounds)
_TONE_NEUTRAL = np.array([170, 135, 110, 110])
_TONE_BRIGHT = np.array([150, 150, 165, 175])
_TONE_DARK = np.array([200, 130, 70, 50])
_BREATH = np.array([0, 10, 12, 12, 12, 10, 6, 3])


# ----------------------------------------------------------------------------
# finding espeak-ng
# ----------------------------------------------------------------------------


def espeak_executable(executable: str | os.PathLike | None = None) -> str:
    """Path of the espeak-ng program, or a FileNotFoundError that says how to get it.

    The one place that looks for it: an explicit ``executable`` first, then
    the ``WORKBENCH_ESPEAK`` environment variable, then ``espeak-ng`` (and
    the older ``espeak``) on ``PATH``.

    Raises
    ------
    FileNotFoundError
        When none is found, with install instructions.

    Examples
    --------
    >>> espeak_executable()  # doctest: +SKIP
    '/usr/bin/espeak-ng'
    """
    if executable is None:
        executable = os.environ.get("WORKBENCH_ESPEAK") or None
    if executable is not None:
        found = shutil.which(str(executable))
        if found is None:
            raise FileNotFoundError(f"espeak-ng was not found at {str(executable)!r}. {_INSTALL_HINT}")
        return found
    for name in ("espeak-ng", "espeak"):
        found = shutil.which(name)
        if found is not None:
            return found
    raise FileNotFoundError(f"generating speech needs the espeak-ng program, which is not on PATH. {_INSTALL_HINT}")


@functools.lru_cache(maxsize=8)
def _data_dir(executable: str) -> Path:
    """espeak-ng's data folder, as the program itself reports it."""
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"Data at:\s*(.+)$", result.stdout.strip(), flags=re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"{executable} --version did not report its data folder: {result.stdout}{result.stderr}")
    return Path(match.group(1).strip())


# ----------------------------------------------------------------------------
# one clip
# ----------------------------------------------------------------------------


def prosody_for(emotion: str, intensity: float = 3) -> Prosody:
    """The prosody of ``emotion`` at ``intensity`` (1 mild .. 3 strong).

    Examples
    --------
    >>> prosody_for("sadness", 3).rate
    0.72
    >>> round(prosody_for("sadness", 1).rate, 3)
    0.888
    """
    if emotion not in PROSODY:
        raise ValueError(f"no prosody for emotion {emotion!r}; known: {sorted(PROSODY)}")
    return Prosody(**interpolate(asdict(PROSODY["neutral"]), asdict(PROSODY[emotion]), intensity))


def _voice_file(speaker: Speaker, prosody: Prosody, data_dir: Path) -> str:
    accent = data_dir / "lang" / "gmw" / speaker.accent
    if not accent.is_file():
        raise FileNotFoundError(f"espeak-ng has no language file {accent}; is its data installed completely?")
    tilt = prosody.tilt
    tone = _TONE_NEUTRAL + abs(tilt) * ((_TONE_BRIGHT if tilt > 0 else _TONE_DARK) - _TONE_NEUTRAL)
    frequency = round(100 * speaker.formant_scale)
    lines = [
        accent.read_text(),
        f"gender {speaker.gender}",
        f"pitch {speaker.pitch[0]} {speaker.pitch[1]}",
        *(f"formant {k} {frequency} 100 100" for k in range(1, 6)),
        "tone " + " ".join(f"{f} {round(a)}" for f, a in zip((600, 1200, 2000, 4000), tone)),
        "flutter " + str(round(2 + 12 * prosody.tremor)),
    ]
    if prosody.breath > 0:
        lines.append("breath " + " ".join(str(round(b * prosody.breath)) for b in _BREATH))
    return "\n".join(lines) + "\n"


def _ssml(text: str, prosody: Prosody) -> str:
    return (
        f'<speak><prosody rate="{prosody.rate * 100:.0f}%" pitch="{prosody.pitch * 100:+.0f}%" '
        f'range="{prosody.range * 100:.0f}%" volume="{prosody.volume * 100:.0f}%">{escape(text)}</prosody></speak>'
    )


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples
    from scipy.signal import resample_poly

    ratio = Fraction(SAMPLE_RATE, rate)
    return resample_poly(samples, ratio.numerator, ratio.denominator)


def synthesize(
    text: str,
    *,
    emotion: str = "neutral",
    intensity: float = 2,
    speaker: str = "ava",
    executable: str | os.PathLike | None = None,
) -> np.ndarray:
    """Speak one sentence with the prosody of an emotion.

    Parameters
    ----------
    text : str
    emotion : str
        A key of :data:`PROSODY`.
    intensity : float
        1 (mild) .. 3 (strong).
    speaker : str
        A key of :data:`SPEAKERS`.
    executable : path, optional
        The espeak-ng program (see :func:`espeak_executable`).

    Returns
    -------
    ndarray of shape (n_samples,), float32 at :data:`SAMPLE_RATE` Hz, in [-1, 1]

    Examples
    --------
    >>> clip = synthesize("What a day!", emotion="joy", intensity=3)  # doctest: +SKIP
    >>> clip.shape[0] / SAMPLE_RATE  # doctest: +SKIP
    0.9
    """
    soundfile = require("soundfile", feature="synthetic speech")
    if speaker not in SPEAKERS:
        raise ValueError(f"unknown speaker {speaker!r}; known: {sorted(SPEAKERS)}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string; got {text!r}")
    program = espeak_executable(executable)
    prosody = prosody_for(emotion, intensity)
    with tempfile.TemporaryDirectory(prefix="workbench-espeak-") as tmp:
        folder = Path(tmp)
        # espeak-ng refuses voice file names with a hyphen: keep this one plain
        (folder / "wbvoice").write_text(_voice_file(SPEAKERS[speaker], prosody, _data_dir(program)))
        (folder / "text.ssml").write_text(_ssml(text, prosody))
        command = [program, "--load", "-v", str(folder / "wbvoice"), "-m", "-z",
                   "-f", str(folder / "text.ssml"), "-w", str(folder / "out.wav")]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (folder / "out.wav").is_file():
            raise RuntimeError(f"espeak-ng failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
        samples, rate = soundfile.read(folder / "out.wav", dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return np.clip(_resample(samples, rate), -1.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------
# data sets
# ----------------------------------------------------------------------------


def assign_speakers(frame: pd.DataFrame, speakers: Sequence[str] | None = None) -> np.ndarray:
    """One speaker per row, balanced within every emotion.

    When the frame has a ``context`` column (every situation written with
    every emotion), speaker ``(context_index + emotion_index) mod n`` is used:
    a Latin square, so each speaker says each emotion equally often and no
    situation is said by one voice only. Otherwise speakers rotate within
    each emotion.

    Returns
    -------
    ndarray of shape (n_rows,), object
    """
    speakers = list(SPEAKERS if speakers is None else speakers)
    unknown = sorted(set(speakers) - set(SPEAKERS))
    if unknown or not speakers:
        raise ValueError(f"unknown speaker(s) {unknown}; known: {sorted(SPEAKERS)}")
    emotion_index = pd.factorize(frame["emotion"], sort=True)[0]
    if "context" in frame.columns:
        slot = pd.factorize(frame["context"], sort=True)[0] + emotion_index
    else:
        slot = frame.groupby("emotion").cumcount().to_numpy() + emotion_index
    return np.asarray(speakers, dtype=object)[slot % len(speakers)]


def make_speech(
    out_dir: str | os.PathLike,
    sentences: pd.DataFrame | None = None,
    *,
    speakers: Sequence[str] | None = None,
    audio_format: str = "wav",
    executable: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Speak sentences with emotional prosody and write a clip folder.

    Parameters
    ----------
    out_dir : path
        Folder to write: ``clips/<id>.wav`` (16 kHz mono 16-bit) and
        ``speech.csv``. Written atomically: an interrupted run leaves nothing
        (or the previous folder) behind.
    sentences : DataFrame, optional
        Columns ``text``, ``emotion``, ``intensity`` (``id`` optional; a
        ``speaker`` column overrides the assignment). Default: the whole
        built-in corpus (728 sentences).
    speakers : sequence of str, optional
        Voices to use (default all six); see :func:`assign_speakers`.
    audio_format : {"wav", "flac", "ogg"}
        WAV and FLAC hold the same 16-bit samples (FLAC, losslessly, in about
        60 % of the bytes); "ogg" is Ogg Vorbis, lossy, in about 12 % (what
        the shipped clips use, to stay small).
    executable : path, optional
        The espeak-ng program (see :func:`espeak_executable`).
    overwrite : bool
        Replace an existing ``out_dir``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    DataFrame
        What :func:`load_speech` returns for ``out_dir``.

    Examples
    --------
    >>> rows = pd.DataFrame({"text": ["I did it!"], "emotion": ["joy"], "intensity": [3]})
    >>> make_speech("/tmp/clips", rows)[["emotion", "speaker"]].values.tolist()  # doctest: +SKIP
    [['joy', 'ava']]
    """
    from tqdm.auto import tqdm

    soundfile = require("soundfile", feature="synthetic speech")
    if audio_format not in _FORMATS:
        raise ValueError(f"audio_format must be one of {sorted(_FORMATS)}; got {audio_format!r}")
    espeak_executable(executable)  # fail before anything is written
    if sentences is None:
        from workbench.datasets.sentences import load_emotion_sentences

        sentences = load_emotion_sentences()
    frame = check_frame(sentences, modality="text", require=("emotion", "intensity")).copy()
    bad_ids = [i for i in frame["id"].astype(str) if not re.fullmatch(r"[\w.-]+", i)]
    if bad_ids:
        raise ValueError(f"ids become file names and must be letters, digits, '_', '-', '.'; got {bad_ids[:5]}")
    if "speaker" not in frame.columns:
        frame["speaker"] = assign_speakers(frame, speakers)
    unknown = sorted(set(frame["speaker"]) - set(SPEAKERS))
    if unknown:
        raise ValueError(f"unknown speaker(s) {unknown} in the speaker column; known: {sorted(SPEAKERS)}")
    # every prosody up front, so that a bad emotion or intensity fails before any clip is made
    prosodies = [prosody_for(str(e), float(i)) for e, i in zip(frame["emotion"], frame["intensity"])]
    durations = []
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        (tmp / "clips").mkdir()
        rows = frame[["id", "text", "emotion", "intensity", "speaker"]].itertuples(index=False)
        for row in tqdm(rows, total=len(frame), desc="speaking", disable=not progress):
            clip = synthesize(row.text, emotion=row.emotion, intensity=row.intensity,
                              speaker=row.speaker, executable=executable)
            soundfile.write(tmp / "clips" / f"{row.id}.{audio_format}", clip, SAMPLE_RATE, **_FORMATS[audio_format])
            durations.append(round(len(clip) / SAMPLE_RATE, 3))
        table = frame.drop(columns=[c for c in ("audio",) if c in frame.columns])
        table.insert(1, "audio", [f"clips/{i}.{audio_format}" for i in frame["id"]])
        table["duration"] = durations
        for name in Prosody.__dataclass_fields__:
            table[name] = [round(getattr(p, name), 4) for p in prosodies]
        table.to_csv(tmp / _TABLE, index=False)
    return load_speech(out_dir)


def speech_dir() -> Path:
    """Folder of the shipped clips: inside the installed package, else the repository's ``data/speech``."""
    packaged = Path(str(resources.files("workbench").joinpath("_data", "speech")))
    if (packaged / _TABLE).is_file():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "data" / "speech"
    if (source_tree / _TABLE).is_file():
        return source_tree
    raise FileNotFoundError(
        f"the shipped speech clips were not found in the package ({packaged}) nor in the source tree "
        f"({source_tree}); reinstall workbench, or make your own with make_speech()"
    )


def load_speech(
    path: str | os.PathLike | None = None,
    *,
    emotions: Iterable[str] | None = None,
    speakers: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Load a folder of synthetic speech in the standard shape.

    Parameters
    ----------
    path : path, optional
        A folder written by :func:`make_speech`. Default: the clips shipped
        with workbench (210 clips: 30 situations of the corpus, each with all
        seven emotions, six speakers in a Latin square; see ``data/speech/README.md``).
    emotions, speakers : iterable of str, optional
        Keep only these.

    Returns
    -------
    DataFrame
        One row per clip: ``id, audio`` (absolute path of a 16 kHz mono
        file), ``text, emotion, intensity, speaker, duration``, the prosody
        used (``rate, pitch, range, volume, tilt, breath, tremor``) and the
        corpus columns of the sentence (``context, split, ...``).

    Examples
    --------
    >>> clips = load_speech()
    >>> clips["speaker"].nunique(), clips["emotion"].nunique()
    (6, 7)
    """
    folder = speech_dir() if path is None else Path(path)
    table = folder / _TABLE
    if not table.is_file():
        raise FileNotFoundError(f"{folder} is not a speech folder: {_TABLE} is missing (write one with make_speech)")
    frame = pd.read_csv(table, keep_default_na=False)
    frame["audio"] = [str((folder / relative).resolve()) for relative in frame["audio"]]
    for column, wanted in (("emotion", emotions), ("speaker", speakers)):
        if wanted is None:
            continue
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        unknown = sorted(set(wanted) - set(frame[column]))
        if unknown:
            raise ValueError(f"unknown {column}(s) {unknown}; this set has {sorted(set(frame[column]))}")
        frame = frame[frame[column].isin(wanted)]
    return check_frame(frame, modality="audio")


def _shipped_sentences(n_contexts: int = 30, per_domain: int = 4) -> pd.DataFrame:
    """The corpus rows the shipped clips speak.

    Whole situations (all seven emotions each, so emotion is balanced and
    ``context`` can still be centred away), those with the shortest
    sentences, at most ``per_domain`` from any domain. 30 situations make
    the Latin square of six speakers exact: each speaker says each emotion
    five times.
    """
    from workbench.datasets.sentences import load_emotion_sentences

    corpus = load_emotion_sentences()
    words = corpus["text"].str.split().str.len().groupby(corpus["context"]).mean()
    domain = corpus.groupby("context")["domain"].first()
    ranked = pd.DataFrame({"words": words, "domain": domain}).sort_values(["words", "domain"])
    chosen = ranked[ranked.groupby("domain").cumcount() < per_domain].index[:n_contexts]
    return corpus[corpus["context"].isin(chosen)].reset_index(drop=True)


if __name__ == "__main__":  # python -m workbench.datasets.speech data/speech
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "data/speech"
    made = make_speech(target, _shipped_sentences(), audio_format="ogg", overwrite=True)
    print(f"wrote {len(made)} clips to {target}")
