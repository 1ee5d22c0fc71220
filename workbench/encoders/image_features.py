"""Classical image features as an encoder: HOG or plain downsampled pixels.

The baseline a vision model has to beat. :func:`encode_image_features` turns
images into a :class:`~workbench.space.LatentSpace` like any model does, so a
ViT's layers can be compared with what the pixels, or their gradient
orientations, already separate.

- ``"hog"``: histograms of oriented gradients (Dalal & Triggs, 2005) on the
  grey image: unsigned orientations in ``bins`` bins per ``cell`` x ``cell``
  pixel cell, each 2 x 2 block of cells L2-normalised, clipped at 0.2 and
  normalised again (L2-Hys). Shape and edge layout, insensitive to colour.
- ``"pixels"``: the RGB image downsampled to ``size`` x ``size``, in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.datasets.schema import check_frame, fingerprint
from workbench.media import read_image
from workbench.space import LatentSpace

__all__ = ["hog", "image_array", "encode_image_features"]


def image_array(source: Any, *, size: int, grey: bool = False, row: Any = None) -> np.ndarray:
    """One image as a float array in [0, 1], resized to ``size`` x ``size``.

    Parameters
    ----------
    source : PIL image, path, or array of shape (H, W) or (H, W, C)
        Read as the vision encoders read it
        (:func:`workbench.media.read_image`).
    row : optional
        The row's id, for error messages.

    Returns
    -------
    ndarray of shape (size, size) when ``grey``, else (size, size, 3)
    """
    from PIL import Image

    image = read_image(source, row=row).convert("L" if grey else "RGB")
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64) / 255.0


def hog(grey: np.ndarray, *, cell: int = 8, bins: int = 9) -> np.ndarray:
    """Histogram-of-oriented-gradients descriptor of one grey image.

    Parameters
    ----------
    grey : ndarray of shape (H, W)
    cell : int
        Cell side in pixels.
    bins : int
        Orientation bins over 0..180 degrees.

    Returns
    -------
    ndarray of shape ((H // cell - 1) * (W // cell - 1) * 4 * bins,)

    Examples
    --------
    >>> hog(np.zeros((32, 32))).shape
    (324,)
    """
    gy, gx = np.zeros_like(grey), np.zeros_like(grey)
    gy[1:-1], gx[:, 1:-1] = grey[2:] - grey[:-2], grey[:, 2:] - grey[:, :-2]
    magnitude = np.hypot(gx, gy)
    orientation = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    which = np.minimum((orientation / (180.0 / bins)).astype(int), bins - 1)
    rows, cols = grey.shape[0] // cell, grey.shape[1] // cell
    if rows < 2 or cols < 2:
        raise ValueError(f"the image ({grey.shape}) must hold at least 2 x 2 cells of {cell} pixels")
    # one vectorised scatter: (cell row, cell col, bin) <- gradient magnitude
    cell_of_row = np.repeat(np.arange(rows), cell)
    cell_of_col = np.repeat(np.arange(cols), cell)
    area = magnitude[: rows * cell, : cols * cell]
    flat = (cell_of_row[:, None] * cols + cell_of_col[None, :]) * bins + which[: rows * cell, : cols * cell]
    histogram = np.bincount(flat.ravel(), weights=area.ravel(), minlength=rows * cols * bins).reshape(rows, cols, bins)
    blocks = np.concatenate(
        [histogram[:-1, :-1], histogram[1:, :-1], histogram[:-1, 1:], histogram[1:, 1:]], axis=-1
    )  # (rows-1, cols-1, 4*bins)
    blocks = blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-10)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-10)
    return blocks.ravel()


def encode_image_features(
    data: pd.DataFrame | Sequence,
    *,
    method: str = "hog",
    size: int | None = None,
    cell: int = 8,
    bins: int = 9,
    name: str | None = None,
    progress: bool = False,
) -> LatentSpace:
    """Encode images as HOG descriptors or downsampled pixels.

    Parameters
    ----------
    data : DataFrame with an ``image`` column, or a sequence of images
        PIL images, paths or arrays. The frame becomes the space's ``meta``.
    method : {"hog", "pixels"}
    size : int, optional
        Side the images are resized to first (default 64 for HOG, 16 for
        pixels).
    cell, bins : int
        HOG cell side (pixels) and orientation bins.
    name : str, optional
        Default: the method.
    progress : bool
        Show a progress bar.

    Returns
    -------
    LatentSpace
        float32, shape (n_images, (size // cell - 1)**2 * 4 * bins) for HOG,
        (n_images, size * size * 3) for pixels.

    Examples
    --------
    >>> from workbench.datasets import make_faces
    >>> encode_image_features(make_faces(1, emotions=["joy"], size=64)).shape
    (3, 1764)
    """
    from tqdm.auto import tqdm

    if method not in ("hog", "pixels"):
        raise ValueError(f"method must be 'hog' or 'pixels'; got {method!r}")
    if isinstance(data, pd.DataFrame):
        meta = check_frame(data, modality="image")
        items = list(meta["image"])
    else:
        items = list(data)
        meta = pd.DataFrame({"id": np.arange(len(items))})
    if not items:
        raise ValueError("no images to encode")
    size = int(size or (64 if method == "hog" else 16))
    rows = []
    for item, key in tqdm(zip(items, meta["id"]), total=len(items), desc=method, disable=not progress):
        if method == "hog":
            rows.append(hog(image_array(item, size=size, grey=True, row=key), cell=cell, bins=bins))
        else:
            rows.append(image_array(item, size=size, row=key).ravel())
    provenance: dict[str, Any] = {"model": f"image-{method}", "size": size, "dataset": fingerprint(meta, ["id"])}
    if method == "hog":
        provenance.update(cell=cell, bins=bins, normalisation="L2-Hys, 2x2 cell blocks")
    return LatentSpace(np.vstack(rows).astype(np.float32), meta, name=name or method, provenance=provenance)
