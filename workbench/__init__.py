"""workbench: look inside models.

Index of the public names, by concern (``help(workbench.NAME)`` for each)::

    data         load_emotion_sentences  load_speech  make_speech  make_faces
                 load_parallel  from_hf (public datasets)  datasets  taxonomy
    encoders     encode  TextEncoder  SpeechEncoder  VisionEncoder  encoders
                 encode_acoustic  acoustic_features  encode_image_features
    spaces       LatentSpace  LayerStack  streaming  distributed
    neighbours   knn  KNNGraph
    dimension    TwoNN  MLE  LocalIntrinsicDimension  lid_profile  token_lid
                 id_scaling (across scales)
    relative     select_anchors  RelativeProjection  Procrustes  stitch
    comparison   compare  compare_layers  linear_cka  similarity (with nulls)
    shared view  shared_view  SharedView  center_by  cross_modal_retrieval
                 emotion_agreement
    directions   Directions  DirectionSet  probe_sweep  plot_probe_sweep
                 affect_axes (valence / arousal)  direction_accuracy (with controls)
    steering     steering  steer  block_outputs  extract_directions
    2-D views    project  trustworthiness  neighbor_preservation  StreamingPCA
    widgets      Explorer  link
    out          report  export  to_parquet  to_projector  to_html_map
    training     LIDCallback
    devices      resolve_device  resolve_dtype  chunk_rows
    extras       require

Embeddings from speech, vision and language models, put into shared latent
views; relative representations, local intrinsic dimension and emotion
directions, interactively in JupyterLab.

The public API is re-exported here and resolved lazily, so that
``import workbench`` stays fast and ``workbench.__version__`` does not pay for
importing torch. On the package index the project is ``latent-workbench``
(``pip install latent-workbench``); the import name is ``workbench``.

Examples
--------
>>> import workbench as wb
>>> df = wb.load_emotion_sentences()
>>> sorted(df["emotion"].unique())[:3]
['anger', 'fear', 'joy']
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # core objects
    "LatentSpace": "workbench.space",
    "LayerStack": "workbench.space",
    # devices
    "resolve_device": "workbench.device",
    "resolve_dtype": "workbench.device",
    "chunk_rows": "workbench.device",
    # intrinsic dimension
    "TwoNN": "workbench.geometry.intrinsic.twonn",
    "MLE": "workbench.geometry.intrinsic.mle",
    "LocalIntrinsicDimension": "workbench.geometry.intrinsic.local",
    "lid_profile": "workbench.geometry.intrinsic.profile",
    "token_lid": "workbench.geometry.intrinsic.profile",
    "id_scaling": "workbench.geometry.intrinsic.gride",
    # optional dependencies
    "require": "workbench.extras",
    # label sets
    "taxonomy": "workbench.taxonomy",
    # data
    "datasets": "workbench.datasets",
    "load_emotion_sentences": "workbench.datasets",
    "load_speech": "workbench.datasets",
    "make_speech": "workbench.datasets",
    "make_faces": "workbench.datasets",
    "load_parallel": "workbench.datasets",
    "from_hf": "workbench.datasets",
    # emotion directions, probes and steering
    "Directions": "workbench.geometry.directions",
    "DirectionSet": "workbench.geometry.directions",
    "probe_sweep": "workbench.geometry.directions.probes",
    "affect_axes": "workbench.geometry.directions.affect",
    "plot_probe_sweep": "workbench.geometry.directions.probes",
    "direction_accuracy": "workbench.geometry.directions.controls",
    "steering": "workbench.steering",
    "steer": "workbench.steering",
    "block_outputs": "workbench.steering",
    "extract_directions": "workbench.steering",
    # encoders
    "encoders": "workbench.encoders",
    "encode": "workbench.encoders",
    "TextEncoder": "workbench.encoders",
    "SpeechEncoder": "workbench.encoders",
    "VisionEncoder": "workbench.encoders",
    # classical baselines as encoders
    "encode_acoustic": "workbench.encoders.acoustic",
    "acoustic_features": "workbench.encoders.acoustic",
    "encode_image_features": "workbench.encoders.image_features",
    # one view across modalities
    "shared_view": "workbench.geometry.relative.shared_view",
    "SharedView": "workbench.geometry.relative.shared_view",
    "center_by": "workbench.geometry.relative.shared_view",
    "cross_modal_retrieval": "workbench.geometry.relative.shared_view",
    "emotion_agreement": "workbench.geometry.relative.shared_view",
    # relative representations and space comparison
    "select_anchors": "workbench.geometry.relative.anchors",
    "RelativeProjection": "workbench.geometry.relative.projection",
    "compare": "workbench.geometry.compare",
    "compare_layers": "workbench.geometry.compare",
    "similarity": "workbench.geometry.similarity",
    "linear_cka": "workbench.geometry.compare",
    "Procrustes": "workbench.geometry.relative.procrustes",
    "stitch": "workbench.geometry.relative.stitching",
    # 2-D / 3-D views and how far to trust them
    "project": "workbench.geometry.views",
    "trustworthiness": "workbench.geometry.views",
    "neighbor_preservation": "workbench.geometry.views",
    # widgets
    "Explorer": "workbench.widgets",
    "link": "workbench.widgets",
    # beyond one machine: neighbours (torch or FAISS), spaces on disk, Ray
    "knn": "workbench.geometry.neighbors",
    "KNNGraph": "workbench.geometry.neighbors",
    "streaming": "workbench.streaming",
    "distributed": "workbench.distributed",
    "StreamingPCA": "workbench.geometry.views.pca",
    # notebooks -> offline HTML; LID while fine-tuning
    "report": "workbench.report",
    "LIDCallback": "workbench.training",
    # maps out: parquet (DuckDB, Embedding Atlas), TensorBoard projector, one HTML page
    "export": "workbench.export",
    "to_parquet": "workbench.export",
    "to_projector": "workbench.export",
    "to_html_map": "workbench.export",
}

#: old public names that still resolve (each warns when called), kept out of
#: ``__all__``, ``dir()`` and the index
_DEPRECATED: dict[str, str] = {
    "neighbour_preservation": "workbench.geometry.views",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name) or _DEPRECATED.get(name)
    if module_name is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    # a name that is itself a submodule (``taxonomy``) resolves to the module,
    # unless the module defines that name (``compare`` in geometry/compare.py)
    value = getattr(module, name, module) if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
