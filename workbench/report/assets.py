"""The report's own front-end files (runtime, vendored widget manager, versions manifest), read once."""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources



@cache
def _static_text(name: str) -> str:
    return resources.files("workbench").joinpath("_static", "report", name).read_text(encoding="utf-8")


@cache
def _widget_runtime() -> str:
    data = resources.files("workbench").joinpath("_static", "report", "widget-runtime.js.gz").read_bytes()
    return gzip.decompress(data).decode("utf-8")


@cache
def _manifest() -> dict[str, str]:
    return json.loads(_static_text("manifest.json"))
