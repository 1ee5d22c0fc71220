"""Built-in corpora, public datasets (:func:`from_hf`) and loaders, all returning the standard DataFrame shape.

See :mod:`workbench.datasets.schema` for the columns.
"""

from workbench.datasets.faces import FACE_EXPRESSIONS, draw_face, expression_for, faces_for, make_faces
from workbench.datasets.hub import from_hf
from workbench.datasets.parallel import load_parallel
from workbench.datasets.schema import (
    MODALITY_COLUMNS,
    STANDARD_COLUMNS,
    check_frame,
    fingerprint,
    modality_of,
)
from workbench.datasets.sentences import corpus_path, load_emotion_sentences
from workbench.datasets.speech import (
    PROSODY,
    SPEAKERS,
    espeak_executable,
    load_speech,
    make_speech,
    prosody_for,
    speech_dir,
    synthesize,
)

__all__ = [
    "FACE_EXPRESSIONS",
    "MODALITY_COLUMNS",
    "PROSODY",
    "SPEAKERS",
    "STANDARD_COLUMNS",
    "check_frame",
    "corpus_path",
    "draw_face",
    "espeak_executable",
    "expression_for",
    "faces_for",
    "fingerprint",
    "from_hf",
    "load_emotion_sentences",
    "load_parallel",
    "load_speech",
    "make_faces",
    "make_speech",
    "modality_of",
    "prosody_for",
    "speech_dir",
    "synthesize",
]
