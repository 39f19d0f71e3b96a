"""Allocates ``chunk_mb`` MiB more memory on every frame and never frees it.

The bad behaviour: each ``render_frame`` keeps a ``bytes`` object of ``chunk_mb`` MiB
filled with ``0xff`` (every page written, so it really counts towards the worker's
resident memory) in a module-level list, 50 times a second. The host must stop the worker
at its memory limit (an rlimit or a watchdog on RSS), report why, and not get swapped or
OOM-killed itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

#: Every chunk ever allocated.
_hoard: list[bytes] = []


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: memory hog")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"chunk_mb": {"type": "integer", "minimum": 1, "default": 16}},
        "additionalProperties": False,
    }


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas) -> float:
    # Not bytearray(n): zeroed pages may stay untouched and never count as resident.
    _hoard.append(b"\xff" * (int(context.config["chunk_mb"]) * 1024 * 1024))
    canvas.clear((255, 0, 128))
    return 0.02
