"""Which local images a report may copy into its page, and as what.

A report inlines the pictures a notebook's markdown links to (``![](x.png)``,
``<img src="x.png">``, cell attachments), so that the page stands alone. The
page is then sent to other people; whatever is inlined leaves the machine.
So only a real image file inside the notebook's own folder is inlined:

* the link is relative, without ``..``; an absolute path, a ``file:`` or
  other URL is left as it is (the browser resolves it, nothing is copied);
* the file, symlinks followed, is a regular file inside the folder: a link
  ``x.png -> ~/secret.txt`` is not followed out;
* its first bytes are those of a PNG, JPEG, GIF, WebP, BMP or SVG image, and
  its type is taken from them, not from its name.

Anything else stays a link, with the reason recorded for the user.

Examples
--------
>>> import base64, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "dot.gif").write_bytes(b"GIF89a" + bytes(20))
>>> image_data_url(folder, "dot.gif")[:22]
'data:image/gif;base64,'
>>> _ = (folder / "notes.png").write_text("not a picture")
>>> image_data_url(folder, "notes.png") is None
True
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from urllib.parse import unquote

__all__ = ["image_data_url", "attachment_data_url", "image_type", "refusal", "MAX_IMAGE_BYTES"]

#: Larger files stay links: a report is meant to be mailed.
MAX_IMAGE_BYTES = 50 * 2**20

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_SVG = re.compile(rb"^(\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]", re.DOTALL | re.IGNORECASE)


def image_type(head: bytes) -> str | None:
    """The MIME type of an image from its first bytes (at least 512), or None when it is not one.

    Examples
    --------
    >>> image_type(b"\\x89PNG\\r\\n\\x1a\\n...")
    'image/png'
    >>> image_type(b"password=hunter2") is None
    True
    """
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if _SVG.match(head):
        return "image/svg+xml"
    return None


def refusal(folder: str | os.PathLike, src: str) -> str | None:
    """Why ``src`` (a link in a notebook in ``folder``) may not be inlined, or None when it may."""
    link = unquote(src.split("#", 1)[0].split("?", 1)[0])
    if not link or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link) or link.startswith(("/", "\\", "~")):
        return "not a relative path"
    if ".." in re.split(r"[\\/]", link):
        return "it leaves the notebook's folder (..)"
    root = Path(folder).resolve()
    try:
        target = (root / link).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, a name the system refuses
        return "no such file"
    if not target.is_relative_to(root):
        return "a symlink that points outside the notebook's folder"
    if not target.is_file():
        return "not a regular file"
    if target.stat().st_size > MAX_IMAGE_BYTES:
        return f"larger than {MAX_IMAGE_BYTES >> 20} MB"
    with open(target, "rb") as handle:
        if image_type(handle.read(512)) is None:
            return "not an image (its first bytes are not those of PNG, JPEG, GIF, WebP, BMP or SVG)"
    return None


def image_data_url(folder: str | os.PathLike, src: str) -> str | None:
    """A ``data:`` URL of the image ``src`` links to from ``folder``, or None when it must stay a link.

    Parameters
    ----------
    folder : path
        The notebook's folder.
    src : str
        The link as written in the notebook (relative, maybe percent-encoded).

    Returns
    -------
    str or None
        ``data:<type from the bytes>;base64,...``; None when :func:`refusal` gives a reason.
    """
    if refusal(folder, src) is not None:
        return None
    data = (Path(folder).resolve() / unquote(src.split("#", 1)[0].split("?", 1)[0])).resolve().read_bytes()
    mime = image_type(data[:512])
    if mime is None:  # replaced between the check and the read
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def attachment_data_url(bundle: dict[str, str]) -> str | None:
    """A ``data:`` URL of a cell attachment (``{mime: base64}``) whose bytes are an image, or None.

    The type is the one the bytes say; an attachment that is not an image is not inlined.

    Examples
    --------
    >>> attachment_data_url({"image/png": base64.b64encode(b"GIF89a" + bytes(9)).decode()})[:15]
    'data:image/gif;'
    >>> attachment_data_url({"image/png": base64.b64encode(b"<script>steal()</script>").decode()}) is None
    True
    """
    for encoded in bundle.values():
        if not isinstance(encoded, str):
            continue
        try:
            data = base64.b64decode(encoded, validate=False)
        except ValueError:
            continue
        mime = image_type(data[:512])
        if mime is not None:
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return None
