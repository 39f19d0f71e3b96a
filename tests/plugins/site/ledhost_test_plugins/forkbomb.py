"""Starts another ``sh`` with a ``sleep`` grandchild on every frame and never reaps them.

The bad behaviour: each ``render_frame`` (until ``max_children`` are started) spawns
``sh -c 'sleep 1000 & exec sleep 1000'``, a child with a grandchild of its own, and keeps
the ``Popen`` so nothing is reaped. With ``escape`` the grandchild runs under ``setsid``,
leaving the worker's process group and session. The host must cap the worker's
processes (an rlimit on processes) and, when it stops or kills the worker, end every
descendant too, including the escaped ones (a cgroup, a subreaper or a pid sweep), so no
``sleep 1000`` outlives it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

#: Every child started, kept so that none is reaped or collected.
_children: list[subprocess.Popen[bytes]] = []


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: fork bomb")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "escape": {"type": "boolean", "default": False},
            "every": {"type": "number", "minimum": 0, "default": 0.25},
            "max_children": {"type": "integer", "minimum": 0, "default": 1000},
        },
        "additionalProperties": False,
    }


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas) -> float:
    canvas.clear((128, 0, 255))
    canvas.text(1, 1, str(len(_children)))
    if len(_children) < int(context.config["max_children"]):
        script = "sleep 1000 & exec sleep 1000"
        if context.config["escape"]:
            script = "setsid sleep 1000 & exec sleep 1000"
        _children.append(
            subprocess.Popen(
                ["sh", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return float(context.config["every"])
