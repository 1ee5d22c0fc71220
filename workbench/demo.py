"""The demo job behind ``make demo``: the built-in corpus through the bundled model.

It writes one self-contained HTML file (plotly.js inlined, works offline):
a 2-D map of the last layer coloured by emotion, and how well each layer's
neighbourhoods agree with the emotion labels.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from workbench.datasets import load_emotion_sentences
from workbench.encoders import encode
from workbench.encoders.bundled import DEFAULT_TEXT_MODEL_ID, default_text_model
from workbench.space import LayerStack
from workbench.storage import atomic_file

__all__ = ["run_demo"]


def _encode_corpus(frame) -> LayerStack:
    """Every hidden state of the bundled MiniLM, mean-pooled, through the public door (cached)."""
    return encode(default_text_model(), frame, pooling="mean")


def _knn_agreement(vectors: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of each point's k nearest neighbours (cosine) with its label."""
    neighbours = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(vectors)
    idx = neighbours.kneighbors(vectors, return_distance=False)[:, 1:]
    return float((labels[idx] == labels[:, None]).mean())


def run_demo(out: str | Path = "reports/demo.html") -> Path:
    """Encode the built-in corpus with the bundled MiniLM and write the demo report.

    Parameters
    ----------
    out : path, default "reports/demo.html"

    Returns
    -------
    Path of the written HTML file.
    """
    frame = load_emotion_sentences()
    stack = _encode_corpus(frame)
    labels = stack.labels("emotion")
    last = stack[-1]
    xy = PCA(n_components=2, random_state=0).fit_transform(last.numpy())

    emotions = sorted(set(labels))
    scatter = go.Figure()
    for emotion in emotions:
        mask = labels == emotion
        scatter.add_trace(
            go.Scattergl(
                x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=emotion,
                text=[html.escape(t) for t in frame["text"][mask]],
                hovertemplate="%{text}<extra>" + html.escape(emotion) + "</extra>",
                marker={"size": 6, "opacity": 0.8},
            )
        )
    scatter.update_layout(title=f"Last layer of {DEFAULT_TEXT_MODEL_ID}, PCA, coloured by emotion", height=600)

    agreement = [_knn_agreement(space.numpy(), labels) for space in stack]
    chance = float(sum((labels == e).mean() ** 2 for e in emotions))
    per_layer = go.Figure(go.Scatter(x=stack.layers, y=agreement, mode="lines+markers", name="10-NN agreement"))
    per_layer.add_hline(y=chance, line_dash="dot", annotation_text="chance")
    per_layer.update_layout(
        title="How often a sentence's 10 nearest neighbours share its emotion, per layer (0 = embeddings)",
        xaxis_title="layer", yaxis_title="neighbour agreement", height=400,
    )

    body = "\n".join(pio.to_html(fig, full_html=False, include_plotlyjs=False) for fig in (scatter, per_layer))
    plotly_js = get_plotlyjs()
    document = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>workbench demo</title>"
        f"<script type='text/javascript'>{plotly_js}</script></head><body>"
        f"<h1>workbench demo</h1><p>{len(frame)} sentences, {len(stack)} layers.</p>{body}</body></html>"
    )
    out = Path(out)
    with atomic_file(out, "w") as handle:
        handle.write(document)
    return out
