"""When to restart a worker that ended unexpectedly: pure arithmetic, time passed in.

Exponential backoff with a cap and jitter (so restarting workers don't all come back in the
same tick), reset after a stable run; quarantine after too many failures inside a window
(circus's flapping detection). No clock and no I/O here, so tests need no mocking.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from config.settings import SETTINGS

#: The ``[workers]`` settings' defaults by name: the one home of every default below and
#: of :class:`~host.supervise.rules.WorkerRules`' (a constant table, no I/O).
DEFAULTS: Final[dict[str, Any]] = {s.name: s.default for s in SETTINGS if s.section == "workers"}


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """The knobs; defaults suit a sign that must keep going for years."""

    #: Seconds up before a worker counts as stable, which resets the backoff.
    start_secs: float = DEFAULTS["stable_after"]
    #: First delay before a restart, in seconds.
    base_delay: float = DEFAULTS["restart_delay"]
    #: Longest delay between restarts.
    max_delay: float = DEFAULTS["restart_max_delay"]
    #: Jitter as a fraction of the delay (0.1 = up to +10%).
    jitter: float = 0.1
    #: Failures inside ``window`` seconds that lead to quarantine.
    max_failures: int = DEFAULTS["quarantine_after"]
    window: float = DEFAULTS["quarantine_window"]

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
