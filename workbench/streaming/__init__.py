"""Spaces larger than memory: sharded on disk, written as they come, read in chunks.

- :class:`ShardWriter` appends rows as atomic shards listed in a manifest;
  an interrupted run resumes after its last complete shard.
- :func:`open_space` / :func:`open_stack` (also ``LatentSpace.open`` and
  ``LayerStack.open``) give a :class:`StreamedSpace` / :class:`StreamedStack`
  that geometry (``knn``, ``StreamingPCA``, LID) reads chunk by chunk.
- :func:`encode_to_shards` encodes a dataset batch by batch straight into a
  store, resumably.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ShardWriter": "workbench.streaming.shards",
    "read_manifest": "workbench.streaming.shards",
    "StreamedSpace": "workbench.streaming.streamed",
    "StreamedStack": "workbench.streaming.streamed",
    "open_space": "workbench.streaming.streamed",
    "open_stack": "workbench.streaming.streamed",
    "encode_to_shards": "workbench.streaming.encode",
    "EncodingJob": "workbench.streaming.encode",
}

__all__ = sorted(set(_EXPORTS) - {"EncodingJob"})  # deprecated: reachable, not advertised


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.streaming' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
