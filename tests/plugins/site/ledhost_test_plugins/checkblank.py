"""``ledhost check``: says its mode has content but draws nothing (every frame black)."""

from __future__ import annotations

from typing import Any

from sdk import Canvas, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("void", title="Void")


@hookimpl
def has_content() -> bool:
    return True


@hookimpl
def render_frame(canvas: Canvas) -> float:
    return 1.0
