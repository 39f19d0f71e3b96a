"""What a plugin's interrupt may ask for: the caps between a plugin and the screen.

A plugin is treated as hostile (issue 13, attack 8): an interrupt with priority 2**31-1
and a duration of 1e9 s must not hold the panel. The typed protocol only bounds the
fields; here the host applies its policy before anything reaches the
:class:`~host.schedule.rotation.Scheduler`: the priority is clamped to
``sdk.priorities.PLUGIN_MIN..PLUGIN_MAX`` (below API notifications and pins), the duration
to ``rotation.interrupt_max_seconds``, and one instance may hold at most
``rotation.interrupt_max_queued`` interrupts. The SDK refuses priorities out of range in
the plugin's own call (``host.worker.requests``); only a crafted raw message reaches the
clamp, so clamping it silently loses nothing a well-behaved plugin asked for.
"""

from __future__ import annotations

import logging
from typing import Final

from host.schedule.rotation import Scheduler, Slot
from sdk import priorities

__all__ = ["API_SOURCE", "PLUGIN_SOURCE", "admit_api_notification", "admit_plugin_interrupt"]

log = logging.getLogger(__name__)

#: The ``source`` of every interrupt a plugin asked for, as shown in the status.
PLUGIN_SOURCE: Final = "plugin"


def admit_plugin_interrupt(
    scheduler: Scheduler,
    slot: Slot,
    priority: int,
    seconds: float,
    now: float,
    *,
    max_seconds: float,
    max_queued: int,
) -> int | None:
    """Queue a plugin's interrupt within the caps; its id, or ``None`` when refused.

    A repeated request for a mode already queued updates that entry (it does not count
    twice against ``max_queued``).
    """
    level = min(max(priority, priorities.PLUGIN_MIN), priorities.PLUGIN_MAX)
    if level != priority:
        log.warning(
            "%s: interrupt priority %d for mode %r clamped to %d (plugins may ask for %d..%d)",
            slot.instance, priority, slot.mode, level,
            priorities.PLUGIN_MIN, priorities.PLUGIN_MAX,
        )  # fmt: skip
    length = min(max(0.0, seconds), max_seconds)
    if length < seconds:
        log.warning(
            "%s: interrupt of %g s for mode %r cut to rotation.interrupt_max_seconds (%g s)",
            slot.instance, seconds, slot.mode, max_seconds,
        )  # fmt: skip
    queued = scheduler.interrupts_of(slot.instance, PLUGIN_SOURCE)
    if slot.mode not in queued and len(queued) >= max_queued:
        log.warning(
            "%s: interrupt for mode %r refused: it already has %d queued "
            "(rotation.interrupt_max_queued)",
            slot.instance, slot.mode, len(queued),
        )  # fmt: skip
        return None
    return scheduler.interrupt(slot, level, now + length, source=PLUGIN_SOURCE)


#: The ``source`` of every notification sent through the control socket.
API_SOURCE: Final = "api"


def admit_api_notification(
    scheduler: Scheduler,
    slot: Slot,
    priority: int,
    seconds: float,
    now: float,
    *,
    max_seconds: float,
) -> int:
    """Queue a notification from the control socket; its id.

    Capped as a plugin's interrupt is in length (``rotation.interrupt_max_seconds``), and
    in priority at :data:`sdk.priorities.NOTIFICATION`: above every plugin, below a pin.
    A repeated notification of the same mode replaces the one queued.
    """
    level = min(max(priority, priorities.PLUGIN_MIN), priorities.NOTIFICATION)
    length = min(max(0.0, seconds), max_seconds)
    return scheduler.interrupt(slot, level, now + length, source=API_SOURCE)
