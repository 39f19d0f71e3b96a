"""Ignores SIGTERM, draws one frame, then sleeps forever in ``render_frame``.

The bad behaviour: ``setup`` sets SIGTERM to "ignore", so the polite signal does nothing;
from its second call on, the render never returns (``time.sleep(1)`` in a loop, so the
heartbeat thread keeps beating and reports the call as busy). The host must see the render
run past its deadline, send SIGTERM, wait ``stop_timeout`` and then send SIGKILL: the
ladder's second step (``tests/test_containment.py``). It logs :data:`HANGING` as the
render begins to hang, so a test can wait for the hang rather than guess its time.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

from sdk import Canvas, hookimpl

#: Logged (WARNING) when the second render begins, which never returns.
HANGING = "stubborn: this render never returns"

#: ``render_frame`` calls so far in this process (the ``frame`` argument restarts per mode).
_calls = [0]


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Stubborn: ignores SIGTERM")


@hookimpl
def setup() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@hookimpl
def render_frame(canvas: Canvas) -> float:
    _calls[0] += 1
    if _calls[0] > 1:
        logging.getLogger(__name__).warning(HANGING)
        while True:
            time.sleep(1)
    canvas.clear((0, 0, 255))
    return 0.05
