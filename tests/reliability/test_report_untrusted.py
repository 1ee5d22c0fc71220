"""``workbench report --no-execute`` of a notebook that is not trusted: nothing from the file runs in the page.

A hostile notebook plants a payload in every place a report copies into its
page: markdown (raw HTML, a ``javascript:`` link, an ``<img onerror>``, an
``<svg onload>``, an ``<iframe srcdoc>``), an HTML output, a markdown output,
a JavaScript output, an SVG output, a mermaid output, a raw HTML cell, saved
widget state (an anywidget whose ``_esm`` is the payload, an ``HTML`` widget,
an ``Output`` widget holding HTML). Each payload records itself in
``window.__pwned`` or sets ``document.title = 'pwned'``. The page is opened
in headless Chromium, every planted link is clicked, and nothing may have
fired. The same notebook, signed as JupyterLab signs it, renders as before:
its script runs and its widget mounts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from workbench import report
from workbench.report.untrusted import Neutralised, clean_html, is_trusted, neutralise_widgets, shipped_modules

REPO = Path(__file__).resolve().parents[2]


def fire(where: str) -> str:
    """JavaScript that records that the payload planted at ``where`` ran.

    It ends in ``void 0``: a ``javascript:`` link whose value is a string
    would replace the document, and the record with it.
    """
    return f"(window.__pwned = window.__pwned || []).push('{where}'); document.title = 'pwned'; void 0"


def _view(model_id: str) -> dict:
    return {"model_id": model_id, "version_major": 2, "version_minor": 0}


def _control(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
            "state": {"_view_module": "@jupyter-widgets/controls", "_view_module_version": "2.0.0",
                      "_view_name": name.replace("Model", "View"), **state}}


def hostile_notebook() -> nbformat.NotebookNode:
    """A notebook with saved outputs and widget state that would run script in each place a report copies."""
    new_output = nbformat.v4.new_output
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    markdown = nbformat.v4.new_markdown_cell(
        "# Hostile notebook\n\n"
        f"<script>{fire('markdown-script')}</script>\n\n"
        f'<img src="missing.png" onerror="{fire("markdown-img-onerror")}">\n\n'
        f'<svg onload="{fire("markdown-svg-onload")}"><circle r="4"/></svg>\n\n'
        f"<iframe srcdoc=\"<script>with (parent) {{ {fire('markdown-iframe')} }}</script>\"></iframe>\n\n"
        f'<a class="planted" href="javascript:{fire("markdown-html-link")}">click-html-link</a>\n\n'
        f"[click-md-link](javascript:{fire('markdown-md-link').replace(' ', '')})\n\n"
        '<a class="planted" href="data:text/html,<script>alert(1)</script>">click-data-link</a>'
    )
    code = nbformat.v4.new_code_cell("display(...)")
    code.outputs = [
        new_output("display_data", {
            "text/html": f'<b>kept</b><script>{fire("html-output-script")}</script>'
                         f'<img src="x" onerror="{fire("html-output-onerror")}">'
                         f'<a class="planted" href=" JaVa&#x09;script:{fire("html-output-link")}">click-output-link</a>',
            "text/plain": "<HTML>"}),
        new_output("display_data", {"application/javascript": fire("javascript-output"), "text/plain": "<JS>"}),
        new_output("display_data", {"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{fire("svg-output")}">'
                                                     f'<script>{fire("svg-output-script")}</script></svg>'}),
        new_output("display_data", {"text/markdown": f"<script>{fire('markdown-output')}</script>*md output*"}),
        new_output("display_data", {"text/vnd.mermaid": f'graph TD</pre><img src="x" onerror="{fire("mermaid")}"><pre>'}),
        new_output("display_data", {report.WIDGET_VIEW: _view("esm"), "text/plain": "EsmWidget()"}),
        new_output("display_data", {report.WIDGET_VIEW: _view("html"), "text/plain": "HTML()"}),
        new_output("display_data", {report.WIDGET_VIEW: _view("out"), "text/plain": "Output()"}),
        new_output("display_data", {report.WIDGET_VIEW: _view("slider"), "text/plain": "IntSlider()"}),
    ]
    raw = nbformat.v4.new_raw_cell(f"<script>{fire('raw-cell')}</script>raw", metadata={"raw_mimetype": "text/html"})
    nb.cells = [markdown, code, raw]
    anywidget = "~{}.{}.*".format(*report._manifest()["anywidget"].split(".")[:2])  # the front end reports carry
    layout = {"model_name": "LayoutModel", "model_module": "@jupyter-widgets/base", "model_module_version": "2.0.0",
              "state": {}}
    nb.metadata["widgets"] = {report.WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        "esm": {"model_name": "AnyModel", "model_module": "anywidget", "model_module_version": anywidget,
                "state": {"_esm": f"export default {{ render({{ el }}) {{ {fire('widget-esm')}; el.textContent = 'esm ran'; }} }}",
                          "_anywidget_id": "hostile.Widget", "_dom_classes": [], "layout": "IPY_MODEL_layout",
                          "_view_module": "anywidget", "_view_name": "AnyView", "_view_module_version": anywidget,
                          "_model_module": "anywidget", "_model_name": "AnyModel", "_model_module_version": anywidget}},
        "html": _control("HTMLModel", value=f'<img src="x" onerror="{fire("html-widget")}">html-widget-text',
                         layout="IPY_MODEL_layout"),
        "out": {"model_name": "OutputModel", "model_module": "@jupyter-widgets/output", "model_module_version": "1.0.0",
                "state": {"_view_module": "@jupyter-widgets/output", "_view_name": "OutputView",
                          "_view_module_version": "1.0.0", "layout": "IPY_MODEL_layout",
                          "outputs": [{"output_type": "display_data", "metadata": {},
                                       "data": {"text/html": f'<img src="x" onerror="{fire("output-widget")}">',
                                                "application/javascript": fire("output-widget-js")}}]}},
        "slider": _control("IntSliderModel", value=3, description="untrusted-slider", layout="IPY_MODEL_layout"),
        "layout": layout,
    }}}
    return nb


class _Tags(HTMLParser):
    """Every start tag as written, and the text of every <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(self.get_starttag_text() or tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "report", *args, "--quiet"],
                          capture_output=True, text=True, timeout=600, cwd=REPO, env=env)


