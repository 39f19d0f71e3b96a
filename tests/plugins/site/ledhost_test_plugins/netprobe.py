"""Tries to reach a TCP server on ``127.0.0.1:<port>`` (option ``port``) when asked.

The bad behaviour, for ``tests/test_hostile_priv.py``: a plugin that never declared the
network (entry point ``netprobe``) phones out anyway; its twin ``netprobe_allowed``
declares ``network`` in the ``ledhost.permissions`` group. Action ``connect`` returns
``{"connected": bool, "error": str}``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("still")


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register("connect", title="Connect to the test's server")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"port": {"type": "integer"}}}


@hookimpl
def render_frame(canvas: Canvas) -> float | None:
    canvas.clear((0, 64, 0))
    return None


@hookimpl
def handle_action(context: PluginContext, name: str) -> dict[str, Any] | None:
    if name != "connect":
        return None
    try:
        with socket.create_connection(("127.0.0.1", int(context.config["port"])), timeout=5):
            return {"connected": True, "error": ""}
    except OSError as exc:
        return {"connected": False, "error": str(exc)}
