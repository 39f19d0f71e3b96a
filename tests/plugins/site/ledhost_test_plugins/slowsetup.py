"""Sleeps for ``seconds`` (default ten minutes) in setup.

The bad behaviour: the worker starts, loads the plugin and then does not finish booting
for minutes. The host must give up on it at its boot deadline, kill the worker, report a
boot timeout and run the rotation without it in the meantime, never waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: slow setup")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"seconds": {"type": "number", "minimum": 0, "default": 600}},
        "additionalProperties": False,
    }


@hookimpl
def setup(context: PluginContext) -> None:
    time.sleep(float(context.config["seconds"]))


@hookimpl
def render_frame(canvas: Canvas) -> float:
    canvas.clear((255, 255, 255))
    return 1.0
