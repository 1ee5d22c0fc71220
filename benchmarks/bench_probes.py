"""Probe sweep over every layer: workbench's batched torch engine vs one scikit-learn fit per (layer, fold).

The task: N rows x D features x L layers, K balanced classes, 5-fold
stratified cross-validation; a standardised multinomial logistic regression
(C = 1, L-BFGS, at most 100 iterations) per layer and fold. The reference is
what one would write with scikit-learn::

    make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=100)).fit(X_train, y_train)

for each of the L x 5 (layer, fold) pairs. Both sides use the same folds;
the script checks that their per-layer accuracies agree (within 0.01) before
it reports the times and the speed-up (reference time / workbench time).

Usage::

    PYTHONPATH=. python benchmarks/bench_probes.py                 # N=20000, D=768, 12 layers
    PYTHONPATH=. python benchmarks/bench_probes.py --quick         # N=4000, D=256, 6 layers
    PYTHONPATH=. python benchmarks/bench_probes.py --reference-layers 3   # time sklearn on 3 layers, extrapolate

Results go to ``benchmarks/bench_probes.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def make_stack(n: int, dim: int, n_layers: int, n_classes: int, seed: int = 0):
    """Gaussian classes whose separation rises then falls over layers (a mid-network peak)."""
    from workbench import LayerStack

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    centres = rng.normal(size=(n_classes, dim)).astype(np.float32)
    peak = (n_layers - 1) / 2
    layers = {}
    for layer in range(n_layers):
        strength = 0.08 * np.exp(-((layer - peak) / (n_layers / 3)) ** 2)
        layers[layer] = rng.normal(size=(n, dim)).astype(np.float32) + strength * centres[labels]
    meta = pd.DataFrame({"id": np.arange(n), "label": np.array([f"c{k}" for k in range(n_classes)])[labels]})
    return LayerStack(layers, meta=meta)


def run_reference(stack, tests, layers) -> tuple[float, dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = stack.labels("label").astype(str)
    accuracy = {}
    start = time.perf_counter()
    for layer in layers:
        X = stack[layer].numpy()
        scores = []
        for test in tests:
            train = np.setdiff1d(np.arange(len(y)), test)
            model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=100))
            model.fit(X[train], y[train])
            scores.append(float(np.mean(model.predict(X[test]) == y[test])))
        accuracy[layer] = float(np.mean(scores))
    return time.perf_counter() - start, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="N=4000, D=256, 6 layers")
    parser.add_argument("--reference-layers", type=int, default=None,
                        help="time scikit-learn on this many layers only and extrapolate to all")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.quick:
        args.n, args.dim, args.layers = 4000, 256, 6

    from workbench import probe_sweep
    from workbench.device import resolve_device
    from workbench.geometry.directions.probes import _folds, label_codes

    stack = make_stack(args.n, args.dim, args.layers, args.classes)
    _, codes = label_codes(stack.labels("label"))
    tests = _folds(codes, None, 5, seed=0)
    device = resolve_device(args.device)
    print(f"N={args.n} D={args.dim} layers={args.layers} classes={args.classes} folds=5 "
          f"device={device} torch threads={torch.get_num_threads()} cpus={os.cpu_count()}")

    probe_sweep(make_stack(500, 16, 2, args.classes), by="label", groups=None, device=device, progress=False)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    ours = probe_sweep(stack, by="label", groups=None, cv=5, seed=0, device=device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    ours_s = time.perf_counter() - start
    print(f"workbench probe_sweep: {ours_s:.1f} s")

    layers = stack.layers if args.reference_layers is None else stack.layers[: args.reference_layers]
    reference_s, reference_acc = run_reference(stack, tests, layers)
    extrapolated = reference_s * len(stack.layers) / len(layers)
    note = "" if len(layers) == len(stack.layers) else f" ({len(layers)} layers timed, extrapolated to {len(stack.layers)})"
    print(f"scikit-learn, one fit per (layer, fold): {extrapolated:.1f} s{note}")

    table = ours[["layer", "accuracy", "macro_f1"]].copy()
    table["sklearn_accuracy"] = table["layer"].map(reference_acc)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    gap = float((table["accuracy"] - table["sklearn_accuracy"]).abs().max())
    print(f"largest accuracy difference: {gap:.4f}   speed-up: {extrapolated / ours_s:.1f}x")
    if gap > 0.01:
        raise SystemExit("the two engines disagree by more than 0.01 accuracy; the timing comparison is void")

    results = {
        "n": args.n, "dim": args.dim, "layers": args.layers, "classes": args.classes, "folds": 5,
        "device": str(device), "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.platform(), "workbench_s": round(ours_s, 2), "sklearn_s": round(extrapolated, 2),
        "sklearn_layers_timed": len(layers), "speedup": round(extrapolated / ours_s, 2),
        "max_accuracy_difference": round(gap, 4),
        "per_layer": table.round(4).to_dict(orient="records"),
    }
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(results, indent=2))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
