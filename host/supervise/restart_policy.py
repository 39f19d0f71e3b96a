"""When to restart a worker that ended unexpectedly: pure arithmetic, time passed in.

Exponential backoff with a cap and jitter (so restarting workers don't all come back in the
same tick), reset after a stable run; quarantine after too many failures inside a window
(circus's flapping detection). No clock and no I/O here, so tests need no mocking.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """The knobs; defaults suit a sign that must keep going for years."""

    #: Seconds up before a worker counts as stable, which resets the backoff.
    start_secs: float = 10.0
    #: First delay before a restart, in seconds.
    base_delay: float = 0.5
    #: Longest delay between restarts.
    max_delay: float = 60.0
    #: Jitter as a fraction of the delay (0.1 = up to +10%).
    jitter: float = 0.1
    #: Failures inside ``window`` seconds that lead to quarantine.
    max_failures: int = 5
    window: float = 300.0

    def delay(self, consecutive_failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before restart number ``consecutive_failures`` (from 1)."""
        n = max(consecutive_failures, 1)
        base = min(self.max_delay, self.base_delay * 2.0 ** (n - 1))
        spread = (rng.random() if rng else random.random()) * self.jitter * base
        return min(self.max_delay, base + spread)

    def should_quarantine(self, failure_times: Sequence[float], now: float) -> bool:
        """Whether the failures recorded (monotonic times) are too many, too recent."""
        recent = [t for t in failure_times if now - t <= self.window]
        return len(recent) >= self.max_failures

    def was_stable(self, started_at: float, ended_at: float) -> bool:
        """Whether a run lasted long enough to forget earlier failures."""
        return ended_at - started_at >= self.start_secs
