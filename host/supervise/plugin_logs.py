"""Plugin log records on the host: cleaned, rate-limited, and kept in a ring per instance.

This module is pure. It does no I/O, reads no clock and makes no logging calls. Time comes
in as arguments: ``now`` from :func:`time.monotonic` drives the limiter, and ``wall_now``
from :func:`time.time` stamps records whose own time is missing. Tests therefore need no
clock mocking, and the supervisor decides what to write to the host's log (see
:class:`Decision`).

Rate limiting happens at both ends of the control channel, with the same
:class:`~host.ipc.lograte.RateLimiter`:

- **In the worker** (:class:`host.worker.boot.ChannelLogHandler`), cooperatively. A plugin
  that logs in a tight loop then costs one bucket check per extra record, instead of a
  format, a msgpack encode, a socket write and a decode on the host. The worker counts what
  it dropped and sends that count with its next record, in the ``"dropped"`` field.
- **On the host** (:class:`PluginLog`), again. The worker's handler is code running in the
  plugin's process, so a hostile or broken plugin can remove it and write raw ``log``
  messages to the channel. The host's limit is what protects the disk and the CPU. The
  worker's limit only saves work.
"""

from __future__ import annotations

import logging
import math
import re
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final, TypedDict, final

from host.ipc import protocol
from host.ipc.lograte import LogLimits, RateLimiter, truncate

__all__ = [
    "SUMMARY_LOGGER",
    "Decision",
    "LogRecord",
    "LogStats",
    "PluginLog",
    "sanitize",
]

#: Logger name of the synthetic "dropped N log records" entries in the ring.
SUMMARY_LOGGER: Final = "ledhost.plugin_logs"
#: Longest logger name kept. Names are dotted module paths, and a longer one is an abuse.
MAX_LOGGER: Final = 200

# Terminal escape sequences and the control characters that a terminal or `less` would
# act on. Plugin text ends up on the host's console and in its log file. Removing ESC
# alone would leave "[2J" litter, so whole sequences are matched first. Tab and newline
# stay, because tracebacks need them.
_CONTROL: Final = re.compile(
    r"""
      (?: \x1b\[ | \x9b ) [0-?]* [ -/]* [@-~]                    # CSI: clear, move, colour
    | (?: \x1b\] | \x9d ) [^\x07\x1b\x9c\n]* (?: \x07 | \x1b\\ | \x9c )?  # OSC: title, links
    | \x1b [ -/]* [0-~]                                         # other ESC sequences
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]                              # other C0/C1 controls, DEL
    """,
    re.VERBOSE,
)


@final
@dataclass(frozen=True, slots=True)
class LogRecord:
    """One plugin log line as the host keeps it. All fields are already cleaned."""

    #: Position in this instance's log, from 1, increasing by one per stored record.
    #: The web UI polls with ``since_seq`` and sees a gap when the ring wrapped.
    seq: int
    #: Wall-clock time of the record: the worker's, or the host's when the worker's was
    #: missing or invalid.
    time: float
    level: int
    logger: str
    message: str


@final
@dataclass(frozen=True, slots=True)
class Decision:
    """What the supervisor should log on the host for one incoming record."""

    #: The record as stored, to pass to the host's logging. ``None`` means it was suppressed.
    record: LogRecord | None
    #: A line to log once at WARNING *before* ``record``: a flood has just ended.
    summary: str | None

    @property
    def accepted(self) -> bool:
        """Whether the record passed the limiter."""
        return self.record is not None


class LogStats(TypedDict):
    """Counters for the status API."""

    accepted: int
    suppressed_total: int
    pending: int
    suppressing: bool
    ring_size: int
    ring_capacity: int
    last_seq: int


def sanitize(text: str) -> str:
    """Remove terminal escape sequences and control characters, keeping tab and newline.

    Without this a plugin could clear the host's console, retitle the window or hide
    lines in the log file by writing ``"\\x1b[2J"`` and the like.

    :param text: the message or logger name.
    :returns: the text without them.
    """
    return _CONTROL.sub("", text)


