"""Calling the plugin's hooks: which call runs on which thread, errors, heartbeats.

Two parts, each owning its state:

- :class:`HookCaller` wraps every call into plugin code. It records the call under way
  per thread role (``"main"``, ``"refresh"``) so the heartbeat can say which call hangs
  and for how long, and turns an exception into an ``error`` message to the host with the
  hook's name and a scrubbed traceback; the worker carries on. A ``MemoryError`` is the
  exception: the plugin hit its memory limit and its state is unknown, so the process
  exits with :data:`~host.ipc.exitcodes.OVER_MEMORY` from whichever thread saw it.
- :class:`Heartbeat` is the thread that beats while a call runs long (never while the
  worker is idle), and at once when a call runs past its deadline. A thread of its own,
  so a plugin stuck in a Python loop still lets the host hear which call hangs (the GIL
  is handed over every few milliseconds); code that holds the GIL for good stops the
  beats as well, and the host's heartbeat timeout catches it once the worker owes a sign
  (:meth:`host.supervise.handle.WorkerHandle.owed_since`).
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

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
        #: Set when a call begins, so the heartbeat, asleep while the worker is idle, wakes
        #: to time the new call.
        self.call_began = threading.Event()
        #: pluggy's hook-call loop as the manager was made: a manager given hook-call
        #: monitoring (``--trace``, ``ledhost check``'s probe) has another one, and is then
        #: always called through pluggy (:meth:`direct`).
        self._plain_exec = getattr(pm, "_inner_hookexec", None)
        self._direct: dict[str, Callable[..., Any] | None] = {}

    def direct(self, hook: str) -> Callable[..., Any] | None:
        """The plugin's one implementation of the ``firstresult`` hook ``hook``, to call
        with the hook's keyword arguments as pluggy would call it; ``None``: call through
        pluggy.

        With one implementation, no wrapper and no monitoring, pluggy's call is exactly
        this one: the implementation's own arguments picked from the keywords, its result
        (or ``None``), its exception as raised. Called directly it skips pluggy's
        argument checks and call loop, ~20 us of an idle worker's second at a frame a
        second with cold caches (issue 15). Resolved once: the worker's manager holds the
        one plugin registered at boot, and nothing registers more.
        """
        if self._plain_exec is None or self.pm._inner_hookexec is not self._plain_exec:
            return None
        if hook not in self._direct:
            self._direct[hook] = _direct_call(getattr(self.hook, hook))
        return self._direct[hook]

    def implements(self, hook: str) -> bool:
        """Whether the plugin implements ``hook`` at all."""
        return bool(getattr(self.hook, hook).get_hookimpls())

    def running(self, role: str, hook: str, *, watch: bool = True) -> _Running:
        """Record that ``role``'s thread is in ``hook`` for as long as the block runs.

        :param watch: wake the heartbeat to time the call. ``False`` for a frame whose due
            time the host knows (it times that render itself): no thread wakes per frame.
        """
        return _Running(self, role, hook, watch)

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


def _direct_call(caller: pluggy.HookCaller) -> Callable[..., Any] | None:
    """See :meth:`HookCaller.direct`."""
    impls = caller.get_hookimpls()
    spec = caller.spec
    if len(impls) != 1 or spec is None or not spec.opts.get("firstresult"):
        return None
    impl = impls[0]
    if impl.hookwrapper or impl.wrapper:
        return None
    function, names = impl.function, impl.argnames

    def call(**kwargs: Any) -> Any:
        return function(*[kwargs[name] for name in names])

    return call


class _Running:
    """:meth:`HookCaller.running`'s block: a plain context manager, not a generator one
    (``contextlib``'s machinery ran around every frame; at a frame a second, with cold
    caches, each Python call it makes shows in an idle worker's CPU: issue 15)."""

    __slots__ = ("_caller", "_role", "_hook", "_watch")

    def __init__(self, caller: HookCaller, role: str, hook: str, watch: bool) -> None:
        self._caller, self._role, self._hook, self._watch = caller, role, hook, watch

    def __enter__(self) -> None:
        caller = self._caller
        caller.busy[self._role] = (self._hook, time.monotonic())
        if self._watch:
            caller.call_began.set()

    def __exit__(self, *exc: object) -> None:
        self._caller.busy.pop(self._role, None)


#: A call running this long (seconds) is told to the host; shorter ones never are. The
#: stall notice's threshold, so a render this late is still reported at once.
REPORT_AFTER = protocol.STALL_NOTICE


class Heartbeat:
    """The heartbeat thread: which calls run long, and since when; silent while idle.

    It beats only while a hook call runs: once a call has run :data:`REPORT_AFTER`, every
    ``interval`` after that, at once when a call passes its deadline, and once more when a
    call it told of is over (so the host stops waiting for beats). A worker between calls
    sends nothing and wakes for nothing: the host knows it lives from its open channel,
    and asks it something before it counts on it (issue 15: an idle beat every 2.5 s
    woke both processes). Calls shorter than :data:`REPORT_AFTER` (a clock's render) cost
    no beat at all: the frame or answer they produce is the sign of life.

    :param interval: seconds between beats while a call runs (the host sets it in
        ``start``).
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

    def _threshold(self, hook: str) -> float:
        """How long a call of ``hook`` runs before the host hears of it."""
        limit = self.calls.deadline_of(hook)
        return REPORT_AFTER if limit is None else min(REPORT_AFTER, limit)

    def _run(self) -> None:
        """Sleep while idle; while calls run, beat as the class docstring says.

        The parent check is gunicorn's ``is_parent_alive``: a re-parented worker exits
        instead of running orphaned (an idle one learns it from its channel's end).
        """
        parent = os.getppid()
        told: set[tuple[str, float]] = set()  # calls in the last beat, maybe still running
        overdue_told: set[tuple[str, float]] = set()
        last_beat = 0.0
        while not self._stopping.is_set():
            # Cleared before reading ``busy``: a call that begins after the read sets it
            # again, so the idle wait below cannot miss it.
            self.calls.call_began.clear()
            now = time.monotonic()
            busy = list(self.calls.busy.values())
            if not busy and not told:
                self.calls.call_began.wait()
                continue
            running = set(busy)
            long = [(hook, t0) for hook, t0 in busy if now - t0 >= self._threshold(hook)]
            overdue = [
                (hook, t0)
                for hook, t0 in long
                if (limit := self.calls.deadline_of(hook)) is not None
                and now - t0 >= limit
                and (hook, t0) not in overdue_told
            ]
            beat = (
                not told <= running  # a call the host heard of is over
                or not set(long) <= told  # a call just became long
                or bool(overdue)
                or (bool(told) and now - last_beat >= self.interval)
            )
            if beat:
                if os.getppid() != parent:
                    os._exit(exitcodes.HOST_GONE)
                message = protocol.Heartbeat(busy=[(hook[:64], now - t0) for hook, t0 in long[:8]])
                try:
                    self.channel.send(message)
                except (OSError, EOFError, ProtocolError):
                    return
                told = set(long)
                overdue_told = (overdue_told | set(overdue)) & running
                last_beat = now
            wakes = [t0 + self._threshold(hook) for hook, t0 in busy if (hook, t0) not in told]
            for hook, t0 in busy:
                limit = self.calls.deadline_of(hook)
                if limit is not None and (hook, t0) not in overdue_told:
                    wakes.append(t0 + limit + 0.01)
            if told:
                wakes.append(last_beat + self.interval)
            if not wakes:
                continue  # nothing runs any more: the idle wait
            # Not on ``call_began``: calls that begin while others run (frames at 60 fps)
            # must not wake this thread each time; the next wake-up sees them.
            self._stopping.wait(max(0.005, min(wakes) - time.monotonic()))
