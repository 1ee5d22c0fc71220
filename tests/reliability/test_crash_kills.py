"""SIGKILL a saving process at random moments: the last completed version always loads.

For each object type (LatentSpace, LayerStack, sharded store) a child process
saves version after version to one path and says when each save starts and
ends. The parent aims each kill inside a save (a random delay up to the
measured save duration after a save starts) and counts how many landed
inside. After a kill it loads the path (or, one time in three, lets the next
child start on the wreck, so that two crashes come in a row) and checks that
what loads is the last completed version or the one in flight, whole.

Children are forked from a preloaded fork server, so each kill costs
milliseconds, not an interpreter start.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import statistics
import time

import numpy as np
import pandas as pd
import pytest

from tests.reliability import _savers
from workbench import LatentSpace, LayerStack
from workbench.streaming import ShardWriter, open_stack

KILLS = 20
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["workbench.space", "workbench.streaming.shards", "tests.reliability._savers"])


def _kill_one(target, args, rng: random.Random, durations: list[float]) -> tuple[list, bool]:
    """Start a child, kill it inside a save; return its messages and whether the kill landed inside one."""
    receive, send = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=target, args=(*args, send), daemon=True)
    process.start()
    send.close()
    messages, started, done_here = [], {}, 0
    let_finish = rng.randint(0, 2)
    while True:
        assert receive.poll(30), "the saving child went silent"
        message = receive.recv()
        messages.append(message)
        event, version, stamp = message
        if event == "start":
            started[version] = stamp
            if done_here >= let_finish and durations:
                break
        else:
            durations.append(stamp - started[version])
            done_here += 1
    time.sleep(rng.uniform(0.0, 1.1 * statistics.median(durations)))
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    while True:  # what it said before dying (the last message may be cut)
        try:
            if not receive.poll(0):
                break
            messages.append(receive.recv())
        except (EOFError, OSError, ValueError, Exception):
            break
    receive.close()
    return messages, messages[-1][0] == "start"


def _check_version(loaded, kind: str, low: int, high: int) -> int:
    version = int(loaded.name.lstrip("v"))
    assert low <= version <= high, f"loaded version {version}; the last completed was {low}, the last started {high}"
    if kind == "space":
        assert bool((loaded.vectors == version).all())
    else:
        assert loaded.layers == [0, 1, 2]
        assert bool((loaded[0].vectors == version).all()) and bool((loaded[1].vectors == version + 0.5).all())
        assert bool((loaded[2].vectors == -version).all())
    assert loaded.ids.tolist() == [f"r{i}" for i in range(_savers.ROWS)]
    return version


@pytest.mark.parametrize("kind", ["space", "stack"])
def test_killed_saves_never_lose_the_last_version(tmp_path, kind):
    cls = LatentSpace if kind == "space" else LayerStack
    build = _savers.space if kind == "space" else _savers.stack
    path = tmp_path / "saved"
    build(0).save(path)
    rng, durations = random.Random(14 + len(kind)), []
    last_done, last_started, inside, kills = 0, 0, 0, 0
    began = time.perf_counter()
    while kills < KILLS:
        messages, landed = _kill_one(_savers.save_versions, (kind, str(path), last_started + 1), rng, durations)
        kills += 1
        inside += landed
        last_done = max([last_done] + [v for event, v, _ in messages if event == "done"])
        last_started = max([last_started] + [v for event, v, _ in messages if event == "start"])
        if rng.random() < 1 / 3 and kills < KILLS:
            continue  # two crashes in a row: the next child starts on what this one left
        _check_version(cls.load(path), kind, last_done, last_started)
    assert inside >= KILLS * 0.6, f"only {inside} of {kills} kills landed inside a save"
    build(last_started + 1).save(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["saved"], "the next save must clean every leftover"
    assert time.perf_counter() - began < 60


def test_killed_shard_writes_keep_every_complete_shard(tmp_path):
    path = tmp_path / "store"
    rng, durations = random.Random(15), []
    last_done, last_started, inside = -1, -1, 0
    for _ in range(KILLS):
        messages, landed = _kill_one(_savers.write_shards, (str(path),), rng, durations)
        inside += landed
        last_done = max([last_done] + [v for event, v, _ in messages if event == "done"])
        last_started = max([last_started] + [v for event, v, _ in messages if event == "start"])
        store = open_stack(path, partial=True)
        shards = store.n // (_savers.ROWS // 4)
        assert last_done + 1 <= shards <= last_started + 1
        values = store[0].load().vectors[:, 0].numpy()
        np.testing.assert_array_equal(values, np.repeat(np.arange(shards, dtype=np.float32), _savers.ROWS // 4))
        assert len(set(store.meta["id"])) == store.n
    assert inside >= KILLS * 0.6, f"only {inside} of {KILLS} kills landed inside a write"
    with ShardWriter(path) as writer:  # the next successful run cleans what the kills left
        writer.write({0: np.zeros((1, _savers.DIM), np.float32), 1: np.zeros((1, _savers.DIM), np.float32)},
                     pd.DataFrame({"id": ["last"]}))  # fmt: skip
    hidden = [p.name for folder in (path, path / "shards") for p in folder.iterdir() if p.name.startswith(".")]
    assert hidden == []
