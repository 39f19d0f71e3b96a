"""Starts, then half a second later its worker exits with status 0 although nobody asked it to.

The host must not read that as a clean, requested stop: its reason is "exited on its own
(status 0)" and it counts as a failure (restarted with backoff).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("main", duration=1.0)


@hookimpl
def setup(context: PluginContext) -> None:
    threading.Timer(0.5, os._exit, (0,)).start()  # once running, out of the blue


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.image.paste((0, 255, 0), (0, 0, canvas.width, canvas.height))