@pytest.fixture
def jupyter_env(tmp_path, monkeypatch) -> dict[str, str]:
    """A private Jupyter data folder (its own signature database and secret), here and for the CLI."""
    data = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    return {**os.environ, "JUPYTER_DATA_DIR": str(data), "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def test_trust_is_the_signature_jupyterlab_checks(tmp_path, jupyter_env):
    from nbformat.sign import NotebookNotary

    nb = hostile_notebook()
    assert not is_trusted(nb)
    NotebookNotary().sign(nb)
    assert is_trusted(nb)
    nb.cells[1].outputs[0]["data"]["text/html"] += "<i>edited by hand</i>"
    assert not is_trusted(nb)


def test_every_payload_is_removed_from_the_html_and_counted(tmp_path, jupyter_env):
    source = tmp_path / "hostile.ipynb"
    nbformat.write(hostile_notebook(), source)
    done = _cli(str(source), "--no-execute", "-o", str(tmp_path / "hostile.html"), env=jupyter_env)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "hostile.html").read_text(encoding="utf-8")
    # a payload may remain as text (the escaped mermaid source), never in a tag, an attribute or a script
    tags = _Tags()
    tags.feed(page)
    assert [tag for tag in tags.tags if "pwned" in tag] == []
    assert [text for text in tags.scripts if "pwned" in text] == []
    # the stderr line and the note in the page say what went, by kind
    (line,) = [line for line in done.stderr.splitlines() if "not trusted" in line]
    assert "script element" in line and "event handler" in line and "JavaScript output" in line
    assert "widget ES module" in line and "javascript:/data: link" in line
    assert "This notebook is not trusted" in page and "widget ES module" in page
    # harmless markup and widgets without foreign code stay
    assert "<b>kept</b>" in page and "untrusted-slider" in page
    assert "EsmWidget()" in page  # the foreign module's view falls back to its text


