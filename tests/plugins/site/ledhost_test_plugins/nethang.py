"""Blocks forever in ``render_frame`` on a network read that has no timeout.

The bad behaviour: every render opens a TCP connection to ``127.0.0.1:<port>`` (the
``port`` option is required), sets no timeout and waits in ``recv(1)``. A test listens on
the port and never answers, so the render blocks in a system call rather than spinning.
The host must detect the hang by its deadline and kill the worker, as it does for a busy
loop.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

#: Every socket opened, so none is closed by garbage collection.
_sockets: list[socket.socket] = []


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: network hang")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
        "required": ["port"],
        "additionalProperties": False,
    }


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas) -> float:
    canvas.clear((0, 0, 255))
    sock = socket.create_connection(("127.0.0.1", int(context.config["port"])))
    sock.settimeout(None)
    _sockets.append(sock)
    sock.recv(1)  # the peer never sends: blocks forever
    return 1.0
