"""kNN at a million points: FAISS IVF against the exact torch search, side by side.

The database is N synthetic vectors of width D (default 1 000 000 x 384, the
width of MiniLM). An exact all-pairs graph of a million points with torch on a
laptop CPU takes hours, so both engines answer the *same fixed set of query
rows* taken from the database (default 10 000, themselves excluded, as in the
graph), and the full-graph time is extrapolated from the per-query rate:

    full graph = build time + (search time / n_queries) x N

Reported per engine: build (FAISS: train + add), search time, queries per
second, recall@k against the exact torch answer, and the extrapolated
full-graph time. FAISS flat (exact) is included to show that it agrees with
torch (recall 1.0) and what exact search costs in FAISS.

Data: a Gaussian mixture (``--clusters`` centres, spread ``--separation``
times the clusters' own: 2.0 by default, overlapping at 1.0) on a
64-dimensional subspace plus isotropic noise, the shape of real embedding
clouds (``--data clustered``, default); ``--data gaussian`` gives
structureless isotropic noise, IVF's worst case.

Run::

    PYTHONPATH=. python benchmarks/bench_knn_scale.py                # the full benchmark
    PYTHONPATH=. python benchmarks/bench_knn_scale.py --n 100000 --queries 2000   # a quick look
"""

from __future__ import annotations

import argparse
import gc
import platform
import time

import numpy as np
import torch

from workbench.geometry.neighbors.chunked import InMemoryVectors
from workbench.geometry.neighbors.faiss_index import build_index, default_nlist, default_nprobe, search_index
from workbench.geometry.neighbors import knn


def make_data(n: int, dim: int, kind: str, clusters: int, separation: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, dim), dtype=np.float32)
    latent_dim = min(64, dim)
    centres = rng.standard_normal((clusters, latent_dim), dtype=np.float32) * separation
    out = np.empty((n, dim), dtype=np.float32)
    basis = np.linalg.qr(rng.standard_normal((dim, latent_dim)))[0].astype(np.float32)
    for start in range(0, n, 100_000):  # in blocks, to keep the temporaries small
        rows = min(100_000, n - start)
        latent = centres[rng.integers(0, clusters, rows)] + rng.standard_normal((rows, latent_dim), dtype=np.float32)
        out[start : start + rows] = latent @ basis.T + 0.1 * rng.standard_normal((rows, dim), dtype=np.float32)
    return out


def recall(found: torch.Tensor, truth: torch.Tensor) -> float:
    k = truth.shape[1]
    hits = (found[:, :, None] == truth[:, None, :]).any(2).sum(1)
    return float(hits.sum()) / (truth.shape[0] * k)


def hms(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--data", choices=["clustered", "gaussian"], default="clustered")
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--separation", type=float, default=2.0,
                        help="spread of the cluster centres over the clusters' own spread (1: overlapping)")
    parser.add_argument("--nlist", type=int, default=None, help="IVF cells (default 4 sqrt(n))")
    parser.add_argument("--nprobe", type=int, nargs="+", default=None, help="cells visited (default: sqrt(nlist)/4, sqrt(nlist), 4 sqrt(nlist))")
    parser.add_argument("--no-flat", action="store_true", help="skip FAISS flat (exact)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss

    shape = f"{args.clusters} clusters, separation {args.separation}" if args.data == "clustered" else "isotropic"
    print(f"# kNN at scale: N={args.n:,} D={args.dim} k={args.k}, {args.queries:,} query rows, data={args.data} ({shape})")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads)")
    started = time.perf_counter()
    x = make_data(args.n, args.dim, args.data, args.clusters, args.separation, args.seed)
    print(f"# data generated in {time.perf_counter() - started:.0f} s ({x.nbytes / 1e9:.2f} GB)")
    source = InMemoryVectors(torch.from_numpy(x))
    rng = np.random.default_rng(args.seed + 1)
    positions = np.sort(rng.choice(args.n, size=args.queries, replace=False))

    # the exact answer for the query rows, themselves excluded: k + 1 neighbours, own row dropped
    started = time.perf_counter()
    raw = knn(x, args.k + 1, queries=x[positions], backend="torch", device="cpu")
    torch_seconds = time.perf_counter() - started
    keep = raw.indices != torch.from_numpy(positions)[:, None]
    # the query row is among its k + 1 nearest (distance 0) unless it has k + 1 exact twins
    truth = torch.stack([row[mask][: args.k] for row, mask in zip(raw.indices, keep)])
    del raw
    rows = [("torch exact", "-", 0.0, torch_seconds, 1.0)]

    queries = InMemoryVectors(torch.from_numpy(x[positions]))

    def run_faiss(label: str, built, params: str) -> None:
        started = time.perf_counter()
        found, _ = search_index(built, source, args.k + 1, queries=queries)
        seconds = time.perf_counter() - started
        keep = found != torch.from_numpy(positions)[:, None]
        found = torch.stack([row[mask][: args.k] for row, mask in zip(found, keep)])
        rows.append((label, params, build_seconds, seconds, recall(found, truth)))

    if not args.no_flat:
        started = time.perf_counter()
        built = build_index(source, metric="euclidean", kind="flat")
        build_seconds = time.perf_counter() - started
        run_faiss("FAISS flat", built, "-")
        del built
        gc.collect()

    nlist = args.nlist or default_nlist(args.n)
    probes = args.nprobe or sorted({max(1, default_nprobe(nlist) // 4), default_nprobe(nlist), min(nlist, 4 * default_nprobe(nlist))})
    started = time.perf_counter()
    built = build_index(source, metric="euclidean", kind="ivf", nlist=nlist, nprobe=probes[0])
    build_seconds = time.perf_counter() - started
    for nprobe in probes:
        faiss.ParameterSpace().set_index_parameter(built.index, "nprobe", nprobe)
        run_faiss("FAISS IVF", built, f"nlist={nlist}, nprobe={nprobe}")

    print()
    print(f"| engine | parameters | build | search {args.queries:,} queries | queries/s | recall@{args.k} | full {args.n:,}-point graph (extrapolated) |")
    print("|---|---|---|---|---|---|---|")
    for label, params, build, search, rec in rows:
        full = build + search / args.queries * args.n
        print(f"| {label} | {params} | {build:.1f} s | {search:.1f} s | {args.queries / search:,.0f} | {rec:.3f} | {hms(full)} |")
    exact_full = torch_seconds / args.queries * args.n
    print()
    for label, params, build, search, rec in rows[1:]:
        full = build + search / args.queries * args.n
        print(f"# {label} ({params}): full graph {exact_full / full:.1f}x faster than exact torch, recall@{args.k} {rec:.3f}")


if __name__ == "__main__":
    main()
