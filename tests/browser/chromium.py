"""Headless Chromium for the tests, offline, with what went wrong in the page recorded.

The browser is Debian's ``chromium`` (``apt-get install chromium``; the
Makefile's ``system-deps`` target does it), driven by Playwright for Python
with ``executable_path``: nothing is downloaded at run time, and
``playwright install`` is never needed.

Used by the browser suite here and by the report and demo tests. Every page
opened here records, in a :class:`Watch`, the requests it was refused
(anything not allowed by the context's route) and its problems: console
errors, uncaught page errors, dialogs (``alert``...).

``SKIP_BROWSER=1`` skips the tests that need the browser, with that reason.
Without it, a missing Chromium or Playwright is a failure that says how to
install them: the browser tests are part of the product's tests and must not
silently vanish.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

#: Flags for a quiet, offline, software-rendered Chromium (WebGL runs on SwiftShader).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]

#: URL schemes a page opened from disk may load.
LOCAL_SCHEMES = ("file:", "data:", "blob:")


def chromium_executable() -> str:
    """Path of the system Chromium; skips with ``SKIP_BROWSER=1``, fails when it is missing.

    ``$CHROMIUM`` names another Chromium binary (e.g. on a machine without apt).
    """
    if os.environ.get("SKIP_BROWSER") == "1":
        pytest.skip("SKIP_BROWSER=1: the headless-Chromium tests are switched off")
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"the browser tests need Chromium and there is none at {path}: `sudo apt-get install chromium` "
            "(or `make system-deps`), or set CHROMIUM=/path/to/chromium; SKIP_BROWSER=1 skips these tests",
            pytrace=False,
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the browser tests need Playwright for Python: pip install -e '.[browser]'", pytrace=False)
    return path


@contextmanager
def launch() -> Iterator[Any]:
    """A running headless Chromium (Playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What a page did that a test may want to forbid."""

    refused: list[str] = field(default_factory=list)  # URLs the page tried to fetch and was refused
    problems: list[str] = field(default_factory=list)  # console errors, page errors, dialogs


def watch(page: Any, allow: Callable[[str], bool], seen: Watch | None = None) -> Watch:
    """Refuse every request whose URL ``allow`` rejects, and record it and the page's problems in ``seen``.

    Requests are routed for the page's whole context (WebSockets are not
    routed by Playwright: JupyterLab's kernel channels pass untouched).
    """
    seen = Watch() if seen is None else seen

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if allow(url):
            request_route.continue_()
        else:
            seen.refused.append(url)
            request_route.abort()

    page.context.route("**/*", route)

    def console(message: Any) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url") or "?"
            seen.problems.append(f"console: {message.text} ({where[:120]})")

    page.on("console", console)
    page.on("pageerror", lambda error: seen.problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (seen.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return seen


def local_only(url: str) -> bool:
    """Files, inline data and blobs: what a self-contained page may load."""
    return url.startswith(LOCAL_SCHEMES)


def same_host(origin: str) -> Callable[[str], bool]:
    """Requests to ``origin``'s host and local data only (a local server and nothing beyond it)."""
    host = urlsplit(origin).netloc

    def allow(url: str) -> bool:
        return local_only(url) or (url.startswith(("http:", "https:")) and urlsplit(url).netloc == host)

    return allow


@dataclass
class OfflinePage(Watch):
    """A :class:`Watch` with the Playwright ``page`` it watches."""

    page: Any = None


@contextmanager
def open_offline(path: Path, *, browser: Any = None, width: int = 1280, height: int = 900) -> Iterator[OfflinePage]:
    """Open a local HTML file with every request that is not ``file:``/``data:``/``blob:`` refused.

    Parameters
    ----------
    path : Path
        The page.
    browser : playwright Browser, optional
        One to open it in (a new context is made and closed); by default a
        Chromium is launched for this page alone.

    Yields
    ------
    OfflinePage
        ``page`` (Playwright), ``refused`` (URLs the page tried to fetch) and
        ``problems`` (console errors, page errors, dialogs).
    """
    if browser is None:
        with launch() as own:
            with open_offline(path, browser=own, width=width, height=height) as opened:
                yield opened
        return
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        opened = watch(page, local_only, OfflinePage(page=page))
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        yield opened
    finally:
        context.close()
