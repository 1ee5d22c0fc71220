"""The report's own front-end files (runtime, vendored widget manager, versions manifest), read once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources



@cache
def _static_text(name: str) -> str:
    return resources.files("workbench").joinpath("_static", "report", name).read_text(encoding="utf-8")


@cache
def _packed_widget_runtime() -> str:
    """The vendored widget runtime as the page carries it: the stored gzip, base64-encoded (see packed.js)."""
    import base64

    data = resources.files("workbench").joinpath("_static", "report", "widget-runtime.js.gz").read_bytes()
    return base64.b64encode(data).decode("ascii")


@cache
def _manifest() -> dict[str, str]:
    return json.loads(_static_text("manifest.json"))
