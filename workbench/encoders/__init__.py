"""Encoders: models and data in, a LayerStack out (one LatentSpace per layer).

``workbench.encode(model, data)`` is the door: it picks the modality from the
data's column and the model's processor, and hands the work to one of

- :class:`TextEncoder`: BERT-like models, sentence-transformers folders and
  causal LMs (GPT-2, Llama, Qwen...); poolings ``mean``, ``cls``, ``last``,
  ``tokens``;
- :class:`SpeechEncoder`: wav2vec 2.0, HuBERT, WavLM, Whisper's encoder;
  ``mean`` over the real frames, or ``frames``;
- :class:`VisionEncoder`: ViT, CLIP/SigLIP vision towers, any AutoModel with
  an image processor; ``mean``, ``cls``.

Layer keys are ``hidden_states`` indices (0 = embeddings, k = output of block
k-1), recorded with their meaning in every space's provenance. Vectors are
float32 on the CPU whatever the model ran in. Results are cached (see
:mod:`workbench.encoders.cache`).

Modules, in the order a call meets them: ``entry`` (``encode()``, the door),
``plan`` (:class:`EncodingPlan`: model -> column -> options -> layers ->
pooling -> cache key, decided once for every entry point), ``layers`` (the
layer-key rule), ``base`` (:class:`Encoder`: the batch loop every modality
shares), ``text``, ``speech``, ``vision`` (the modalities), ``loading``
(model and processor resolution, offline errors, identity), ``pooling``,
``batching`` (buckets, prefetch, buffers), ``cache``, ``hooks`` (forward hooks
on a model's blocks), ``residual`` (``block_outputs``: a loaded LM's blocks
read where steering writes, pooled as ``encode`` pools), ``reporting``
(warnings that point at the user's line), ``bundled`` (the embedded MiniLM), and the classical baselines ``acoustic``
and ``image_features``. Reading audio and images, and the one
:class:`~workbench.media.MediaError`, live in :mod:`workbench.media`, which
datasets and widgets share.
"""

from workbench.encoders.base import Encoder
from workbench.encoders.bundled import DEFAULT_TEXT_MODEL_ID, default_text_model
from workbench.encoders.cache import CacheWarning, EncodeCache, default_cache_dir
from workbench.encoders.entry import encode
from workbench.encoders.plan import EncodingPlan
from workbench.encoders.speech import SpeechEncoder
from workbench.encoders.text import TextEncoder
from workbench.encoders.vision import VisionEncoder
from workbench.media import MediaError

__all__ = [
    "DEFAULT_TEXT_MODEL_ID",
    "CacheWarning",
    "EncodeCache",
    "Encoder",
    "EncodingPlan",
    "MediaError",
    "SpeechEncoder",
    "TextEncoder",
    "VisionEncoder",
    "default_cache_dir",
    "default_text_model",
    "encode",
]
