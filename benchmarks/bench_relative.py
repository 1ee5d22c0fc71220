"""Relative projection + cross-space Jaccard@10: workbench against numpy + scikit-learn.

The task of the paper's word-embedding study at a transformer's width: two
spaces of N samples (B is A rotated, rescaled and perturbed), projected onto
the same anchors by cosine similarity, then Jaccard@k of retrieval across the
two relative spaces (relreps' measure).

- ours: ``RelativeProjection`` (torch, chunked, GPU when there is one) and
  ``compare(..., metrics=("jaccard",))`` on ``workbench.geometry.neighbors.knn``;
- reference: the same computation written plainly: numpy normalisation and
  matrix product, ``sklearn.neighbors.NearestNeighbors(metric="cosine",
  algorithm="brute")`` for both searches, and numpy set overlaps.

Both must give the same Jaccard (ties aside); the script checks it and prints
the times and their ratio.

Run: ``PYTHONPATH=. python benchmarks/bench_relative.py [--n 20000 --dim 768 --anchors 1000 --k 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch


def make_spaces(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two views of clustered samples on a 32-d subspace, like two models of one data set.

    B sees each sample's latent point perturbed, through another linear map
    (A's map rotated and rescaled), so the relative spaces agree on much of
    the neighbourhood structure but not all of it.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(64, 32))
    z = centres[rng.integers(64, size=n)] + rng.normal(size=(n, 32))
    mixing = rng.normal(size=(32, dim))
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    a = z @ mixing + 0.5 * rng.normal(size=(n, dim))
    b = 2.5 * ((z + 0.6 * rng.normal(size=z.shape)) @ mixing @ q) + 0.5 * rng.normal(size=(n, dim))
    return a.astype(np.float32), b.astype(np.float32)


def ours(a: np.ndarray, b: np.ndarray, anchors: np.ndarray, k: int, device: str) -> float:
    from workbench import LatentSpace
    from workbench.geometry.compare import compare
    from workbench.geometry.relative import RelativeProjection

    space_a, space_b = LatentSpace(a, name="A"), LatentSpace(b, name="B")
    rel_a = RelativeProjection(anchors=anchors, device=device).fit_transform(space_a)
    rel_b = RelativeProjection(anchors=anchors, device=device).fit_transform(space_b)
    return float(compare(rel_a, rel_b, k=k, metrics=("jaccard",), device=device)["jaccard"])


def reference(a: np.ndarray, b: np.ndarray, anchors: np.ndarray, k: int) -> float:
    from sklearn.neighbors import NearestNeighbors

    def relative(x: np.ndarray) -> np.ndarray:
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        return unit @ unit[anchors].T

    rel_a, rel_b = relative(a), relative(b)
    index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(rel_b)
    target = index.kneighbors(rel_b, return_distance=False)  # b_i itself first
    found = index.kneighbors(rel_a, return_distance=False)
    inter = (found[:, :, None] == target[:, None, :]).any(2).sum(1)
    return float(np.mean(inter / (2 * k - inter)))


def timed(fn, *args) -> tuple[float, float]:
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--anchors", type=int, default=1_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    from workbench.device import resolve_device

    device = str(resolve_device(args.device))
    a, b = make_spaces(args.n, args.dim)
    anchors = np.random.default_rng(1).choice(args.n, size=args.anchors, replace=False)
    ours(a[:500], b[:500], anchors[anchors < 500][:10], args.k, device)  # warm-up: imports, kernels

    runs = []
    for _ in range(args.repeat):
        jaccard_ours, t_ours = timed(ours, a, b, anchors, args.k, device)
        jaccard_ref, t_ref = timed(reference, a, b, anchors, args.k)
        runs.append((t_ours, t_ref))
    t_ours, t_ref = (min(times) for times in zip(*runs))
    if abs(jaccard_ours - jaccard_ref) > 1e-3:
        raise SystemExit(f"results differ: ours {jaccard_ours:.5f}, reference {jaccard_ref:.5f}")
    result = {
        "n": args.n,
        "dim": args.dim,
        "anchors": args.anchors,
        "k": args.k,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "jaccard": round(jaccard_ours, 5),
        "jaccard_reference": round(jaccard_ref, 5),
        "seconds_ours": round(t_ours, 2),
        "seconds_reference": round(t_ref, 2),
        "speed_up": round(t_ref / t_ours, 2),
    }
    print(f"relative projection + Jaccard@{args.k}: N={args.n}, D={args.dim}, {args.anchors} anchors, on {device}")
    print(f"  workbench            {t_ours:8.2f} s   jaccard {jaccard_ours:.4f}")
    print(f"  numpy + scikit-learn {t_ref:8.2f} s   jaccard {jaccard_ref:.4f}")
    print(f"  speed-up {t_ref / t_ours:.2f}x   (1-min load average {result['load_average_1min']:.1f} on {os.cpu_count()} cores)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
