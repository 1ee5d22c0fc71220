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

from workbench._format import FormatError

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
            raise FormatError(f"{path} is not a safetensors file (too short)")
        (header_length,) = struct.unpack("<Q", prefix)
        if header_length > size - 8:
            raise FormatError(f"{path} is truncated or not a safetensors file")
        try:
            header = json.loads(handle.read(header_length))
        except (ValueError, UnicodeDecodeError):
            raise FormatError(f"{path} is damaged: its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path} is damaged: its header is not a JSON object")
    base = 8 + header_length
    tensors, ranges = {}, []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end, shape, dtype = _entry(path, name, info)
        if base + end > size or end - begin != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
            raise FormatError(f"{path} is truncated or corrupted: tensor {name!r} does not fit its byte range")
        ranges.append((begin, end, name))
        if end == begin:
            tensors[name] = np.empty(shape, dtype=dtype)  # np.memmap refuses zero-length maps
        else:
            tensors[name] = np.memmap(path, dtype=dtype, mode="r", offset=base + begin, shape=shape)
    ranges.sort()
    for (_, first_end, first), (second_begin, _, second) in zip(ranges, ranges[1:]):
        if second_begin < first_end:
            raise FormatError(f"{path} is corrupted: the byte ranges of tensors {first!r} and {second!r} overlap")
    return tensors


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(path: str | os.PathLike, name: str, info: object) -> tuple[int, int, tuple[int, ...], str]:
    """One header entry's byte range, shape and NumPy dtype, every field checked (it is data from a file)."""
    where = f"{path}: tensor {name!r}"
    if not isinstance(info, dict):
        raise FormatError(f"{where} is described by a {type(info).__name__}, not an object")
    dtype = _DTYPES.get(info.get("dtype")) if isinstance(info.get("dtype"), str) else None
    if dtype is None:
        raise FormatError(f"{where} has dtype {info.get('dtype')!r}, which cannot be memory-mapped")
    offsets, shape = info.get("data_offsets"), info.get("shape")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets)) and offsets[0] <= offsets[1]):
        raise FormatError(f"{where}: field 'data_offsets' must be two non-negative, ordered integers; got {offsets!r}")
    if not (isinstance(shape, list) and all(map(_is_count, shape))):
        raise FormatError(f"{where}: field 'shape' must be a list of non-negative integers; got {shape!r}")
    return offsets[0], offsets[1], tuple(shape), dtype
