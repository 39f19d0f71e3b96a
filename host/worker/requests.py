"""What a plugin asks of the host: the worker's side of :class:`sdk.context.Requests`.

A plugin may ask from any thread (its refresh thread, a thread of its own): redraw its
mode, interrupt the rotation, release an interrupt, stay on screen longer. Each request
is checked here as the host will check it, so a bad value (a NaN duration, a mode name
that cannot exist) is a ``ValueError`` in the plugin's own call, naming the field,
rather than a protocol error that would cost the whole worker its life.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from host.ipc import protocol
from host.ipc.channel import Channel
from sdk import priorities

__all__ = ["HostRequests"]


class HostRequests:
    """Forwards a plugin's requests to the host; the redraw flag wakes the main loop.

    :param active: the mode on screen now (``None``: none), read from any thread.
    :param wake: wakes the main loop.
    """

    def __init__(
        self,
        channel: Channel[protocol.HostMessage],
        active: Callable[[], str | None],
        wake: Callable[[], None],
    ) -> None:
        self.channel = channel
        self._active = active
        self._wake = wake
        self._redraw = threading.Event()

    def take_redraw(self) -> bool:
        """Whether a redraw was asked for since the last call (main thread)."""
        if not self._redraw.is_set():
            return False
        self._redraw.clear()
        return True

    def request_redraw(self, mode: str | None) -> None:
        if mode is None or mode == self._active():
            self._redraw.set()
            self._wake()

    def request_interrupt(self, mode: str, priority: int, seconds: float) -> None:
        level = _whole(priority)
        if isinstance(level, int) and not priorities.PLUGIN_MIN <= level <= priorities.PLUGIN_MAX:
            raise ValueError(
                f"$.priority: {level} is outside {priorities.PLUGIN_MIN}.."
                f"{priorities.PLUGIN_MAX}, the range a plugin may ask for"
            )
        self._send(protocol.Interrupt(mode=mode, priority=_whole(priority), seconds=_real(seconds)))

    def release_interrupt(self, mode: str) -> None:
        self._send(protocol.Release(mode=mode))

    def request_more_time(self, mode: str, seconds: float) -> None:
        self._send(protocol.Dwell(mode=mode, seconds=_real(seconds)))

    def _send(self, message: protocol.WorkerMessage) -> None:
        protocol.validate(message)
        self.channel.send(message)


def _whole(value: object) -> Any:
    """A finite number as an ``int`` (``60.0`` is a fine priority); anything else as is,
    for :func:`protocol.validate` to name."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return int(value)
    return value


def _real(value: object) -> Any:
    """A number as a ``float``; anything else as is, for validation to name."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value
