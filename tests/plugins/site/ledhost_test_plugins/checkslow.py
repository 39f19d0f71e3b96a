"""``ledhost check``: spends 0.05 s of CPU in every ``render_frame`` (a Pi takes several
times that) and asks for the next frame 0.1 s later: too slow, and too much of a core."""

from __future__ import annotations

import time
from typing import Any

from sdk import Canvas, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("busy", title="Busy")


@hookimpl
def render_frame(canvas: Canvas) -> float:
    end = time.thread_time() + 0.05
    while time.thread_time() < end:
        pass
    canvas.text_centered("busy", "small", "#ffffff")
    return 0.1
