"""Has data only after a slow first ``refresh_data``: blue frames before, green after."""

from __future__ import annotations

import time
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

_state: dict[str, bool] = {"ready": False}


@hookimpl
def register_modes(register: Any) -> None:
    register("show")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"delay": {"type": "number", "default": 1.0}}}


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    time.sleep(context.config["delay"])
    _state["ready"] = True
    context.request_redraw()
    return None


@hookimpl
def render_frame(canvas: Canvas) -> None:
    color = (0, 255, 0) if _state["ready"] else (0, 0, 255)
    canvas.image.paste(color, (0, 0, canvas.width, canvas.height))
