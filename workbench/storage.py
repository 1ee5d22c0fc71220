"""Atomic writes of folders and files (kept for its importers; the code lives in :mod:`workbench._format`).

Everything the workbench writes to disk (saved spaces, cache entries, shards,
reports) goes through :func:`atomic_directory` or :func:`atomic_file`: the
content is written next to its destination under a hidden temporary name and
renamed into place only once it is complete. :func:`recover_directory`
finishes a replacement that a crash interrupted between its two renames.
"""

from __future__ import annotations

from workbench._format import atomic_directory, atomic_file, recover_directory

__all__ = ["atomic_directory", "atomic_file", "recover_directory"]
