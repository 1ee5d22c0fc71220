"""TeX in a report's markdown is typeset offline, by the vendored KaTeX, as JupyterLab would typeset it."""

from __future__ import annotations

import nbformat
import pytest

from tests.browser.chromium import open_offline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MARKDOWN = r"""# Maths

Inline $e^{i\pi} + 1 = 0$, a bound $k \le n$ and a display:

$$\hat d = \frac{k - 1}{\sum_{j<k} \log (r_k / r_j)}$$

Code keeps its dollars: `price = $x$`.
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, render_report):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(MARKDOWN), nbformat.v4.new_code_cell("1 + 1")])
    return render_report(notebook, tmp_path_factory.mktemp("math") / "math.html")


def test_tex_is_typeset_offline(report, browser, artifacts):
    with open_offline(report, browser=browser, width=1000, height=700) as opened:
        page = opened.page
        page.wait_for_function("() => document.documentElement.dataset.workbenchMath === 'typeset'", timeout=30_000)
        sources = page.locator(".jp-MarkdownOutput .katex annotation").all_text_contents()
        assert sources == [r"e^{i\pi} + 1 = 0", r"k \le n", r"\hat d = \frac{k - 1}{\sum_{j<k} \log (r_k / r_j)}"]
        assert page.locator(".katex-display").count() == 1
        assert page.locator("code").filter(has_text="price = $x$").count() == 1  # code is left alone
        # the fonts came with the page: KaTeX's own faces are loaded, none was fetched
        assert page.evaluate("() => document.fonts.ready.then(() => document.fonts.check('16px KaTeX_Main'))")
        page.screenshot(path=str(artifacts / "report-math.png"))
        refused, problems = list(opened.refused), list(opened.problems)
    assert refused == [] and problems == []
    assert report.stat().st_size < 800_000  # the lab template, KaTeX and its fonts (packed); no plotly.js, no widget runtime
