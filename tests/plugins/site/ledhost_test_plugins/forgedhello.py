"""Writes a forged hello straight into the worker's control socket, as a hostile plugin can.

At import, before the worker's own hello: every socket among the process's open fds gets
one length-prefixed msgpack ``hello`` whose ``modes`` hold non-string names (option-less
by design: the host refuses the message before any config exists). The host must end this
worker as failed with a reason naming the field, and go on with every other plugin.
"""

from __future__ import annotations

import os
import stat
import struct
from typing import Any

import msgspec

from sdk import Canvas, hookimpl

_FORGED = msgspec.msgpack.encode(
    {
        "t": "hello",
        "plugin": "forgedhello",
        "instance": "forgedhello",
        "pid": os.getpid(),
        "modes": [{"name": 12345}, {"name": ["not", "a", "name"]}],
        "actions": [],
        "schema": None,
        "hooks": [],
    }
)
for _fd in map(int, os.listdir("/proc/self/fd")):
    try:
        if stat.S_ISSOCK(os.fstat(_fd).st_mode):
            os.write(_fd, struct.pack("!I", len(_FORGED)) + _FORGED)
    except OSError:
        pass


@hookimpl
def register_modes(register: Any) -> None:
    register("fine")


@hookimpl
def render_frame(canvas: Canvas) -> float:
    return 1.0
