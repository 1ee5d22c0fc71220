"""What the crash test's child processes do: save version after version, saying when each starts and ends.

Version ``v`` of a space has every vector equal to ``v`` and the name
``"v<v>"``, so a loaded version proves by itself that it is whole. The child
sends ``("start", v, t)`` before a save and ``("done", v, t)`` after it, with
``t`` from ``time.perf_counter``: the parent uses the durations to aim its
SIGKILL inside a save (and counts how many did land inside).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

ROWS, DIM = 64, 8


def space(version: int):
    from workbench import LatentSpace

    meta = pd.DataFrame({"id": [f"r{i}" for i in range(ROWS)], "text": ["x" * 20] * ROWS})
    return LatentSpace(torch.full((ROWS, DIM), float(version)), meta, name=f"v{version}")


def stack(version: int):
    from workbench import LayerStack

    base = space(version)
    return LayerStack({0: base, 1: base.with_vectors(base.vectors + 0.5), 2: base.with_vectors(-base.vectors)},
                      name=f"v{version}")  # fmt: skip


def save_versions(kind: str, path: str, first: int, conn) -> None:
    """Save ``first``, ``first + 1``, ... to ``path`` until killed."""
    build = space if kind == "space" else stack
    version = first
    while True:
        obj = build(version)
        conn.send(("start", version, time.perf_counter()))
        obj.save(path, overwrite=True)
        conn.send(("done", version, time.perf_counter()))
        version += 1


def write_shards(path: str, conn) -> None:
    """Append shards to the store at ``path`` (resuming it) until killed; shard ``k`` holds rows of value ``k``."""
    from workbench.streaming import ShardWriter

    writer = ShardWriter(path)
    while True:
        k = writer.rows_written // (ROWS // 4)
        vectors = {0: np.full((ROWS // 4, DIM), float(k), np.float32), 1: np.full((ROWS // 4, DIM), -float(k), np.float32)}
        meta = pd.DataFrame({"id": [f"s{k}-{i}" for i in range(ROWS // 4)]})
        conn.send(("start", k, time.perf_counter()))
        writer.write(vectors, meta)
        conn.send(("done", k, time.perf_counter()))
