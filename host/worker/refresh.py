"""The plugin's data in the worker: ``refresh_data`` on a thread, ``has_content`` reports.

``refresh_data`` may block on the network for seconds, so :class:`Refresher` runs it on a
thread of its own, off the render path, on the schedule the plugin returns (with backoff
after failures). When the loop starts, after each refresh and after each ``configure``,
the main thread asks ``has_content`` for every mode (:meth:`Refresher.update_content`)
and tells the host of each change, so the rotation skips modes with nothing to show.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

from host.ipc import protocol
from host.ipc.channel import Channel
from host.worker.calls import HookCaller
from sdk.context import PluginContext
from sdk.registration import ModeInfo

__all__ = ["Refresher"]

#: Longest wait after repeated failures of ``refresh_data``, in seconds.
MAX_BACKOFF = 300.0


class Refresher:
    """The refresh thread, and the content reports that follow each refresh.

    :param wake: wakes the main loop (from the refresh thread) to report content.
    """

    def __init__(
        self,
        calls: HookCaller,
        channel: Channel[protocol.HostMessage],
        context: PluginContext,
        wake: Callable[[], None],
    ) -> None:
        self.calls = calls
        self.channel = channel
        self.context = context
        self._wake_main = wake
        #: The last ``has_content`` answer reported per mode.
        self.content: dict[str, bool] = {}
        self._poke = threading.Event()
        self._done = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="refresh", daemon=True)

    def start(self) -> None:
        """Start the thread, if the plugin has data to refresh."""
        if self.calls.implements("refresh_data"):
            self._thread.start()

    def poke(self) -> None:
        """Refresh now (the config changed), not at the plugin's next time."""
        self._poke.set()

    def stop(self) -> None:
        self._stopping.set()
        self._poke.set()

    def take_refreshed(self) -> bool:
        """Whether a refresh finished since the last call (main thread)."""
        if not self._done.is_set():
            return False
        self._done.clear()
        return True

    def update_content(self, modes: Sequence[ModeInfo]) -> None:
        """Ask ``has_content`` for every mode; report what changed (main thread)."""
        for mode in modes:
            try:
                with self.calls.running("main", "has_content"):
                    answer = self.calls.hook.has_content(context=self.context, mode=mode.name)
            except Exception as exc:
                self.calls.report_error("has_content", exc)
                answer = False
            has = answer is not False
            if self.content.get(mode.name) != has:
                self.content[mode.name] = has
                self.channel.send(protocol.Content(mode=mode.name, has=has))

    def _run(self) -> None:
        """Call ``refresh_data`` on the plugin's own schedule, on this thread only."""
        failures = 0
        while not self._stopping.is_set():
            wait: float | None
            try:
                # Not firstresult: pluggy returns the list of non-None answers.
                with self.calls.running("refresh", "refresh_data"):
                    answers = self.calls.hook.refresh_data(context=self.context)
                failures = 0
                delays = [
                    float(d)
                    for d in answers
                    if isinstance(d, int | float) and math.isfinite(d) and d >= 0
                ]
                wait = max(min(delays), 0.1) if delays else None
            except Exception as exc:
                self.calls.report_error("refresh_data", exc)
                failures += 1
                wait = min(MAX_BACKOFF, 5.0 * 2 ** min(failures, 6))
            self._done.set()
            self._wake_main()
            self._poke.wait(timeout=wait)
            self._poke.clear()
