"""The side panel: text, image thumbnails, audio players, and missing media."""

from __future__ import annotations

import io
import wave

import numpy as np
import pandas as pd
import pytest
import torch

from tests.widgets.plotly_events import browser_event
from workbench import LatentSpace, LayerStack
from workbench.widgets import Explorer
from workbench.widgets.panel import RowPanel


@pytest.fixture
def media(tmp_path):
    from PIL import Image

    picture = tmp_path / "face.png"
    Image.fromarray(np.full((400, 300, 3), 200, np.uint8)).save(picture)
    sound = tmp_path / "hello.wav"
    with wave.open(str(sound), "wb") as file:
        file.setnchannels(1), file.setsampwidth(2), file.setframerate(8000)
        file.writeframes(np.zeros(800, "<i2").tobytes())
    return picture, sound, tmp_path


def test_image_rows_show_a_thumbnail_or_say_missing(media):
    picture, _, folder = media
    meta = pd.DataFrame({"id": ["a", "b", "c"], "image": [str(picture), str(folder / "gone.png"), None]})
    panel = RowPanel(meta, thumbnail=64)
    panel.show(0)
    assert bytes(panel.image.value).startswith(b"\x89PNG") and panel.image.layout.display is None
    from PIL import Image

    assert max(Image.open(io.BytesIO(bytes(panel.image.value))).size) == 64
    panel.show(1)
    assert f"missing: {folder / 'gone.png'}" in panel.body.value and panel.image.layout.display == "none"
    panel.show(2)  # no image at all: nothing to say
    assert "missing" not in panel.body.value and panel.image.layout.display == "none"


def test_audio_rows_get_a_player_from_paths_arrays_and_dicts(media):
    _, sound, folder = media
    tone = np.sin(np.linspace(0, 200, 4000))
    meta = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "audio": [str(sound), tone, {"array": tone, "sampling_rate": 22050}, str(folder / "gone.wav")],
            "sampling_rate": [None, 8000, None, None],
        }
    )
    panel = RowPanel(meta)
    panel.show(0)
    assert bytes(panel.audio.value) == sound.read_bytes() and panel.audio.autoplay
    panel.show(1)
    with wave.open(io.BytesIO(bytes(panel.audio.value))) as file:
        assert file.getframerate() == 8000 and file.getnframes() == 4000
    panel.show(2)
    with wave.open(io.BytesIO(bytes(panel.audio.value))) as file:
        assert file.getframerate() == 22050
    panel.show(3)
    assert "audio missing:" in panel.body.value and panel.audio.layout.display == "none"


def test_hovering_an_explorer_point_shows_its_media(media):
    picture, _, folder = media
    meta = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(12)],
            "image": [str(picture)] * 11 + [str(folder / "lost.png")],
            "label": ["x", "y"] * 6,
        }
    )
    explorer = Explorer(LatentSpace(torch.randn(12, 4), meta), color="label", renderer="plotly")
    browser_event(explorer.figure, "hover", trace=0, points=[3])
    assert bytes(explorer.panel.image.value).startswith(b"\x89PNG")
    browser_event(explorer.figure, "hover", trace=0, points=[11])  # a broken path: said, not raised
    assert "missing:" in explorer.panel.body.value and "lost.png" in explorer.panel.body.value


def test_the_browser_map_carries_thumbnails_and_audio_as_buffers(media):
    picture, sound, folder = media
    meta = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(8)],
            "image": [str(picture)] * 7 + [str(folder / "lost.png")],
            "audio": [str(sound)] * 8,
            "label": ["x", "y"] * 4,
        }
    )
    explorer = Explorer(LatentSpace(torch.randn(8, 4), meta), color="label", renderer="browser")
    view = explorer.figure
    assert sorted(view.media["image"], key=int) == [str(i) for i in range(7)]  # the lost one is left out
    assert bytes(view.media["image"]["3"]).startswith(b"\x89PNG") and view.media["audio"]["0"] == sound.read_bytes()
    view.set_state({"hovered": 3})  # the page shows the row's media itself: the kernel's hidden panel loads none
    assert "p3" in explorer.panel.header.value and explorer.panel.image.value == b"" == explorer.panel.audio.value


def test_a_browser_grid_sends_its_media_once(media):
    picture, sound, _ = media
    meta = pd.DataFrame({"id": range(6), "image": [str(picture)] * 6, "audio": [str(sound)] * 6})
    stack = LayerStack({layer: torch.randn(6, 4) for layer in range(3)}, meta=meta)
    first, *others = Explorer.grid(stack, layers=[0, 1, 2]).figure.children
    assert len(first.media["image"]) == len(first.media["audio"]) == 6
    assert [view.media for view in others] == [{}, {}]  # the page lends them the first pane's


def test_a_big_map_gets_each_shown_rows_media_from_the_kernel(media, monkeypatch):
    from workbench.widgets import browser_map

    picture, sound, folder = media
    monkeypatch.setattr(browser_map, "MEDIA_ROWS", 4)  # 6 rows: too many to send with the map
    meta = pd.DataFrame({"id": range(6), "image": [str(picture)] * 5 + [str(folder / "lost.png")], "audio": [str(sound)] * 6})
    explorer = Explorer(LatentSpace(torch.randn(6, 4), meta))
    view, sent = explorer.figure, []
    assert view.media == {}
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append((content, buffers)))
    view.set_state({"hovered": 2})  # the browser hovers a row: the kernel sends its picture and sound
    (content, buffers), = sent
    assert content == {"type": "media", "row": 2, "kinds": ["audio", "image"]}
    assert buffers[0] == sound.read_bytes() and bytes(buffers[1]).startswith(b"\x89PNG")
    explorer.focus(5)  # a row whose picture is lost still gets its sound
    assert sent[-1][0]["kinds"] == ["audio"]
