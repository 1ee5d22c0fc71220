"""Encoding the built-in corpus: Ray Data on local workers against in-process, side by side.

Both runs encode the same rows with the same model (the bundled
all-MiniLM-L6-v2, every layer, mean pooling) into a sharded store:

- in-process: :func:`workbench.streaming.encode_to_shards` (one process, torch
  using all the machine's threads);
- Ray: :func:`workbench.distributed.encode` on a local Ray with ``--workers``
  actors of one CPU each (``ray.init`` is timed apart: it is paid once per
  session, not per encoding).

Reported: wall time, rows per second, the throughput ratio, and the largest
difference between the two stores' vectors.

Run::

    PYTHONPATH=. python benchmarks/bench_ray_encode.py               # the 728 sentences, 2 workers
    PYTHONPATH=. python benchmarks/bench_ray_encode.py --repeat 4    # the corpus 4 times over
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
import torch

import workbench as wb
from workbench.encoders.bundled import default_text_model
from workbench.streaming import encode_to_shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="encode the corpus this many times over")
    parser.add_argument("--batch-size", type=int, default=64, help="rows per Ray batch and per shard")
    args = parser.parse_args()

    import ray

    corpus = wb.load_emotion_sentences()
    data = pd.concat(
        [corpus.assign(id=[f"{i}-{j}" for j in corpus["id"]]) for i in range(args.repeat)], ignore_index=True
    )
    model = default_text_model()
    print(f"# {len(data)} sentences, all-MiniLM-L6-v2, every layer, mean pooling; "
          f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), ray {ray.__version__}")
    root = tempfile.mkdtemp()

    started = time.perf_counter()
    local = encode_to_shards(model, data, f"{root}/in-process", shard_rows=args.batch_size, progress=False)
    local_seconds = time.perf_counter() - started

    started = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    init_seconds = time.perf_counter() - started
    started = time.perf_counter()
    remote = wb.distributed.encode(data, model, f"{root}/ray", batch_size=args.batch_size,
                                   concurrency=args.workers, progress=False)  # fmt: skip
    ray_seconds = time.perf_counter() - started
    ray.shutdown()

    difference = max(
        float(np.abs(local[key].load().numpy() - remote[key].load().numpy()).max()) for key in local.layers
    )
    rows = len(data)
    print()
    print("| path | wall time | sentences/s |")
    print("|---|---|---|")
    print(f"| in-process ({torch.get_num_threads()} torch threads) | {local_seconds:.1f} s | {rows / local_seconds:.1f} |")
    print(f"| Ray Data, {args.workers} local actors x 1 CPU | {ray_seconds:.1f} s | {rows / ray_seconds:.1f} |")
    print()
    print(f"# throughput ratio Ray / in-process: {local_seconds / ray_seconds:.2f}")
    print(f"# ray.init (once per session, not included above): {init_seconds:.1f} s")
    print(f"# largest difference between the two stores' vectors: {difference:.2e}")


if __name__ == "__main__":
    main()
