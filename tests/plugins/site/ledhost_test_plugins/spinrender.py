"""Draws one good frame, then spins forever in ``render_frame`` (``while True: pass``).

The bad behaviour: from the second call on, the render never returns. The loop is pure
Python, so the interpreter stays responsive to signals but the worker's main loop never
runs again: no frames, no heartbeats, no answers. The host must detect the hang by its
deadline, kill the worker (a polite stop cannot work), report it and keep the rotation
going.
"""

from __future__ import annotations

from collections.abc import Callable

from sdk import Canvas, hookimpl

#: ``render_frame`` calls so far in this process (the ``frame`` argument restarts per mode).
_calls = [0]


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("spin", title="Zoo: spin in render")


@hookimpl
def render_frame(canvas: Canvas) -> float:
    _calls[0] += 1
    if _calls[0] > 1:
        while True:
            pass
    canvas.clear((255, 255, 0))
    return 0.05
