"""The page: nbconvert's lab template made offline, sanitized when untrusted, written without clobbering."""

from __future__ import annotations

import copy
import html
import json
import os
import re
import warnings
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from workbench._format import atomic_file
from workbench.report.execution import ReportError, cell_errors, execute_notebook
from workbench.report.local_images import attachment_data_url, image_data_url, refusal
from workbench.report.untrusted import (
    Neutralised,
    clean_html,
    is_trusted,
    neutralise_outputs,
    neutralise_widgets,
)
from workbench.report.widget_state import (
    WIDGET_STATE,
    WIDGET_VIEW,
    _prepare,
    _reachable,
)

#: First thing in a report's <head>: a file that starts with it was written by
#: workbench and may be replaced by a new report; any other file may not.
REPORT_MARKER = '<meta name="generator" content="workbench report">'
# nbconvert re-serializes the page (BeautifulSoup), which reorders attributes
_MARKED = re.compile(rb'<meta(?=[^>]*\bname="generator")(?=[^>]*\bcontent="workbench report")[^>]*>')
# Where the template puts the note on what was removed from an untrusted
# notebook; filled in after export, when the markdown has been sanitized too.
# No fragment from the notebook can contain it: comments are stripped from
# untrusted HTML and everything else is escaped.
_NOTE_SLOT = "<!-- workbench:untrusted-note -->"


class UntrustedNotebookWarning(UserWarning):
    """Script was removed from an untrusted notebook's page; the message counts it by kind."""


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if match:
                return re.sub(r"[*_`]", "", match.group(1)).strip()
    return fallback


