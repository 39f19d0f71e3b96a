"""Floods the log (and stdout) from ``refresh_data`` for ``seconds`` without a pause.

The bad behaviour: the first refresh logs ``context.log.info`` in a tight loop with a
counter in each message, and ``print``s (flushed) every 10th line, for ``seconds``
(default an hour) before returning 60. ``render_frame`` draws normally. The host must
rate-limit or drop the plugin's records and output so its own log, its memory and the
worker's pipes stay healthy, and the plugin keeps rendering meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: log flood")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "seconds": {"type": "number", "minimum": 0, "default": 3600},
            "pause": {"type": "number", "minimum": 0, "default": 60},
        },
        "additionalProperties": False,
    }


@hookimpl
def refresh_data(context: PluginContext) -> float:
    end = time.monotonic() + float(context.config["seconds"])
    count = 0
    while time.monotonic() < end:
        count += 1
        context.log.info("logflood line %d: the plugin has a lot to say", count)
        if count % 10 == 0:
            print(f"logflood print {count}: and says it on stdout too", flush=True)
    return float(context.config["pause"])


@hookimpl
def render_frame(canvas: Canvas) -> float:
    canvas.clear((128, 255, 0))
    return 1.0
