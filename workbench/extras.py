"""One door for optional dependencies.

Features that ride on heavy or platform-specific engines (FAISS, Ray,
librosa, Playwright...) import them through :func:`require`, which says
exactly what to install when one is missing instead of failing deep inside a
call.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require", "EXTRAS"]

#: import name -> (pip requirement, workbench extra that brings it, or None)
EXTRAS: dict[str, tuple[str, str | None]] = {
    "faiss": ("faiss-cpu", "faiss"),
    "ray": ("ray[data]", "ray"),
    "librosa": ("librosa", None),  # optional fallback reader; not in the speech extra
    "soundfile": ("soundfile", "speech"),
    "soxr": ("soxr", "speech"),
    "playwright": ("playwright", "browser"),
    "skdim": ("scikit-dimension", "test"),
    "sentence_transformers": ("sentence-transformers", "test"),
    "nbconvert": ("nbconvert", None),
    "accelerate": ("accelerate>=1.1", "training"),
    "PIL": ("pillow", "vision"),
}


def require(module: str, *, feature: str | None = None) -> ModuleType:
    """Import an optional dependency or raise ImportError saying how to install it.

    Parameters
    ----------
    module : str
        Import name, e.g. ``"faiss"``.
    feature : str, optional
        What the user was trying to do, for the message.

    Examples
    --------
    >>> require("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        requirement, extra = EXTRAS.get(top, (top, None))
        hint = f"pip install 'workbench[{extra}]'  (or: pip install {requirement})" if extra else f"pip install {requirement}"
        what = f" {feature} needs it." if feature else ""
        raise ImportError(f"the optional dependency {module!r} is not installed.{what} Install it with: {hint}") from exc
