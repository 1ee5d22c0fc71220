"""Rebuild the vendored widget runtime of the HTML reports (a maintainer's script).

Not imported by the package. Run it when ipywidgets or anywidget change::

    python workbench/_static/report/vendor.py --html-manager 1.0.15 --anywidget 0.11.0 --plotly 4.1.1 --katex 0.19.1

It fetches the npm packages with ``npm pack`` and writes, next to itself:

``widget-runtime.js.gz``
    ``@jupyter-widgets/html-manager``'s AMD build (``dist/libembed-amd.js``,
    trimmed to the widget manager and the ipywidgets 8 models and views)
    followed by
    anywidget's front end (``dist/index.js``, an anonymous AMD module, here
    named ``"anywidget"``, and taught to import a ``blob:`` URL as it imports
    an ``http`` one). The Font Awesome fonts that the bundle loads from
    files next to the script are inlined as data URIs (the woff2 ones; the
    legacy formats are never requested by a browser that reads woff2, and
    are emptied), and source-map comments are dropped, so nothing is fetched.
    Gzipped (mtime 0, reproducible) to keep the repository and the wheel
    small: under 1 MB instead of 2.7 MB.
``plotly-cartesian.min.js.gz``
    plotly.js's cartesian partial bundle (``plotly.js-cartesian-dist-min``:
    scatter, bar, box, heatmap, histogram, contour, pie, violin...), which a
    report inlines instead of the full plotly.js (1.5 MB against 4.8 MB) when
    every static figure's traces are of those types. Its version must be the
    plotly.js of the installed plotly package (``--plotly``), or reports
    keep using that full one.
``katex.js.gz``, ``katex.css.gz``
    KaTeX and its auto-render extension, and its stylesheet with the woff2
    fonts inlined as data URIs (the other formats dropped), so that TeX in a
    report's markdown is typeset offline.
``manifest.json``
    the versions, which :mod:`workbench.report` checks against the installed
    ipywidgets and anywidget.
``LICENSES.txt``
    the licences of everything in the bundle.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FONT_AWESOME = "5.15.4"
KEEP = ("@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/html-manager")  # the version html-manager 1.0.x bundles (see the CSS banner in the bundle)


def npm_pack(spec: str, into: Path) -> Path:
    """Download an npm package tarball and unpack it; returns its ``package/`` folder."""
    name = subprocess.run(["npm", "pack", spec], cwd=into, check=True, capture_output=True, text=True).stdout.split()[-1]
    target = into / name.removesuffix(".tgz")
    with tarfile.open(into / name) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def inline_fonts(bundle: str, dist: Path) -> str:
    """Replace webpack's ``<publicPath> + "<hash>.<ext>"`` font URLs with data URIs."""

    def replace(match: re.Match) -> str:
        filename = match.group(1)
        if filename.endswith(".woff2"):
            payload = base64.b64encode((dist / filename).read_bytes()).decode()
            return f'"data:font/woff2;base64,{payload}"'
        return '"data:,"'

    out, count = re.subn(r'\b[a-z]\.p\+"([0-9a-f]{20}\.(?:woff2|woff|ttf|eot|svg))"', replace, bundle)
    if count == 0:
        raise RuntimeError("no font URLs found in the bundle; has its layout changed?")
    return out


def inline_katex_fonts(dist: Path) -> str:
    """KaTeX's stylesheet with each font's woff2 as a data URI and its woff/ttf fallbacks dropped."""
    css = (dist / "katex.min.css").read_text(encoding="utf-8")

    def replace(match: re.Match) -> str:
        payload = base64.b64encode((dist / "fonts" / f"{match.group(1)}.woff2").read_bytes()).decode()
        return f'src:url(data:font/woff2;base64,{payload}) format("woff2")'

    out, count = re.subn(r'src:url\(fonts/([A-Za-z0-9_-]+)\.woff2\) format\("woff2"\)(?:,url\([^)]*\) format\("[a-z]+"\))*', replace, css)
    if count == 0 or "url(fonts/" in out:
        raise RuntimeError("KaTeX's @font-face rules were not all rewritten; has its stylesheet changed?")
    return out


