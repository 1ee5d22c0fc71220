"""Open a local HTML file in headless Chromium with every network request refused.

Used by the report and demo tests to check that a page renders offline.
Needs Debian's ``/usr/bin/chromium`` (or ``chromium`` on PATH) and Playwright
for Python; tests skip when either is missing or ``SKIP_BROWSER=1``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@dataclass
class OfflinePage:
    page: Any
    refused: list[str] = field(default_factory=list)  # URLs the page tried to fetch
    problems: list[str] = field(default_factory=list)  # console errors, page errors, dialogs (alert...)


def chromium_or_skip() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if os.environ.get("SKIP_BROWSER") == "1" or not os.path.exists(path):
        pytest.skip("no headless Chromium here (or SKIP_BROWSER=1)")
    pytest.importorskip("playwright.sync_api")
    return path


@contextmanager
def open_offline(path: Path, *, width: int = 1280, height: int = 900) -> Iterator[OfflinePage]:
    from playwright.sync_api import sync_playwright

    chromium = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            result = OfflinePage(page)

            def route(request_route):
                if request_route.request.url.startswith(("file:", "data:", "blob:")):
                    request_route.continue_()
                else:
                    result.refused.append(request_route.request.url)
                    request_route.abort()

            page.route("**/*", route)
            page.on("console", lambda message: message.type == "error" and result.problems.append(message.text))
            page.on("pageerror", lambda error: result.problems.append(str(error)))
            page.on("dialog", lambda dialog: (result.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            yield result
        finally:
            browser.close()
