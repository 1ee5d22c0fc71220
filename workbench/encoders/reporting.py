"""Telling the user about their data: warnings that point at their code, short lists of examples.

Encoder warnings (truncated texts, cut clips, skipped files, corrupted cache
entries, weights initialised at random) are raised from deep inside the
package; :func:`warn` attributes them to the first frame outside it, so
Python shows the user's own line, whichever entry point they called.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["warn", "examples"]

_PACKAGE = str(Path(__file__).resolve().parents[1])


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the caller's first frame outside the workbench package."""
    level, frame = 2, sys._getframe(1)  # stacklevel 1 would be this function
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def examples(ids: Sequence[Any], limit: int = 5) -> str:
    """``['a', 'b', ...]``: the first few ids of a problem, as plain Python values.

    Examples
    --------
    >>> examples([1, 2, 3, 4, 5, 6, 7])
    '[1, 2, 3, 4, 5, ...]'
    """
    values = [value.item() if hasattr(value, "item") else value for value in list(ids)[:limit]]
    text = repr(values)
    return text[:-1] + ", ...]" if len(ids) > limit else text
