"""Colours for maps: palettes that stay distinguishable, and compact encodings.

A colour option becomes a :class:`ColorEncoding`: one number per point
(int32 category codes, or float32 values) plus a plotly colorscale. The
numbers travel to the browser once, as a binary array; highlighting some
categories (the legend's search box) changes only the colorscale, a few
hundred bytes, never the per-point array.

Categorical palettes start with the familiar D3 colours (grey left out: grey
means "missing" or "not highlighted" here) and continue, for as many
categories as there are, with colours chosen greedily to be as far as
possible in CIELAB from all colours already used (the Glasbey method), so
30 emotions are still told apart.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["ColorEncoding", "encode_colors", "categorical_palette", "MISSING", "GREY", "DIMMED"]

#: Label of missing values in a categorical encoding.
MISSING = "(missing)"
#: Colour of missing values.
GREY = "#9e9e9e"
#: Colour of categories the legend search does not match.
DIMMED = "#e0e0e0"
#: Numeric scale.
NUMERIC_SCALE = "Viridis"
#: Integer columns with at most this many distinct values are categories (e.g. intensity 1-3).
MAX_INTEGER_CATEGORIES = 12

_BASE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours in [0, 1], shape (n, 3)."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]]
    )
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def _rgb_of(color: str) -> np.ndarray:
    """RGB in [0, 1] of ``#rrggbb`` or ``rgb(r, g, b)``."""
    if color.startswith("#"):
        return _hex_to_rgb([color])[0]
    return np.array([float(part) for part in color[color.index("(") + 1 : -1].split(",")[:3]]) / 255


def _hex_to_rgb(colors: list[str]) -> np.ndarray:
    return np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in colors])


@lru_cache(maxsize=8)
def _palette(n: int) -> tuple[str, ...]:
    if n <= len(_BASE):
        return tuple(_BASE[:n])
    levels = np.linspace(0.0, 1.0, 18)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    lab = _srgb_to_lab(grid)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    # no near-greys (reserved for missing / dimmed), nothing too pale to see on white
    keep = (chroma > 25) & (lab[:, 0] > 25) & (lab[:, 0] < 85)
    grid, lab = grid[keep], lab[keep]
    chosen = _srgb_to_lab(_hex_to_rgb(_BASE + [GREY, DIMMED, "#ffffff"]))
    nearest = np.min(np.linalg.norm(lab[:, None, :] - chosen[None, :, :], axis=2), axis=1)
    colors = list(_BASE)
    while len(colors) < n:
        best = int(np.argmax(nearest))
        r, g, b = (grid[best] * 255).round().astype(int)
        colors.append(f"#{r:02x}{g:02x}{b:02x}")
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[best], axis=1))
    return tuple(colors)


def categorical_palette(n: int) -> list[str]:
    """``n`` distinguishable colours as ``#rrggbb``.

    Examples
    --------
    >>> categorical_palette(3)
    ['#1f77b4', '#ff7f0e', '#2ca02c']
    >>> len(set(categorical_palette(40)))
    40
    """
    if n < 0:
        raise ValueError(f"n must be non-negative; got {n}")
    return list(_palette(int(n)))


