"""Asks for a priority interrupt a moment after setup (a live game starting)."""

from __future__ import annotations

import threading
from typing import Any

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("alert", duration=1.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "after": {"type": "number", "default": 1.0},
            "seconds": {"type": "number", "default": 1.5},
        },
    }


@hookimpl
def setup(context: PluginContext) -> None:
    timer = threading.Timer(
        context.config["after"],
        lambda: context.request_interrupt("alert", priority=80, seconds=context.config["seconds"]),
    )
    timer.daemon = True
    timer.start()


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.image.paste((255, 0, 0), (0, 0, canvas.width, canvas.height))
