"""Sends a crafted ``hello`` after its own, once running (issue 13, attack 4).

Option ``kind``: ``"huge"`` (100 000 modes), ``"nested"`` (a mode name that is a deeply
nested list), ``"second"`` (a well-formed second hello with other modes) or ``"dup"``
(a second hello naming the clock's mode ``time``). The bytes go into its control channel
framed as the channel frames them, as a plugin with the channel in its memory can.
"""

from __future__ import annotations

import struct
import threading
import time
from typing import Any

import msgspec

from sdk import Canvas, PluginContext, hookimpl


def _hello(modes: list[Any]) -> bytes:
    body = msgspec.msgpack.encode(
        {
            "t": "hello",
            "plugin": "latehello",
            "instance": "latehello",
            "pid": 1,
            "modes": modes,
            "actions": [],
            "schema": None,
            "hooks": [],
        }
    )
    return struct.pack("!I", len(body)) + body


def _modes(kind: str) -> list[Any]:
    if kind == "huge":
        return [{"name": f"m{i}"} for i in range(100_000)]
    if kind == "nested":
        junk: Any = "x"
        for _ in range(500):
            junk = [junk]
        return [{"name": junk}]
    if kind == "dup":
        return [{"name": "time"}]
    return [{"name": "other"}, {"name": "again"}]


@hookimpl
def register_modes(register: Any) -> None:
    register("main", duration=1.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"kind": {"type": "string", "default": "second"}}}


@hookimpl
def setup(context: PluginContext) -> None:
    channel = context._requests.channel  # type: ignore[attr-defined]  # as an attacker would
    data = _hello(_modes(context.config["kind"]))

    def send() -> None:
        # All of it, as an attacker would: a flush writes only what the socket takes now,
        # and the worker sends nothing else while idle to push the rest.
        with channel._lock:
            channel._outbuf += data
            while channel._outbuf:
                channel.flush()
                time.sleep(0.01)

    threading.Timer(0.3, send).start()


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.image.paste((255, 0, 255), (0, 0, canvas.width, canvas.height))
