"""One door for optional dependencies.

Features that ride on heavy or platform-specific engines (FAISS, Ray,
librosa, Playwright...) import them through :func:`require`, which says
exactly what to install when one is missing instead of failing deep inside a
call.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require", "install_hint", "DISTRIBUTION", "EXTRAS"]

#: The project's name on the package index. The import name is ``workbench``,
#: but ``workbench`` on PyPI is an unrelated project, so every install hint
#: must spell this one.
DISTRIBUTION = "latent-workbench"

#: import name -> (pip requirement, extra of :data:`DISTRIBUTION` that brings it, or None)
EXTRAS: dict[str, tuple[str, str | None]] = {
    "faiss": ("faiss-cpu", "faiss"),
    "ray": ("ray[data]", "ray"),
    "librosa": ("librosa", "speech"),
    "soundfile": ("soundfile", "speech"),
    "soxr": ("soxr", "speech"),
    "playwright": ("playwright", "browser"),
    "skdim": ("scikit-dimension", "test"),
    "sentence_transformers": ("sentence-transformers", "test"),
    "nbconvert": ("nbconvert", None),
    "accelerate": ("accelerate>=1.1", "training"),
    "PIL": ("pillow", "vision"),
    "datasets": ("datasets", "hf"),
    "duckdb": ("duckdb", "test"),
    "tensorboard": ("tensorboard", "test"),
}


def install_hint(module: str) -> str:
    """The pip command that brings an optional import name.

    Examples
    --------
    >>> install_hint("faiss")
    "pip install 'latent-workbench[faiss]'  (or: pip install faiss-cpu)"
    """
    requirement, extra = EXTRAS.get(module.split(".")[0], (module.split(".")[0], None))
    if extra is None:
        return f"pip install {requirement}"
    return f"pip install '{DISTRIBUTION}[{extra}]'  (or: pip install {requirement})"


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
        hint = install_hint(module)
        what = f" {feature} needs it." if feature else ""
        raise ImportError(f"the optional dependency {module!r} is not installed.{what} Install it with: {hint}") from exc
