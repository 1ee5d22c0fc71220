"""What the Explorer sends to the browser, and how to measure it.

Measured in code (plotly 7.1, anywidget 0.11, ipywidgets 8.1):

- plotly's ``FigureWidget`` serialises a 1-D NumPy array of a numeric dtype
  **other than int64/uint64** as a binary buffer (``{"buffer": memoryview,
  "dtype", "shape"}``, a typed array in the browser). int64 arrays, lists and
  2-D arrays go as JSON lists of numbers (a 100 000-point int64 colour array:
  350 kB of JSON instead of 400 kB binary that JavaScript can use as is).
  So every per-point array here is float32 or int32 before it reaches plotly.
- Assigning one property (``trace.marker.color = ...``) sends a ``restyle``
  message with that property only; x and y are not resent. Several
  assignments inside ``batch_update()`` go as one ``update`` message.
- Each FigureWidget instance opens its comm with the whole plotly.js bundle
  as its ``_esm`` trait: about 5 MB per instance, paid once per figure (a
  grid is one figure with subplots for that reason).
- Stock ``FigureWidget`` copies its data into the ``_widget_data`` trait at
  construction and again each time it is displayed (a full resend), and that
  trait is otherwise never updated in Python, so ``embed_minimal_html`` of a
  figure changed after display exports the old data. :func:`share_state`
  points the traits at the figure's live data instead: nothing is resent on
  display, and an export always holds the current map.

:class:`Traffic` records the comm messages of widgets (as a kernel would send
them), for the tests and the benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["float32", "int32", "share_state", "Traffic", "record_traffic"]


def float32(values: Any) -> np.ndarray:
    """A contiguous 1-D float32 array (sent as a binary typed array)."""
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32).reshape(-1))


def int32(values: Any) -> np.ndarray:
    """A contiguous 1-D int32 array (sent as a binary typed array; int64 would go as JSON)."""
    return np.ascontiguousarray(np.asarray(values).astype(np.int32, copy=False).reshape(-1))


def share_state(figure: Any) -> None:
    """Make a FigureWidget's synced data and layout traits *be* its live data.

    Plotly keeps the figure in ``figure._data`` / ``figure._layout`` and
    updates them in place on every change; the front end applies the same
    changes to its own copy. Pointing the traits at these objects (without
    a sync message) keeps ``get_state()`` — what ``embed_minimal_html`` and
    a reloaded page read — current, at no cost.
    """
    figure._trait_values["_widget_data"] = figure._data
    figure._trait_values["_widget_layout"] = figure._layout


@dataclass
class Message:
    """One comm message: its kind, the traits it carries and its size."""

    kind: str  # "open" or "update"
    traits: tuple[str, ...]
    json_bytes: int
    buffer_bytes: int

    @property
    def bytes(self) -> int:
        return self.json_bytes + self.buffer_bytes


@dataclass
class Traffic:
    """Comm messages recorded by :func:`record_traffic`.

    ``buffer_bytes`` is what travelled as binary buffers, ``json_bytes`` what
    travelled as JSON text (the plotly.js bundle of a new figure included;
    :attr:`esm_bytes` says how much of it that was).
    """

    messages: list[Message] = field(default_factory=list)
    esm_bytes: int = 0

    @property
    def json_bytes(self) -> int:
        return sum(m.json_bytes for m in self.messages)

    @property
    def buffer_bytes(self) -> int:
        return sum(m.buffer_bytes for m in self.messages)

    @property
    def total(self) -> int:
        return self.json_bytes + self.buffer_bytes

    def data_bytes(self) -> int:
        """Everything except the plotly.js bundles of newly opened figures."""
        return self.total - self.esm_bytes

    def traits(self) -> set[str]:
        """Names of all traits that were sent."""
        return {name for m in self.messages for name in m.traits}

    def clear(self) -> None:
        self.messages.clear()
        self.esm_bytes = 0

    def summary(self) -> str:
        return (
            f"{len(self.messages)} messages, {self.buffer_bytes:,} B binary + {self.json_bytes:,} B JSON"
            + (f" (of which {self.esm_bytes:,} B plotly.js)" if self.esm_bytes else "")
        )

    def _record(self, kind: str, data: dict | None, buffers: list | None) -> None:
        data = data or {}
        state = data.get("state") or {}
        text = json.dumps(data, default=str, separators=(",", ":"))
        size = sum(memoryview(b).nbytes for b in buffers or [])
        if kind == "open" and isinstance(state.get("_esm"), str):
            self.esm_bytes += len(json.dumps(state["_esm"]).encode())  # as it travels, escaped
        self.messages.append(Message(kind, tuple(state), len(text.encode()), size))


@contextmanager
def record_traffic(*widgets: Any) -> Iterator[Traffic]:
    """Record the comm messages that widgets send while the block runs.

    Widgets created inside the block are recorded from their first (open)
    message; existing widgets passed as arguments from now on. Without a
    kernel the messages go nowhere, exactly as they would be built for one.

    Examples
    --------
    >>> import ipywidgets
    >>> with record_traffic() as traffic:
    ...     slider = ipywidgets.IntSlider()
    ...     slider.value = 3
    >>> "value" in traffic.traits()
    True
    """
    import comm

    traffic = Traffic()
    original_create = comm.create_comm

    def create(*args: Any, **kwargs: Any) -> Any:
        channel = original_create(*args, **kwargs)
        traffic._record("open", kwargs.get("data"), kwargs.get("buffers"))
        _tap(channel)
        return channel

    tapped: list[Any] = []

    def _tap(channel: Any) -> None:
        original = channel.publish_msg

        def publish(msg_type: str, data: dict | None = None, metadata: Any = None, buffers: Any = None, **keys: Any) -> Any:
            if msg_type == "comm_msg":
                traffic._record("update", data, buffers)
            return original(msg_type, data=data, metadata=metadata, buffers=buffers, **keys)

        channel.publish_msg = publish
        tapped.append(channel)

    for widget in widgets:
        for child in _with_children(widget):
            if child.comm is not None:
                _tap(child.comm)
    comm.create_comm = create
    try:
        yield traffic
    finally:
        comm.create_comm = original_create
        for channel in tapped:
            channel.__dict__.pop("publish_msg", None)


def _with_children(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _with_children(child)
