"""Draws normally for ``after`` seconds after setup, then segfaults (SIGSEGV).

With ``where = "render"`` (the default) it dies in the first render after ``after``
seconds, so only while shown; with ``where = "refresh"`` its data refresh dies ``after``
seconds after setup whether it is shown or not, which makes its crash loop predictable.

The bad behaviour: the plugin dereferences a NULL pointer through ``ctypes``, so the
worker process dies of a signal with no Python exception, no traceback and no goodbye
message. The host must notice the dead worker, report the crash (signal 11), keep the rest
of the rotation running and restart the plugin under its restart policy.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

#: ``time.monotonic()`` when setup ran.
_state: dict[str, float] = {"started": time.monotonic()}


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("crash", title="Zoo: segfault")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "after": {"type": "number", "minimum": 0, "default": 0.5},
            "where": {"enum": ["render", "refresh"], "default": "render"},
        },
        "additionalProperties": False,
    }


@hookimpl
def setup(context: PluginContext) -> None:
    _state["started"] = time.monotonic()


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    if context.config["where"] != "refresh":
        return None
    time.sleep(float(context.config["after"]))
    ctypes.string_at(0)  # reads address 0: SIGSEGV, the process is gone
    return None


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas) -> float:
    if context.config["where"] != "render":
        pass
    elif time.monotonic() - _state["started"] >= float(context.config["after"]):
        ctypes.string_at(0)  # reads address 0: SIGSEGV, the process is gone
    canvas.clear((255, 128, 0))
    return 0.05
