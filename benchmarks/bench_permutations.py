"""Permutation nulls of mutual kNN and debiased CKA: workbench against a plain numpy loop.

Two related spaces of N rows and width D; the null shuffles the rows of one of
them ``P`` times and recomputes the measure.

- ours: ``compare(A, B, metrics=[measure], n_permutations=P)`` (timed per measure):
  the kNN graphs are computed once and only relabelled per permutation;
  debiased CKA keeps its permutation-invariant terms and recomputes
  ``|X^T Y_p|^2`` as batched float32 products (float64 for the observed value);
- reference: what one writes by hand: scikit-learn's exact kNN once, then per
  permutation numpy set intersections of the relabelled neighbour lists, and
  the debiased CKA formula recomputed in float64 numpy on the shuffled rows.

Both must give the same observed values and null means (within float32
rounding for CKA); the script checks it and prints times and ratios.

Run: ``PYTHONPATH=. python benchmarks/bench_permutations.py [--n 10000 --dim 384 --permutations 1000 --k 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch


def make_spaces(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 32))
    a = z @ rng.normal(size=(32, dim)) + rng.normal(size=(n, dim))
    b = z @ rng.normal(size=(32, dim)) + 2 * rng.normal(size=(n, dim))
    return a.astype(np.float32), b.astype(np.float32)


def ours(a: np.ndarray, b: np.ndarray, k: int, n_permutations: int, device: str) -> dict:
    from workbench import LatentSpace, compare

    space_a, space_b = LatentSpace(a, name="A"), LatentSpace(b, name="B")
    out = {}
    for measure in ("mutual_knn", "cka_debiased"):
        start = time.perf_counter()
        row = compare(space_a, space_b, metrics=[measure], k=k, n_permutations=n_permutations, device=device).loc[measure]
        out[measure] = {"seconds": time.perf_counter() - start, "value": row["value"], "null_mean": row["null_mean"]}
    return out


def _debiased_cka(x: np.ndarray, y: np.ndarray) -> float:
    n = x.shape[0]

    def hsic(u: np.ndarray, v: np.ndarray) -> float:
        ru, rv = (u * u).sum(1), (v * v).sum(1)
        return float(((u.T @ v) ** 2).sum() - n / (n - 2) * ru @ rv + ru.sum() * rv.sum() / ((n - 1) * (n - 2)))

    return hsic(x, y) / np.sqrt(hsic(x, x) * hsic(y, y))


def reference(a: np.ndarray, b: np.ndarray, k: int, n_permutations: int) -> dict:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    perms = [rng.permutation(a.shape[0]) for _ in range(n_permutations)]
    out = {}

    start = time.perf_counter()
    graphs = [
        NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(m).kneighbors(m)[1][:, 1:]
        for m in (a, b)
    ]

    def agreement(na: np.ndarray, nb: np.ndarray) -> float:
        return float((na[:, :, None] == nb[:, None, :]).any(-1).sum(1).mean() / k)

    value = agreement(*graphs)
    null = []
    for p in perms:
        inverse = np.argsort(p)
        null.append(agreement(graphs[0], inverse[graphs[1][p]]))
    out["mutual_knn"] = {"seconds": time.perf_counter() - start, "value": value, "null_mean": float(np.mean(null))}

    start = time.perf_counter()
    x, y = a.astype(np.float64), b.astype(np.float64)
    x, y = x - x.mean(0), y - y.mean(0)
    value = _debiased_cka(x, y)
    null = [_debiased_cka(x, y[p]) for p in perms]
    out["cka_debiased"] = {"seconds": time.perf_counter() - start, "value": value, "null_mean": float(np.mean(null))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: all cores)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)

    a, b = make_spaces(args.n, args.dim)
    mine = ours(a, b, args.k, args.permutations, args.device)
    theirs = reference(a, b, args.k, args.permutations)
    print(f"N={args.n} D={args.dim} k={args.k} permutations={args.permutations} device={args.device} "
          f"threads={torch.get_num_threads()} cores={os.cpu_count()}")
    rows = {}
    for measure in ("mutual_knn", "cka_debiased"):
        m, t = mine[measure], theirs[measure]
        # a neighbour tie broken differently by torch and scikit-learn moves mutual kNN by 1 / (N k)
        assert abs(m["value"] - t["value"]) < 1e-4, (measure, m["value"], t["value"])
        assert abs(m["null_mean"] - t["null_mean"]) < 1e-3, (measure, m["null_mean"], t["null_mean"])
        ratio = t["seconds"] / m["seconds"]
        rows[measure] = {"ours_s": m["seconds"], "numpy_loop_s": t["seconds"], "ratio": ratio,
                         "value": m["value"], "null_mean": m["null_mean"]}
        print(f"{measure:13s} ours {m['seconds']:8.2f} s   numpy loop {t['seconds']:8.2f} s   {ratio:6.1f}x   "
              f"value {m['value']:.4f}  null mean {m['null_mean']:.4f} (numpy {t['null_mean']:.4f})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "results": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
