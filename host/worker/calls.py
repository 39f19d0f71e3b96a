"""Calling the plugin's hooks: which call runs on which thread, errors, heartbeats.

Two parts, each owning its state:

- :class:`HookCaller` wraps every call into plugin code. It records the call under way
  per thread role (``"main"``, ``"refresh"``) so the heartbeat can say which call hangs
  and for how long, and turns an exception into an ``error`` message to the host with the
  hook's name and a scrubbed traceback; the worker carries on. A ``MemoryError`` is the
  exception: the plugin hit its memory limit and its state is unknown, so the process
  exits with :data:`~host.ipc.exitcodes.OVER_MEMORY` from whichever thread saw it.
- :class:`Heartbeat` is the thread that beats every interval, and at once when a call runs
  past its deadline. A thread of its own, so a plugin stuck in a Python loop still lets
  the host hear which call hangs (the GIL is handed over every few milliseconds); code
  that holds the GIL for good stops the beats as well, which the host's heartbeat timeout
  catches.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
from collections.abc import Iterator

import pluggy

from host.errors import ProtocolError
from host.ipc import exitcodes, protocol
from host.ipc.channel import Channel
from host.worker.boot import exception_text
from host.worker.secrets import SecretScrubber

__all__ = ["Heartbeat", "HookCaller"]


class HookCaller:
    """The plugin's hooks, called with bookkeeping; errors reported to the host.

    :param pm: the plugin manager holding the one plugin.
    :param channel: the worker's control channel (thread-safe).
    :param scrubber: keeps this instance's secrets out of every error text.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        channel: Channel[protocol.HostMessage],
        scrubber: SecretScrubber,
    ) -> None:
        self.pm = pm
        self.hook = pm.hook
        self.channel = channel
        self.scrubber = scrubber
        #: Calls under way, by thread role: ``{"main": ("render_frame", t0)}``. Written by
        #: the calling thread, read by the heartbeat thread (a dict item swap is atomic).
        self.busy: dict[str, tuple[str, float]] = {}
        #: Deadlines of hook calls, from the host's ``start`` (``None`` before it).
        self.deadlines: protocol.Deadlines | None = None
        #: Set when a call begins, so the heartbeat, asleep until its next beat, wakes to
        #: time the new call's deadline (with beats far apart it would otherwise learn of
        #: a hung call only at its next regular beat).
        self.call_began = threading.Event()

    def implements(self, hook: str) -> bool:
        """Whether the plugin implements ``hook`` at all."""
        return bool(getattr(self.hook, hook).get_hookimpls())

    @contextlib.contextmanager
    def running(self, role: str, hook: str) -> Iterator[None]:
        """Record that ``role``'s thread is in ``hook`` for as long as the block runs."""
        self.busy[role] = (hook, time.monotonic())
        self.call_began.set()
        try:
            yield
        finally:
            self.busy.pop(role, None)

    def deadline_of(self, hook: str) -> float | None:
        return None if self.deadlines is None else self.deadlines.of(hook)

    def report_error(self, hook: str, exc: BaseException) -> None:
        """Tell the host ``hook`` failed; the worker itself carries on (but see above)."""
        out_of_memory = isinstance(exc, MemoryError)
        if out_of_memory:
            text = shown = f"{hook}: MemoryError (over the worker's memory limit)"
        else:
            text = self.scrubber.text("".join(traceback.format_exception(exc)))[-8000:]
            shown = self.scrubber.text(exception_text(exc))
        try:
            self.channel.send(protocol.Error(hook=hook, message=shown[:1000], traceback=text))
        finally:
            if out_of_memory:
                os._exit(exitcodes.OVER_MEMORY)


class Heartbeat:
    """The heartbeat thread: alive, and which calls are running since when.

    :param interval: seconds between beats (the host sets it in ``start``).
    """

    def __init__(
        self, calls: HookCaller, channel: Channel[protocol.HostMessage], interval: float
    ) -> None:
        self.calls = calls
        self.channel = channel
        self.interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.calls.call_began.set()

    def _run(self) -> None:
        """Beat every interval, and at once when a call passes its deadline.

        The parent check is gunicorn's ``is_parent_alive``: a re-parented worker exits
        instead of running orphaned.
        """
        parent = os.getppid()
        reported: set[tuple[str, float]] = set()
        noticed: set[float] = set()
        next_beat = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            busy = list(self.calls.busy.values())
            overdue = []
            stalled = False
            wake = next_beat
            for hook, started in busy:
                if hook == "render_frame" and started not in noticed:
                    # A frame this late: tell the host now, so it can pass the mode over
                    # instead of showing a frozen frame until the next regular beat.
                    if now - started >= protocol.STALL_NOTICE:
                        noticed.add(started)
                        stalled = True
                    else:
                        wake = min(wake, started + protocol.STALL_NOTICE + 0.005)
                limit = self.calls.deadline_of(hook)
                if limit is None:
                    continue
                if now - started >= limit and (hook, started) not in reported:
                    overdue.append((hook, started))
                elif now - started < limit:
                    wake = min(wake, started + limit + 0.01)
            if now >= next_beat or overdue or stalled:
                reported.update(overdue)
                noticed.intersection_update(started for _, started in busy)
                if os.getppid() != parent:
                    os._exit(exitcodes.HOST_GONE)
                beat = protocol.Heartbeat(
                    busy=[(hook[:64], now - started) for hook, started in busy[:8]]
                )
                try:
                    self.channel.send(beat)
                except (OSError, EOFError, ProtocolError):
                    return
                next_beat = now + self.interval
                wake = min(wake, next_beat)
            self.calls.call_began.wait(max(0.005, wake - time.monotonic()))
            self.calls.call_began.clear()
