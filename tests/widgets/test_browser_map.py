"""The browser-owned map (renderer="browser"): what it holds as buffers, and what the browser sends back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

from workbench.widgets import Explorer
from workbench.widgets.browser_map import STATIC


def test_the_browser_holds_every_pca_layer_and_fixed_colour_as_buffers(stack):
    explorer = Explorer(stack, color="emotion", renderer="browser")
    view = explorer.figure
    assert sorted(view.coords) == ["pca/0", "pca/1", "pca/2"]
    for index in range(3):  # each layer's map as drawn, aligned: float32 x,y pairs
        explorer.layer = index
        np.testing.assert_array_equal(np.frombuffer(view.coords[f"pca/{index}"], np.float32).reshape(-1, 2), explorer.coords)
    assert {"emotion", "score", "intensity"} <= set(view.colors)
    codes = np.frombuffer(view.colors["emotion"]["values"]["*"], np.int32)
    np.testing.assert_array_equal(codes, explorer.encoding.values)
    state, _, buffers = _remove_buffers(view.get_state())
    text = json.dumps(state)
    # every per-point number travelled as a buffer: the JSON left holds names and palettes, not points
    assert sum(len(b) for b in buffers) >= 3 * 8 * len(stack.meta) + 4 * len(stack.meta)
    assert len(text) - len(state["_esm"]) - len(state.get("_css", "")) < 4_000
    assert state["_esm"] == (STATIC / "browser_map.js").read_text()  # the shipped file, byte for byte


def test_what_the_browser_does_reaches_python(stack):
    explorer = Explorer(stack, color="emotion", renderer="browser")
    view, seen = explorer.figure, []
    explorer.observe(lambda change: seen.append(change["new"]), names="layer")
    view.set_state({"layer": 0})  # the slider moved in the browser
    assert explorer.layer == 0 and seen == [0]
    view.set_state({"selected": memoryview(np.array([9, 4], np.int32).tobytes())})  # a lasso
    assert explorer.selection["id"].tolist() == ["s4", "s9"]
    view.set_state({"hovered": 7})
    assert explorer.hovered == "s7" and "s7" in explorer.panel.header.value
    view.set_state({"color": "score"})
    assert explorer.color == "score" and explorer.encoding.kind == "numeric"
    view.set_state({"method": "tsne"})  # not computed yet: the kernel computes it and sends it
    assert explorer.method == "tsne" and "tsne/0" in view.coords


def test_python_drives_the_browser_map(stack):
    explorer = Explorer(stack, color="emotion", renderer="browser")
    view = explorer.figure
    explorer.select(["s3", "s1"])
    assert np.frombuffer(view.selected, np.int32).tolist() == [1, 3]
    explorer.legend_search.value = "jo"
    assert view.search == "jo"
    explorer.color = "preservation"  # changes with the layer: sent for the layer shown
    assert sorted(view.colors["preservation"]["values"]) == ["2"] and view.color == "preservation"
    explorer.focus("s5")
    assert view.hovered == 5
    two = Explorer(stack, color="score", renderer="browser").figure
    assert two.get_state()["_esm"] == view.get_state()["_esm"]  # one module: a report keeps one copy


def test_the_browser_map_refuses_what_it_cannot_draw(stack):
    with pytest.raises(ValueError, match="draws 2-D maps"):
        Explorer(stack, dims=3, renderer="browser")
    with pytest.raises(ValueError, match="renderer must be"):
        Explorer(stack, renderer="webgl")


def test_a_browser_grid_is_one_map_per_layer_sharing_controls_and_rows(stack):
    grid = Explorer.grid(stack, layers=[0, 2], color="emotion", renderer="browser")
    first, second = grid.figure.children
    assert (first.layers, second.layers) == (["0"], ["2"])  # each pane holds its own layer
    assert first.control_group == second.control_group != "" and first.link_group == second.link_group
    for view, key in zip((first, second), (0, 2)):
        np.testing.assert_array_equal(np.frombuffer(view.coords["pca/0"], np.float32).reshape(-1, 2), grid._map(key))
    assert not np.array_equal(first.coords["pca/0"], second.coords["pca/0"])
    grid.select(["s2", "s8"])  # Python drives every pane
    assert [np.frombuffer(v.selected, np.int32).tolist() for v in (first, second)] == [[2, 8], [2, 8]]
    second.set_state({"selected": memoryview(np.array([5], np.int32).tobytes())})  # a lasso in the second pane
    assert grid.selected_ids.tolist() == ["s5"] and np.frombuffer(first.selected, np.int32).tolist() == [5]
    grid.color = "preservation"  # changes with the layer: each pane gets its own layer's values
    assert sorted(first.colors["preservation"]["values"]) == ["0"] == sorted(second.colors["preservation"]["values"])
    assert not np.array_equal(first.colors["preservation"]["values"]["0"], second.colors["preservation"]["values"]["0"])


def test_linked_browser_explorers_share_a_link_group_until_unlinked(stack):
    from workbench.widgets import link

    grid = Explorer.grid(stack, layers=[0, 1], renderer="browser")
    single, plotly = Explorer(stack, renderer="browser"), Explorer(stack, renderer="plotly")
    shared = link(grid, single, plotly)
    groups = {view.link_group for view in (*grid.figure.children, single.figure)}
    assert len(groups) == 1 and groups != {grid._figure.own_group}
    single.figure.set_state({"selected": memoryview(np.array([1, 4], np.int32).tobytes())})
    assert grid.selected_ids.tolist() == ["s1", "s4"] == plotly.selected_ids.tolist()  # Python still shares too
    shared.unlink()
    assert single.figure.link_group == single._figure.own_group != grid.figure.children[0].link_group
    assert {view.link_group for view in grid.figure.children} == {grid._figure.own_group}


def test_the_browser_draws_2d_maps_by_default_and_plotly_3d(stack):
    from workbench.widgets.browser_map import BrowserMap
    from workbench.widgets.figure import MapWidget

    assert isinstance(Explorer(stack).figure, BrowserMap)
    assert Explorer(stack, hover=None).figure.texts == b""  # ids alone: not sent twice
    assert isinstance(Explorer(stack, dims=3).figure, MapWidget)
    assert isinstance(Explorer(stack, renderer="plotly").figure, MapWidget)


def test_the_browser_map_carries_the_anchors_of_a_relative_view(stack):
    from workbench.geometry.relative import RelativeProjection

    chosen = Explorer(stack, anchors=["s10", "s3"]).figure
    assert np.frombuffer(chosen.anchors, np.int32).tolist() == [3, 10]  # row positions, sorted
    relative = Explorer(stack, relative=RelativeProjection(anchors=6, seed=0), color="emotion")
    drawn = np.frombuffer(relative.figure.anchors, np.int32)
    assert drawn.size == 6 and drawn.tolist() == relative._anchors.tolist()
    assert Explorer(stack).figure.anchors == b""  # no relative view, no anchors


def test_to_figure_copies_what_the_browser_map_shows(stack):
    explorer = Explorer(stack, color="score", anchors=["s3", "s10"], layer=1)
    explorer.select(["s2", "s8"])
    figure = explorer.to_figure()
    points, anchors = figure.data[0], figure.data[1]
    np.testing.assert_allclose(np.asarray(points.x, np.float64), explorer.coords[:, 0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(points.marker.color, np.float64), stack.meta["score"], rtol=1e-5)
    assert list(points.selectedpoints) == [2, 8] and len(anchors.x) == 2
    np.testing.assert_allclose(np.asarray(anchors.y, np.float64), explorer.coords[[3, 10], 1], rtol=1e-6)


def test_the_selection_trait_is_synced_as_ids(stack):
    explorer = Explorer(stack, color="emotion")
    explorer.select(["s9", "s4"])
    state = explorer.get_state(["selection"])
    assert state == {"selection": ["s4", "s9"]}  # plain JSON ids in row order, not a table
    seen = []
    explorer.observe(lambda change: seen.append(change["new"]), names="selection")
    explorer.set_state({"selection": ["s7", "s1"]})  # jslink or another front end set it
    assert seen == [["s1", "s7"]] and explorer.selection["id"].tolist() == ["s1", "s7"]
    assert np.frombuffer(explorer.figure.selected, np.int32).tolist() == [1, 7]  # and the map shows it


def test_integer_ids_travel_as_plain_json(meta):
    import torch

    from workbench import LatentSpace

    space = LatentSpace(torch.randn(12, 4), meta.iloc[:12].assign(id=np.arange(100, 112, dtype=np.int64)))
    explorer = Explorer(space)
    explorer.select([105, 101])
    assert json.loads(json.dumps(explorer.get_state(["selection"]))) == {"selection": [101, 105]}


def test_what_python_shows_is_told_once(stack):
    explorer = Explorer(stack, color="emotion")
    hovers, selections = [], []
    explorer.on_hover(hovers.append)
    explorer.on_select(lambda rows: selections.append(rows["id"].tolist()))
    explorer.focus("s5")  # the map's echo of Python's own change is not a second hover
    explorer.select(["s2", "s1"])
    assert hovers == ["s5"] and selections == [["s1", "s2"]]
    explorer.figure.set_state({"hovered": 6})  # the browser's own change still is one
    assert hovers == ["s5", "s6"]


def test_ids_and_texts_travel_as_one_nul_separated_buffer():
    from workbench.widgets.browser_map import BrowserMap

    view = BrowserMap(["0"], [("pca", "PCA")], ids=["a", 7, None], texts=["one\0two", "", "three"])
    assert view.ids.decode().split("\0") == ["a", "7", ""]
    assert view.texts.decode().split("\0") == ["one two", "", "three"]  # a NUL inside a value cannot split it
