"""The encode cache: a second call with the same inputs loads instead of recomputing.

An entry is keyed by everything that decides the vectors: the model's
identity (hub id + resolved commit, or a hash of the folder's files, or a
fingerprint of a loaded model's parameters; see
:mod:`workbench.encoders.loading`), the processor, the layers, the pooling,
the encoder's options, the compute dtype, and a hash of the data (ids and the
modality column; files by path, size and modification time).

What is stored is the vectors and the row structure only (``id``, and for
token/frame rows ``sample_id``, ``position``, ``token`` / ``time``): the
other meta columns are taken from the DataFrame of the call, so relabelling
the data never needs a recompute, and columns parquet cannot hold (PIL
images, raw audio) never reach the disk.

An entry is a folder ``<root>/<key[:2]>/<key>/`` holding the saved
:class:`~workbench.space.LayerStack` and ``entry.json`` with the size and
BLAKE2 hash of every file. It is written atomically; on load every file is
checked, and an entry that fails (truncated, flipped bytes, missing file,
unreadable) is reported with a :class:`CacheWarning`, removed, and
recomputed. It is never used.

The root is ``$WORKBENCH_CACHE/encode`` when that variable is set, else
``$XDG_CACHE_HOME/workbench/encode`` (``~/.cache/workbench/encode``).

The cache is bounded: after each store, the entries used longest ago are
removed until the whole fits under the limit, ``max_bytes`` or
``$WORKBENCH_CACHE_LIMIT`` (``"2GB"``, ``"500MB"``, ``"0"`` for none; default
5 GB). Loading an entry counts as using it. ``workbench cache`` lists the
entries; ``workbench cache clear [--older-than 7d]`` removes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench._format import atomic_directory
from workbench.encoders.reporting import warn
from workbench.space import LayerStack

__all__ = [
    "CACHE_VERSION", "CacheEntry", "CacheWarning", "DEFAULT_LIMIT", "EncodeCache", "cache_key", "cache_limit",
    "default_cache_dir", "parse_size",
]

#: Bumped whenever a change in the encoders changes the vectors they produce.
CACHE_VERSION = 1

_FORMAT = "workbench.encode-cache"
_STACK = "stack"
_MANIFEST = "entry.json"

log = logging.getLogger("workbench.encoders")

#: The size the cache is kept under when neither ``max_bytes`` nor ``$WORKBENCH_CACHE_LIMIT`` says otherwise.
DEFAULT_LIMIT = 5 * 10**9
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12,
          "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str | int) -> int:
    """Bytes in a size such as ``"500MB"``, ``"2 GiB"`` or ``1024``.

    Examples
    --------
    >>> parse_size("1.5GB"), parse_size("200 MiB"), parse_size(0)
    (1500000000, 209715200, 0)
    """
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"expected a size such as 500MB, 2GB or 1GiB; got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def cache_limit() -> int | None:
    """The size limit from ``$WORKBENCH_CACHE_LIMIT`` (None when it is 0: no limit), else :data:`DEFAULT_LIMIT`."""
    text = os.environ.get("WORKBENCH_CACHE_LIMIT")
    if text is None or not text.strip():
        return DEFAULT_LIMIT
    try:
        limit = parse_size(text)
    except ValueError as exc:
        raise ValueError(f"WORKBENCH_CACHE_LIMIT: {exc}") from None
    return limit or None


@dataclass(frozen=True)
class CacheEntry:
    """One stored encoding: where, how big, when last used, and what it holds (the key's parts)."""

    key: str
    path: Path
    size: int
    last_used: float
    parts: dict


class CacheWarning(UserWarning):
    """A cache entry was corrupted and has been recomputed."""


def default_cache_dir() -> Path:
    """``$WORKBENCH_CACHE/encode``, else ``$XDG_CACHE_HOME/workbench/encode`` (``~/.cache/...``)."""
    root = os.environ.get("WORKBENCH_CACHE")
    if root:
        return Path(root).expanduser() / "encode"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "workbench" / "encode"


def cache_key(parts: Mapping[str, Any]) -> str:
    """A stable key for a JSON-serialisable description of an encoding.

    Examples
    --------
    >>> cache_key({"a": 1, "b": [2]}) == cache_key({"b": [2], "a": 1})
    True
    """
    text = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(4 * 2**20), b""):
            digest.update(block)
    return digest.hexdigest()