def _is_categorical(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == bool:
        return True
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.nunique() <= MAX_INTEGER_CATEGORIES
    return not pd.api.types.is_numeric_dtype(series.dtype)


@dataclass
class ColorEncoding:
    """One colour option, encoded for the browser.

    Attributes
    ----------
    name : str
    kind : {"categorical", "numeric", "constant"}
    values : ndarray of shape (n_samples,)
        int32 category codes (categorical) or float32 values (numeric; NaN =
        missing); empty for "constant".
    categories : list of str
        Category labels in code order (categorical).
    colors : list of str
        Colour of each category (categorical), or the one colour (constant).
    counts : ndarray of shape (n_categories,)
    vmin, vmax : float
        Range of the numeric values.
    missing : int
        Number of missing values.
    """

    name: str
    kind: Literal["categorical", "numeric", "constant"]
    values: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    categories: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    vmin: float = 0.0
    vmax: float = 1.0
    missing: int = 0

    # -- what plotly draws ------------------------------------------------

    def marker(self, highlight: set[str] | None = None) -> dict:
        """Plotly marker properties; ``highlight`` greys out the other categories."""
        if self.kind == "constant":
            return {"color": self.colors[0], "showscale": False}
        if self.kind == "categorical":
            return {
                "color": self.values,
                "colorscale": self.colorscale(highlight),
                "cmin": -0.5,
                "cmax": len(self.categories) - 0.5,
                "showscale": False,
            }
        low, high, _ = self._numeric_range()
        return {
            "color": self.values_for_plotly(),
            "colorscale": self.colorscale(),
            "cmin": low,
            "cmax": high,
            "showscale": True,
            "colorbar": {"title": {"text": self.name}, "thickness": 12},
        }

    def _numeric_range(self) -> tuple[float, float, float]:
        """(cmin, cmax, share of the scale kept grey for missing values)."""
        span = self.vmax - self.vmin or 1.0
        if not self.missing:
            return self.vmin, self.vmin + span, 0.0
        band = 0.04
        return self.vmin - span * band, self.vmin + span, band / (1 + band)

    def values_for_plotly(self) -> np.ndarray:
        """The per-point numbers sent to the browser (missing numbers moved into the grey band)."""
        if self.kind != "numeric" or not self.missing:
            return self.values
        low, _, _ = self._numeric_range()
        return np.where(np.isnan(self.values), np.float32(low), self.values).astype(np.float32)

    def colorscale(self, highlight: set[str] | None = None) -> list:
        if self.kind == "categorical":
            colors = [
                c if highlight is None or name in highlight else DIMMED
                for name, c in zip(self.categories, self.colors)
            ]
            k = len(colors)
            scale = []
            for i, color in enumerate(colors):
                scale += [[i / k, color], [(i + 1) / k, color]]
            return scale
        from plotly.colors import get_colorscale

        base = get_colorscale(NUMERIC_SCALE)
        _, _, grey = self._numeric_range()
        if not grey:
            return base
        # the step sits half-way down the unused band, so the smallest real
        # value never lands on it
        return [[0.0, GREY], [grey / 2, GREY], [grey / 2, base[0][1]]] + [
            [grey + p * (1 - grey), c] for p, c in base
        ]

    def rgba(self, highlight: set[str] | None = None) -> np.ndarray:
        """Per-point RGBA in [0, 1], shape (n_samples, 4): the colours the map shows, for static images."""
        if self.kind == "constant":
            return np.append(_hex_to_rgb(self.colors[:1])[0], 1.0)[None, :]
        if self.kind == "categorical":
            table = self.colorscale(highlight)[::2]
            rgb = _hex_to_rgb([color for _, color in table])
            return np.hstack([rgb[self.values], np.ones((len(self.values), 1))])
        low, high, _ = self._numeric_range()
        where = np.clip((self.values_for_plotly() - low) / (high - low), 0.0, 1.0)
        scale = self.colorscale()
        stops = np.array([position for position, _ in scale])
        table = np.array([_rgb_of(color) for _, color in scale])
        rgb = np.stack([np.interp(where, stops, table[:, channel]) for channel in range(3)], axis=1)
        return np.hstack([rgb, np.ones((len(rgb), 1))])

    # -- the legend ---------------------------------------------------------

    def matching(self, query: str) -> set[str] | None:
        """Categories whose name contains ``query`` (case-insensitive); None = all."""
        query = query.strip().lower()
        if self.kind != "categorical" or not query:
            return None
        return {name for name in self.categories if query in name.lower()}

    def legend_html(self, query: str = "", limit: int = 200) -> str:
        """The legend as HTML, filtered by ``query``; every user string is escaped."""
        title = f'<div class="wb-legend-title">{html.escape(self.name)}</div>'
        if self.kind == "constant":
            return title
        if self.kind == "numeric":
            text = f"{self.vmin:.4g} – {self.vmax:.4g}"
            if self.missing:
                text += f' · <span class="wb-swatch" style="background:{GREY}"></span> {self.missing} missing'
            return title + f'<div class="wb-legend-range">{text}</div>'
        shown = self.matching(query)
        items = [
            (name, color, count)
            for name, color, count in zip(self.categories, self.colors, self.counts)
            if shown is None or name in shown
        ]
        rows = [
            f'<div class="wb-legend-item"><span class="wb-swatch" style="background:{color}"></span>'
            f'{html.escape(name)} <span class="wb-count">{count}</span></div>'
            for name, color, count in items[:limit]
        ]
        if len(items) > limit:
            rows.append(f'<div class="wb-legend-more">… {len(items) - limit} more; type to narrow</div>')
        if not items:
            rows.append(f'<div class="wb-legend-more">no category matches {html.escape(query)!s}</div>')
        return title + f'<div class="wb-legend-items">{"".join(rows)}</div>'


def encode_colors(values: object, name: str = "colour", *, kind: str | None = None) -> ColorEncoding:
    """Turn per-point values into a :class:`ColorEncoding`.

    Parameters
    ----------
    values : array-like of shape (n_samples,), or None
        Labels (strings, booleans, few distinct integers) become categories;
        other numbers a continuous scale. None gives one constant colour.
    name : str
        Shown as the legend / colour bar title.
    kind : {"categorical", "numeric"}, optional
        Force the interpretation.

    Examples
    --------
    >>> enc = encode_colors(["joy", "fear", "joy", None], "emotion")
    >>> enc.kind, enc.categories, enc.values.tolist()
    ('categorical', ['fear', 'joy', '(missing)'], [1, 0, 1, 2])
    >>> encode_colors([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5]).kind
    'numeric'
    """
    if values is None:
        return ColorEncoding(name, "constant", colors=[_BASE[0]])
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values) if not isinstance(values, list) else values)
    if series.ndim != 1:
        raise ValueError(f"colour values for {name!r} must be one per point")
    categorical = _is_categorical(series) if kind is None else kind == "categorical"
    if kind not in (None, "categorical", "numeric"):
        raise ValueError(f"kind must be 'categorical' or 'numeric'; got {kind!r}")
    if not categorical:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        finite = np.isfinite(numbers)
        numbers[~finite] = np.nan
        vmin = float(numbers[finite].min()) if finite.any() else 0.0
        vmax = float(numbers[finite].max()) if finite.any() else 1.0
        return ColorEncoding(
            name, "numeric", numbers.astype(np.float32), vmin=vmin, vmax=vmax, missing=int((~finite).sum())
        )
    codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
    categories = [str(u) for u in uniques]
    missing = int((codes < 0).sum())
    colors = categorical_palette(len(categories))
    if missing:
        codes = np.where(codes < 0, len(categories), codes)
        categories.append(MISSING)
        colors.append(GREY)
    counts = np.bincount(codes, minlength=len(categories))
    return ColorEncoding(
        name, "categorical", codes.astype(np.int32), categories, colors, counts, missing=missing
    )
