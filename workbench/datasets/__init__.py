"""Built-in corpora and loaders, all returning the standard DataFrame shape.

See :mod:`workbench.datasets.schema` for the columns.
"""

from workbench.datasets.schema import (
    MODALITY_COLUMNS,
    STANDARD_COLUMNS,
    check_frame,
    fingerprint,
    modality_of,
)
from workbench.datasets.sentences import corpus_path, load_emotion_sentences

__all__ = [
    "MODALITY_COLUMNS",
    "STANDARD_COLUMNS",
    "check_frame",
    "corpus_path",
    "fingerprint",
    "load_emotion_sentences",
    "modality_of",
]
