"""A notebook open in JupyterLab, driven through its menus and keys as a person would.

Cells are addressed by their position among the notebook's *code* cells, or
found by a piece of their source. What a cell printed is read from the page;
whether a cell raised is read from the notebook as Lab saves it (Lab renders
tracebacks and warnings alike as stderr, the saved file tells them apart).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat

#: True once a cell ran, every queued cell ran and the kernel is idle.
_SETTLED = r"""() => {
  const indicator = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  const prompts = Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'), e => e.textContent.trim());
  return indicator && indicator.dataset.status === 'idle' && !prompts.includes('[*]:') && prompts.some(p => /^\[\d+\]:$/.test(p));
}"""

_PROMPT = re.compile(r"\[(\d+)\]:")


class LabNotebook:
    """A notebook from the server's folder, open in a Playwright page.

    Parameters
    ----------
    page : playwright Page
    server : tests.browser.lab.LabServer
    name : str
        The notebook's file name in ``server.work``.
    """

    def __init__(self, page: Any, server: Any, name: str) -> None:
        self.page, self.server, self.name = page, server, name
        self.path = Path(server.work) / name
        self.sources = [cell.source for cell in nbformat.read(self.path, as_version=4).cells if cell.cell_type == "code"]

    def open(self, timeout: float = 120) -> LabNotebook:
        """Load Lab on this notebook and wait until its kernel is up; the file browser is folded away."""
        workspace = re.sub(r"\W+", "-", self.name)  # a workspace of its own: no other notebook is restored beside it
        self.page.goto(self.server.lab_url(self.name, workspace=workspace))
        self.page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=timeout * 1000)
        self.page.get_by_text("| Idle").wait_for(timeout=timeout * 1000)  # the status bar: "Python 3 (ipykernel) | Idle"
        if self.page.locator("#jp-left-stack").is_visible():
            self.page.keyboard.press("Control+b")  # fold the side bar: more room for the outputs
        return self

    # -- running ----------------------------------------------------------------

    def run_all(self, timeout: float = 300) -> None:
        """Edit > Clear Outputs of All Cells, Run > Run All Cells, and wait until every cell ran (or one failed).

        Clearing first means a prompt with a number was numbered by this run,
        not saved with the notebook.
        """
        self._menu("Edit", "Clear Outputs of All Cells")
        self.page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))"
            ".every(e => !/\\d/.test(e.textContent))"
        )
        self._menu("Run", "Run All Cells")
        self.wait_settled(timeout)

    def _menu(self, menu: str, item: str) -> None:
        self.page.get_by_role("menuitem", name=menu, exact=True).click()
        self.page.get_by_role("menuitem", name=item, exact=True).click()

    def run_cell(self, index: int, timeout: float = 120) -> None:
        """Select code cell ``index`` and press Shift+Enter, then wait for its new output."""
        before = self.prompts()[index]
        self.cell(index).locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Shift+Enter")
        self.page.wait_for_function(
            """([index, before]) => {
              const prompt = document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')[index].textContent.trim();
              return prompt !== before && prompt !== '[*]:';
            }""",
            arg=[index, before],
            timeout=timeout * 1000,
        )
        self.wait_settled(timeout)

    def wait_settled(self, timeout: float) -> None:
        self.page.wait_for_function(_SETTLED, timeout=timeout * 1000, polling=250)

    def pause(self, timeout: float = 30) -> None:
        """A person's pause: the kernel has answered whatever the page just sent it (widget events)."""
        self.page.wait_for_timeout(250)  # the kernel's "busy" takes a moment to show
        self.wait_settled(timeout)

    # -- reading ----------------------------------------------------------------

    def index_of(self, piece: str) -> int:
        """Position (among code cells) of the only code cell whose source contains ``piece``."""
        found = [i for i, source in enumerate(self.sources) if piece in source]
        if len(found) != 1:
            raise LookupError(f"{len(found)} code cells of {self.name} contain {piece!r}")
        return found[0]

    def cell(self, index: int) -> Any:
        return self.page.locator(".jp-NotebookPanel .jp-CodeCell").nth(index)

    def output(self, index: int) -> Any:
        """The output area of code cell ``index`` (a locator)."""
        return self.cell(index).locator(".jp-OutputArea")

    def prompts(self) -> list[str]:
        return self.page.eval_on_selector_all(".jp-CodeCell .jp-InputArea-prompt", "cells => cells.map(e => e.textContent.trim())")

    def executed(self) -> list[int | None]:
        """Execution count shown by every code cell (None where it has not run)."""
        return [int(match.group(1)) if (match := _PROMPT.fullmatch(prompt)) else None for prompt in self.prompts()]

    def screenshot_all(self, path: Path, *, limit: int = 12_000) -> None:
        """A picture of the whole notebook: the window is made as tall as the notebook's scroller for the shot."""
        scroller = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer")
        size = self.page.viewport_size
        height = scroller.evaluate("e => e.scrollHeight - e.clientHeight") + size["height"]
        self.page.set_viewport_size({"width": size["width"], "height": min(limit, height)})
        try:
            self.page.wait_for_timeout(500)  # Lab lays itself out again
            scroller.evaluate("e => { e.scrollTop = 0; }")
            self.page.wait_for_timeout(200)
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(size)

    def save(self, timeout: float = 30) -> nbformat.NotebookNode:
        """File > Save (Ctrl+S), wait until Lab wrote it, and read it back."""
        self.cell(0).locator(".jp-InputPrompt").click()  # the notebook has the focus, in command mode
        self.page.keyboard.press("Control+s")
        self.page.locator(".jp-NotebookPanel-toolbar").wait_for()
        self.page.wait_for_function(
            "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')", timeout=timeout * 1000
        )
        return nbformat.read(self.path, as_version=4)

    def errors(self) -> list[str]:
        """``"cell N: Name: message"`` of every error output, as saved."""
        saved = self.save()
        code = [cell for cell in saved.cells if cell.cell_type == "code"]
        return [
            f"cell {i}: {output.ename}: {output.evalue}"
            for i, cell in enumerate(code)
            for output in cell.get("outputs", [])
            if output.output_type == "error"
        ]
