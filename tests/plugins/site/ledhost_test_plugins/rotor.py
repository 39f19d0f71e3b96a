"""Modes ``a`` (red) and ``b`` (blue) to rotate, and ``alert`` (green) to notify with.

Each is a still image drawn once, so several hosts can run it side by side for little.
"""

from __future__ import annotations

from typing import Any

from sdk import Canvas, PluginContext, hookimpl

COLOURS = {"a": (255, 0, 0), "b": (0, 0, 255), "alert": (0, 255, 0)}


@hookimpl
def register_modes(register: Any) -> None:
    for mode in COLOURS:
        register(mode, duration=2.0)


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas, mode: str, frame: int) -> None:
    canvas.image.paste(COLOURS[mode], (0, 0, canvas.width, canvas.height))
