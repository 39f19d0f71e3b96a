"""Starts ``setsid()`` daemons by the classic double fork, whose middle exits at once.

The bad behaviour (issue 13, attack 7): in ``setup`` it forks ``count`` times; each child
calls ``setsid()``, forks the daemon and exits at once, so the daemon loses every link to
the worker (its parent, session and group) before any scan of ``/proc`` can see it. Each
daemon execs a small Python that keeps ``alloc_mb`` MiB of touched memory and sleeps, with
``marker`` on its command line so a test can find it in ``/proc``. With ``hang`` the
plugin then hangs in ``render_frame``. The host must keep the daemons in the worker's
tree (the worker is a child subreaper), count their memory and number against the
worker's limits, and kill them whenever the worker ends, however it ends.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

#: What each daemon runs: hold ``argv[2]`` MiB of touched memory, then sleep for ever.
_DAEMON = (
    "import sys, time\n"
    "b = bytearray(int(sys.argv[2]) << 20)\n"
    "for i in range(0, len(b), 4096): b[i] = 1\n"
    "while True: time.sleep(1000)\n"
)


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: daemonizer")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "marker": {"type": "string", "minLength": 8},
            "count": {"type": "integer", "minimum": 0, "default": 1},
            "alloc_mb": {"type": "integer", "minimum": 0, "default": 0},
            "hang": {"type": "boolean", "default": False},
        },
        "required": ["marker"],
        "additionalProperties": False,
    }


def _daemonize(marker: str, alloc_mb: int) -> None:
    if os.fork() != 0:
        return  # the worker; the middle is reaped by no one but the subreaper
    try:
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.execv(
                sys.executable,
                [sys.executable, "-I", "-S", "-c", _DAEMON, marker, str(alloc_mb)],
            )
    finally:
        os._exit(0)


@hookimpl
def setup(context: PluginContext) -> None:
    for _ in range(int(context.config["count"])):
        _daemonize(str(context.config["marker"]), int(context.config["alloc_mb"]))


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas) -> float:
    canvas.clear((255, 128, 0))
    if context.config["hang"]:
        while True:
            time.sleep(1000)
    return 0.5
