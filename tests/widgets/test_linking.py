"""Linked explorers and grids: selection and hover follow by row id."""

from __future__ import annotations

import numpy as np
import pytest

from tests.widgets.plotly_events import browser_event, lasso
from workbench.geometry.views import project
from workbench.widgets import Explorer, link


def test_selection_and_hover_follow_across_layers_until_unlinked(stack):
    a = Explorer(stack, color="emotion", layer=0, renderer="plotly")
    b = Explorer(stack, color="emotion", layer=2, renderer="plotly")
    shared = link(a, b)
    lasso(a.figure, trace=0, points=[1, 2, 3])
    assert b.selected_ids.tolist() == ["s1", "s2", "s3"]
    assert list(b.figure.data[0].selectedpoints) == [1, 2, 3]
    browser_event(b.figure, "deselect", trace=0)
    assert a.selection.empty
    browser_event(a.figure, "hover", trace=0, points=[6])
    assert "s6" in b.panel.header.value and "linked" in b.panel.header.value
    focus = b.figure.data[3]  # the ring around the hovered row
    np.testing.assert_allclose([focus.x[0], focus.y[0]], b.coords[6])
    shared.unlink()
    a.select(["s9"])
    assert b.selection.empty and not shared.active


def test_rows_missing_from_the_other_view_are_ignored(stack):
    everything = Explorer(stack, layer=1)
    half = Explorer(stack.subset(stack.ids[:60]), layer=1)
    seen = []
    half.on_select(seen.append)
    link(everything, half)
    everything.select(["s5", "s100"])
    assert half.selected_ids.tolist() == ["s5"] and len(seen) == 1
    browser_event(everything.figure, "hover", trace=0, points=[100])  # nothing to show in `half`
    assert "hover or click" in half.panel.header.value
    with pytest.raises(ValueError, match="at least two"):
        link(everything)


def test_grid_is_one_figure_of_aligned_layers_sharing_selection(stack):
    grid = Explorer.grid(stack, layers=[0, 1, 2], color="emotion", renderer="plotly")
    assert grid.layers_shown == [0, 1, 2]
    assert len(grid.figure.data) == 3 * 4 and grid.layer_slider.layout.display == "none"
    titles = [annotation.text for annotation in grid.figure.layout.annotations]
    assert titles[0].startswith("layer 0 · T=")
    # each pane is posed like its left neighbour: closer to it than the raw map is
    for pane in (1, 2):
        left = grid._figure.coords(pane - 1)
        raw = project(stack[pane]).coords
        assert np.linalg.norm(grid._figure.coords(pane) - left) < np.linalg.norm(raw - left)
    lasso(grid.figure, trace=4, points=[10, 11])  # a lasso in the middle pane
    for pane in range(3):
        assert list(grid.figure.data[pane * 4].selectedpoints) == [10, 11]
    browser_event(grid.figure, "hover", trace=8, points=[12])
    for pane in range(3):  # the hovered row is ringed in every layer
        np.testing.assert_allclose(grid.figure.data[pane * 4 + 3].x, [grid._figure.coords(pane)[12, 0]])
    grid.color_menu.value = "score"
    assert [bool(grid.figure.data[p * 4].marker.showscale) for p in range(3)] == [True, False, False]


def test_grid_colours_each_layer_by_its_own_scores_on_one_scale(stack):
    grid = Explorer.grid(stack, layers=[0, 2], color="preservation", renderer="plotly")
    shown = [grid.figure.data[pane * 4].marker for pane in range(2)]
    expected = [grid._preservation(layer) for layer in (0, 2)]
    for marker, values in zip(shown, expected):
        np.testing.assert_allclose(np.asarray(marker.color), values)
    assert not np.array_equal(expected[0], expected[1])
    assert shown[0].cmin == shown[1].cmin and shown[0].cmax == shown[1].cmax