@final
class PluginLog:
    """The log of one plugin instance on the host: limiter, counters and ring buffer.

    Keep one per instance id, across worker restarts, so that the lines from before a
    crash stay visible.

    The ring keeps only the records the limiter accepted, plus one synthetic WARNING
    record (logger :data:`SUMMARY_LOGGER`) each time a flood ends. If it also kept
    suppressed records, a flood would push out the lines logged before it, and those lines
    usually explain the flood. A suppressed record is not even cleaned, so each one costs
    little.
    """

    def __init__(self, limits: LogLimits | None = None) -> None:
        """:param limits: the knobs. The defaults are :class:`LogLimits`'s."""
        #: The knobs this log applies.
        self.limits: Final = limits if limits is not None else LogLimits()
        self._limiter: Final = RateLimiter(self.limits)
        self._ring: Final[deque[LogRecord]] = deque(maxlen=self.limits.ring_size)
        self._last_seq = 0
        self._accepted = 0
        self._suppressed_total = 0
        # Suppressed since the last summary, and when that run of suppression started.
        self._pending = 0
        self._pending_since: float | None = None
        self._last_seen: float | None = None

    def add(
        self,
        now: float,
        wall_now: float,
        level: object,
        logger: object,
        message: object,
        wall_time: object = None,
        *,
        dropped: object = 0,
    ) -> Decision:
        """Take one record from the worker and decide what the host logs for it.

        Every argument after ``wall_now`` comes straight off the channel and is checked
        here. A plugin controls those values.

        :param now: the host's monotonic time, for the limiter.
        :param wall_now: the host's wall-clock time, used when ``wall_time`` is unusable.
        :param level: the :mod:`logging` level. A non-int becomes INFO, and the value is
            clamped to DEBUG..CRITICAL.
        :param logger: the worker-side logger name.
        :param message: the text. A non-str is converted, and the result is truncated
            to ``max_message`` and cleaned with :func:`sanitize`.
        :param wall_time: the worker's ``record.created``.
        :param dropped: records the worker's own limiter dropped before this one. They
            count as suppressed here too.
        :returns: the :class:`Decision`. Both the record and a summary of a flood that
            just ended are also appended to the ring.
        """
        worker_dropped = _count(dropped)
        if worker_dropped:
            # They were dropped since the previous message, so that is when the run began.
            since = self._last_seen if self._last_seen is not None else now
            self._note_suppressed(worker_dropped, since)
        self._last_seen = now
        clean_level = _level(level)
        if not self._limiter.allow(now, clean_level):
            self._note_suppressed(1, now)
            return Decision(record=None, summary=None)
        summary = None
        if self._pending and not self._limiter.suppressing:
            summary = self._append_summary(now, wall_now)
        record = self._append(
            _wall_time(wall_time, wall_now),
            clean_level,
            sanitize(_text(logger)[:MAX_LOGGER]),
            sanitize(truncate(_text(message), self.limits.max_message)),
        )
        self._accepted += 1
        return Decision(record=record, summary=summary)

    def add_message(self, now: float, wall_now: float, message: protocol.Log) -> Decision:
        """:meth:`add` for a log message as received (already checked on decoding).

        :param now: the host's monotonic time.
        :param wall_now: the host's wall-clock time.
        :param message: the worker's record; ``dropped`` counts the records its own
            limiter dropped since the last one sent.
        :returns: as :meth:`add`.
        """
        return self.add(
            now,
            wall_now,
            message.level,
            message.logger,
            message.msg,
            message.time,
            dropped=message.dropped,
        )

    def status(self, tail: int = 20) -> dict[str, Any]:
        """The ``logs`` counters and the ``recent_logs`` of an instance's status entry.

        :param tail: how many of the newest records to include.
        """
        return {
            "logs": dict(self.stats()),
            "recent_logs": [
                {
                    "time": round(record.time, 3),
                    "level": logging.getLevelName(record.level),
                    "message": record.message,
                }
                for record in self.records(limit=tail)
            ],
        }

    def summarize(self, now: float, wall_now: float) -> str | None:
        """Report a flood that ended with no record after it.

        :meth:`add` only reports a flood with the next accepted record. A plugin that
        floods and then goes quiet would never get that report. Call this from a periodic
        pass, about once a second.

        :param now: the host's monotonic time.
        :param wall_now: the host's wall-clock time, for the summary record.
        :returns: the summary to log at WARNING (it is also added to the ring), or ``None``
            when nothing is pending or the flood is still going on.
        """
        if self._pending and self._limiter.ready(now):
            return self._append_summary(now, wall_now)
        return None

    def records(self, since_seq: int | None = None, limit: int | None = None) -> list[LogRecord]:
        """The ring's records, oldest first.

        :param since_seq: return only records with a larger ``seq``. This is the last
            ``seq`` the caller has seen, and 0 or ``None`` means all of them.
        :param limit: return at most this many, the newest. If the first ``seq`` returned
            is not ``since_seq + 1``, the caller missed some.
        :returns: a new list. The records are immutable.
        """
        start = 0
        if since_seq is not None and self._ring:
            # Sequence numbers in the ring are consecutive, so no search is needed.
            start = max(0, since_seq - self._ring[0].seq + 1)
        if limit is not None:
            # Copy only the newest ``limit``: a status asks for a few of up to 500 records.
            start = max(start, len(self._ring) - limit)
        return list(islice(self._ring, start, None))

    def stats(self) -> LogStats:
        """Counters for the status API.

        ``suppressed_total`` includes the records the worker dropped itself.
        """
        return LogStats(
            accepted=self._accepted,
            suppressed_total=self._suppressed_total,
            pending=self._pending,
            suppressing=self._limiter.suppressing,
            ring_size=len(self._ring),
            ring_capacity=self.limits.ring_size,
            last_seq=self._last_seq,
        )

    def _note_suppressed(self, count: int, since: float) -> None:
        self._pending += count
        self._suppressed_total += count
        if self._pending_since is None:
            self._pending_since = since

    def _append_summary(self, now: float, wall_now: float) -> str:
        since = self._pending_since if self._pending_since is not None else now
        noun = "record" if self._pending == 1 else "records"
        text = (
            f"dropped {self._pending} log {noun} in the last {max(0.0, now - since):.1f} s "
            f"(limit {self.limits.rate:g}/s)"
        )
        self._append(wall_now, logging.WARNING, SUMMARY_LOGGER, text)
        self._pending = 0
        self._pending_since = None
        return text

    def _append(self, time: float, level: int, logger: str, message: str) -> LogRecord:
        self._last_seq += 1
        record = LogRecord(self._last_seq, time, level, logger, message)
        self._ring.append(record)
        return record


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _level(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        return logging.INFO
    return min(max(value, logging.DEBUG), logging.CRITICAL)


def _wall_time(value: object, fallback: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond float range; msgpack never sends one
            return fallback
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return fallback


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0
