"""Two representations of the same rows, checked and centred: what every measure starts from."""

from __future__ import annotations

from typing import Literal

import torch

from workbench._checks import Data, check_matrix

__all__ = ["Metric", "centred", "pair"]

Metric = Literal["euclidean", "cosine"]


def pair(x: Data, y: Data, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = check_matrix(x, "x"), check_matrix(y, "y")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"x and y must hold the same rows (row i = one sample in both); got {a.shape[0]} and {b.shape[0]} rows"
        )
    if a.shape[0] < 4:
        raise ValueError(f"comparing representations needs at least 4 rows; got {a.shape[0]}")
    if device is not None:
        a, b = a.to(device), b.to(device)
    return a, b


def centred(data: Data, what: str = "x") -> torch.Tensor:
    """``data`` as float64 with each column's mean removed; refused when every row is the same vector."""
    x = check_matrix(data, what).to(torch.float64)
    x = x - x.mean(0, keepdim=True)
    if not bool((x != 0).any()):
        raise ValueError(f"every row of {what} is the same vector, so it has no variance to compare")
    return x
