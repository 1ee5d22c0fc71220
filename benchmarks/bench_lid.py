"""Local intrinsic dimension: workbench vs scikit-dimension, side by side.

The reference is what "Less is More" (Ruppik et al. 2025) runs:
``skdim.id.TwoNN(discard_fraction=0.1).fit_pw(X, n_neighbors=128, n_jobs=1, smooth=False)``.
Ours is ``workbench.LocalIntrinsicDimension(n_neighbors=128).fit(X)``. Both
timings include the neighbour search (scikit-dimension runs its own
``NearestNeighbors`` inside ``fit_pw``; ours runs ``workbench.geometry.neighbors.knn``).

A third column is torchid's CPU path, ``torchid.asPointwise(X, TwoNN,
n_neighbors=128)`` (a torch port of scikit-dimension that still loops over
points). torchid needs Python >= 3.13, so on older interpreters its
pure-Python wheel is loaded by path: ``pip download --no-deps
--python-version 3.13 --only-binary=:all: torchid -d DIR`` and pass
``--torchid-wheel DIR/torchid-*.whl`` (its ``__init__`` imports torchmetrics
for a part not used here, so only the estimator modules are loaded).

The data has a known dimension: a 10-D ball rotated into 768-D plus tiny
isotropic noise, float32 like real embeddings.

Usage::

    python benchmarks/bench_lid.py                 # N = 5000 side by side on 1 and 2 threads, N = 50 000 ours, GPU N = 200 000 if any
    python benchmarks/bench_lid.py --quick         # N = 1000 side by side only (a minute)
    python benchmarks/bench_lid.py --skip-large --threads 1,2 --torchid-wheel /tmp/torchid-0.5.1-py3-none-any.whl

Results go to ``benchmarks/bench_lid.json`` (and are printed as a table).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from workbench.geometry.intrinsic import LocalIntrinsicDimension

HERE = Path(__file__).resolve().parent


def ball_in_768d(n: int, *, d: int = 10, width: int = 768, noise: float = 1e-4, seed: int = 0) -> np.ndarray:
    """``n`` points uniform in a ``d``-ball, rotated into ``width`` dimensions, plus noise."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=(n, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    ball = direction * rng.uniform(size=(n, 1)) ** (1.0 / d)
    rotation, _ = np.linalg.qr(rng.normal(size=(width, d)))
    return (ball @ rotation.T + noise * rng.normal(size=(n, width))).astype(np.float32)


def time_ours(x: np.ndarray, *, device: str, n_neighbors: int = 128) -> tuple[float, float, np.ndarray]:
    """Wall seconds, CPU seconds of this process, per-point estimates."""
    if device == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    lid = LocalIntrinsicDimension(n_neighbors=n_neighbors, device=device).fit(x).lid_
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu, lid


def time_skdim(x: np.ndarray, *, n_neighbors: int = 128) -> tuple[float, float, np.ndarray]:
    import skdim

    wall, cpu = time.perf_counter(), time.process_time()
    model = skdim.id.TwoNN(discard_fraction=0.1).fit_pw(x, n_neighbors=n_neighbors, n_jobs=1, smooth=False)
    return time.perf_counter() - wall, time.process_time() - cpu, model.dimension_pw_


def load_torchid(wheel: Path | None):
    """torchid's ``asPointwise`` and ``TwoNN``: installed, or from its wheel by path; None if neither."""
    import importlib
    import sys
    import types

    try:
        from torchid import asPointwise, estimators

        return asPointwise, estimators.TwoNN
    except ImportError:
        if wheel is None:
            return None
    package = types.ModuleType("torchid")  # skip its __init__ (torchmetrics, unused here)
    package.__path__ = [f"{wheel}/torchid"]
    sys.modules["torchid"] = package
    wrappers = importlib.import_module("torchid.wrappers")
    return wrappers.asPointwise, importlib.import_module("torchid.estimators").TwoNN


def time_torchid(x: np.ndarray, torchid, *, n_neighbors: int = 128) -> tuple[float, float, np.ndarray]:
    as_pointwise, two_nn = torchid
    wall, cpu = time.perf_counter(), time.process_time()
    lid = as_pointwise(torch.from_numpy(x), two_nn, n_neighbors=n_neighbors, discard_fraction=0.1)
    return time.perf_counter() - wall, time.process_time() - cpu, lid.cpu().numpy()