class EncodeCache:
    """Saved encodings under a root folder.

    Parameters
    ----------
    root : path, optional
        Defaults to :func:`default_cache_dir`.

    Examples
    --------
    >>> import tempfile, torch, pandas as pd
    >>> cache = EncodeCache(tempfile.mkdtemp())
    >>> stack = LayerStack({0: torch.ones(2, 3)}, meta=pd.DataFrame({"id": [1, 2]}))
    >>> _ = cache.store("k" * 40, stack, {"model": "demo"})
    >>> cache.load("k" * 40).tensor().shape
    torch.Size([1, 2, 3])
    """

    def __init__(self, root: str | os.PathLike | None = None, *, max_bytes: int | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.max_bytes = parse_size(max_bytes) if max_bytes is not None else cache_limit()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def __contains__(self, key: str) -> bool:
        return (self.path(key) / _MANIFEST).is_file()

    def store(self, key: str, stack: LayerStack, parts: Mapping[str, Any]) -> Path:
        """Save ``stack`` under ``key``, atomically, with checksums of every file."""
        entry = self.path(key)
        with atomic_directory(entry) as tmp:
            stack.save(tmp / _STACK)
            files = {
                str(path.relative_to(tmp)): {"size": path.stat().st_size, "blake2b": _file_hash(path)}
                for path in sorted((tmp / _STACK).rglob("*"))
                if path.is_file()
            }
            manifest = {"format": _FORMAT, "cache_version": CACHE_VERSION, "key": key, "parts": dict(parts), "files": files}
            (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        log.info("stored encoding in the cache at %s", entry)
        if self.max_bytes:
            self.evict(self.max_bytes, keep=key)
        return entry

    def _problem(self, entry: Path, key: str) -> str | None:
        """Why the entry cannot be trusted, or None when every file checks out."""
        try:
            manifest = json.loads((entry / _MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            return f"its manifest is unreadable ({type(exc).__name__})"
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT or manifest.get("key") != key:
            return "its manifest does not describe this entry"
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            return "its manifest lists no files"
        for name, expected in files.items():
            path = entry / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != expected.get("size"):
                return f"{name} has {path.stat().st_size} bytes, {expected.get('size')} were written"
            if _file_hash(path) != expected.get("blake2b"):
                return f"{name} does not match its checksum"
        return None

    def load(self, key: str) -> LayerStack | None:
        """The stack saved under ``key``; None on a miss or a corrupted entry (warned, removed)."""
        entry = self.path(key)
        if not entry.exists():
            return None
        if not (entry / _MANIFEST).is_file():
            problem: str | None = f"{_MANIFEST} is missing"
        else:
            problem = self._problem(entry, key)
        stack = None
        if problem is None:
            try:
                stack = LayerStack.load(entry / _STACK)
            except Exception as exc:  # any failure to read a verified entry means it cannot be used
                problem = f"it cannot be read ({type(exc).__name__}: {exc})"
        if problem is not None:
            warn(
                f"encode cache entry {entry} is corrupted: {problem}. It was removed and the encoding is recomputed.",
                CacheWarning,
            )
            shutil.rmtree(entry, ignore_errors=True)
            return None
        os.utime(entry / _MANIFEST)  # using an entry makes it the last one eviction takes
        log.info("loaded encoding from the cache at %s", entry)
        return stack

    def _entry_folders(self) -> list[Path]:
        # a ".<key>.tmp-..." sibling is an entry being written by another process: not ours to list or remove
        return [path.parent for path in self.root.glob(f"*/*/{_MANIFEST}") if not path.parent.name.startswith(".")]

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, the one used longest ago first.

        Examples
        --------
        >>> import tempfile
        >>> EncodeCache(tempfile.mkdtemp()).entries()
        []
        """
        found = []
        for entry in self._entry_folders():
            manifest = entry / _MANIFEST
            try:
                info = json.loads(manifest.read_text())
                size = sum(path.stat().st_size for path in entry.rglob("*") if path.is_file())
                used = manifest.stat().st_mtime
            except (OSError, ValueError):
                continue  # being written or removed right now; a later listing sees it
            parts = info.get("parts") if isinstance(info, dict) and isinstance(info.get("parts"), dict) else {}
            found.append(CacheEntry(entry.name, entry, size, used, parts))
        return sorted(found, key=lambda e: e.last_used)

    def size(self) -> int:
        """Bytes held by the complete entries."""
        return sum(entry.size for entry in self.entries())

    def evict(self, max_bytes: int, *, keep: str | None = None) -> list[CacheEntry]:
        """Remove the entries used longest ago until the cache holds at most ``max_bytes``.

        ``keep`` (a key) is never removed: the entry just written stays even
        when it alone is over the limit. Returns the removed entries.
        """
        entries = self.entries()
        total = sum(entry.size for entry in entries)
        removed = []
        for entry in entries:
            if total <= max_bytes:
                break
            if entry.key == keep:
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            total -= entry.size
            removed.append(entry)
        if removed:
            log.info("encode cache over %d bytes: removed the %d entries used longest ago", max_bytes, len(removed))
        return removed

    def clear(self, *, older_than: float | None = None) -> int:
        """Remove every entry, or those not used for ``older_than`` seconds; returns how many.

        Examples
        --------
        >>> import tempfile
        >>> EncodeCache(tempfile.mkdtemp()).clear(older_than=86400)
        0
        """
        entries = self._entry_folders()
        if older_than is not None:
            cutoff = time.time() - older_than
            entries = [entry for entry in entries if (entry / _MANIFEST).stat().st_mtime < cutoff]
        for entry in entries:
            shutil.rmtree(entry, ignore_errors=True)
        return len(entries)