def keep_modules(bundle: str) -> str:
    """Keep the AMD modules a report needs: the ipywidgets 8 models and views, and the manager.

    The build also defines the ipywidgets 7 modules and ``libembed-amd`` (a
    renderer that falls back to a CDN); reports render with their own loader
    (``runtime.js``) and ipywidgets 8 state, so those 1.5 MB are dropped.
    """
    starts = [(match.start(), match.group(1)) for match in re.finditer(r'(?m)^define\("([^"]+)",\[([^\]]*)\]', bundle)]
    ends = [start for start, _ in starts[1:]] + [len(bundle)]
    blocks = {name: bundle[start:end] for (start, name), end in zip(starts, ends)}
    missing = [name for name in KEEP if name not in blocks]
    if missing:
        raise RuntimeError(f"the bundle no longer defines {missing}")
    for name in KEEP:
        deps = json.loads("[" + re.match(r'define\("[^"]+",\[([^\]]*)\]', blocks[name]).group(1) + "]")
        unknown = set(deps) - set(KEEP) - {"module", "exports", "require"}
        if unknown:
            raise RuntimeError(f"{name} depends on {sorted(unknown)}, which would be dropped")
    return "\n".join(blocks[name] for name in KEEP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html-manager", required=True, help="version of @jupyter-widgets/html-manager")
    parser.add_argument("--anywidget", required=True, help="version of anywidget (match the Python package)")
    parser.add_argument("--plotly", required=True, help="version of plotly.js (the one the plotly package bundles)")
    parser.add_argument("--katex", required=True, help="version of KaTeX")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manager = npm_pack(f"@jupyter-widgets/html-manager@{args.html_manager}", tmp)
        anywidget = npm_pack(f"anywidget@{args.anywidget}", tmp)
        fonts = npm_pack(f"@fortawesome/fontawesome-free@{FONT_AWESOME}", tmp)
        cartesian = npm_pack(f"plotly.js-cartesian-dist-min@{args.plotly}", tmp)
        plotly_js = (cartesian / "plotly-cartesian.min.js").read_text(encoding="utf-8")
        if f"v{args.plotly}" not in plotly_js[:300]:
            raise RuntimeError(f"plotly-cartesian.min.js does not announce v{args.plotly}")
        (HERE / "plotly-cartesian.min.js.gz").write_bytes(gzip.compress(plotly_js.encode("utf-8"), compresslevel=9, mtime=0))
        katex = npm_pack(f"katex@{args.katex}", tmp)
        katex_js = "\n".join((katex / "dist" / name).read_text(encoding="utf-8") for name in ("katex.min.js", "contrib/auto-render.min.js"))
        (HERE / "katex.js.gz").write_bytes(gzip.compress(katex_js.encode("utf-8"), compresslevel=9, mtime=0))
        (HERE / "katex.css.gz").write_bytes(gzip.compress(inline_katex_fonts(katex / "dist").encode("utf-8"), compresslevel=9, mtime=0))

        bundle = keep_modules((manager / "dist" / "libembed-amd.js").read_text(encoding="utf-8"))
        bundle = re.sub(r"^//# sourceMappingURL=.*$", "", bundle, flags=re.MULTILINE)
        bundle = inline_fonts(bundle, manager / "dist")

        front_end = (anywidget / "dist" / "index.js").read_text(encoding="utf-8")
        anonymous = 'define(["@jupyter-widgets/base"], widget_default);'
        if front_end.count(anonymous) != 1:
            raise RuntimeError("anywidget's AMD definition was not found; has its build changed?")
        front_end = front_end.replace(anonymous, 'define("anywidget", ["@jupyter-widgets/base"], widget_default);')
        # Let a widget's ES module be a blob: URL, imported like an http one.
        # The runtime imports each distinct module once, before the models
        # exist, and hands every model that shares it the same URL: plotly.js
        # (5 MB) is evaluated once, and well within anywidget's 2 s limit for
        # a model to load its module (a cold import per model missed it on a
        # busy 2-core machine).
        href = 'return str.startsWith("http://") || str.startsWith("https://");'
        if front_end.count(href) != 1:
            raise RuntimeError("anywidget's isHref was not found; has its build changed?")
        front_end = front_end.replace(href, href[:-1] + ' || str.startsWith("blob:");')

        runtime = (
            f"/* @jupyter-widgets/html-manager {args.html_manager} (BSD-3-Clause) and anywidget {args.anywidget} (MIT);"
            " see LICENSES.txt */\n" + bundle + "\n" + front_end + "\n"
        )
        if re.search(r"</script", runtime, re.IGNORECASE) or "<!--" in runtime:
            raise RuntimeError("the runtime contains '</script' or '<!--' and cannot be inlined in a <script>")
        (HERE / "widget-runtime.js.gz").write_bytes(gzip.compress(runtime.encode("utf-8"), mtime=0))

        manifest = {"html-manager": args.html_manager, "anywidget": args.anywidget, "font-awesome": FONT_AWESOME,
                    "plotly.js-cartesian": args.plotly, "katex": args.katex}  # fmt: skip
        (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

        import ipywidgets

        ipywidgets_licence = Path(ipywidgets.__file__).parent.parent / f"ipywidgets-{ipywidgets.__version__}.dist-info" / "licenses" / "LICENSE"
        sections = [
            (f"@jupyter-widgets/html-manager {args.html_manager} (the Jupyter widgets licence, BSD-3-Clause)", ipywidgets_licence.read_text()),
            ("Third-party code bundled in @jupyter-widgets/html-manager (its own notice file)", (manager / "dist" / "embed.js.LICENSE.txt").read_text()),
            (f"Font Awesome Free {FONT_AWESOME} (fonts inlined in the bundle)", (fonts / "LICENSE.txt").read_text()),
            (f"anywidget {args.anywidget}", (anywidget / "LICENSE").read_text()),
            (f"plotly.js {args.plotly} (cartesian partial bundle)", (cartesian / "LICENSE").read_text()),
            (f"KaTeX {args.katex} (with its fonts)", (katex / "LICENSE").read_text()),
        ]
        text = "\n\n".join(f"{'=' * 78}\n{title}\n{'=' * 78}\n\n{body.strip()}\n" for title, body in sections)
        (HERE / "LICENSES.txt").write_text(text, encoding="utf-8")
    print(f"wrote {HERE / 'widget-runtime.js.gz'} ({(HERE / 'widget-runtime.js.gz').stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
