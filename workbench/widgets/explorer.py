"""The Explorer: an interactive, honest 2-D/3-D map of a latent space.

``Explorer(space_or_stack, color="emotion")`` shows a scatter of the rows
(PCA, UMAP or t-SNE) with controls around it: a layer slider for a
LayerStack, the projection, the colour (any meta column, a per-point score,
Parrott tiers, the map's own neighbour preservation) with a searchable
legend, and a side panel with the hovered or clicked row's text, image and
audio. Lasso or box selections come back to Python as a DataFrame
(:attr:`Explorer.selection`) and can be set from Python
(:meth:`Explorer.select`); unselected points stay visible, dimmed.

Its state is traits — ``layer``, ``method``, ``color``, ``selection`` (ids)
and ``hovered`` (an id) — so ``observe`` and ``ipywidgets.link`` work on them
as on any widget, and so does ``jslink`` (all are synced to the browser);
the controls only write to them.

Every map carries its trustworthiness, and can be coloured by
``"preservation"`` to show *where* it misplaces neighbours.

:meth:`Explorer.grid` shows several layers side by side in one figure,
Procrustes-aligned so a point stays put from pane to pane;
:func:`workbench.widgets.linking.link` shares selection and hover between
explorers of other layers, models or modalities.

A 2-D map is drawn by the browser (:mod:`workbench.widgets.browser_map`):
the page holds every PCA layer, every fixed colour, the hover texts and the
rows' pictures and sounds, and switches among them itself, so the map stays
alive in a report with no kernel; Python computes only what the page asks
for and lacks. A 3-D map (``dims=3``), or ``renderer="plotly"``, is a plotly
FigureWidget (WebGL) whose controls need a kernel.

What travels to the browser is kept small and binary (see
:mod:`workbench.widgets.transport`): coordinates as float32 arrays, colours as
int32 codes or float32 values; changing the colour does not resend
coordinates, changing the layer resends only what the page does not hold.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets

from workbench._checks import layer_key
from workbench.geometry.views import METHODS, View
from workbench.space import LatentSpace, LayerStack
from workbench.widgets.browser_map import NEEDS_KERNEL_CLASS, BrowserMap, has_media, media_buffers, row_media
from workbench.widgets.browser_panes import BrowserPanes
from workbench.widgets.colors import ColorEncoding, encode_colors
from workbench.widgets.explorer_colors import ColorSpec, ExplorerColors
from workbench.widgets.explorer_input import (
    as_layers,
    recorded_anchors,
    relative_layers,
)
from workbench.widgets.explorer_maps import METHOD_LABELS, ExplorerMaps
from workbench.widgets.figure import MapFigure, hover_texts
from workbench.widgets.options import NONE, ColorOptions
from workbench.widgets.panel import RowPanel
from workbench.widgets.selection import RowId, RowSelection, SelectionMixin, ids_from_json, ids_to_json

__all__ = ["Explorer"]


def _stylesheet() -> widgets.HTML:
    css = resources.files("workbench.widgets").joinpath("static/explorer.css").read_text(encoding="utf-8")
    return widgets.HTML(f"<style>{css}</style>", layout=widgets.Layout(display="none"))


class Explorer(ExplorerColors, ExplorerMaps, SelectionMixin, widgets.VBox):
    """An interactive map of a LatentSpace or of every layer of a LayerStack.

    Parameters
    ----------
    data : LatentSpace, LayerStack, or mapping of name -> LatentSpace or array
        The spaces share their rows (same ``id`` in the same order); a
        mapping's arrays of shape (n_samples, n_features) take the spaces'
        rows, or the ids ``0..n-1`` when there are only arrays.
    color : str, array-like, callable, or None
        What to colour by first: a meta column (categorical or numeric),
        ``"preservation"``, a Parrott roll-up option, an array/Series with one
        value per row, or a callable ``space -> array`` (evaluated per layer).
    hover : str or None
        Meta column shown on hover (escaped, wrapped); None shows the ids.
    colors : mapping of name -> option, optional
        More entries for the colour dropdown (arrays, Series, callables).
    method : {"pca", "umap", "tsne"}
    layer : layer key or int
        Layer shown first (negative counts from the end).
    dims : {2, 3}
    seed : int
        Seed of UMAP / t-SNE (and of the trustworthiness sample).
    metric : {"euclidean", "cosine"}
        High-dimensional distance for UMAP, t-SNE and the quality scores.
    k : int
        Neighbours for trustworthiness and preservation.
    sample : int
        With more rows than this, trustworthiness is estimated on this many
        random query points (its cost grows with ``sample × n``). When that
        product passes ``explorer_maps.EAGER_QUALITY`` (2e7) it is measured only when asked
        for (:attr:`view`), not while building or switching maps.
    anchors : ids or boolean mask, optional
        Rows drawn as anchors (diamonds). By default the anchors recorded in
        the spaces' provenance by :class:`~workbench.geometry.relative.RelativeProjection`,
        if any.
    relative : RelativeProjection, optional
        Show every layer re-expressed relative to the same anchors (fitted on
        each layer with the anchor ids chosen on the first), anchors drawn.
    directions : Directions, optional
        Fitted emotion directions: adds ``"direction: <label>"`` colour
        options, each row's intensity along that label's direction in the
        layer shown (0 = baseline level, 1 = typical row of the label).
    params : mapping of method -> dict, optional
        Projection parameters, e.g. ``{"umap": {"n_neighbors": 30}}``.
    align : bool
        Procrustes-align every layer's map onto the first layer shown (and
        grid panes onto their left neighbour), so points do not jump.
    panes : list of layer keys, optional
        Show these layers side by side instead of one with a slider (see
        :meth:`grid`).
    cols : int
        Panes per row in a grid.
    height : int, optional
        Figure height in pixels.
    point_size : float, optional
    autoplay : bool
        Play a row's audio as soon as it is shown in the panel.
    renderer : {"browser", "plotly"}, optional
        ``"browser"`` (the default for 2-D maps): the front end holds every
        PCA layer and every fixed colour option as binary buffers and
        switches among them itself, so the map, its controls, legend search,
        hover panel and lasso also work in a report or handout with no kernel
        (:mod:`workbench.widgets.browser_map`). A grid's panes share
        projection, colour, search, selection and hover in the browser, and
        so do linked Explorers' maps (:func:`~workbench.widgets.link`).
        ``"plotly"`` (the default in 3-D, which only it draws): a plotly
        FigureWidget, whose controls need a running kernel.

    Examples
    --------
    >>> import torch, pandas as pd
    >>> from workbench import LatentSpace
    >>> meta = pd.DataFrame({"id": range(60), "emotion": ["joy", "fear", "anger"] * 20})
    >>> explorer = Explorer(LatentSpace(torch.randn(60, 8), meta), color="emotion", hover=None)
    >>> explorer.select([0, 1, 2])
    >>> explorer.selection["emotion"].tolist()
    ['joy', 'fear', 'anger']
    >>> changes = []
    >>> explorer.observe(lambda change: changes.append(change["new"]), names="selection")
    >>> explorer.select([5])
    >>> changes
    [[5]]
    """

    #: Layer shown (a single-map Explorer; a grid's first pane, fixed).
    layer = traitlets.Any(help="layer key shown").tag(sync=True)
    #: Projection shown: "pca", "umap" or "tsne".
    method = traitlets.Unicode("pca", help="projection shown").tag(sync=True)
    #: Name of the colour option shown; set it to a name, a meta column, an array, a Series or a callable.
    color = ColorSpec(NONE, help="colour option shown").tag(sync=True)
    #: Selected rows: ids in change events and in the browser, the rows of the meta table when read.
    selection = RowSelection(help="ids of the selected rows").tag(sync=True, to_json=ids_to_json, from_json=ids_from_json)
    #: Id of the row in the side panel (hovered, clicked or shown from a linked view), or None.
    hovered = RowId(help="id of the row in the side panel").tag(sync=True)

    def __init__(
        self,
        data: LatentSpace | LayerStack | Mapping[Any, LatentSpace],
        color: Any = None,
        hover: str | None = "text",
        *,
        colors: Mapping[str, Any] | None = None,
        method: str = "pca",
        layer: Any = -1,
        dims: int = 2,
        seed: int = 0,
        metric: str = "euclidean",
        k: int = 10,
        sample: int = 1000,
        anchors: Any = None,
        relative: Any = None,
        directions: Any = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        align: bool = True,
        panes: Sequence[Any] | None = None,
        cols: int = 3,
        height: int | None = None,
        point_size: float | None = None,
        autoplay: bool = True,
        renderer: str | None = None,
    ) -> None:
        self._layers, self.meta, self.name = as_layers(data)
        keys = list(self._layers)
        recorded = anchors is None and relative is None
        if relative is not None:
            self._layers, anchors = relative_layers(self._layers, relative, anchors)
        elif recorded:
            anchors = recorded_anchors(self._layers)
        if dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3; got {dims!r}")
        if renderer is None:
            renderer = "browser" if dims == 2 else "plotly"
        if renderer not in ("plotly", "browser"):
            raise ValueError(f"renderer must be 'plotly' or 'browser'; got {renderer!r}")
        if renderer == "browser" and dims != 2:
            raise ValueError("renderer='browser' draws 2-D maps: use renderer='plotly' for 3-D")
        if panes is not None:
            panes = [layer_key(key, keys) for key in panes]
            if not panes:
                raise ValueError("a grid needs at least one layer; layers=[] was given")
        self._grid = panes is not None
        self._panes = list(panes) if self._grid else [layer_key(layer, keys)]
        # per projection, the layer every other layer's map is aligned onto:
        # the first one shown with it (so switching method computes one map)
        self._references: dict[str, Any] = {}
        self._dims, self._seed, self._metric, self._k, self._align = dims, seed, metric, k, align
        self._sample, self._cols = sample, cols
        self._params = {m: dict(p) for m, p in (params or {}).items()}
        self.options = ColorOptions(self.meta, colors)
        if directions is not None:
            self.options.add_directions(directions, single_space=isinstance(data, LatentSpace))
        self._init_selection()
        self._encodings: dict[tuple, ColorEncoding] = {}
        self._maps: dict[tuple, np.ndarray] = {}
        self._trust: dict[tuple, View] = {}  # (layer, method) -> the view with a deferred trustworthiness
        self._highlight: set[str] | None = None
        # the traits' first values: validated, and observed only once everything is built
        self._built = False
        self.method = method
        self.color = color
        self.layer = self._panes[0]
        # recorded anchors may lie outside a subset of the rows: those are not drawn
        missing = "ignore" if recorded else "raise"
        self._anchors = None if anchors is None else self._positions(anchors, missing)
        self._hover_column = self._check_hover(hover)

        self._browser = renderer == "browser"
        # a browser map shows the row in its own panel: the kernel's keeps the row, not its media
        self.panel = RowPanel(self.meta, autoplay=autoplay, media=not self._browser)
        self._shown = self._pane_encodings()
        if self._browser:
            self._figure = self._browser_map(keys, cols, height, point_size)
        else:
            self._figure = self._plotly_map(cols, height, point_size)
        self._build_controls(keys, self._shown[0])
        super().__init__(self._layout_children())
        self.add_class("wb-explorer")
        self._built = True
        self.observe(self._show_layer, "layer")
        self.observe(self._show_method, "method")
        self.observe(self._show_color, "color")
        self.observe(self._show_selection, "selection")
        self.observe(self._show_hovered, "hovered")

    # ------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------

    def _plotly_map(self, cols: int, height: int | None, point_size: float | None) -> MapFigure:
        texts = hover_texts(self.meta[self._hover_column if self._hover_column else "id"])
        return MapFigure(
            [self._map(key) for key in self._panes],
            self._titles(),
            texts,
            self._shown,
            anchors=self._anchors,
            on_points=self._on_points,
            cols=cols,
            height=height,
            point_size=point_size,
        )

    def _browser_map(self, keys: list, cols: int, height: int | None, point_size: float | None) -> BrowserPanes:
        """The map (or a grid's maps) whose browser side holds every PCA layer and fixed colour, so it works without a kernel.

        Other projections (UMAP, t-SNE) are computed when asked for, and colours
        that change with the layer or the map (a callable, preservation, LID)
        when shown: until then the browser greys them without a kernel.
        """
        methods = [(m, METHOD_LABELS[m]) for m in METHODS]
        # without a hover column the panel shows the id alone: no second copy of the ids as texts
        ids, texts = self.meta["id"].tolist(), self.meta[self._hover_column].tolist() if self._hover_column else []
        shown = self._panes if self._grid else keys  # a grid pane holds its own layer, a single map all of them
        maps = [
            BrowserMap([str(key) for key in ([pane] if self._grid else keys)], methods, ids=ids, texts=texts,
                       height=height or (360 if self._grid else None), point_size=point_size, anchors=self._anchors)
            for pane in (self._panes if self._grid else [None])
        ]  # fmt: skip
        panes = BrowserPanes(maps, cols)
        maps[0].media = media_buffers(self.meta)  # once: a grid's other panes find it in the page
        if has_media(self.meta) and not maps[0].media:  # too many rows to send: each row's as it is shown
            panes.media_source = lambda row: row_media(self.meta, row)
        for view in maps:
            view.on_points = self._on_points
            view.color_names = self.options.names
            view.on_request(self._browser_asks)
        with panes.batch_update():
            if self.method == "pca":  # cheap: every layer, so the slider works offline
                for key in shown:
                    pane = self._panes.index(key) if self._grid else 0
                    panes.add_map(pane, "pca", keys.index(key), self._map(key))
                    panes.add_title(pane, "pca", keys.index(key), self._view(key).describe())
            for name in self.options.names:
                if not self.options[name].depends and name != self.color:
                    values = self.options.values(name, self.space, self.layer, None)
                    panes.add_colors(name, encode_colors(values, name, kind=self.options[name].kind))
            depends = self.options[self.color].depends
            for pane, key in enumerate(self._panes):
                index = keys.index(key)
                panes.show_map(pane, self.method, index, self._map(key))
                panes.show_colors(pane, self.color, index if depends else None, self._shown[pane])
            panes.set_titles([self._view(key).describe() for key in self._panes])
        return panes

    def _browser_asks(self, name: str, value: Any) -> None:
        """The browser changed a control: do in Python what it could not (a new projection or colour)."""
        if name == "layer":
            self.layer = self.layers[value]
        elif name == "method":
            self.method = value
        elif name == "color":
            self.color = value
        elif name == "search":
            self.legend_search.value = value

    def _check_hover(self, hover: str | None) -> str | None:
        if hover is None:
            return None
        if hover not in self.meta.columns:
            if hover == "text":  # the default: data without text simply hover by id
                return None
            raise KeyError(f"no column {hover!r} to show on hover; columns are {list(self.meta.columns)}")
        return hover

    def _build_controls(self, keys: list, encoding: ColorEncoding) -> None:
        self.controls = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self.layer_slider = widgets.SelectionSlider(
            options=[(str(key), key) for key in keys],
            value=self._panes[0],
            description="layer",
            continuous_update=False,
            layout=widgets.Layout(width="320px", display="none" if self._grid or len(keys) < 2 else None),
        )
        self.method_menu = widgets.Dropdown(
            options=[(METHOD_LABELS[m], m) for m in METHODS],
            value=self.method,
            description="map",
            layout=widgets.Layout(width="170px"),
        )
        self.color_menu = widgets.Dropdown(
            options=self.options.names, value=self.color, description="colour", layout=widgets.Layout(width="280px")
        )
        self.legend_search = widgets.Text(
            placeholder="search categories", continuous_update=True, layout=widgets.Layout(width="180px")
        )
        self.legend = widgets.HTML(encoding.legend_html())
        self.status = widgets.HTML(self._status_html())
        self.controls.children = [self.layer_slider, self.method_menu, self.color_menu, self.legend_search]
        if not self._browser:  # only Python answers these: a report shows them disabled, saying why
            for control in self.controls.children:
                control.add_class(NEEDS_KERNEL_CLASS)
        self.layer_slider.observe(lambda change: setattr(self, "layer", change["new"]), "value")
        self.method_menu.observe(lambda change: setattr(self, "method", change["new"]), "value")
        self.color_menu.observe(self._on_color_control, "value")
        self.legend_search.observe(self._on_search, "value")
        self._show_search(encoding)

    def _layout_children(self) -> list:
        if self._browser:  # the map draws its own controls, legend and panel, so they work without a kernel
            return [self.figure, self.status]
        side = widgets.VBox([self.legend, self.panel], layout=widgets.Layout(width="290px"))
        main = widgets.HBox(
            [widgets.Box([self.figure], layout=widgets.Layout(flex="1 1 auto", min_width="0")), side],
            layout=widgets.Layout(width="100%"),
        )
        return [_stylesheet(), self.controls, main, self.status]

    # ------------------------------------------------------------------
    # public state
    # ------------------------------------------------------------------

    @property
    def figure(self):
        """The map widget: a plotly FigureWidget, a BrowserMap, or a grid of BrowserMaps (``renderer="browser"``)."""
        return self._figure.widget

    @property
    def layers(self) -> list:
        """Layer keys of the data."""
        return list(self._layers)

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: dict) -> Any:
        key = layer_key(proposal["value"], self.layers)
        if self._grid and self._built and key != self._panes[0]:
            raise AttributeError("a grid shows fixed layers; build another grid to show others")
        return key

    @traitlets.validate("method")
    def _valid_method(self, proposal: dict) -> str:
        if proposal["value"] not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {proposal['value']!r}")
        return proposal["value"]

    @property
    def space(self) -> LatentSpace:
        """The space of the (first) layer shown."""
        return self._layers[self._panes[0]]

    def _status_html(self, note: str = "") -> str:
        if self._grid:
            parts = [f"{METHOD_LABELS[self.method]} maps, each aligned onto its left neighbour; T = trustworthiness (k={self._k})"]
        else:
            view = self._view(self._panes[0])
            # a browser map says what it shows (and what is selected) on its own status line
            parts = [] if self._browser else [html.escape(view.describe())]
            if view.trustworthiness is None:
                parts.append(
                    f"trustworthiness not measured yet ({len(self.meta):,} rows: "
                    f"reading explorer.view measures it on {min(self._sample, len(self.meta)):,} sampled points)"
                )
        if self._selection is not None and not self._browser:
            parts.append(f"{len(self._selection):,} selected")
        if not parts and not note:
            return ""
        return f'<div class="wb-status">{" · ".join(parts)}{note.removeprefix(" · ") if not parts else note}</div>'

    # ------------------------------------------------------------------
    # control handlers
    # ------------------------------------------------------------------

    def _guarded(self, work: Callable[[], None], doing: str) -> None:
        """Run a control's work, saying what it does meanwhile; a failure is shown under the map, then raised."""
        self.status.value = self._status_html(f" · {html.escape(doing)}…")
        try:
            work()
        except Exception as exc:
            self.status.value = self._status_html(
                f' · <span class="wb-error">{html.escape(doing)} failed: {html.escape(str(exc))}</span>'
            )
            raise
        self.status.value = self._status_html()

    def _redraw_maps(self) -> None:
        if self._browser:
            with self._figure.batch_update():
                for pane, key in enumerate(self._panes):
                    self._figure.show_map(pane, self.method, self.layers.index(key), self._map(key))
                self._figure.set_titles([self._view(key).describe() for key in self._panes])
            return
        for pane, key in enumerate(self._panes):
            self._figure.set_coords(pane, self._map(key), self._selection, None)
        self._figure.set_titles(self._titles())

    def _show_layer(self, change: dict) -> None:
        self.layer_slider.value = change["new"]

        def work() -> None:
            self._panes = [change["new"]]
            self._redraw_maps()
            if self.options[self.color].depends:
                self._recolor()

        self._guarded(work, f"showing layer {change['new']}")

    def _show_method(self, change: dict) -> None:
        self.method_menu.value = change["new"]

        def work() -> None:
            self._redraw_maps()
            if self.options[self.color].depends == "map":
                self._recolor()

        self._guarded(work, f"computing {METHOD_LABELS[change['new']]}")

    # ------------------------------------------------------------------
    # grids, export
    # ------------------------------------------------------------------

    @classmethod
    def grid(
        cls,
        stack: LayerStack | Mapping[Any, LatentSpace],
        layers: Sequence[Any] | None = None,
        color: Any = None,
        hover: str | None = "text",
        *,
        cols: int = 3,
        **kwargs: Any,
    ) -> Explorer:
        """Several layers side by side in one figure, each map aligned onto its left neighbour.

        Parameters
        ----------
        stack : LayerStack or mapping of name -> LatentSpace
        layers : list of layer keys, optional
            By default every layer.
        color, hover, **kwargs
            As for :class:`Explorer`.
        cols : int
            Panes per row.

        Examples
        --------
        >>> import torch, pandas as pd
        >>> from workbench import LayerStack
        >>> stack = LayerStack({i: torch.randn(40, 6) for i in range(3)}, meta=pd.DataFrame({"id": range(40)}))
        >>> Explorer.grid(stack, layers=[0, 2]).layers_shown
        [0, 2]
        """
        keys = list(as_layers(stack)[0])
        return cls(stack, color, hover, panes=keys if layers is None else list(layers), cols=cols, **kwargs)

    @property
    def layers_shown(self) -> list:
        """Layer of every pane, left to right."""
        return list(self._panes)

    def to_figure(self):
        """A plain ``plotly.graph_objects.Figure`` of what is shown now (for reports and static HTML).

        The same maps, colours, anchors and selection as on screen, whichever
        renderer draws the Explorer.
        """
        import plotly.graph_objects as go

        if not self._browser:
            return go.Figure(self.figure)
        copy = self._plotly_map(self._cols, None, None)
        try:
            copy.set_selection(self._selection)
            return go.Figure(copy.widget)
        finally:
            copy.widget.close()  # a widget only to build the figure: nothing left open in the kernel

    def close(self) -> None:
        """Close the explorer and every widget inside it (frees them in the kernel)."""
        def parts(widget: Any):
            for child in getattr(widget, "children", ()) or ():
                yield from parts(child)
            yield widget

        for widget in list(parts(self))[:-1]:
            widget.close()
        super().close()

    def __repr__(self) -> str:
        where = f"layers {self._panes}" if self._grid else f"layer {self.layer!r}"
        return f"Explorer({self.name!r}, {where}, {self.method}, colour={self.color!r}, n={len(self.meta)})"
