"""The Explorer driven as a user would: controls, colours, selection, hover, panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.widgets.plotly_events import browser_event, lasso
from workbench import LatentSpace
from workbench.geometry.views import project
from workbench.widgets import Explorer
from workbench.widgets.colors import DIMMED
from workbench.widgets.figure import DIMMED_OPACITY
from workbench.widgets.transport import record_traffic


def xy(explorer, pane: int = 0) -> np.ndarray:
    trace = explorer.figure.data[pane * 4]
    return np.stack([np.asarray(trace.x), np.asarray(trace.y)], axis=1)


def test_builds_on_the_last_layer_with_controls_and_quality(stack):
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    assert explorer.layer == 2 and explorer.method == "pca"
    assert [w.description for w in explorer.controls.children[:3]] == ["layer", "map", "colour"]
    trace = explorer.figure.data[0]
    assert trace.type == "scattergl" and np.asarray(trace.x).dtype == np.float32
    np.testing.assert_allclose(xy(explorer), project(stack[2]).coords, atol=1e-5)
    assert "trustworthiness" in explorer.status.value
    assert explorer.view.trustworthiness > 0.5
    # hover labels are escaped user text
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; more" in trace.hovertext[0]


def test_layer_slider_changes_only_coordinates_and_keeps_points_still(stack):
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    first = xy(explorer).copy()
    with record_traffic(explorer) as traffic:
        explorer.layer_slider.value = 1
    assert explorer.layer == 1
    raw = project(stack[1]).coords
    shown = xy(explorer)
    # the same map up to a similarity transform, posed like the layer shown before
    assert np.linalg.norm(shown - first) < np.linalg.norm(raw - first)
    assert traffic.buffer_bytes == 8 * len(stack.meta)  # x and y, float32; colours untouched
    explorer.layer = 0
    assert explorer.layer_slider.value == 0


def test_colour_dropdown_sends_colours_only(stack):
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    with record_traffic(explorer) as traffic:
        explorer.color_menu.value = "score"
    marker = explorer.figure.data[0].marker
    assert marker.showscale and np.asarray(marker.color).dtype == np.float32
    assert traffic.buffer_bytes == 4 * len(stack.meta)  # one float32 per point, no x/y
    explorer.color_menu.value = "intensity"  # few distinct integers: categories
    assert explorer.encoding.kind == "categorical" and explorer.encoding.categories == ["1", "2", "3"]
    assert np.asarray(explorer.figure.data[0].marker.color).dtype == np.int32
    explorer.color_menu.value = "(none)"
    assert isinstance(explorer.figure.data[0].marker.color, str)


def test_colour_options_beyond_columns(stack, meta):
    explorer = Explorer(stack, color="preservation", colors={"norm": lambda space: space.vectors.norm(dim=1)})
    values = explorer.encoding.values
    assert explorer.encoding.kind == "numeric" and 0.0 <= values.min() and values.max() <= 1.0
    # the map's own honesty changes with the layer
    explorer.layer_slider.value = 0
    assert not np.array_equal(explorer.encoding.values, values)
    explorer.color_menu.value = "norm"
    np.testing.assert_allclose(explorer.encoding.values, stack[0].vectors.norm(dim=1).numpy(), rtol=1e-5)
    # fine emotion words roll up to Parrott's primaries
    rolled = Explorer(LatentSpace(stack[0].vectors, meta.assign(emotion=meta["fine"])), color="emotion → Parrott primary")
    assert set(rolled.encoding.categories) == {"anger", "fear", "joy", "love", "neutral"}
    explorer.color = np.arange(len(meta)) % 13  # an array, registered as an option
    assert explorer.color == "custom" and explorer.encoding.kind == "numeric"  # 13 integers: a scale


def test_searchable_legend_highlights_by_colorscale_only(stack, meta):
    many = meta.assign(topic=[f"topic {i % 30}" for i in range(len(meta))])
    explorer = Explorer(LatentSpace(stack[0].vectors, many), color="topic", renderer="plotly")
    encoding = explorer.encoding
    assert len(set(encoding.colors)) == 30  # thirty categories, thirty colours
    with record_traffic(explorer) as traffic:
        explorer.legend_search.value = "topic 1"
    assert traffic.buffer_bytes == 0  # codes stay; only the colorscale changed
    scale = explorer.figure.data[0].marker.colorscale
    shown = {color for _, color in scale}
    assert DIMMED in shown and encoding.colors[encoding.categories.index("topic 12")] in shown
    assert "topic 12" in explorer.legend.value and "topic 25" not in explorer.legend.value


def test_lasso_selection_reaches_python_and_dims_the_rest(stack, meta):
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    seen = []
    explorer.on_select(seen.append)
    lasso(explorer.figure, trace=0, points=[5, 2, 9])
    assert explorer.selection["id"].tolist() == ["s2", "s5", "s9"]
    assert isinstance(explorer.selection, pd.DataFrame) and list(explorer.selection.columns) == list(meta.columns)
    trace = explorer.figure.data[0]
    assert list(trace.selectedpoints) == [2, 5, 9]
    assert trace.unselected.marker.opacity == DIMMED_OPACITY  # the others stay visible, dimmed
    assert len(seen) == 1 and seen[0]["id"].tolist() == ["s2", "s5", "s9"]
    browser_event(explorer.figure, "deselect", trace=0)
    assert explorer.selection.empty and trace.selectedpoints is None
    explorer.select(["s7", "s3"])
    assert list(trace.selectedpoints) == [3, 7] and explorer.selected_ids.tolist() == ["s3", "s7"]
    explorer.select(meta["emotion"] == "joy")  # a boolean mask works too
    assert set(explorer.selection["emotion"]) == {"joy"}
    with pytest.raises(KeyError, match="not in this explorer"):
        explorer.select(["nope"])
    explorer.layer_slider.value = 0  # a new layer keeps the selection
    assert len(explorer.figure.data[0].selectedpoints) == 30


def test_hover_and_click_fill_the_panel(stack):
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    browser_event(explorer.figure, "hover", trace=0, points=[4])
    assert "s4" in explorer.panel.header.value and "hovered" in explorer.panel.header.value
    assert "sentence 4 &lt;b&gt;not bold&lt;/b&gt;" in explorer.panel.body.value
    assert "<th>emotion</th><td>joy</td>" in explorer.panel.body.value
    browser_event(explorer.figure, "click", trace=0, points=[7])
    assert "s7" in explorer.panel.header.value and "clicked" in explorer.panel.header.value


def test_anchors_are_drawn_apart_and_hover_as_their_row(stack):
    explorer = Explorer(stack, anchors=["s3", "s10"], renderer="plotly")
    anchors = explorer.figure.data[1]
    assert anchors.marker.symbol == "diamond"
    np.testing.assert_allclose(np.asarray(anchors.x), xy(explorer)[[3, 10], 0])
    browser_event(explorer.figure, "hover", trace=1, points=[1])
    assert "s10" in explorer.panel.header.value
    explorer.layer_slider.value = 0
    np.testing.assert_allclose(np.asarray(explorer.figure.data[1].x), xy(explorer)[[3, 10], 0])


def test_three_dimensional_view(stack):
    explorer = Explorer(stack, color="score", dims=3)
    assert explorer.figure.data[0].type == "scatter3d" and explorer.coords.shape == (120, 3)
    explorer.select(["s1", "s2"])
    chosen = explorer.figure.data[2]
    np.testing.assert_allclose(np.asarray(chosen.z), explorer.coords[[1, 2], 2])


@pytest.mark.slow
def test_projection_dropdown(stack):
    explorer = Explorer(stack, color="emotion", params={"tsne": {"max_iter": 300}}, renderer="plotly")
    explorer.method_menu.value = "tsne"
    assert explorer.method == "tsne" and "TSNE" in explorer.status.value
    assert explorer.view.method == "tsne" and explorer.view.trustworthiness > 0.5


def test_clear_errors(stack, meta):
    with pytest.raises(KeyError, match="cannot colour by 'mood'"):
        Explorer(stack, color="mood")
    with pytest.raises(KeyError, match="no column 'caption'"):
        Explorer(stack, hover="caption")
    with pytest.raises(ValueError, match="has 3 values but there are 120 points"):
        Explorer(stack, color=[1, 2, 3])
    with pytest.raises(ValueError, match="no layers"):
        Explorer({})
    with pytest.raises(ValueError, match="at least one layer"):
        Explorer.grid(stack, layers=[])
    with pytest.raises(KeyError, match="no layer 7"):
        Explorer(stack, layer=7)
    with pytest.raises(TypeError, match="LatentSpace, a LayerStack"):
        Explorer(np.zeros((5, 2)))
    explorer = Explorer(stack)
    with pytest.raises(RuntimeError, match="boom"):
        explorer.add_color("bad", lambda space: (_ for _ in ()).throw(RuntimeError("boom")))
    assert "colouring by bad failed: boom" in explorer.status.value


def test_replacing_the_shown_colour_redraws_it(stack, meta):
    explorer = Explorer(stack, renderer="plotly")
    explorer.color = np.zeros(len(meta))
    explorer.color = np.arange(len(meta), dtype=float)  # same name "custom", new values
    assert explorer.color == "custom" and explorer.encoding.vmax == len(meta) - 1
    np.testing.assert_array_equal(np.asarray(explorer.figure.data[0].marker.color), np.arange(len(meta)))
    explorer.add_color("half", meta["score"] > 0, show=False)
    assert "half" in explorer.color_menu.options and explorer.color == "custom"


def test_relative_view_draws_its_anchors(stack):
    from workbench import RelativeProjection

    relative = RelativeProjection(anchors=["s1", "s5", "s9", "s20", "s33"]).fit_transform(stack[2])
    explorer = Explorer(relative, color="emotion", renderer="plotly")  # anchors read from the provenance
    assert explorer.space.dim == 5
    np.testing.assert_allclose(np.asarray(explorer.figure.data[1].x), xy(explorer)[[1, 5, 9, 20, 33], 0])
    every_layer = Explorer(stack, relative=RelativeProjection(anchors=6, seed=0), color="emotion", renderer="plotly")
    assert {space.dim for space in every_layer._layers.values()} == {6}
    anchors = every_layer.figure.data[1]
    assert anchors.marker.symbol == "diamond" and len(anchors.x) == 6
    every_layer.layer_slider.value = 0
    np.testing.assert_allclose(np.asarray(every_layer.figure.data[1].x), xy(every_layer)[every_layer._anchors, 0])
    with pytest.raises(TypeError, match="RelativeProjection"):
        Explorer(stack, relative="cosine")


def test_colour_by_emotion_directions_per_layer(stack, meta):
    from workbench.geometry.directions import Directions

    directions = Directions(method="diffmean", by="emotion", progress=False).fit(stack)
    explorer = Explorer(stack, color="direction: joy", directions=directions)
    expected = directions.score(stack[2], layer=2, intensity=True)["joy"].to_numpy()
    np.testing.assert_allclose(explorer.encoding.values, expected, rtol=1e-5)
    joy = (meta["emotion"] == "joy").to_numpy()
    assert explorer.encoding.values[joy].mean() > explorer.encoding.values[~joy].mean() + 0.5
    explorer.layer_slider.value = 0
    np.testing.assert_allclose(
        explorer.encoding.values, directions.score(stack[0], layer=0, intensity=True)["joy"].to_numpy(), rtol=1e-5
    )
    # directions of layer 2 only: other layers are shown as missing, not scored with them
    only_two = Directions(method="diffmean", by="emotion", progress=False).fit(stack[2])
    explorer = Explorer(stack, color="direction: fear", directions=only_two, layer=0)
    assert explorer.encoding.missing == len(meta)
    with pytest.raises(ValueError, match="fitted Directions"):
        Explorer(stack, directions=Directions())


def test_colour_by_local_intrinsic_dimension_per_layer(stack):
    from workbench import LocalIntrinsicDimension

    explorer = Explorer(stack, color="lid")
    expected = LocalIntrinsicDimension(n_neighbors=len(stack.meta) - 1).fit(stack[2]).lid_
    np.testing.assert_allclose(explorer.encoding.values, expected, rtol=1e-5)
    assert explorer.encoding.kind == "numeric" and np.nanmedian(explorer.encoding.values) > 2
    explorer.layer_slider.value = 0
    assert not np.allclose(explorer.encoding.values, expected)


def test_arrays_in_a_mapping_go_through_the_one_input_door(stack, meta):
    vectors = stack[2].vectors.numpy()
    mixed = Explorer({"space": stack[0], "array": vectors}, color="emotion", layer="array")
    assert mixed.meta["id"].tolist() == meta["id"].tolist()  # the array takes the space's rows
    np.testing.assert_array_equal(mixed.space.vectors.numpy(), vectors)
    alone = Explorer({0: vectors, 1: vectors[:, :4]}, hover=None)  # arrays alone: ids by position
    assert alone.layers == [0, 1] and alone.meta["id"].tolist() == list(range(len(meta)))
    broken = vectors.copy()
    broken[3, 0] = np.nan
    with pytest.raises(ValueError, match="layer 'bad' contains NaN or Inf in 1 row"):
        Explorer({"space": stack[0], "bad": broken})
    with pytest.raises(TypeError, match="layer 1 must be real numbers"):
        Explorer({0: vectors, 1: vectors.astype(complex)})


def test_layers_are_named_as_everywhere_else(stack):
    explorer = Explorer(stack, layer=np.int64(-3))
    assert explorer.layer == 0
    explorer.layer = -2
    assert explorer.layer == 1
    with pytest.raises(TypeError, match="a layer is a key such as 0 or -1"):
        explorer.layer = True  # was read as layer 1 (True == 1)
    with pytest.raises(KeyError, match=r"no layer '2'; layers are \[0, 1, 2\]"):
        Explorer.grid(stack, layers=[0, "2"])
