"""The plugin's data in the worker: ``refresh_data`` on a thread, ``has_content`` reports.

``refresh_data`` may block on the network for seconds, so it runs on a thread of its own,
off the render path, on the schedule the plugin returns (with backoff after failures).
When the loop starts, after each refresh and after each ``configure``, the main thread
asks ``has_content`` for every mode and tells the host of each change, so the rotation
skips the modes with nothing to show.

Split from :mod:`host.worker.loop` (see :mod:`host.worker.core` for why as a mixin).
"""

from __future__ import annotations

from host.ipc import protocol
from host.worker.core import WorkerCore

__all__ = ["RefreshMixin"]


class RefreshMixin(WorkerCore):
    """The refresh thread and the content reports that follow each refresh."""

    def _update_content(self) -> None:
        for mode in self.modes:
            name = mode.name
            self._enter("main", "has_content")
            try:
                answer = self.pm.hook.has_content(context=self.context, mode=name)
            except Exception as exc:
                self.report_error("has_content", exc)
                answer = False
            finally:
                self._leave("main")
            has = answer is not False
            if self.content.get(name) != has:
                self.content[name] = has
                self.channel.send(protocol.Content(mode=name, has=has))

    def _refresh_loop(self) -> None:
        """Call ``refresh_data`` on the plugin's own schedule, on this thread only."""
        failures = 0
        while not self._stopping.is_set():
            wait: float | None
            try:
                # Not firstresult: pluggy returns the list of non-None answers.
                self._enter("refresh", "refresh_data")
                try:
                    answers = self.pm.hook.refresh_data(context=self.context)
                finally:
                    self._leave("refresh")
                failures = 0
                delays = [float(d) for d in answers if isinstance(d, int | float)]
                wait = max(min(delays), 0.1) if delays else None
            except Exception as exc:
                self.report_error("refresh_data", exc)
                failures += 1
                wait = min(300.0, 5.0 * 2 ** min(failures, 6))
            self._refreshed.set()
            self._wake()
            self._refresh_wake.wait(timeout=wait)
            self._refresh_wake.clear()
