"""What a report keeps of a notebook it may not trust: markup, never script.

JupyterLab runs a notebook's saved HTML and JavaScript outputs only when the
notebook is *trusted*: its signature (``nbformat.sign``) matches the one the
user's own Jupyter recorded when the outputs were made on this machine. A
notebook received from someone else is not, and neither is one whose
outputs were edited by hand. ``workbench report --no-execute`` of such a
notebook must not turn it into a page that runs its script as soon as it is
opened, with the page's ``file://`` origin.

So, for an untrusted notebook the report does not execute itself:

* HTML from the file (raw HTML in markdown, ``text/html`` and
  ``text/markdown`` outputs, HTML inside ``HTML`` widgets and ``Output``
  widgets) goes through ammonia (the ``nh3`` package), an allow-list
  sanitizer: no ``<script>``, no ``on*=`` handler, no ``javascript:`` or
  ``data:`` link, no frame, object or form.
* ``application/javascript`` outputs are dropped.
* A widget whose anywidget ES module (``_esm``, code the page would import)
  is not byte for byte one that an installed package ships (workbench's own
  ``*.js``/``*.mjs``, plotly's ``FigureWidget`` bundle) shows its text
  fallback instead of running.

Each removal is counted by kind (:class:`Neutralised`); the report says the
counts in the page and on stderr.

Examples
--------
>>> seen = Neutralised()
>>> clean_html('<b onclick="steal()">bold</b><script>steal()</script>', seen)
'<b>bold</b>'
>>> seen.summary()
'1 event handler (on*=), 1 script element'
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from collections.abc import Iterable
from functools import cache
from html.parser import HTMLParser
from importlib import resources

import nbformat
import nh3

__all__ = ["Neutralised", "is_trusted", "clean_html", "neutralise_outputs", "neutralise_widgets", "shipped_modules"]

#: Tags whose content is gone with them (ammonia drops <script>/<style> content by default).
_DROPPED_WITH_CONTENT = {"script", "style"}
#: Elements that load or run something else; counted, and removed by the allow-list.
_EMBEDDERS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "link", "form", "portal"}
#: Attributes that hold a URL the browser may navigate to or load.
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset", "lowsrc", "ping"}
#: What an image may be inlined as (an <img> never runs script, SVG included).
_IMAGE_DATA_URL = re.compile(r"^data:image/(png|jpeg|gif|webp|bmp|svg\+xml);base64,[a-z0-9+/=\s]*$", re.IGNORECASE)
#: Ids the report's own runtime looks up; a sanitized fragment must not shadow them.
_RESERVED_ID = re.compile(r"^\s*workbench", re.IGNORECASE)

_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "title", "dir", "lang"},
    # nbconvert's heading anchors: <h2 id="..."><a class="anchor-link" href="#...">
    **{f"h{level}": {"id"} for level in range(1, 7)},
}
_ATTRIBUTES["img"] = _ATTRIBUTES.get("img", set()) | {"title"}
_URL_SCHEMES = {"http", "https", "mailto", "data"}


class Neutralised:
    """What was removed from an untrusted notebook, counted by kind.

    Examples
    --------
    >>> seen = Neutralised()
    >>> seen.add("JavaScript output", 2)
    >>> bool(seen), seen.summary()
    (True, '2 JavaScript outputs')
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] += n

    def __bool__(self) -> bool:
        return bool(self.counts)

    def summary(self) -> str:
        """``"2 script elements, 1 event handler (on*=)"``: counts by kind, most first."""
        return ", ".join(f"{n} {_plural(kind, n)}" for kind, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _plural(kind: str, n: int) -> str:
    if n == 1:
        return kind
    head, space, rest = kind.partition(" (")
    words = head.split(" ")
    words[-1] += "es" if words[-1].endswith(("sh", "ch", "s", "x")) else "s"
    return " ".join(words) + (space + rest if space else "")


def is_trusted(notebook: nbformat.NotebookNode) -> bool:
    """Whether JupyterLab would trust the notebook (its signature is in this user's database).

    Examples
    --------
    >>> is_trusted(nbformat.v4.new_notebook())
    False
    """
    from nbformat.sign import NotebookNotary

    try:
        return bool(NotebookNotary().check_signature(notebook))
    except Exception:  # an unreadable or locked signature database trusts nothing, as JupyterLab
        return False


# ---------------------------------------------------------------- HTML


class _Census(HTMLParser):
    """Counts, by kind, what in a fragment could run script or load something."""

    def __init__(self, seen: Neutralised) -> None:
        super().__init__(convert_charrefs=True)
        self.seen = seen

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.seen.add("script element")
        elif tag in _EMBEDDERS:
            self.seen.add("frame, object or form")
        for name, value in attrs:
            if name.startswith("on"):
                self.seen.add("event handler (on*=)")
            elif name in _URL_ATTRIBUTES and value and _is_script_url(value, image=tag == "img" and name == "src"):
                self.seen.add("javascript:/data: link")
            elif name == "srcdoc":
                self.seen.add("frame, object or form")

    handle_startendtag = handle_starttag


def _is_script_url(value: str, *, image: bool) -> bool:
    # browsers ignore whitespace and control characters inside a scheme ("java\tscript:")
    squeezed = re.sub(r"[\x00-\x20]+", "", html.unescape(value)).lower()
    if squeezed.startswith(("javascript:", "vbscript:")):
        return True
    return squeezed.startswith("data:") and not (image and _IMAGE_DATA_URL.match(html.unescape(value).strip()))


def _keep_attribute(tag: str, name: str, value: str) -> str | None:
    if name in ("href", "src") and value.strip().lower().startswith("data:"):
        return value if tag == "img" and name == "src" and _IMAGE_DATA_URL.match(value.strip()) else None
    if name == "id" and _RESERVED_ID.match(value):
        return None
    return value


def clean_html(fragment: str, seen: Neutralised) -> str:
    """``fragment`` with everything that could run script removed; what went is counted in ``seen``.

    Parameters
    ----------
    fragment : str
        HTML from an untrusted notebook.
    seen : Neutralised
        Counts of removed script elements, handlers, links and embedders are added here.

    Returns
    -------
    str
        Markup only: formatting, tables, images (``data:image/*`` included), ``http(s)`` links.

    Examples
    --------
    >>> seen = Neutralised()
    >>> clean_html('<a href="javascript:steal()">x</a><img src="y.png" onerror="steal()">', seen)
    '<a rel="noopener noreferrer">x</a><img src="y.png">'
    >>> seen.summary()
    '1 event handler (on*=), 1 javascript:/data: link'
    """
    census = _Census(seen)
    census.feed(fragment)
    census.close()
    return nh3.clean(
        fragment,
        tags=_TAGS,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=_URL_SCHEMES,
    )


# ---------------------------------------------------------------- outputs


def neutralise_outputs(outputs: Iterable[dict], seen: Neutralised) -> None:
    """Make a list of cell (or Output widget) outputs inert, in place.

    ``text/html`` is sanitized, ``application/javascript`` dropped, and a
    mermaid diagram (written into the page unescaped by nbconvert) kept as
    text. ``text/markdown`` is sanitized after rendering, by the report's
    markdown filter.
    """
    for output in outputs:
        data = output.get("data")
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("text/html"), (str, list)):
            data["text/html"] = clean_html(_text(data["text/html"]), seen)
        for kind in ("application/javascript", "text/javascript", "application/x-javascript"):
            if data.pop(kind, None) is not None:
                seen.add("JavaScript output")
        if isinstance(data.get("text/vnd.mermaid"), (str, list)):
            data["text/vnd.mermaid"] = html.escape(_text(data["text/vnd.mermaid"]), quote=False)


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


