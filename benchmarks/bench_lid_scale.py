"""Token-level LID at a million points, from a space on disk (meant for a GPU).

Writes N synthetic token-like vectors (a 12-dimensional curved sheet in
D = 384 with noise and 1 % exact copies, float32) to a sharded store, opens it
with ``LatentSpace.open`` (nothing loaded), and times
``LocalIntrinsicDimension(n_neighbors=128).fit(store)``: the 128-NN graph over
chunks (``backend="auto"``: exact torch on a GPU, FAISS flat above the bar on
a CPU) and the per-point TwoNN. ``--store`` runs it on a real store instead,
e.g. one written by ``encode_to_shards(..., pooling="tokens")``.

On a CPU a million points take hours (the exact graph alone: see
``bench_knn_scale.py``); the script refuses N above 100 000 there unless
``--force``.

Run::

    PYTHONPATH=. python benchmarks/bench_lid_scale.py                  # N = 1 000 000 on a GPU
    PYTHONPATH=. python benchmarks/bench_lid_scale.py --n 20000         # a quick look on a CPU
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import torch

from workbench import LatentSpace
from workbench.device import resolve_device
from workbench.geometry.intrinsic import LocalIntrinsicDimension
from workbench.streaming import ShardWriter


def write_store(root: str, n: int, dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((24, dim)).astype(np.float32)
    with ShardWriter(root, name="synthetic tokens") as writer:
        for start in range(0, n, 100_000):
            rows = min(100_000, n - start)
            latent = rng.uniform(size=(rows, 12)).astype(np.float32)
            x = np.hstack([latent, np.sin(3 * latent)]) @ basis + 0.01 * rng.standard_normal((rows, dim), np.float32)
            copies = rng.random(rows) < 0.01  # repeated tokens
            x[copies] = x[rng.integers(0, rows, int(copies.sum()))]
            writer.write(x, pd.DataFrame({"id": np.arange(start, start + rows)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--store", default=None, help="a sharded store to use instead of synthetic data")
    parser.add_argument("--layer", default=None, help="the store's layer (for a multi-layer store)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--force", action="store_true", help="run a large N on a CPU anyway")
    args = parser.parse_args()

    device = resolve_device(args.device)
    if args.store is None and device.type == "cpu" and args.n > 100_000 and not args.force:
        raise SystemExit(f"N={args.n:,} on a CPU takes hours; run on a GPU, pass a smaller --n, or --force")
    root = args.store
    if root is None:
        root = tempfile.mkdtemp() + "/tokens"
        started = time.perf_counter()
        write_store(root, args.n, args.dim, seed=0)
        print(f"# wrote {args.n:,} x {args.dim} synthetic token vectors in {time.perf_counter() - started:.0f} s")
    layer = None if args.layer is None else (int(args.layer) if args.layer.lstrip("-").isdigit() else args.layer)
    space = LatentSpace.open(root, layer=layer)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# {space!r}\n# device: {device} ({name}), torch {torch.__version__}")

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the copies are reported; the count is printed below
        lid = LocalIntrinsicDimension(n_neighbors=128, device=str(device), progress=True).fit(space)
    seconds = time.perf_counter() - started
    print()
    print("| points | device | neighbour graph | LID (128-NN TwoNN), total | mean LID | copies merged |")
    print("|---|---|---|---|---|---|")
    print(f"| {space.n:,} | {name} | {lid.knn_graph_.backend} | {seconds:.0f} s | {np.nanmean(lid.lid_):.2f} | "
          f"{lid.n_duplicates_:,} |")


if __name__ == "__main__":
    main()
