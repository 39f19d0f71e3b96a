"""Spins forever in ``refresh_data`` (``while True: pass``); rendering stays fine.

The bad behaviour: the first refresh, right after setup, never returns and keeps a CPU
core busy, holding the GIL whenever the interpreter lets it. ``render_frame`` keeps
drawing a pattern once a second. The host must not let the stuck refresh thread block the
render path or anyone else; it may flag the plugin's data as stale, and a stop must still
end the worker (the refresh thread cannot be interrupted, so it must be killed).
"""

from __future__ import annotations

from collections.abc import Callable

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: spin in refresh")


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    while True:
        pass


@hookimpl
def render_frame(canvas: Canvas, frame: int) -> float:
    # A checkerboard that flips every frame: visible, and distinct from a stale frame.
    canvas.clear((64, 0, 64))
    for y in range(0, canvas.height, 4):
        for x in range(0, canvas.width, 4):
            if (x // 4 + y // 4 + frame) % 2 == 0:
                canvas.draw.rectangle((x, y, x + 3, y + 3), fill=(0, 255, 128))
    return 1.0
