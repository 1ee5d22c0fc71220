"""Fixtures of the browser suite: Chromium, a private JupyterLab, pages that record what went wrong.

Screenshots and the server's log go to ``tests/artifacts/browser/`` (git
ignored); a failing test leaves a picture of its page there, and the end of
the server's log in its report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium import chromium_executable, launch, same_host, watch
from tests.browser.lab import LabServer

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
#: The tutorial notebooks, as in the source tree.
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
        server = getattr(item, "funcargs", {}).get("lab_server")
        if server is not None:
            report.sections.append(("JupyterLab server log (end)", server.log_tail()))
    return report


@pytest.fixture(scope="session")
def quickstart_source() -> Path:
    """``notebooks/01_quickstart.ipynb``."""
    return NOTEBOOKS / "01_quickstart.ipynb"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``tests/artifacts/browser/``: screenshots and logs the suite leaves for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the tests of one module (skips with SKIP_BROWSER=1, fails if missing)."""
    with launch() as running:
        yield running


@pytest.fixture(scope="session")
def workbench_env() -> dict[str, str]:
    """Environment for a process (a kernel, the CLI) that must import the very ``workbench`` these tests import."""
    import workbench

    source = str(Path(workbench.__file__).resolve().parents[1])
    return {"PYTHONPATH": os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])}


@pytest.fixture(scope="session")
def render_report(workbench_env: dict):
    """``render_report(notebook, out)``: ``workbench report NOTEBOOK -o OUT``, run as a user runs it.

    ``notebook`` is a path, a notebook, or the source of a one-cell notebook; the last two are written next to ``out``.
    """
    import subprocess
    import sys

    import nbformat

    def render(notebook: Path | str, out: Path) -> Path:
        if not isinstance(notebook, Path):
            document = notebook if isinstance(notebook, dict) else nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(notebook)])
            notebook = out.with_suffix(".ipynb")
            nbformat.write(document, notebook)
        done = subprocess.run(
            [sys.executable, "-m", "workbench.cli", "report", str(notebook), "-o", str(out), "--quiet"],
            capture_output=True, text=True, timeout=900, env={**os.environ, **workbench_env},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return out

    return render


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory, artifacts: Path, workbench_env: dict) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1, a free port and a token, in a temporary folder; always stopped afterwards."""
    chromium_executable()  # skipped or failed before anything starts when there is no browser to use it
    log = artifacts / "jupyter-server.log"
    log.unlink(missing_ok=True)
    server = LabServer(tmp_path_factory.mktemp("lab"), log, env=workbench_env)
    with server:
        yield server


@pytest.fixture
def lab_page(request: pytest.FixtureRequest, browser: Any, lab_server: LabServer, artifacts: Path) -> Iterator[Any]:
    """A fresh page (1400×1000) allowed to reach the Lab server and nothing else.

    ``page.watch`` holds what it was refused and its console/page errors. On
    failure, a screenshot is left as ``<test>-failed.png``.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.watch = watch(page, same_host(lab_server.url))
    try:
        yield page
    finally:
        if request.node.stash.get(_FAILED, False):
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            try:
                page.screenshot(path=str(artifacts / f"{name}-failed.png"), full_page=True)
            except Exception as exc:  # the page may be what broke; the test's own error matters more
                print(f"no failure screenshot: {exc}")
        context.close()
        lab_server.shutdown_kernels()  # the next test starts from a quiet machine