# ---------------------------------------------------------------- widgets


@cache
def shipped_modules() -> frozenset[str]:
    """SHA-256 of every ES module an installed package ships for its widgets.

    workbench's own ``*.js``/``*.mjs`` files (wherever they sit in the
    package), and plotly's ``FigureWidget`` bundle. An untrusted notebook's
    widget may run its ``_esm`` only when it is one of these, byte for byte.
    """
    digests = set()
    todo = [resources.files("workbench")]
    while todo:
        node = todo.pop()
        for child in node.iterdir():
            if child.is_dir():
                if child.name != "__pycache__":
                    todo.append(child)
            elif child.name.endswith((".js", ".mjs")):
                digests.add(_digest(child.read_text(encoding="utf-8", errors="surrogateescape")))
    try:
        from plotly.basewidget import BaseFigureWidget

        digests.add(_digest(str(BaseFigureWidget._esm)))
    except Exception:  # plotly without its widget bundle: no FigureWidget to trust
        pass
    return frozenset(digests)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).hexdigest()


def neutralise_widgets(models: dict[str, dict], seen: Neutralised) -> set[str]:
    """Make a notebook's saved widget state inert, in place; return the models that must not render.

    HTML in ``HTML``/``HTMLMath`` widgets and in descriptions that allow
    HTML is sanitized, and ``Output`` widgets' outputs are neutralised like
    cells'. A model whose ``_esm`` (code the page would import) is not one
    an installed package ships is returned: every view that reaches it
    must show its text instead.
    """
    foreign: set[str] = set()
    for model_id, model in models.items():
        state = model.get("state") if isinstance(model, dict) else None
        if not isinstance(state, dict):
            continue
        if "_esm" in state and not (isinstance(state["_esm"], str) and _digest(state["_esm"]) in shipped_modules()):
            foreign.add(model_id)
            seen.add("widget ES module")
        if model.get("model_name") in ("HTMLModel", "HTMLMathModel") and isinstance(state.get("value"), str):
            state["value"] = clean_html(state["value"], seen)
        if state.get("description_allow_html") and isinstance(state.get("description"), str):
            state["description"] = clean_html(state["description"], seen)
        if model.get("model_name") == "OutputModel" and isinstance(state.get("outputs"), list):
            neutralise_outputs(state["outputs"], seen)
    return foreign
