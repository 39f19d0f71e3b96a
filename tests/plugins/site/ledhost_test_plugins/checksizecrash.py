"""``ledhost check``: draws fine at every size but 128x64, where its worker aborts
(SIGABRT) in ``render_frame``."""

from __future__ import annotations

import os
from typing import Any

from sdk import Canvas, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("fragile", title="Fragile")


@hookimpl
def render_frame(canvas: Canvas) -> None:
    if canvas.size == (128, 64):
        os.abort()
    canvas.text_centered("fine", "small", "#ffffff")
