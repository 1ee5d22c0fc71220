"""A throw-away JupyterLab server for the browser tests.

:class:`LabServer` starts ``jupyter lab`` from this interpreter on 127.0.0.1,
on a free port, with a random token, rooted in a temporary folder that also
holds its settings, workspaces and runtime files, so nothing of the user's
own Jupyter set-up leaks in and nothing is left behind. The kernel is this
interpreter too (``python3`` is rewritten to ``sys.executable``) and inherits
the environment, so ``import workbench`` works in it as it does here.
Stopping it kills its kernels too, even ones that hang.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: How long the server may take to answer its first request (JupyterLab
#: imports a lot; on a loaded 2-core machine this takes 10-30 s).
START_TIMEOUT = 120.0

# Settings a fresh user would otherwise be asked about in a toast that covers
# the notebook, and that would try to reach the network.
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    # every cell stays in the page, so the outputs of cells scrolled away can be read
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    """A TCP port nobody listens on at this moment (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Linux ``/proc``; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


class LabServer:
    """``jupyter lab`` in its own process group, in ``root``; a context manager.

    Parameters
    ----------
    root : Path
        Empty folder: the notebooks go in ``root / "work"``, Jupyter's own
        files in ``root / "jupyter"``.
    log : Path
        Where the server's output goes (kept after the run).
    env : mapping, optional
        Extra environment variables for the server and its kernels.
    """

    def __init__(self, root: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.work = self.root / "work"
        self.log = Path(log)
        self.token = secrets.token_hex(16)
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._env = dict(env or {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab_url(self, path: str = "", workspace: str | None = None) -> str:
        """The address that opens ``path`` (relative to :attr:`work`) in Lab, token included.

        With ``workspace``, Lab starts in that (new) workspace, so what other
        tests left open is not restored next to it.
        """
        space = f"/workspaces/{workspace}" if workspace else ""
        tree = f"/tree/{path}" if path else ""
        return f"{self.url}/lab{space}{tree}?token={self.token}"

    def _environment(self) -> dict[str, str]:
        jupyter = self.root / "jupyter"
        settings = jupyter / "lab" / "user-settings"
        for name, values in _USER_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(jupyter / "config"),
            JUPYTER_DATA_DIR=str(jupyter / "data"),
            JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(jupyter / "lab" / "workspaces"),
            IPYTHONDIR=str(jupyter / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self._env)
        return env

    def _command(self) -> list[str]:
        return [
            sys.executable, "-m", "jupyterlab",
            "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",  # a taken port is an error, not a silent move
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.work}",
            "--ServerApp.terminals_enabled=False",
            "--ServerApp.allow_root=True",  # CI containers run as root; the server is private to the test anyway
            "--ServerApp.log_level=WARN",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # the default one queries PyPI
            "--LabApp.collaborative=False",
        ]

    def start(self) -> LabServer:
        self.work.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = self._environment()
        for _ in range(3):  # another process may grab the free port before the server binds it
            self.port = free_port()
            with open(self.log, "ab") as out:
                out.write(f"$ {' '.join(self._command())}\n".encode())
                out.flush()
                self.process = subprocess.Popen(
                    self._command(), cwd=self.work, env=env, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,  # its own group: killing it never touches pytest
                )
            if self._wait_ready():
                return self
            code = self.process.poll()
            self.stop()
            if "already in use" not in self.log_tail():
                break
        why = f"exited with code {code}" if code is not None else f"did not answer within {START_TIMEOUT:.0f} s"
        raise RuntimeError(f"JupyterLab {why}; the end of its log ({self.log}):\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        return False

    def api(self, path: str) -> Any:
        """GET ``/api/<path>`` as JSON (e.g. ``"kernels"``)."""
        with urllib.request.urlopen(f"{self.url}/api/{path}?token={self.token}", timeout=10) as response:
            return json.load(response)

    def shutdown_kernels(self) -> None:
        """Shut down every kernel the server runs (what closing the notebooks would not do)."""
        for kernel in self.api("kernels"):
            request = urllib.request.Request(f"{self.url}/api/kernels/{kernel['id']}?token={self.token}", method="DELETE")
            with urllib.request.urlopen(request, timeout=30):
                pass

    def stop(self) -> None:
        """Stop the server and every process it started; safe to call twice.

        Kernels run in sessions of their own (jupyter_client starts them so),
        so the server's process group does not hold them: they are found as
        the server's descendants first, and whatever of them outlives the
        server's own shutdown is killed with its group.
        """
        process, self.process = self.process, None
        if process is None:
            return
        groups = {_group_of(pid) for pid in [process.pid, *_descendants(process.pid)]} - {None, os.getpgid(0)}
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        process.wait(timeout=20)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
