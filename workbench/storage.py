"""Atomic writes of folders and files.

Everything the workbench writes to disk (saved spaces, cache entries, shards)
goes through :func:`atomic_directory` or :func:`atomic_file`: the content is
written next to its destination under a hidden temporary name and renamed into
place only once it is complete. A run that is interrupted (an exception, a
kill, a full disk) leaves the previous version untouched and nothing
half-written under the destination name.

Replacing an existing folder takes two renames (old aside, new in). A crash
between them leaves the old version under ``.<name>.old-<token>``;
:func:`recover_directory` puts it back, and the loaders call it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_directory", "atomic_file", "recover_directory"]


def _sibling(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name}.{kind}-{uuid.uuid4().hex[:12]}"


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` once the block succeeds.

    Parameters
    ----------
    path : path-like
        Final location of the folder.
    overwrite : bool, default True
        Replace an existing folder. With False an existing ``path`` raises
        ``FileExistsError`` before anything is written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("done")
    >>> (root / "out" / "a.txt").read_text()
    'done'
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a folder; refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        if path.exists():
            old = _sibling(path, "old")
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file that atomically replaces ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def recover_directory(path: str | os.PathLike) -> bool:
    """Put back a folder that a crash left aside during a replacement.

    Returns True when a previous version was restored. Does nothing when
    ``path`` exists or when no unambiguous previous version is found.
    """
    path = Path(path)
    if path.exists() or not path.parent.is_dir():
        return False
    aside = sorted(path.parent.glob(f".{path.name}.old-*"))
    if len(aside) != 1:
        return False
    os.rename(aside[0], path)
    return True
