"""workbench.encode against a bare loop over the same model, side by side in one run.

The built-in corpus (728 sentences) through the bundled all-MiniLM-L6-v2,
all 7 hidden states, same batch size for everyone:

- **bare loop**: tokenizer(batch, padding=True) then
  ``model(**batch, output_hidden_states=True)`` under ``torch.inference_mode``,
  the outputs thrown away; the least any encoder must do;
- **workbench, no bucketing**: ``TextEncoder.encode(sort_by_length=False)``,
  which also mean-pools every layer and keeps the vectors (float32, input order);
- **workbench, bucketing**: the same with batches sorted by length (the default).

Model loading is outside the timings for all three (the encoder is built
once). Each round runs the three in turn, so contention from other processes
hits all of them alike. Two clocks are read: wall time, and this process's CPU
time (all threads), which other processes on a shared machine barely touch.
The table gives, per clock, the best round (contention only ever adds time)
and the median, and each workbench variant's throughput as a ratio of the
bare loop's.

Run::

    PYTHONPATH=$PWD python benchmarks/bench_encode.py [--rounds 5] [--batch-size 32] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd
import torch


def bare_loop(model, tokenizer, texts: list[str], batch_size: int, max_length: int, device: torch.device) -> None:
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size], padding=True, truncation=True, max_length=max_length,
                return_tensors="pt",
            ).to(device)
            model(**batch, output_hidden_states=True)


def check_agreement(model, tokenizer, encoder, frame, batch_size: int, max_length: int, device: torch.device) -> float:
    """Largest difference between the bare loop's mean-pooled hidden states and workbench's, over all layers."""
    texts = frame["text"].tolist()
    pooled = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size], padding=True, truncation=True, max_length=max_length,
                return_tensors="pt",
            ).to(device)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            hidden = model(**batch, output_hidden_states=True).hidden_states
            pooled.append(torch.stack([(h * mask).sum(1) / mask.sum(1) for h in hidden]).cpu())
    bare = torch.cat(pooled, dim=1)
    ours = encoder.encode(frame, batch_size=batch_size, cache=False, progress=False).tensor()
    return float((bare - ours).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch threads (default: as they are)")
    parser.add_argument("--csv", help="another corpus (a CSV with id and text columns) instead of the built-in one")
    parser.add_argument("--json", default=str(Path(__file__).with_suffix(".json")), help="where to write the numbers")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import workbench as wb
    from transformers import AutoModel, AutoTokenizer

    frame = pd.read_csv(args.csv) if args.csv else wb.load_emotion_sentences()
    texts = frame["text"].tolist()
    path = wb.encoders.default_text_model()
    device = wb.resolve_device(args.device)

    encoder = wb.TextEncoder(path, device=device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).to(device).eval()
    max_length = encoder.max_length

    def ours(sort: bool) -> None:
        stack = encoder.encode(frame, batch_size=args.batch_size, sort_by_length=sort, cache=False, progress=False)
        assert len(stack) == 7 and stack.n == len(texts)

    runs = {
        "bare loop": lambda: bare_loop(model, tokenizer, texts, args.batch_size, max_length, device),
        "workbench, no bucketing": lambda: ours(False),
        "workbench, bucketing": lambda: ours(True),
    }
    difference = check_agreement(model, tokenizer, encoder, frame, args.batch_size, max_length, device)
    if difference > 1e-4:
        raise SystemExit(f"workbench and the bare loop disagree: largest difference {difference:.2e}")
    for run in runs.values():  # warm-up: first-call allocations, lazy hooks
        run()
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    seconds = {clock: {name: [] for name in runs} for clock in clocks}
    for _ in range(args.rounds):
        for name, run in runs.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = {clock: read() for clock, read in clocks.items()}
            run()
            if device.type == "cuda":
                torch.cuda.synchronize()
            for clock, read in clocks.items():
                seconds[clock][name].append(read() - start[clock])

    print(
        f"{len(texts)} sentences, {wb.encoders.DEFAULT_TEXT_MODEL_ID}, all 7 hidden states, batch size "
        f"{args.batch_size}, device {device}, torch threads {torch.get_num_threads()}, {args.rounds} rounds"
    )
    print(f"same vectors as the bare loop with mean pooling: largest difference {difference:.1e}")
    results: dict = {}
    for clock in clocks:
        print(f"\n{clock} time    {'best s':>8s} {'sent/s':>8s} {'vs bare':>8s} {'median s':>9s} {'sent/s':>8s} {'vs bare':>8s}")
        bare_best, bare_median = min(seconds[clock]["bare loop"]), statistics.median(seconds[clock]["bare loop"])
        for name, values in seconds[clock].items():
            best, median = min(values), statistics.median(values)
            results.setdefault(name, {})[clock] = {
                "seconds": values, "best_s": best, "median_s": median,
                "best_sentences_per_s": len(texts) / best, "median_sentences_per_s": len(texts) / median,
                "best_ratio": bare_best / best, "median_ratio": bare_median / median,
            }
            print(
                f"{name:24s} {best:8.3f} {len(texts) / best:8.1f} {bare_best / best:7.2f}x "
                f"{median:9.3f} {len(texts) / median:8.1f} {bare_median / median:7.2f}x"
            )
    if args.json:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        with open(args.json, "w") as handle:
            json.dump(
                {"n": len(texts), "batch_size": args.batch_size, "device": str(device), "threads": torch.get_num_threads(),
                 "largest_difference": difference,
                 "load_average_1min_at_end": load, "results": results},
                handle, indent=2,
            )


if __name__ == "__main__":
    main()
