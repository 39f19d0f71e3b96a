"""Draws on a canvas that is not the size of the display."""

from __future__ import annotations

from typing import Any

from PIL import Image

from sdk import Canvas, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("broken", duration=2.0)


@hookimpl
def render_frame(canvas: Canvas) -> float:
    canvas.image = Image.new("RGB", (canvas.width // 2, canvas.height))
    return 0.2
