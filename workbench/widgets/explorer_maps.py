"""The Explorer's maps: each layer's projection, aligned, with its trustworthiness.

:class:`ExplorerMaps` is the part of :class:`~workbench.widgets.Explorer`
that computes what is drawn: a layer's :class:`~workbench.geometry.views.View`
for the shown method (cached by :func:`~workbench.geometry.views.project`),
Procrustes-aligned onto a reference layer so points stay put, and its
trustworthiness, measured with the map while that is cheap
(:data:`EAGER_QUALITY`) and otherwise only when :attr:`view` is read, then
kept.

It is a mixin: the class using it is the Explorer, which holds ``_layers``,
``_panes``, ``method``, ``meta`` and the projection settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from workbench.geometry.views import View, align_to, project, trustworthiness

__all__ = ["EAGER_QUALITY", "METHOD_LABELS", "ExplorerMaps"]

#: How each projection is named in the menu, the titles and the status line.
METHOD_LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
#: Rank comparisons (rows x query points) up to which a map's trustworthiness is measured as it is
#: drawn (about a second on two cores); beyond, only when asked for (``Explorer.view``), then cached.
EAGER_QUALITY = 20_000_000


class ExplorerMaps:
    """What the Explorer draws: per layer and method, the view, its aligned map and its trustworthiness."""

    @property
    def view(self) -> View:
        """The projection of the (first) pane, with its trustworthiness (measured now if it was deferred)."""
        return self._measured_view(self._panes[0])

    @property
    def views(self) -> list[View]:
        """The projection of every pane, with its trustworthiness (measured now if it was deferred)."""
        return [self._measured_view(key) for key in self._panes]

    @property
    def coords(self) -> np.ndarray:
        """What the (first) pane draws: the aligned map, shape (n_samples, dims)."""
        return self._figure.coords_of(0) if self._browser else self._figure.coords(0)

    def _measures_eagerly(self) -> bool:
        """Whether a new map's trustworthiness is measured with it, or only when asked for."""
        n = len(self.meta)
        return n * min(n, self._sample) <= EAGER_QUALITY

    def _view(self, key: Any) -> View:
        """A layer's map as known so far: with its trustworthiness if it was measured."""
        view = project(
            self._layers[key],
            self.method,
            dims=self._dims,
            seed=self._seed,
            metric=self._metric,
            k=self._k,
            quality=self._measures_eagerly(),
            sample=self._sample,
            name=f"layer {key}" if len(self._layers) > 1 else self.name,
            **self._params.get(self.method, {}),
        )
        return self._trust.get((key, self.method), view)

    def _measured_view(self, key: Any) -> View:
        """A layer's map with its trustworthiness, measured (once) if it was deferred."""
        view = self._view(key)
        if view.trustworthiness is None:
            n = len(self.meta)
            k = max(1, min(int(self._k), (n - 1) // 2))
            trust = trustworthiness(
                self._layers[key], view.coords, k=k, metric=self._metric, sample=self._sample, seed=self._seed
            )
            view = replace(view, trustworthiness=trust, k=k, sampled=self._sample if n > self._sample else None)
            self._trust[(key, self.method)] = view
            if self._built:
                self.status.value = self._status_html()
        return view

    def _map(self, key: Any) -> np.ndarray:
        """The drawn map of a layer: its view, aligned onto its reference."""
        cache_key = (key, self.method)
        if cache_key not in self._maps:
            coords = self._view(key).coords
            reference = self._reference_of(key)
            if self._align and reference is not None:
                coords = align_to(coords, self._map(reference))
            self._maps[cache_key] = coords
        return self._maps[cache_key]

    def _reference_of(self, key: Any) -> Any:
        if self._grid:
            index = self._panes.index(key)
            return self._panes[index - 1] if index else None
        reference = self._references.setdefault(self.method, key)
        return None if key == reference else reference

    def _titles(self) -> list[str]:
        if not self._grid:
            return [""]
        return [
            f"layer {key} · T={view.trustworthiness:.2f}" if view.trustworthiness is not None else f"layer {key}"
            for key, view in zip(self._panes, (self._view(key) for key in self._panes))
        ]