@cache
def _exporter_class() -> type:
    """nbconvert's HTML exporter, with markdown images checked and untrusted markdown sanitized.

    Built on first use: importing nbconvert takes seconds.
    """
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class CheckedImages(IPythonRenderer):
        """Inlines only image files inside the notebook's folder, and attachments that are images."""

        def __init__(self, *args: Any, left_as_links: list[str], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.left_as_links = left_as_links

        def _embed_image_or_attachment(self, src: str) -> str:
            if src.startswith("attachment:"):
                bundle = self.attachments.get(src[len("attachment:"):])
                url = attachment_data_url(bundle) if isinstance(bundle, dict) else None
                if url is None:
                    self.left_as_links.append(f"{src} (missing, or not an image)")
                return url or src
            return super()._embed_image_or_attachment(src)

        def _src_to_base64(self, src: str) -> str | None:
            url = image_data_url(self.path, src)
            if url is None and not re.match(r"^(https?|data):", src, re.IGNORECASE):
                self.left_as_links.append(f"{src} ({refusal(self.path, src)})")
            return url

    class ReportExporter(HTMLExporter):
        #: Counts what was removed from untrusted markdown; None for a trusted notebook.
        neutralised: Neutralised | None = None
        #: Image links that were not inlined, each with the reason.
        left_as_links: list[str]

        @pass_context
        def markdown2html(self, context: Any, source: str) -> str:
            cell = context.get("cell", {})
            renderer = CheckedImages(
                escape=False,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                left_as_links=self.left_as_links,
                **self.lexer_options,
            )
            rendered = MarkdownWithMath(renderer=renderer).render(source)
            return rendered if self.neutralised is None else clean_html(rendered, self.neutralised)

    return ReportExporter


def _neutralise(nb: nbformat.NotebookNode, seen: Neutralised) -> None:
    """Strip script from an untrusted notebook's outputs and widget state, in place (markdown: at export)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            neutralise_outputs(cell.get("outputs", []), seen)
        elif cell.cell_type == "raw":  # nbconvert writes a raw HTML cell into the page as it is
            cell.source = clean_html(cell.source, seen)
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not isinstance(models, dict):
        raise ReportError(f"the notebook's saved widget state is a {type(models).__name__}, not a mapping of widget models")
    foreign = neutralise_widgets(models, seen)
    if not foreign:
        return
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if isinstance(view, dict) and _reachable([view.get("model_id")], models) & foreign:
                del output["data"][WIDGET_VIEW]  # nbconvert shows the text/plain fallback
    for model_id in foreign:
        del models[model_id]


def _untrusted_note(seen: Neutralised) -> str:
    return (
        '<div class="workbench-untrusted-note" role="note"><strong>This notebook is not trusted</strong> '
        "(its signature is not in this user's Jupyter database), so nothing from it may run in this page. "
        f"Removed: {html.escape(seen.summary())}. To see its scripts and widgets, run it again (<code>workbench report</code> "
        "without <code>--no-execute</code>) or trust it (<code>jupyter trust</code>) if you know where it comes from.</div>"
    )


def to_html(
    notebook: nbformat.NotebookNode,
    *,
    title: str | None = None,
    folder: str | os.PathLike | None = None,
    trusted: bool = True,
) -> str:
    """The self-contained offline HTML page of an executed notebook.

    Parameters
    ----------
    notebook : NotebookNode
        Executed (outputs and, for widgets, widget state in its metadata; see
        :func:`execute_notebook`). Not modified.
    title : str, optional
        The page title; default: the first ``# heading`` of the notebook.
    folder : path, optional
        Where the notebook's relative image links point from (its own
        folder); those images are embedded in the page when they are image
        files inside it (see :mod:`workbench.report.local_images`). Default: the
        current directory.
    trusted : bool, default True
        False for a notebook whose outputs may not run script (see
        :mod:`workbench.report.untrusted`): its HTML is sanitized, its
        JavaScript outputs and foreign widget modules dropped, and the page
        and a :class:`UntrustedNotebookWarning` say what was removed.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Hi <b onclick=steal()>there</b>")])
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     page = to_html(nb, trusted=False)
    >>> "onerror" in page, "1 event handler" in page
    (False, True)
    """
    from traitlets.config import Config

    nb = copy.deepcopy(notebook)
    seen = None if trusted else Neutralised()
    if seen is not None:
        _neutralise(nb, seen)
    report = _prepare(nb)
    report["untrusted"] = seen is not None
    config = Config()
    # Jupyter Book's tag names: hide a set-up cell, or its input only.
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    templates = resources.files("workbench").joinpath("_static", "report", "templates")
    exporter = _exporter_class()(
        config=config,
        template_name="workbench",
        extra_template_basedirs=[str(templates)],
        embed_images=True,
    )
    exporter.neutralised = seen
    exporter.left_as_links = []
    body, _ = exporter.from_notebook_node(
        nb,
        resources={
            "metadata": {"name": title or _title(nb, "workbench report"), "path": str(folder or os.getcwd())},
            "workbench": report,
        },
    )
    if exporter.left_as_links:
        warnings.warn("images left as links, not copied into the page: " + "; ".join(exporter.left_as_links), stacklevel=2)
    body = body.replace(_NOTE_SLOT, _untrusted_note(seen) if seen else "", 1)
    if seen:
        warnings.warn(
            f"the notebook is not trusted; removed from the page: {seen.summary()}",
            UntrustedNotebookWarning,
            stacklevel=2,
        )
    return body


def render(
    notebook: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    execute: bool = True,
    timeout: int | None = 600,
    kernel_name: str | None = None,
    progress: bool = True,
    title: str | None = None,
    overwrite: bool = False,
    allow_errors: bool = False,
) -> Path:
    """Execute a notebook and write it as one self-contained, offline HTML file.

    Parameters
    ----------
    notebook : path
        The ``.ipynb`` file. It runs with its own folder as working directory.
    output : path, optional
        Where to write the page; default: the notebook's path with ``.html``.
        Written atomically: a failure leaves any previous file untouched. An
        existing file is replaced only when it is a report workbench wrote
        (it starts with :data:`REPORT_MARKER`) or ``overwrite`` is True; the
        notebook itself never is.
    execute : bool, default True
        Run the notebook first. ``False`` exports the outputs (and widget
        state) already stored in the file.
    timeout : int or None, default 600
        Seconds one cell may run.
    kernel_name : str, optional
        Jupyter kernel; default: the notebook's, else ``python3``.
    progress : bool, default True
        Show a progress bar while the cells run.
    title : str, optional
        Page title; default: the notebook's first ``# heading``.
    overwrite : bool, default False
        Replace ``output`` even when it is not a report workbench wrote.
    allow_errors : bool, default False
        Keep running past cells that raise and show their errors in the
        page (a :class:`UserWarning` lists them).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ReportError
        When the notebook cannot be read, a cell fails, or ``output`` is the
        notebook or a file workbench did not write.

    Notes
    -----
    A notebook that is not executed here renders its saved outputs only if
    it is trusted (:func:`workbench.report.untrusted.is_trusted`, as
    JupyterLab decides); otherwise nothing from it may run script in the page.

    Examples
    --------
    >>> render("notebooks/01_quickstart.ipynb", "reports/quickstart.html")  # doctest: +SKIP
    PosixPath('reports/quickstart.html')
    """
    source = Path(notebook)
    target = Path(output) if output is not None else source.with_suffix(".html")
    _check_target(target, source, overwrite=overwrite, before=True)
    try:
        nb = nbformat.read(source, as_version=4)
    except FileNotFoundError:
        raise ReportError(f"no notebook at {source}") from None
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as error:
        raise ReportError(f"{source} is not a Jupyter notebook ({type(error).__name__})") from None
    # what the report runs itself is as trusted as running it in JupyterLab
    trusted = execute or is_trusted(nb)
    if execute:
        nb = execute_notebook(nb, cwd=source.resolve().parent, timeout=timeout, kernel_name=kernel_name,
                              progress=progress, name=source.name, allow_errors=allow_errors)
        errors = cell_errors(nb) if allow_errors else []
        if errors:
            warnings.warn(f"{len(errors)} cell(s) raised, shown in the page: " + "; ".join(errors), stacklevel=2)
    page = to_html(nb, title=title, folder=source.resolve().parent, trusted=trusted)
    # checked again: the run may take minutes, and files appear meanwhile
    _check_target(target, source, overwrite=overwrite, before=False)
    with atomic_file(target, "wb") as handle:
        handle.write(page.encode("utf-8"))
    return target


def _check_target(target: Path, source: Path, *, overwrite: bool, before: bool) -> None:
    """Refuse to write over the notebook, a folder, or (unless ``overwrite``) a file workbench did not write.

    ``before``: the check made before the notebook runs covers what cannot
    change meanwhile (the notebook, a folder); the one made just before
    writing covers any file in the way.
    """
    if target.exists() and source.exists() and os.path.samefile(target, source):
        raise ReportError(f"refusing to write the report over its own notebook {source}; choose another path with -o")
    if target.is_dir():
        raise ReportError(f"{target} is a folder; give the report a file name, e.g. -o {target / source.with_suffix('.html').name}")
    if before or overwrite or not (target.exists() or target.is_symlink()):
        return
    if not target.is_file() or not _is_report(target):
        raise ReportError(
            f"refusing to overwrite {target}: it is not a report written by workbench; "
            "pass --overwrite (overwrite=True) to replace it, or choose another path with -o"
        )


def _is_report(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return _MARKED.search(handle.read(4096)) is not None
    except OSError:
        return False
