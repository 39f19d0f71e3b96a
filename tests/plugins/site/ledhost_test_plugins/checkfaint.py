"""``ledhost check``: writes its text in dark blue (#000030) on black: unreadable."""

from __future__ import annotations

from typing import Any

from sdk import Canvas, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("faint", title="Faint")


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.text_centered("faint", "small", "#000030")
