"""How fast the Explorer builds and how much it sends, for 100 000 points.

Side by side in one run, with the ratio:

- the PCA view against scikit-learn's PCA alone (ours adds the cache and float32);
- trustworthiness, ours (chunked, no n×n matrix) against
  ``sklearn.manifold.trustworthiness`` on a size scikit-learn can hold, and
  ours estimated on 1 000 sampled query points at 100 000;
- building the Explorer, changing its colour, its layer, the legend search,
  with the bytes each sends (binary buffers vs JSON, plotly.js apart);
- the same data through plotly express's FigureWidget (one trace per
  category, float64 coordinates), and its colour change (a new figure);
- UMAP on a subsample fed our exact kNN graph (``precomputed_knn``) against
  umap-learn's own NN-descent;
- per-point neighbour preservation.

With ``--scale N`` (e.g. 1 000 000) it measures only the Python build at
scale, side by side with jupyter-scatter in the same run: N points in 20
clusters in 32-D, PCA, coloured by cluster; the Explorer with each renderer
(``"browser"``: every per-point array a binary buffer; ``"plotly"``) against
``jscatter.Scatter`` given the same PCA coordinates (it does not project,
so our PCA is timed apart too). jupyter-scatter is a benchmark-only
dependency (``pip install jupyter-scatter``; see benchmarks/README.md).

Run: ``PYTHONPATH=. python benchmarks/bench_explorer.py [--n 100000] [--umap-n 10000] [--quick]``
or ``PYTHONPATH=. python benchmarks/bench_explorer.py --scale 1000000 [--skip-plotly]``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch


@contextmanager
def timed(results: dict, name: str):
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start
    print(f"  {name:<42} {results[name]:8.2f} s", flush=True)


def mixture(n: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, n)
    centres = rng.normal(size=(clusters, dim)) * 3.0
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


def scale(n: int, skip_plotly: bool, results: dict) -> None:
    """Python build time at ``n`` points: ours (both renderers) and jupyter-scatter's, one run."""
    import jscatter

    from workbench import LatentSpace
    from workbench.geometry.views import clear_cache, project
    from workbench.widgets import Explorer

    x, labels = mixture(n, 32, 20, 0)
    meta = pd.DataFrame({"id": np.arange(n), "cluster": np.array([f"cluster {i}" for i in range(20)])[labels]})
    space = LatentSpace(torch.from_numpy(x), meta, name="mixture")
    print(f"{n:,} points, 32 dims, 20 clusters, PCA", flush=True)
    with timed(results, "our PCA alone"):
        coords = project(space, "pca", quality=False).coords
    clear_cache()
    with timed(results, "Explorer build, renderer='browser'"):
        explorer = Explorer(space, color="cluster", hover=None, renderer="browser")
    explorer.close()
    if not skip_plotly:
        clear_cache()
        with timed(results, "Explorer build, renderer='plotly'"):
            Explorer(space, color="cluster", hover=None, renderer="plotly").close()
    frame = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "cluster": pd.Categorical(meta["cluster"])})
    with timed(results, "jupyter-scatter build (given the coords)"):
        scatter = jscatter.Scatter(data=frame, x="x", y="y", color_by="cluster")
        scatter.show()
    results["ratio browser build / jupyter-scatter"] = (
        results["Explorer build, renderer='browser'"] / results["jupyter-scatter build (given the coords)"]
    )
    results["ratio browser build without PCA / jupyter-scatter"] = (
        results["Explorer build, renderer='browser'"] - results["our PCA alone"]
    ) / results["jupyter-scatter build (given the coords)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=25)
    parser.add_argument("--umap-n", type=int, default=10_000, help="UMAP subsample (0 to skip)")
    parser.add_argument("--sklearn-n", type=int, default=5_000, help="size for the scikit-learn trustworthiness")
    parser.add_argument("--quick", action="store_true", help="n=20 000, UMAP on 3 000")
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--scale", type=int, default=0, help="only the build at this many points, with jupyter-scatter")
    parser.add_argument("--skip-plotly", action="store_true", help="with --scale: not the plotly renderer")
    args = parser.parse_args()
    if args.scale:
        results: dict = {"n": args.scale, "torch_threads": torch.get_num_threads()}
        scale(args.scale, args.skip_plotly, results)
        for key, value in results.items():
            print(f"  {key:<55} {value:,.3f}" if isinstance(value, float) else f"  {key:<55} {value}")
        if args.json:
            with open(args.json, "w") as file:
                json.dump(results, file, indent=2, default=float)
        return
    if args.quick:
        args.n, args.umap_n, args.sklearn_n = 20_000, 3_000, 2_000

    import plotly.express as px
    import plotly.graph_objects as go
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    from workbench import LayerStack
    from workbench.geometry.views import neighbor_preservation as neighbour_preservation, project, trustworthiness
    from workbench.widgets import Explorer
    from workbench.widgets.transport import record_traffic

    torch.set_num_threads(max(1, torch.get_num_threads()))
    n = args.n
    results: dict = {"n": n, "dim": args.dim, "torch_threads": torch.get_num_threads()}
    print(f"{n:,} points, {args.dim} dims, {args.clusters} clusters, torch threads {torch.get_num_threads()}", flush=True)
    x0, labels = mixture(n, args.dim, args.clusters, 0)
    x1 = x0 + np.random.default_rng(1).normal(size=x0.shape).astype(np.float32)  # a "next layer"
    meta = pd.DataFrame(
        {
            "id": np.arange(n),
            "topic": np.array([f"topic {i}" for i in range(args.clusters)])[labels],
            "text": [f"sentence {i} about topic {labels[i]}, in a few more words" for i in range(n)],
            "score": np.random.default_rng(2).normal(size=n),
        }
    )
    stack = LayerStack({0: torch.from_numpy(x0), 1: torch.from_numpy(x1)}, meta=meta, name="bench")

    print("views", flush=True)
    with timed(results, "sklearn PCA (reference)"):
        PCA(2, random_state=0).fit_transform(x0)
    with timed(results, "project(pca), no quality"):
        project(stack[1], "pca", quality=False)
    with timed(results, "trustworthiness 100k, 1 000 sampled"):
        results["trustworthiness"] = trustworthiness(stack[1], project(stack[1], "pca", quality=False).coords, k=10)
    small = x0[: args.sklearn_n]
    small_map = PCA(2).fit_transform(small)
    with timed(results, f"sklearn trustworthiness n={args.sklearn_n} (ref)"):
        reference_t = sklearn_trustworthiness(small, small_map, n_neighbors=10)
    with timed(results, f"our trustworthiness n={args.sklearn_n}, exact"):
        ours_t = trustworthiness(small, small_map, k=10, sample=None)
    results["trustworthiness_difference_to_sklearn"] = abs(reference_t - ours_t)  # float rounding of near-ties

    print("explorer")
    with record_traffic() as traffic, timed(results, "Explorer build (PCA + quality + figure)"):
        explorer = Explorer(stack, color="topic", renderer="plotly")
    results["build_binary_B_per_point"] = traffic.buffer_bytes / n
    results["build_json_B_per_point_without_plotlyjs"] = (traffic.json_bytes - traffic.esm_bytes) / n
    results["plotlyjs_bytes_per_figure"] = traffic.esm_bytes
    print(f"    sent: {traffic.summary()}")
    with record_traffic() as traffic, timed(results, "Explorer build, view cached (widget only)"):
        Explorer(stack, color="topic", renderer="plotly").close()
    for name, action in (
        ("colour change (categorical -> numeric)", lambda: setattr(explorer.color_menu, "value", "score")),
        ("colour change (numeric -> categorical)", lambda: setattr(explorer.color_menu, "value", "topic")),
        ("legend search", lambda: setattr(explorer.legend_search, "value", "topic 1")),
        ("layer change (new PCA + quality)", lambda: setattr(explorer.layer_slider, "value", 0)),
        ("layer change back (cached)", lambda: setattr(explorer.layer_slider, "value", 1)),
        ("select half the points", lambda: explorer.select(np.arange(0, n, 2))),
    ):
        with record_traffic(explorer) as traffic, timed(results, name):
            action()
        results[f"{name} bytes"] = traffic.total
        print(f"    sent: {traffic.summary()}")
    explorer.close()

    print("plotly express FigureWidget (reference)")
    frame = pd.DataFrame({"x": explorer.coords[:, 0], "y": explorer.coords[:, 1], "topic": meta["topic"], "score": meta["score"], "text": meta["text"]})
    with record_traffic() as traffic, timed(results, "px FigureWidget build"):
        reference = go.FigureWidget(px.scatter(frame, "x", "y", color="topic", hover_name="text", render_mode="webgl"))
    results["px_build_bytes_without_plotlyjs"] = traffic.total - traffic.esm_bytes
    print(f"    sent: {traffic.summary()}")
    with record_traffic(reference) as traffic, timed(results, "px colour change (replace traces)"):
        recoloured = px.scatter(frame, "x", "y", color="score", hover_name="text", render_mode="webgl")
        with reference.batch_update():
            reference.data = []
            reference.add_traces(list(recoloured.data))
    results["px colour change bytes"] = traffic.total
    print(f"    sent: {traffic.summary()}")
    reference.close()

    if args.umap_n:
        print(f"UMAP on a {args.umap_n:,}-point subsample")
        import umap

        sub = torch.from_numpy(x0[: args.umap_n].copy())
        # compile umap-learn's (and pynndescent's, used from 4 096 rows) numba
        # kernels first, so neither side pays for compilation
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            umap.UMAP(n_neighbors=5, n_epochs=5, random_state=0, n_jobs=1).fit_transform(x0[:4500])
            project(torch.from_numpy(x0[:300].copy()), "umap", quality=False, n_epochs=5)
            with timed(results, "umap-learn alone (NN-descent), ref"):
                umap.UMAP(n_neighbors=15, random_state=0, n_jobs=1).fit_transform(sub.numpy())
        with timed(results, "project(umap), exact kNN graph fed in"):
            view = project(sub, "umap", seed=0, quality=False)
        results["umap_trustworthiness"] = trustworthiness(sub, view.coords, k=10)

    print("neighbour preservation")
    pres_n = min(n, 20_000)
    with timed(results, f"neighbour_preservation n={pres_n:,}"):
        sub = torch.from_numpy(x0[:pres_n].copy())
        neighbour_preservation(sub, project(sub, "pca", quality=False).coords, k=10)

    def ratio(ours: str, reference: str) -> float:
        return results[reference] / results[ours]

    results["ratio trustworthiness (sklearn / ours)"] = ratio(
        f"our trustworthiness n={args.sklearn_n}, exact", f"sklearn trustworthiness n={args.sklearn_n} (ref)"
    )
    results["ratio colour change bytes (px / ours)"] = results["px colour change bytes"] / results[
        "colour change (numeric -> categorical) bytes"
    ]
    if args.umap_n:
        results["ratio umap (umap-learn alone / ours)"] = ratio(
            "project(umap), exact kNN graph fed in", "umap-learn alone (NN-descent), ref"
        )
    print("summary")
    for key, value in results.items():
        print(f"  {key:<55} {value:,.3f}" if isinstance(value, float) else f"  {key:<55} {value}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2, default=float)


if __name__ == "__main__":
    main()
