"""How far a follower's clock is from its leader's, from request/response timestamps.

Pure (STYLE rule 17): the four times of each exchange are passed in.

Why measure at all: Mosquitto (2.0, Debian's) stamps nothing on a message (MQTT 5 has no
broker timestamp property either; ``$SYS`` topics carry uptime, not a clock), and two Pis'
wall clocks differ by whatever NTP left between them -- tens of milliseconds after boot,
seconds on a Pi without a network clock at all, against one frame period (16.7 ms at 60
fps) of tolerance. So each follower measures, NTP-style, through the broker itself:

- the follower sends a ping at ``t0`` (its clock); the leader receives it at ``t1`` and
  answers at ``t2`` (its clock); the follower receives the answer at ``t3`` (its clock);
- round trip ``delay = (t3 - t0) - (t2 - t1)``; offset (leader minus follower)
  ``((t1 - t0) + (t2 - t3)) / 2``, exact when both legs took equally long, and off by at
  most ``delay / 2`` otherwise;
- so of several samples the one with the shortest round trip is the best (NTP's clock
  filter): a sample delayed by a busy broker or a retransmission is never used while a
  quicker one is in the window. The window is bounded so a drifting clock is followed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, final

__all__ = ["WINDOW", "OffsetEstimator", "Sample", "sample"]

#: Samples kept; the best round trip among them gives the offset (at one ping per
#: period of 1 s, the last eight seconds).
WINDOW: Final = 8


@final
@dataclass(frozen=True, slots=True)
class Sample:
    """One exchange: the leader's clock minus ours, and the round trip it was measured in."""

    offset: float
    delay: float


def sample(t0: float, t1: float, t2: float, t3: float) -> Sample | None:
    """The sample of one ping/pong exchange, or ``None`` if its times cannot be right.

    :param t0: our clock when the ping was sent.
    :param t1: the leader's clock when it received the ping.
    :param t2: the leader's clock when it sent the answer.
    :param t3: our clock when the answer arrived.
    :returns: ``None`` for a negative round trip or a leader that answered before it
        received (a forged or garbled pong, or a clock stepped mid-exchange).
    """
    delay = (t3 - t0) - (t2 - t1)
    if t3 < t0 or t2 < t1 or delay < 0:
        return None
    return Sample(offset=((t1 - t0) + (t2 - t3)) / 2.0, delay=delay)


class OffsetEstimator:
    """The best of the last :data:`WINDOW` samples, by round trip."""

    def __init__(self, window: int = WINDOW) -> None:
        self._samples: deque[Sample] = deque(maxlen=window)

    def add(self, s: Sample | None) -> None:
        """Keep ``s`` (``None``, from :func:`sample`, is ignored)."""
        if s is not None:
            self._samples.append(s)

    def clear(self) -> None:
        """Forget every sample (another leader took over: its clock is another)."""
        self._samples.clear()

    def best(self) -> Sample | None:
        """The sample with the shortest round trip (the latest among equals), if any."""
        best: Sample | None = None
        for s in self._samples:
            if best is None or s.delay <= best.delay:
                best = s
        return best

    @property
    def count(self) -> int:
        return len(self._samples)
