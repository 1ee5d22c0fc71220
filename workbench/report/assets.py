"""The report's own front-end files (runtime, vendored widget manager, versions manifest), read once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources



@cache
def _static_text(name: str) -> str:
    return resources.files("workbench").joinpath("_static", "report", name).read_text(encoding="utf-8")


@cache
def _packed_asset(name: str) -> str:
    """A stored ``.gz`` asset as the page carries it: base64 of the gzip itself (packed.js inflates it)."""
    import base64

    return base64.b64encode(resources.files("workbench").joinpath("_static", "report", name).read_bytes()).decode("ascii")


@cache
def _manifest() -> dict[str, str]:
    return json.loads(_static_text("manifest.json"))
