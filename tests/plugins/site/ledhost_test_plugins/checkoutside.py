"""``ledhost check``: draws a word starting 10 pixels before the right edge and a
rectangle one pixel past the bottom: both clipped by the canvas."""

from __future__ import annotations

from typing import Any

from sdk import Canvas, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("spill", title="Spill")


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.text(canvas.width - 10, 2, "overflow", "small", "#ffffff")
    canvas.draw.rectangle((0, 0, canvas.width - 1, canvas.height), outline=(0, 128, 255))
