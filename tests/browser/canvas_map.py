"""Driving the browser-drawn map (``renderer="browser"``) in a page: its pixels, a lasso, a hover."""

from __future__ import annotations

from typing import Any

# Pixels of the map's canvas that are drawn (not blank): a fingerprint of where the points are and their colours.
PIXELS = """canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = [], hash = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200) { drawn.push(i / 4); hash = (hash * 31 + i + data[i] * 7 + data[i + 1] * 3 + data[i + 2]) | 0; }
  }
  return {hash, count: drawn.length, first: drawn[Math.floor(drawn.length / 2)], width: canvas.width,
          ratio: canvas.width / canvas.getBoundingClientRect().width};
}"""


def lasso(page: Any, canvas: Any, share: float = 0.5) -> None:
    """Draw a lasso with the mouse around the left ``share`` of the map's width, full height."""
    canvas.scroll_into_view_if_needed()  # the mouse only reaches what is on screen
    box = canvas.bounding_box()
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    right = left + min(width * share, width - 2)
    page.mouse.move(left + 2, top + 2)
    page.mouse.down()
    for x, y in [(right, top + 2), (right, top + height - 2), (left + 2, top + height - 2), (left + 2, top + 3)]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def hover_drawn_point(page: Any, canvas: Any) -> dict:
    """Move the pointer onto a drawn pixel of the map (the middle one in page order); returns the canvas's PIXELS."""
    canvas.scroll_into_view_if_needed()
    pixels = canvas.evaluate(PIXELS)
    box, pixel, ratio = canvas.bounding_box(), pixels["first"], pixels["ratio"]
    page.mouse.move(box["x"] + (pixel % pixels["width"]) / ratio, box["y"] + (pixel // pixels["width"]) / ratio)
    return pixels
