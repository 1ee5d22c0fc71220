"""One prepared check of every GPU path of workbench, printed as one table.

Each step runs a public workbench API at the size the GPU is for, times it,
reads the peak GPU memory (``torch.cuda.max_memory_allocated``, reset per
step), checks the result against a reference and, where there is one, gives
the reference's time and the ratio (reference time / ours: above 1 is ours
faster). A step that fails prints FAILED with its one-line reason and the
table goes on; past ``--budget`` seconds the remaining steps are SKIPPED.

Steps (full size; ``--small`` runs the same steps at sizes a 2-core CPU finishes
in about three minutes):

1. encode MiniLM, all 7 layers, 20 000 sentences (the corpus repeated, ids made
   unique), float32, vs a bare Hugging Face loop and sentence-transformers
   on the same device (vectors equal within tolerance);
2. the same in float16 (bfloat16 on a CPU), checked against float32 by cosine;
3. exact kNN, N = 200 000, D = 384, k = 128, vs FAISS-GPU (exact flat index)
   when importable, else a bare torch search; a 5 000-row subset is searched
   on the device and on the CPU and must give the same graph;
4. local intrinsic dimension (TwoNN, L = 128) on those 200 000 points;
5. token LID on 1 000 000 synthetic token vectors (a union of low-dimensional
   pieces in 384-D);
6. the probe sweep, N = 20 000 x 12 layers;
7. ``compare_layers`` (debiased CKA) on 12 layers of 20 000 points, with a
   permutation null of 100 shuffles per layer pair (batched on the device);
8. steering a tiny random GPT-2 under ``generate`` on the device, then
   checking every hook is gone and the outputs are the unsteered ones;
9. the Explorer built at 1 000 000 points (the Python side: PCA view, quality
   on a sample, figure buffers).

Usage::

    python benchmarks/gpu_check.py --device cuda --out gpu_table.md
    python benchmarks/gpu_check.py --small --out small_table.md   # any machine
    make gpu-check                                                 # picks one of the two
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local: never wait on the hub
import workbench as wb  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    sentences: int
    batch_size: int
    knn_n: int
    knn_k: int
    subset: int
    tokens: int
    probe_n: int
    layers: int
    explorer_n: int
    permutations: int


FULL = Sizes(sentences=20_000, batch_size=256, knn_n=200_000, knn_k=128, subset=5_000, tokens=1_000_000,
             probe_n=20_000, layers=12, explorer_n=1_000_000, permutations=100)  # fmt: skip
SMALL = Sizes(sentences=200, batch_size=64, knn_n=3_000, knn_k=32, subset=1_000, tokens=4_000,
              probe_n=1_000, layers=12, explorer_n=20_000, permutations=10)  # fmt: skip


@dataclass
class Row:
    step: str
    size: str
    seconds: float | None = None
    throughput: str = ""
    peak_gib: float | None = None
    passed: str = ""
    reference: str = ""
    ratio: str = ""


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, work: Callable[[], object]) -> tuple[float, object]:
    synchronize(device)
    start = time.perf_counter()
    result = work()
    synchronize(device)
    return time.perf_counter() - start, result


def rate(count: float, seconds: float, unit: str) -> str:
    per_second = count / seconds
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M {unit}/s"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f} k {unit}/s"
    return f"{per_second:.1f} {unit}/s"


def sentences(n: int) -> pd.DataFrame:
    """The built-in corpus repeated to ``n`` rows, ids made unique."""
    corpus = wb.load_emotion_sentences()
    frame = pd.concat([corpus] * (-(-n // len(corpus))), ignore_index=True).iloc[:n].copy()
    frame["id"] = [f"{original}#{i}" for i, original in enumerate(frame["id"])]
    return frame


def bare_transformers(folder: str, texts: list[str], device: torch.device, batch_size: int) -> torch.Tensor:
    """Mask-aware mean of every hidden state, straight through transformers: (layers, n, dim).

    Its time includes loading the model, as ``wb.encode``'s does; sentence-transformers' does not.
    """
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).to(device).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], padding=True, truncation=True, max_length=256,
                              return_tensors="pt").to(device)  # fmt: skip
            hidden = torch.stack(model(**batch, output_hidden_states=True).hidden_states)
            mask = batch["attention_mask"][None, :, :, None].to(hidden.dtype)
            out.append(((hidden * mask).sum(2) / mask.sum(2)).cpu())
    return torch.cat(out, dim=1)


def step_encode(ctx: dict, half: bool) -> Row:
    device, sizes = ctx["device"], ctx["sizes"]
    frame = sentences(sizes.sentences)
    dtype = (torch.float16 if device.type == "cuda" else torch.bfloat16) if half else torch.float32
    name = "encode MiniLM all layers " + str(dtype).removeprefix("torch.")
    row = Row(name, f"{sizes.sentences:,} sentences x 7 layers")
    folder = str(wb.encoders.default_text_model())
    # a warm-up on a few rows: imports and kernel selection are not the encoder's speed
    wb.encode(folder, frame.iloc[:8], device=device, dtype=dtype, cache=False, progress=False)
    seconds, stack = timed(device, lambda: wb.encode(folder, frame, device=device, dtype=dtype, cache=False,
                                                     progress=False, batch_size=sizes.batch_size))  # fmt: skip
    row.seconds, row.throughput = seconds, rate(sizes.sentences, seconds, "sentences")
    ours = stack.tensor()
    if not half:
        ctx["encoded_fp32"] = ours
        texts = frame["text"].tolist()
        ref_seconds, reference = timed(device, lambda: bare_transformers(folder, texts, device, sizes.batch_size))
        from sentence_transformers import SentenceTransformer

        st_model = SentenceTransformer(folder, device=str(device))
        st_seconds, st = timed(device, lambda: st_model.encode(texts, batch_size=sizes.batch_size,
                                                               convert_to_tensor=True))  # fmt: skip
        hf_diff = float((ours - reference).abs().max())
        st_diff = float((torch.nn.functional.normalize(ours[-1], dim=1) - st.cpu()).abs().max())
        row.passed = f"{'yes' if max(hf_diff, st_diff) < 1e-4 else 'NO'} (max abs diff HF {hf_diff:.1e}, ST {st_diff:.1e})"
        row.reference = f"HF loop {ref_seconds:.2f} s; sentence-transformers (last layer) {st_seconds:.2f} s"
        row.ratio = f"{ref_seconds / seconds:.2f}x / {st_seconds / seconds:.2f}x"
    else:
        full = ctx.get("encoded_fp32")
        if full is None:
            row.passed = "not checked (float32 step did not run)"
        else:
            cosine = torch.nn.functional.cosine_similarity(ours[1:].float(), full[1:], dim=-1)
            worst = float(cosine.min())
            row.passed = f"{'yes' if worst > 0.99 else 'NO'} (min cosine to float32 {worst:.4f})"
            row.reference = "float32 step above"
            row.ratio = "see float32 row"
    return row


def clustered(n: int, dim: int, seed: int) -> torch.Tensor:
    """Points on random 8-D pieces in ``dim`` dimensions, float32 (neighbourhoods like embeddings have)."""
    generator = torch.Generator().manual_seed(seed)
    pieces = 32
    bases = torch.linalg.qr(torch.randn(pieces, dim, 8, generator=generator)).Q  # pieces x dim x 8
    label = torch.randint(0, pieces, (n,), generator=generator)
    offsets = torch.randn(pieces, dim, generator=generator) * 3
    x = torch.empty(n, dim)
    for piece in range(pieces):  # piece by piece: a gathered (n, dim, 8) basis would not fit at 10^6 rows
        rows = (label == piece).nonzero().flatten()
        x[rows] = torch.randn(len(rows), 8, generator=generator) @ bases[piece].T + offsets[piece]
    return (x + 0.01 * torch.randn(n, dim, generator=generator)).float()


def bare_knn(x: torch.Tensor, k: int, device: torch.device) -> torch.Tensor:
    """The reference: FAISS exact flat index on the GPU when importable, else a plain torch search."""
    try:
        import faiss

        if device.type == "cuda" and hasattr(faiss, "StandardGpuResources"):
            index = faiss.GpuIndexFlatL2(faiss.StandardGpuResources(), x.shape[1])
            index.add(x.numpy())
            return torch.from_numpy(index.search(x.numpy(), k + 1)[1][:, 1:])
    except ImportError:
        pass
    x = x.to(device)
    squared = (x * x).sum(1)
    out = []
    step = max(1, (1 << 28) // (4 * x.shape[0]))
    for start in range(0, x.shape[0], step):
        scores = torch.addmm(squared[None, :], x[start : start + step], x.T, alpha=-2.0)
        out.append(torch.topk(scores, k + 1, dim=1, largest=False).indices[:, 1:].cpu())
    return torch.cat(out)


def reference_name(device: torch.device) -> str:
    try:
        import faiss

        if device.type == "cuda" and hasattr(faiss, "StandardGpuResources"):
            return "FAISS-GPU flat"
    except ImportError:
        pass
    return f"bare torch topk on {device.type}"


def step_knn(ctx: dict) -> Row:
    device, sizes = ctx["device"], ctx["sizes"]
    n, k = sizes.knn_n, sizes.knn_k
    x = clustered(n, 384, seed=0)
    ctx["knn_data"] = x
    row = Row("exact kNN", f"N={n:,} D=384 k={k}")
    wb.knn(x[: 4 * k], k, device=device, backend="torch")  # warm-up: compiled kernels, device context
    bare_knn(x[: 4 * k], k, device)
    seconds, graph = timed(device, lambda: wb.knn(x, k, device=device, backend="torch"))
    ctx["knn_graph"] = graph
    row.seconds, row.throughput = seconds, rate(n * n * 384 * 2, seconds, "FLOP (product)")
    subset = x[: sizes.subset]
    on_device = wb.knn(subset, k, device=device, backend="torch").cpu()
    on_cpu = wb.knn(subset, k, device="cpu", backend="torch")
    same = float((on_device.indices == on_cpu.indices).float().mean())
    gap = float((on_device.distances.double() - on_cpu.distances.double()).abs().max())
    row.passed = f"{'yes' if same > 0.999 and gap < 1e-4 else 'NO'} ({same:.4%} of {sizes.subset:,}-row graph = CPU, distance diff {gap:.1e})"
    ref_seconds, reference = timed(device, lambda: bare_knn(x, k, device))
    recall = float((torch.sort(graph.indices.cpu(), 1).values == torch.sort(reference, 1).values).float().mean())
    row.reference = f"{reference_name(device)} {ref_seconds:.2f} s (same lists: {recall:.3%})"
    row.ratio = f"{ref_seconds / seconds:.2f}x"
    return row


def step_lid(ctx: dict) -> Row:
    device, sizes = ctx["device"], ctx["sizes"]
    x = ctx.get("knn_data")
    if x is None:
        x = clustered(sizes.knn_n, 384, seed=0)
    row = Row("local TwoNN LID (kNN included)", f"N={len(x):,} D=384 L={sizes.knn_k}")
    estimator = wb.LocalIntrinsicDimension(n_neighbors=sizes.knn_k, device=device)
    seconds, lid = timed(device, lambda: estimator.fit(x).lid_)
    row.seconds, row.throughput = seconds, rate(len(x), seconds, "points")
    subset = x[: sizes.subset]
    on_device = wb.LocalIntrinsicDimension(n_neighbors=sizes.knn_k, device=device).fit(subset).lid_
    on_cpu = wb.LocalIntrinsicDimension(n_neighbors=sizes.knn_k, device="cpu").fit(subset).lid_
    gap = float(np.nanmax(np.abs(on_device - on_cpu)))
    row.passed = f"{'yes' if gap < 1e-3 else 'NO'} ({sizes.subset:,}-row subset vs CPU: max abs diff {gap:.1e}; mean {np.nanmean(lid):.2f}, true 8)"
    return row


def step_token_lid(ctx: dict) -> Row:
    device, sizes = ctx["device"], ctx["sizes"]
    n = sizes.tokens
    x = clustered(n, 384, seed=1)
    meta = pd.DataFrame({"id": np.arange(n), "sample_id": np.arange(n) // 20, "token": [f"t{i % 5000}" for i in range(n)]})
    space = wb.LatentSpace(x, meta, name="tokens")
    row = Row("token LID", f"{n:,} token vectors, D=384, L=128")
    seconds, table = timed(device, lambda: wb.token_lid(space, n_tokens=None, max_points=None, progress=False,
                                                        device=device))  # fmt: skip
    row.seconds, row.throughput = seconds, rate(n, seconds, "tokens")
    mean = float(table.iloc[0]["mean"]) if "mean" in table.columns else float("nan")
    row.passed = f"{'yes' if 5 < mean < 11 else 'NO'} (mean LID {mean:.2f}, pieces are 8-D)"
    return row


def layered(n: int, layers: int, seed: int) -> tuple[wb.LayerStack, np.ndarray]:
    """A stack whose class signal grows with depth: probes must find it rising."""
    generator = np.random.default_rng(seed)
    labels = generator.integers(0, 6, n)
    centres = generator.normal(size=(6, 384))
    spaces = {}
    for layer in range(layers):
        strength = 0.05 + 0.5 * layer / max(1, layers - 1)
        spaces[layer] = torch.from_numpy((strength * centres[labels] + generator.normal(size=(n, 384))).astype(np.float32))
    emotions = np.array(["joy", "fear", "anger", "sadness", "surprise", "disgust"])[labels]
    meta = pd.DataFrame({"id": np.arange(n), "emotion": emotions})
    return wb.LayerStack(spaces, meta=meta, name="check"), labels


def step_probes(ctx: dict) -> Row:
    device, sizes = ctx["device"], ctx["sizes"]
    stack, _ = layered(sizes.probe_n, sizes.layers, seed=2)
    ctx["stack"] = stack
    row = Row("probe sweep (5-fold)", f"N={sizes.probe_n:,} x {sizes.layers} layers, D=384")
    seconds, table = timed(device, lambda: wb.probe_sweep(stack, "emotion", groups=None, device=device, progress=False))
    row.seconds, row.throughput = seconds, rate(sizes.layers, seconds, "layers")
    accuracy = table.filter(like="accuracy").iloc[:, 0].to_numpy()
    row.passed = f"{'yes' if accuracy[-1] > accuracy[0] + 0.2 and accuracy[-1] > 0.8 else 'NO'} (accuracy {accuracy[0]:.2f} -> {accuracy[-1]:.2f})"
    return row


def step_compare(ctx: dict) -> Row:
    device, sizes = ctx["device"], ctx["sizes"]
    stack = ctx.get("stack") or layered(sizes.probe_n, sizes.layers, seed=2)[0]
    row = Row(
        f"compare_layers debiased CKA, {sizes.permutations} permutations per pair",
        f"{sizes.layers}x{sizes.layers} layers, N={sizes.probe_n:,}",
    )
    seconds, matrix = timed(device, lambda: wb.compare_layers(
        stack, metric="cka_debiased", n_permutations=sizes.permutations, device=device, progress=False))
    row.seconds, row.throughput = seconds, rate(sizes.layers**2, seconds, "pairs")
    values, p_diag = matrix.to_numpy(), np.diag(matrix.attrs["p_value"].to_numpy())
    symmetric = float(np.abs(values - values.T).max())
    ok = np.allclose(np.diag(values), 1, atol=1e-4) and symmetric < 1e-4 and np.allclose(p_diag, 1 / (sizes.permutations + 1))
    row.passed = f"{'yes' if ok else 'NO'} (diagonal 1 at p = 1/(P+1), symmetric to {symmetric:.1e})"
    return row


def step_steering(ctx: dict) -> Row:
    from transformers import GPT2Config, GPT2LMHeadModel

    device = ctx["device"]
    config = GPT2Config(n_layer=4, n_head=4, n_embd=64, vocab_size=256, n_positions=128, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).to(device).eval()
    torch.manual_seed(0)
    prompt = torch.randint(0, 256, (4, 12), device=device)
    row = Row("steer tiny GPT-2 under generate", "4 prompts x 32 new tokens, layers 1-3")

    def generate() -> torch.Tensor:
        return model.generate(prompt, max_new_tokens=32, do_sample=False, pad_token_id=0)

    plain = generate()
    direction = torch.randn(64, generator=torch.Generator().manual_seed(1))

    def steered() -> torch.Tensor:
        with wb.steer(model, direction, layers=[1, 2, 3], alpha=8.0):
            return generate()

    seconds, changed = timed(device, steered)
    row.seconds, row.throughput = seconds, rate(4 * 32, seconds, "tokens")
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    after = generate()
    ok = hooks == 0 and torch.equal(after, plain) and not torch.equal(changed, plain)
    row.passed = f"{'yes' if ok else 'NO'} (steered output differs, {hooks} hooks left, output restored)"
    return row


def step_explorer(ctx: dict) -> Row:
    sizes = ctx["sizes"]
    n = sizes.explorer_n
    x = clustered(n, 384, seed=3)
    meta = pd.DataFrame({"id": np.arange(n), "topic": np.array([f"topic {i % 25}" for i in range(n)]),
                         "text": [f"point {i}" for i in range(n)]})  # fmt: skip
    stack = wb.LayerStack({0: x, 1: x + 0.1 * clustered(n, 384, seed=4)}, meta=meta, name="explorer-check")
    row = Row("Explorer build (Python side)", f"{n:,} points, D=384, 2 layers")
    seconds, explorer = timed(torch.device("cpu"), lambda: wb.Explorer(stack, color="topic"))
    row.seconds, row.throughput = seconds, rate(n, seconds, "points")
    explorer.close()
    row.passed = "yes (built)"
    return row


STEPS: list[tuple[str, Callable[[dict], Row]]] = [
    ("encode float32", lambda ctx: step_encode(ctx, half=False)),
    ("encode half", lambda ctx: step_encode(ctx, half=True)),
    ("exact kNN", step_knn),
    ("local LID", step_lid),
    ("token LID", step_token_lid),
    ("probe sweep", step_probes),
    ("compare_layers", step_compare),
    ("steering", step_steering),
    ("Explorer", step_explorer),
]


def markdown(rows: list[Row], header: str) -> str:
    lines = [header, "", "| step | size | time (s) | throughput | peak GPU memory | check passed | reference | ratio (ref / ours) |",
             "|---|---|---:|---|---:|---|---|---:|"]  # fmt: skip
    for r in rows:
        seconds = "" if r.seconds is None else f"{r.seconds:.2f}"
        peak = "" if r.peak_gib is None else f"{r.peak_gib:.2f} GiB"
        lines.append(f"| {r.step} | {r.size} | {seconds} | {r.throughput} | {peak} | {r.passed} | {r.reference} | {r.ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None, help="cuda, cuda:1, cpu, ... (default: cuda if there is one)")
    parser.add_argument("--small", action="store_true", help="sizes a 2-core CPU finishes in ~3 minutes")
    parser.add_argument("--budget", type=float, default=None, help="seconds after which the remaining steps are skipped (default 330 full, 300 small)")
    parser.add_argument("--only", default=None, help="comma-separated step names to run (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as markdown here")
    args = parser.parse_args(argv)
    device = wb.resolve_device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = SMALL if args.small else FULL
    budget = args.budget or (300.0 if args.small else 330.0)
    wanted = None if args.only is None else {name.strip() for name in args.only.split(",")}
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} torch threads"
    header = (f"gpu-check on {card} ({'--small' if args.small else 'full size'}), torch {torch.__version__}, "
              f"workbench {wb.__version__}")  # fmt: skip
    print(header, flush=True)
    ctx: dict = {"device": device, "sizes": sizes}
    rows: list[Row] = []
    start = time.perf_counter()
    for name, step in STEPS:
        if wanted is not None and name not in wanted:
            continue
        if time.perf_counter() - start > budget:
            rows.append(Row(name, "", passed=f"SKIPPED (past the {budget:.0f} s budget)"))
            print(f"  {name}: SKIPPED", flush=True)
            continue
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        try:
            row = step(ctx)
        except Exception as error:  # one failing step must not hide the others
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            row = Row(name, "", passed=f"FAILED: {type(error).__name__}: {reason}"[:200])
            traceback.print_exc(limit=-2, file=sys.stderr)
        if device.type == "cuda":
            row.peak_gib = torch.cuda.max_memory_allocated(device) / 2**30
        rows.append(row)
        took = "" if row.seconds is None else f"{row.seconds:.2f} s, "
        print(f"  {name}: {took}{row.passed}", flush=True)
        gc.collect()
    total = time.perf_counter() - start
    table = markdown(rows, header + f"; whole check {total:.0f} s")
    print()
    print(table)
    if args.out is not None:
        args.out.write_text(table)
        print(f"written to {args.out}")
    return 1 if any(r.passed.startswith(("FAILED", "NO")) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
