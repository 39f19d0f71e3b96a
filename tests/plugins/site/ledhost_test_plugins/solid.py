"""Each frame is one colour value everywhere, one more than the last: tears would show."""

from __future__ import annotations

from typing import Any

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("fill", duration=2.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"fps": {"type": "number", "default": 200}},
        "additionalProperties": False,
    }


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas, frame: int) -> float:
    canvas.image.paste((frame % 256,) * 3, (0, 0, canvas.width, canvas.height))
    return 1.0 / float(context.config["fps"])
