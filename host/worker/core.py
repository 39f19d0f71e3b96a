"""What every part of the worker shares, and the bookkeeping of its hook calls.

:class:`WorkerCore` holds the state of one running worker (channel, plugin manager,
active mode, size, deadlines, secret scrubber) and what every other part needs to call
plugin hooks: which call runs on which thread since when (:attr:`WorkerCore.busy`), the
heartbeat thread that reports those calls to the host, and :meth:`WorkerCore.report_error`.

Split from :mod:`host.worker.loop`, which had grown past the module size of STYLE.md
rule 21: the render path (:mod:`host.worker.render`), the data refresh
(:mod:`host.worker.refresh`) and the host's messages (:mod:`host.worker.messages`) are
mixins over this class, and :class:`host.worker.loop.Worker` puts them together. They
share one object, not a set of collaborators, because the plugin context hands the
worker itself to the plugin as its ``requests_to_host`` and every part reads the same
few fields (``active``, ``size``, ``token``); the split is by concept, not by state.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from typing import Any

from host.errors import ProtocolError
from host.ipc import exitcodes, protocol
from host.ipc.channel import Channel
from host.ipc.framebus import FrameWriter
from host.ipc.workerargs import WorkerArgs
from host.worker.boot import exception_text, make_plugin_manager
from host.worker.secrets import SecretScrubber
from sdk.registration import ModeInfo

__all__ = ["WorkerArgs", "WorkerCore"]


class WorkerCore:
    """The state every part of a worker shares, and the bookkeeping of its hook calls.

    Not used alone: :class:`host.worker.loop.Worker` is the class to run.
    """

    def __init__(self, args: WorkerArgs) -> None:
        self.args = args
        sock = socket.socket(fileno=args.control_fd)
        self.channel: Channel[protocol.HostMessage] = Channel(
            sock, peer="host", decode=protocol.decode_from_host, blocking_send=True
        )
        self.pm = make_plugin_manager()
        self.log = logging.getLogger(f"ledhost.plugin.{args.instance_id}")
        self.modes: list[ModeInfo] = []
        self.context: Any = None
        self.writer: FrameWriter | None = None
        self.active: str | None = None
        self.token = 0
        #: Whether the active mode feeds the host's ticker (``render_strip``'s ``ticker``).
        self.for_ticker = False
        self.frame_index = 0
        self.next_due: float | None = None
        self.content: dict[str, bool] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._redraw = threading.Event()
        self._refresh_wake = threading.Event()
        self._refreshed = threading.Event()
        self._stopping = threading.Event()
        self.heartbeat_interval = args.heartbeat
        #: Hook calls under way, by thread role: ``{"main": ("render_frame", t0)}``.
        #: Read by the heartbeat thread, so the host learns which call hangs and since when.
        self.busy: dict[str, tuple[str, float]] = {}
        #: ``(width, height)`` drawn for the current activation: the display or a region.
        self.size = (args.width, args.height)
        #: Deadlines of hook calls, from the host's ``start`` (``None`` before it).
        self.deadlines: protocol.Deadlines | None = None
        #: Keeps this instance's secrets out of every log line and error sent to the host.
        self.scrubber = SecretScrubber()

    # -- waking the main loop, from any thread --------------------------------------------

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    # -- errors ---------------------------------------------------------------------------

    def report_error(self, hook: str, exc: BaseException) -> None:
        """Tell the host a hook failed; the worker itself carries on.

        Except after a ``MemoryError``: the plugin hit its memory limit and its state is
        unknown, so the worker exits at once with :data:`exitcodes.OVER_MEMORY` (from
        whichever thread saw it) and the host restarts it with backoff.
        """
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

    # -- heartbeats and deadlines ---------------------------------------------------------

    def _enter(self, role: str, hook: str) -> None:
        self.busy[role] = (hook, time.monotonic())

    def _leave(self, role: str) -> None:
        self.busy.pop(role, None)

    def _deadline_of(self, hook: str) -> float | None:
        return None if self.deadlines is None else self.deadlines.of(hook)

    def _beat_loop(self) -> None:
        """Beat every interval, and at once when a call runs past its deadline.

        A thread of its own, so a plugin stuck in a Python loop on the main or refresh
        thread still lets the host hear which call hangs (the GIL is handed over every few
        milliseconds). Code that holds the GIL for good stops the beats as well, which the
        host's heartbeat timeout catches. The parent check is gunicorn's
        ``is_parent_alive``: a re-parented worker exits instead of running orphaned.
        """
        parent = os.getppid()
        reported: set[tuple[str, float]] = set()
        next_beat = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            busy = list(self.busy.values())
            overdue = []
            wake = next_beat
            for hook, started in busy:
                limit = self._deadline_of(hook)
                if limit is None:
                    continue
                if now - started >= limit and (hook, started) not in reported:
                    overdue.append((hook, started))
                elif now - started < limit:
                    wake = min(wake, started + limit + 0.01)
            if now >= next_beat or overdue:
                reported.update(overdue)
                if os.getppid() != parent:
                    os._exit(exitcodes.HOST_GONE)
                try:
                    self.channel.send(
                        protocol.Heartbeat(
                            busy=[(hook[:64], now - started) for hook, started in busy[:8]]
                        )
                    )
                except (OSError, EOFError, ProtocolError):
                    return
                next_beat = now + self.heartbeat_interval
                wake = min(wake, next_beat)
            self._stopping.wait(max(0.005, wake - time.monotonic()))
