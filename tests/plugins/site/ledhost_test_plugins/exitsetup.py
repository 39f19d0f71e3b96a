"""Calls ``sys.exit()`` in setup: a worker that quits with exit status 0.

The bad behaviour: ``SystemExit`` is not an ``Exception``, so an ``except Exception``
around the hook does not catch it, and status 0 looks like a clean exit. The host must
still treat a worker that goes away during boot (whatever its status) as a failed plugin,
report it, and not mistake it for a normal stop.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from sdk import Canvas, PluginContext, hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: exit in setup")


@hookimpl
def setup(context: PluginContext) -> None:
    sys.exit()


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.clear((0, 128, 255))  # never reached