def test_a_module_shipped_by_workbench_may_run_a_changed_copy_may_not():
    shipped = sorted(p for p in (REPO / "workbench").rglob("*") if p.suffix in (".js", ".mjs"))
    assert shipped, "workbench ships no ES module to compare with"
    own = shipped[0].read_text(encoding="utf-8")
    models = {"own": {"model_module": "anywidget", "state": {"_esm": own}},
              "changed": {"model_module": "anywidget", "state": {"_esm": own + ";window.__pwned = 1"}},
              "url": {"model_module": "anywidget", "state": {"_esm": "https://example.org/widget.js"}}}
    seen = Neutralised()
    assert neutralise_widgets(models, seen) == {"changed", "url"}
    assert seen.counts["widget ES module"] == 2 and len(shipped_modules()) >= len({p.read_bytes() for p in shipped})


def test_clean_html_keeps_markup_and_inline_images():
    png = "data:image/png;base64,iVBORw0KGgo="
    seen = Neutralised()
    kept = clean_html(f'<table class="dataframe"><tr><th>a</th></tr></table><img src="{png}"><h2 id="intro">Intro</h2>', seen)
    assert 'class="dataframe"' in kept and f'src="{png}"' in kept and 'id="intro"' in kept
    assert not seen
    assert clean_html('<img src="data:text/html;base64,PHNjcmlwdD4=">', seen) == "<img>"
    # an id the report's runtime looks up cannot be taken by the notebook's markup
    assert clean_html('<h1 id="workbench-widget-esm">x</h1>', seen) == "<h1>x</h1>"


@pytest.mark.slow
@pytest.mark.browser
def test_nothing_planted_runs_in_chromium_and_a_trusted_notebook_still_renders(tmp_path, jupyter_env):
    from nbformat.sign import NotebookNotary

    from tests.browser.chromium import launch, open_offline

    untrusted = tmp_path / "untrusted" / "hostile.ipynb"
    untrusted.parent.mkdir()
    nbformat.write(hostile_notebook(), untrusted)
    # the same notebook, signed in this user's database: JupyterLab would run its outputs
    trusted = tmp_path / "trusted" / "hostile.ipynb"
    trusted.parent.mkdir()
    signed = hostile_notebook()
    NotebookNotary().sign(signed)
    nbformat.write(signed, trusted)
    for source in (untrusted, trusted):
        done = _cli(str(source), "--no-execute", env=jupyter_env)
        assert done.returncode == 0, done.stderr

    with launch() as browser:
        with open_offline(untrusted.with_suffix(".html"), browser=browser) as opened:
            page = opened.page
            page.wait_for_function("document.body.innerText.includes('untrusted-slider')", timeout=60_000)
            for text in ("click-html-link", "click-md-link", "click-output-link", "click-data-link"):
                page.get_by_text(text).click()
            page.wait_for_timeout(1000)
            fired = page.evaluate("() => ({pwned: window.__pwned || [], title: document.title})")
            note = page.locator(".workbench-untrusted-note").inner_text()
        assert fired == {"pwned": [], "title": "Hostile notebook"}
        assert "not trusted" in note and "script element" in note
        assert [p for p in opened.problems if "pwned" in p] == []

        with open_offline(trusted.with_suffix(".html"), browser=browser) as opened:
            page = opened.page
            page.wait_for_function("document.body.innerText.includes('untrusted-slider')", timeout=60_000)
            page.wait_for_timeout(500)
            fired = page.evaluate("() => window.__pwned || []")
            mounted = page.locator(".widget-slider").count()
            esm_ran = "esm ran" in page.locator("body").inner_text()
            has_note = page.locator(".workbench-untrusted-note").count()
    # trusted: rendered as before, its own script included
    assert "html-output-script" in fired and "javascript-output" in fired and "markdown-script" in fired
    assert mounted >= 1 and has_note == 0, (fired, opened.problems)
    assert esm_ran and "widget-esm" in fired, opened.problems
