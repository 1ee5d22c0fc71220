"""Devices, dtypes and memory-aware chunk sizes.

Every function that can run on a GPU takes ``device="auto"`` and calls
:func:`resolve_device`; every function that walks over more data than fits in
memory at once sizes its chunks with :func:`chunk_rows`, so that the same code
runs on a laptop and on a large GPU without a parameter to tune.
"""

from __future__ import annotations

import os

import torch

__all__ = ["resolve_device", "resolve_dtype", "free_memory", "chunk_rows", "compute_dtype", "accumulate_dtype"]

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float64": torch.float64,
    "fp64": torch.float64,
}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"`` (or None) into cuda, then mps, then cpu; check others exist.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device

    Returns
    -------
    torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} was asked for, but torch sees no CUDA GPU here; use 'auto' or 'cpu'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {device!r} does not exist: torch sees {torch.cuda.device_count()} GPU(s)")
    if resolved.type == "mps" and not _mps_available():
        raise RuntimeError("device 'mps' was asked for, but this torch build or machine has no MPS")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None = "auto", device: str | torch.device = "cpu") -> torch.dtype:
    """Turn a dtype name into a torch dtype; ``"auto"`` is float32.

    Half precision (``"bf16"``, ``"fp16"``) is only used when asked for: on a
    CPU it is usually slower and always less exact.

    Examples
    --------
    >>> resolve_dtype("bf16")
    torch.bfloat16
    """
    if dtype is None or dtype == "auto":
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype).lower().replace("torch.", "")]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(set(_DTYPES))}") from None


def _available_host_memory() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * 1024**3  # a conservative guess where the OS will not say


def free_memory(device: str | torch.device = "cpu") -> int:
    """Bytes that can still be allocated on ``device`` (an estimate)."""
    device = resolve_device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        recommended = getattr(torch.mps, "recommended_max_memory", None)
        allocated = getattr(torch.mps, "driver_allocated_memory", None)
        if recommended and allocated:
            return max(int(recommended() - allocated()), 256 * 1024**2)
    return _available_host_memory()


def chunk_rows(
    bytes_per_row: int,
    *,
    device: str | torch.device = "cpu",
    fraction: float = 0.25,
    n_rows: int | None = None,
    min_rows: int = 1,
    max_rows: int | None = None,
) -> int:
    """How many rows of ``bytes_per_row`` fit in a share of the free memory.

    Parameters
    ----------
    bytes_per_row : int
        Peak bytes one row of work needs (all temporaries included).
    device : device-like
        Where the work runs.
    fraction : float, default 0.25
        Share of the free memory one chunk may use.
    n_rows : int, optional
        Total rows; the result never exceeds it.
    min_rows, max_rows : int
        Bounds on the result.

    Examples
    --------
    >>> chunk_rows(4 * 1000, n_rows=10)  # a 1000-wide float32 row; all 10 fit
    10
    """
    if bytes_per_row <= 0:
        raise ValueError("bytes_per_row must be positive")
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    rows = int(free_memory(device) * fraction // bytes_per_row)
    rows = max(rows, min_rows)
    if max_rows is not None:
        rows = min(rows, max_rows)
    if n_rows is not None:
        rows = min(rows, max(n_rows, 1))
    return max(rows, 1)


def accumulate_dtype(device: str | torch.device) -> torch.dtype:
    """The widest float ``device`` has: float64, or float32 on Apple's MPS.

    Sums whose rounding matters (exact distances that rank near-ties, log
    ratios of LID) accumulate in float64; MPS has no float64, so there they
    fall back to float32, the one place that fallback is written.

    Examples
    --------
    >>> accumulate_dtype("cpu")
    torch.float64
    """
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def compute_dtype(dtype: torch.dtype | torch.Tensor, device: str | torch.device | None = None) -> torch.dtype:
    """The dtype geometry computes in for data of ``dtype``.

    float64 stays float64 (the user asked for the precision); every other
    dtype (half, bfloat16, integers) computes in float32, where half precision
    would overflow or round away neighbour ranks. On MPS, which has no float64,
    float64 falls back to float32 (:func:`accumulate_dtype`).

    Parameters
    ----------
    dtype : torch.dtype or tensor
        The data's dtype, or the data itself.
    device : device-like, optional
        Where the computation runs; only MPS changes the answer.

    Examples
    --------
    >>> compute_dtype(torch.float16), compute_dtype(torch.float64)
    (torch.float32, torch.float64)
    """
    if isinstance(dtype, torch.Tensor):
        dtype = dtype.dtype
    if dtype == torch.float64:
        return torch.float32 if device is not None and torch.device(device).type == "mps" else torch.float64
    return torch.float32
