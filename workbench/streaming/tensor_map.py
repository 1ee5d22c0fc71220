"""Memory-mapped reading of safetensors files: rows on demand, nothing loaded whole.

A safetensors file is an 8-byte little-endian header length, a JSON header
giving each tensor's dtype, shape and byte range, then the raw little-endian
data. That makes every tensor a plain array at a known offset, so NumPy can
memory-map it: slicing a chunk of rows, or fancy-indexing scattered rows for
neighbour re-ranking, reads only those pages. (``safe_open(...).get_slice``
reads contiguous ranges only, and not scattered rows.)
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

__all__ = ["map_tensors"]

# bfloat16 has no NumPy dtype; the shard writer stores float32 instead
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}


def map_tensors(path: str | os.PathLike) -> dict[str, np.memmap]:
    """Every tensor of a safetensors file as a read-only ``np.memmap``.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> from safetensors.torch import save_file
    >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
    >>> save_file({"x": torch.arange(6.0).reshape(3, 2)}, path)
    >>> map_tensors(path)["x"][1:].tolist()
    [[2.0, 3.0], [4.0, 5.0]]
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) != 8:
            raise ValueError(f"{path} is not a safetensors file (too short)")
        (header_length,) = struct.unpack("<Q", prefix)
        if header_length > size - 8:
            raise ValueError(f"{path} is truncated or not a safetensors file")
        header = json.loads(handle.read(header_length))
    base = 8 + header_length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has dtype {info['dtype']}, which cannot be memory-mapped")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if base + end > size or end - begin != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
            raise ValueError(f"{path} is truncated or corrupted: tensor {name!r} does not fit its byte range")
        if end == begin:
            tensors[name] = np.empty(shape, dtype=dtype)  # np.memmap refuses zero-length maps
        else:
            tensors[name] = np.memmap(path, dtype=dtype, mode="r", offset=base + begin, shape=shape)
    return tensors
