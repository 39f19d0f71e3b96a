"""How much a plugin may log: the limits and the token bucket both ends of the wire apply.

The worker applies them cooperatively, so a plugin that logs in a tight loop costs a bucket
check per extra record rather than a format, an encode and a socket write; the host
applies them again (:mod:`host.supervise.plugin_logs`), because the worker's handler runs
in the plugin's process and a hostile plugin can remove it. One home for the rule, so the
two ends cannot drift apart. Pure: time is passed in.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final, final

__all__ = ["LogLimits", "RateLimiter", "truncate"]

# Cutting fewer characters than the marker adds would make the message longer, so a text
# that is at most this many characters over the limit is kept whole. This also makes
# truncate() idempotent: the worker truncates with the same function, and the host then
# leaves the result alone instead of adding a second marker.
_MARKER_ROOM: Final = len("… [truncated 99999999999 chars]") + 1


@final
@dataclass(frozen=True, slots=True)
class LogLimits:
    """The knobs. Each one bounds what a single plugin instance can cost the host.

    :raises ValueError: a knob is out of range. The message names the knob.
    """

    #: Records per second that pass in the long run.
    rate: float = 2.0
    #: Records that may pass at once after a quiet spell, which is also the bucket size.
    burst: int = 50
    #: Records kept per instance for the UI.
    ring_size: int = 500
    #: Characters kept per message. Longer messages are cut and get a marker.
    max_message: int = 2000
    #: Extra records that only WARNING and above may use once ``burst`` is spent. This way
    #: an error raised during a debug flood still reaches the log.
    reserve: int = 20
    #: Refill rate of ``reserve``, in records per second.
    reserve_rate: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "rate": self.rate > 0 and math.isfinite(self.rate),
            "burst": self.burst >= 1,
            "ring_size": self.ring_size >= 1,
            "max_message": self.max_message >= 1,
            "reserve": self.reserve >= 0,
            "reserve_rate": self.reserve_rate >= 0 and math.isfinite(self.reserve_rate),
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"log limit {name}={getattr(self, name)!r} is out of range: "
                    "rate must be > 0, burst, ring_size and max_message >= 1, "
                    "reserve and reserve_rate >= 0"
                )

    @property
    def resume_at(self) -> float:
        """Tokens the bucket must hold again before a flood counts as over: half of it.

        Resuming at one token would let a sustained flood through as every Nth line, each
        with its own summary. Waiting for half a bucket lets it through as runs of
        consecutive lines with one summary per run, and runs can be read.
        """
        return max(1.0, self.burst / 2)


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters and add a marker that says how much went.

    :param text: the message.
    :param limit: characters to keep.
    :returns: ``text`` unchanged if it is within ``limit`` plus the room the marker needs,
        otherwise its head followed by ``"… [truncated N chars]"``.
    """
    if len(text) <= limit + _MARKER_ROOM:
        return text
    return f"{text[:limit]}… [truncated {len(text) - limit} chars]"


@final
class RateLimiter:
    """A token bucket with hysteresis, plus a small reserve for warnings.

    The bucket holds up to ``burst`` tokens and refills at ``rate`` per second. Once it
    runs dry the limiter counts as *suppressing*, and it stays so until the bucket holds
    :attr:`LogLimits.resume_at` tokens again. During that time only WARNING-and-above
    records pass, by spending ``reserve`` tokens.

    Used by both ends: the worker passes :func:`time.monotonic`, the host its loop's ``now``.
    A clock that goes backwards (a caller passing wall time) refills nothing and does no
    harm.
    """

    __slots__ = ("_limits", "_tokens", "_reserve", "_updated", "_suppressing")

    def __init__(self, limits: LogLimits) -> None:
        """:param limits: the rates and sizes."""
        self._limits: Final = limits
        self._tokens = float(limits.burst)
        self._reserve = float(limits.reserve)
        self._updated: float | None = None
        self._suppressing = False

    @property
    def suppressing(self) -> bool:
        """Whether a flood is going on: the bucket ran dry and has not refilled enough."""
        return self._suppressing

    def allow(self, now: float, level: int) -> bool:
        """Whether one record at ``level`` may pass now, and take its token if so.

        :param now: seconds on a monotonic clock.
        :param level: the record's :mod:`logging` level.
        :returns: ``True`` if the record passes.
        """
        self._refill(now)
        if not self._suppressing and self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self._suppressing = True
        if level >= logging.WARNING and self._reserve >= 1.0:
            self._reserve -= 1.0
            return True
        return False

    def ready(self, now: float) -> bool:
        """Whether an ordinary record would pass now. Takes no token.

        :param now: seconds on a monotonic clock.
        """
        self._refill(now)
        return not self._suppressing and self._tokens >= 1.0

    def _refill(self, now: float) -> None:
        if self._updated is not None and now > self._updated:
            elapsed = now - self._updated
            limits = self._limits
            self._tokens = min(float(limits.burst), self._tokens + elapsed * limits.rate)
            self._reserve = min(
                float(limits.reserve), self._reserve + elapsed * limits.reserve_rate
            )
        self._updated = now
        if self._suppressing and self._tokens >= self._limits.resume_at:
            self._suppressing = False