def set_threads(threads: int) -> None:
    """Torch, BLAS and numba (which scikit-dimension's and umap's paths may use) all on ``threads``."""
    import numba
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)
    numba.set_num_threads(threads)


def side_by_side(n: int, torchid=None) -> dict:
    x = ball_in_768d(n)
    time_ours(x[:300], device="cpu", n_neighbors=32)  # warm-up: imports, thread pools, compiled kernels
    ours_s, ours_cpu, ours = time_ours(x, device="cpu")
    ref_s, ref_cpu, ref = time_skdim(x)
    extra = {}
    if torchid is not None:
        tid_s, tid_cpu, tid = time_torchid(x, torchid)
        extra = {"torchid_s": round(tid_s, 3), "torchid_cpu_s": round(tid_cpu, 3),
                 "speedup_vs_torchid": round(tid_s / ours_s, 1),
                 "max_abs_diff_torchid": float(np.nanmax(np.abs(ours - tid)))}  # fmt: skip
    return {
        "threads": torch.get_num_threads(),
        **extra,
        "n": n,
        "d_true": 10,
        "ours_s": round(ours_s, 3),
        "skdim_s": round(ref_s, 3),
        "speedup": round(ref_s / ours_s, 1),
        # CPU seconds (all threads): less sensitive to other load than wall time
        "ours_cpu_s": round(ours_cpu, 3),
        "skdim_cpu_s": round(ref_cpu, 3),
        "max_abs_diff": float(np.max(np.abs(ours - ref))),
        "mean_lid_ours": float(np.mean(ours)),
        "mean_lid_skdim": float(np.mean(ref)),
    }


def ours_alone(n: int, device: str) -> dict:
    x = ball_in_768d(n)
    seconds, cpu, lid = time_ours(x, device=device)
    return {"n": n, "device": device, "ours_s": round(seconds, 3), "ours_cpu_s": round(cpu, 3), "mean_lid": float(np.mean(lid))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1000 side by side only")
    parser.add_argument("--skip-large", action="store_true", help="no N = 50 000 / 200 000 runs")
    parser.add_argument("--threads", default="1,2", help="thread counts to run the side-by-side on (torch, BLAS, numba; all sides)")
    parser.add_argument("--torchid-wheel", type=Path, default=None, help="torchid wheel to load by path when not installed")
    parser.add_argument("--output", type=Path, default=HERE / "bench_lid.json")
    args = parser.parse_args()
    thread_counts = [int(t) for t in str(args.threads).split(",")]
    torchid = load_torchid(args.torchid_wheel)

    results: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_at_start": os.getloadavg(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "setting": "D = 768, k = 128, 10-D ball + 1e-4 noise, float32; both timings include the kNN search",
    }
    results["side_by_side"] = []
    for threads in thread_counts:
        set_threads(threads)
        row = side_by_side(1000 if args.quick else 5000, torchid)
        results["side_by_side"].append(row)
        versus = f"   torchid {row['torchid_s']:8.2f} s ({row['speedup_vs_torchid']:.1f}x)" if "torchid_s" in row else ""
        print(
            f"threads={threads} N={row['n']:>6}  ours {row['ours_s']:8.2f} s   scikit-dimension {row['skdim_s']:8.2f} s   "
            f"speed-up {row['speedup']:6.1f}x (CPU time {row['skdim_cpu_s'] / row['ours_cpu_s']:.1f}x){versus}   "
            f"max |diff| {row['max_abs_diff']:.2e}   mean LID {row['mean_lid_ours']:.3f} (true 10)",
            flush=True,
        )
    set_threads(max(thread_counts))
    results["ours_alone"] = []
    if not (args.quick or args.skip_large):
        runs = [(50_000, "cpu")] + ([(200_000, "cuda")] if torch.cuda.is_available() else [])
        for n, device in runs:
            row = ours_alone(n, device)
            results["ours_alone"].append(row)
            print(f"N={n:>6}  ours on {device}: {row['ours_s']:.2f} s   mean LID {row['mean_lid']:.3f}")
    results["machine"]["load_average_at_end"] = os.getloadavg()
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
