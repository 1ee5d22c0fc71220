"""The Explorer's state is synced traits: observe, link and jslink work, and the browser can set them."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from tests.widgets.plotly_events import browser_event, lasso
from workbench.widgets import Explorer


def xy(explorer) -> np.ndarray:
    trace = explorer.figure.data[0]
    return np.stack([np.asarray(trace.x), np.asarray(trace.y)], axis=1)


def test_observe_fires_for_every_trait_whatever_moved_it(stack):
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    seen: dict[str, list] = {name: [] for name in ("layer", "method", "color", "selection", "hovered")}
    for name, changes in seen.items():
        explorer.observe(lambda change, changes=changes: changes.append(change["new"]), names=name)
    explorer.layer_slider.value = 1  # the slider, as a user moves it
    explorer.color_menu.value = "score"
    lasso(explorer.figure, trace=0, points=[4, 2])
    browser_event(explorer.figure, "hover", trace=0, points=[6])
    explorer.method = "pca"  # unchanged: no event
    assert seen == {"layer": [1], "method": [], "color": ["score"], "selection": [["s2", "s4"]], "hovered": ["s6"]}
    # read from Python, the selection is still the table of the selected rows
    assert explorer.selection["id"].tolist() == ["s2", "s4"]
    assert list(explorer.selection.columns) == list(stack.meta.columns)


def test_state_set_by_the_browser_drives_the_explorer(stack):
    """What a jslink or the front end sends: a comm update of the traits."""
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    before = xy(explorer).copy()
    selected = []
    explorer.on_select(selected.append)
    explorer.set_state({"layer": 0, "color": "intensity", "hovered": "s8"})
    explorer.selection = ["s3", "s1"]  # ids, in any order
    assert explorer.layer == 0 and explorer.layer_slider.value == 0
    assert not np.allclose(xy(explorer), before)
    assert explorer.encoding.categories == ["1", "2", "3"] and explorer.color_menu.value == "intensity"
    assert explorer.selected_ids.tolist() == ["s1", "s3"] and list(explorer.figure.data[0].selectedpoints) == [1, 3]
    assert len(selected) == 1 and selected[0]["id"].tolist() == ["s1", "s3"]
    assert "s8" in explorer.panel.header.value
    state = explorer.get_state()
    assert (state["layer"], state["method"], state["color"], state["hovered"]) == (0, "pca", "intensity", "s8")


def test_link_and_jslink_bind_explorers(stack):
    a = Explorer(stack, color="emotion", layer=0)
    b = Explorer(stack, color="score", layer=2)
    link = widgets.link((a, "layer"), (b, "layer"))
    a.layer = 1
    assert b.layer == 1 and b.layer_slider.value == 1
    link.unlink()
    widgets.link((a, "selection"), (b, "selection"))
    a.select(["s5", "s6"])
    assert b.selected_ids.tolist() == ["s5", "s6"]
    # jslink accepts only synced traits: these are
    for name in ("layer", "method", "color", "hovered"):
        widgets.jslink((a, name), (b, name)).close()
    slider = widgets.IntSlider(min=0, max=2)
    widgets.jslink((slider, "value"), (a, "layer")).close()


def test_traits_reject_what_the_explorer_cannot_show(stack):
    explorer = Explorer(stack)
    with pytest.raises(KeyError, match="no layer 9"):
        explorer.layer = 9
    with pytest.raises(ValueError, match="method must be one of"):
        explorer.method = "mds"
    with pytest.raises(KeyError, match="cannot colour by 'mood'"):
        explorer.color = "mood"
    with pytest.raises(KeyError, match="not in this explorer"):
        explorer.hovered = "nope"
    with pytest.raises(AttributeError, match="fixed layers"):
        Explorer.grid(stack, layers=[0, 1]).layer = 2
    explorer.color = None
    assert explorer.color == "(none)"
    explorer.selection = stack.meta.iloc[[7, 2]]  # a DataFrame of rows selects their ids
    assert explorer.selected_ids.tolist() == ["s2", "s7"]
    explorer.selection = None
    assert explorer.selection.empty and explorer.selected_ids.size == 0


def test_a_big_map_is_drawn_before_its_trustworthiness_is_measured(stack, monkeypatch):
    import workbench.widgets.explorer_maps as module

    monkeypatch.setattr(module, "EAGER_QUALITY", 0)  # as if the stack had a million rows
    explorer = Explorer(stack, color="emotion", renderer="plotly")
    assert "not measured yet" in explorer.status.value
    assert explorer._view(2).trustworthiness is None
    assert explorer.view.trustworthiness > 0.5  # asked for: measured, then shown and kept
    assert "trustworthiness 0." in explorer.status.value and "not measured" not in explorer.status.value
    assert explorer.view is explorer.view
