"""The status reply, built once and sent encoded to every poller until something changes.

Scripts and the web UI poll ``status`` (the issue's budget: 50 requests a second for less
than 1 % of a core). Measured on the benchmark's host (``benchmarks/control.py``), a
trivial request cost as much host CPU as a status: the loop's wake-up, the socket calls
and the reply's Python work, with the status build about a third of it once the CPU
caches are cold between two requests 20 ms apart. So the built reply is kept, already
encoded (a :class:`msgspec.Raw` the reply embeds as is), and sent again while:

- nothing a status shows as state changed: the mode on screen (every switch is a new
  entry of ``modes_shown``), brightness, on/off, each instance's state, restarts, pid and
  last error, the instances that could not start, the config's reload count; and
- it is younger than :data:`MAX_AGE`, which bounds how stale its counters and durations
  (frames, memory, ``shown_for``) may be;

and any other request clears it (:meth:`StatusCache.clear`), since it may change what a
status shows. The fingerprint is a small tuple, far cheaper than the status it guards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

__all__ = ["MAX_AGE", "StatusCache"]

#: Longest a built status is reused (seconds): its counters and durations are at most
#: this old; anything that changes its state makes a new one at once.
MAX_AGE: Final = 0.1

_encode = msgspec.msgpack.Encoder().encode


def fingerprint(host: Any) -> tuple[Any, ...]:
    """What a status shows that must never be served stale."""
    watcher = host.reconfigurer.watcher
    return (
        len(host.stats.modes_shown),
        host.compositor.brightness,
        host.director.powered,
        len(host.missing),
        None if watcher is None else (watcher.reloads, watcher.last_error_at),
        tuple(
            (iid, h.state, h.restarts, h.pid, h.last_error_at, h.quarantined_at)
            for iid, h in host.supervisor.handles.items()
        ),
    )


class StatusCache:
    """One encoded status reply, reused while :func:`fingerprint` and its age allow."""

    def __init__(self, build: Callable[[], Any]) -> None:
        """:param build: makes the status reply's data (``handlers.handle`` of a Status)."""
        self._build = build
        self._entry: tuple[tuple[Any, ...], float, msgspec.Raw] | None = None
        #: Replies built, and replies served from the cache (for tests and benchmarks).
        self.built = 0
        self.served = 0

    def clear(self) -> None:
        """Forget the reply: a request may have changed what it shows."""
        self._entry = None

    def get(self, host: Any, now: float) -> msgspec.Raw:
        """The status reply's data, encoded."""
        key = fingerprint(host)
        entry = self._entry
        if entry is not None and entry[0] == key and now - entry[1] < MAX_AGE:
            self.served += 1
            return entry[2]
        raw = msgspec.Raw(_encode(self._build()))
        self._entry = (key, now, raw)
        self.built += 1
        return raw
