"""The browser's side of plotly's widget protocol, for tests.

:func:`browser_event` sends a points event to a FigureWidget exactly as the
plotly front end does: a comm ``update`` message that sets the
``_js2py_pointsCallback`` trait with the payload built by plotly.js's
``_send_points_callback_message`` (event type, points, device state,
selector). The widget then runs its real ``_handler_js2py_pointsCallback``,
which dispatches ``on_hover`` / ``on_click`` / ``on_selection`` /
``on_deselect`` to every trace.
"""

from __future__ import annotations


def browser_event(figure, event: str, trace: int = 0, points=(), selector: dict | None = None) -> None:
    """Deliver ``plotly_hover`` / ``plotly_click`` / ``plotly_selected`` / ``plotly_deselect``."""
    points = [int(p) for p in points]
    payload = {
        "event_type": f"plotly_{event}",
        "points": {
            "trace_indexes": [trace] * len(points),
            "point_indexes": points,
            "xs": [0.0] * len(points),
            "ys": [0.0] * len(points),
        },
        "device_state": {"alt": False, "ctrl": False, "meta": False, "shift": False, "button": 0, "buttons": 0},
        "selector": selector,
    }
    message = {"content": {"data": {"method": "update", "state": {"_js2py_pointsCallback": payload}, "buffer_paths": []}}, "buffers": []}
    figure._handle_msg(message)


def lasso(figure, trace: int, points) -> None:
    browser_event(figure, "selected", trace, points, {"type": "lasso", "selector_state": {"xs": [0, 1, 1], "ys": [0, 0, 1]}})
