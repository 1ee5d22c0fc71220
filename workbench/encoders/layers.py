"""The one layer-key rule of the encoders: which ``hidden_states`` a caller means.

A layer key is a ``hidden_states`` index: 0 is the embedding output, ``k``
the output of block ``k - 1``. Callers name layers as ``"all"``, an int or a
list of ints, negative ints counting from the end; :func:`check_layers`
checks that form before any work, and :func:`resolve_layers` turns it into
keys once the number of hidden states is known. ``workbench.encode``,
``Encoder.encode``, ``encode_to_shards``, the Ray path and
``steering.block_outputs`` all go through these two functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["LAYER_MEANING", "Layers", "check_layers", "resolve_layers"]

#: What a layer key means, recorded in every encoded space's provenance.
LAYER_MEANING = "hidden_states[k]: 0 = embeddings, k = output of block k-1"

Layers = Any  # "all", an int, or a sequence of ints


def resolve_layers(layers: Layers, n_hidden: int) -> list[int]:
    """Layer keys (``hidden_states`` indices) from ``"all"``, an int, or ints (negative count from the end).

    Examples
    --------
    >>> resolve_layers("all", 3), resolve_layers(-1, 7), resolve_layers([0, -1], 7)
    ([0, 1, 2], [6], [0, 6])
    """
    if isinstance(layers, str):
        if layers != "all":
            raise ValueError(f"layers must be 'all', an int or a list of ints; got {layers!r}")
        return list(range(n_hidden))
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        layers = [layers]
    keys: list[int] = []
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise TypeError(f"layers must be ints (hidden_states indices); got {layer!r}")
        if not -n_hidden <= layer < n_hidden:
            raise ValueError(
                f"layer {layer} does not exist: the model has {n_hidden} hidden states "
                f"(0 = embeddings .. {n_hidden - 1}; negative indices count from the end)"
            )
        key = int(layer) % n_hidden
        if key not in keys:
            keys.append(key)
    if not keys:
        raise ValueError("layers is empty; pass 'all' or at least one layer")
    return keys


def check_layers(layers: Layers) -> Layers:
    """The form of ``layers`` checked before any work, normalised to ``"all"``, an int or a list of ints.

    Ranges need the model's number of hidden states; :func:`resolve_layers`
    checks them on the first batch.

    Examples
    --------
    >>> import numpy as np
    >>> check_layers("all"), check_layers(np.int64(-1)), check_layers((0, 2))
    ('all', -1, [0, 2])
    """
    if isinstance(layers, str):
        resolve_layers(layers, 1)
        return layers
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        return int(layers)
    if not isinstance(layers, Iterable):
        raise TypeError(f"layers must be 'all', an int or a list of ints; got {layers!r}")
    layers = list(layers)
    resolve_layers(layers, 2**62)  # types and emptiness
    return [int(layer) for layer in layers]
