"""A follower sign: the leader's rotation position applied here, and notices started together.

Pure (STYLE rule 17): the caller passes ``now`` (this sign's ``time.monotonic()``), the
wall clock that goes with it, and the clock offset to the leader
(:mod:`host.schedule.clockoffset`). Messages come decoded (:mod:`host.ipc.syncwire`).

How a follower stays with its leader:

- Each :class:`~host.ipc.syncwire.Position` is turned into this sign's monotonic clock
  (:func:`localize`) and applied to the :class:`~host.schedule.rotation.Scheduler` with
  :meth:`~host.schedule.rotation.Scheduler.align`: the leader's slot holds the rotation's
  turn and ends when the leader's turn ends, and the leader's ``next`` comes after it.
  Between two positions the follower's own scheduler switches at that instant by itself,
  so a switch does not wait for the message that announces it (which arrives a broker hop
  later): switches land together as far as the clock offset is right.
- A pin on the leader is mirrored; one that came from the leader ends with it.
- Silence for :data:`LOST_PERIODS` of the leader's periods means the leader is gone: the
  follower carries on with its own rotation from where it is (nothing restarts), and a
  mirrored pin ends. The next position from any leader rejoins, without a restart.
- Positions older than the last one heard (same leader run) are ignored: QoS 0 delivery
  after a reconnect may replay in another order.

Notices (:class:`Notices`) start at the leader's chosen instant on every sign of the
group, deduplicated by id (QoS 1 may deliver twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, final

from host.ipc.syncwire import Notice, Position
from host.schedule.rotation import Scheduler, Slot

__all__ = ["LOST_PERIODS", "Follower", "LeaderTurn", "Notices", "localize"]

#: Periods of silence after which the leader counts as gone.
LOST_PERIODS: Final = 3
#: Notice ids remembered per leader run to drop a second delivery.
SEEN_NOTICES: Final = 256


@final
@dataclass(frozen=True, slots=True)
class LeaderTurn:
    """A :class:`~host.ipc.syncwire.Position` in this sign's monotonic clock."""

    leader: str
    boot: str
    seq: int
    key: str | None
    #: Screen time left at :attr:`at` (this sign's clock).
    left: float
    at: float
    running: bool
    next: str | None
    pin: str | None
    #: End of the mirrored pin in this sign's clock; ``None``: until unpinned.
    pin_until: float | None
    #: (kind, seconds) of the leader's move to :attr:`key` and to :attr:`next`.
    transition: tuple[str, float] | None
    next_transition: tuple[str, float] | None
    period: float

    def transition_into(self, key: str) -> tuple[str, float] | None:
        """How the leader moves to ``key``, if it is the slot it shows or shows next."""
        if key == self.next and self.next_transition is not None:
            return self.next_transition
        return self.transition if key == self.key else None

    def left_at(self, now: float) -> float:
        """Screen time left of the leader's turn at ``now``."""
        return max(0.0, self.left - (now - self.at)) if self.running else self.left


def to_local(wall: float, offset: float, now: float, wall_now: float) -> float:
    """The leader's wall time ``wall`` in this sign's monotonic clock.

    :param offset: the leader's clock minus ours (:class:`~host.schedule.clockoffset.Sample`).
    :param now: our monotonic time, read together with ``wall_now`` (our wall clock).
    """
    return now - (wall_now - (wall - offset))


def localize(position: Position, offset: float, now: float, wall_now: float) -> LeaderTurn:
    """``position`` in this sign's monotonic clock (see :func:`to_local`)."""
    at = to_local(position.at, offset, now, wall_now)
    return LeaderTurn(
        leader=position.leader,
        boot=position.boot,
        seq=position.seq,
        key=position.key,
        left=position.left,
        at=at,
        running=position.running,
        next=position.next,
        pin=position.pin,
        pin_until=None if position.pin_left is None else at + position.pin_left,
        transition=_kind(position.transition, position.transition_seconds),
        next_transition=_kind(position.next_transition, position.next_transition_seconds),
        period=position.period,
    )


def _kind(kind: str | None, seconds: float | None) -> tuple[str, float] | None:
    return None if kind is None or seconds is None else (kind, seconds)


class Follower:
    """What this sign knows of its leader, and whether it still hears it."""

    def __init__(self) -> None:
        #: The latest position heard.
        self.turn: LeaderTurn | None = None
        #: When it was heard (our clock).
        self.heard: float | None = None
        #: The key of the pin mirrored from the leader, while one is.
        self.pinned: str | None = None
        #: Whether the slot the leader shows is in our rotation (as of the last apply).
        self.in_rotation = False

    def hear(self, turn: LeaderTurn, now: float) -> bool:
        """Take ``turn`` if it is newer than the last one; whether it was taken.

        A position from an earlier point of the same leader run, or one already older
        than the silence that counts as lost (a delayed or replayed message), is ignored.
        """
        last = self.turn
        if last is not None and (turn.leader, turn.boot) == (last.leader, last.boot):
            if turn.seq <= last.seq:
                return False
        if now - turn.at > LOST_PERIODS * turn.period:
            return False
        self.turn, self.heard = turn, now
        return True

    def lost_at(self) -> float | None:
        """When the leader counts as gone unless it is heard again."""
        if self.turn is None or self.heard is None:
            return None
        return self.heard + LOST_PERIODS * self.turn.period

    def following(self, now: float) -> bool:
        """Whether the leader was heard recently enough to follow it."""
        lost = self.lost_at()
        return lost is not None and now < lost

    def apply(
        self, scheduler: Scheduler, slot_of: Callable[[str], Slot | None], now: float
    ) -> bool:
        """Put the leader's position into ``scheduler``; whether there was one to follow.

        :param slot_of: the slot of a key on this sign (any mode of a running instance),
            or ``None``: for a mirrored pin.
        """
        turn = self.turn
        if turn is None or not self.following(now):
            return False
        if turn.key is not None:
            self.in_rotation = scheduler.align(turn.key, turn.left_at(now), now, turn.next)
        pin = slot_of(turn.pin) if turn.pin is not None else None
        if pin is not None:
            scheduler.pin(pin, turn.pin_until)
            self.pinned = pin.key
        elif self.pinned is not None:
            scheduler.unpin()
            self.pinned = None
        return True

    def lose(self, scheduler: Scheduler) -> None:
        """The leader went silent: end its pin; the rotation carries on as it is."""
        if self.pinned is not None:
            scheduler.unpin()
            self.pinned = None

    def status(self, now: float) -> dict[str, Any]:
        """For the ``sync_state`` reply (times as seconds from ``now``)."""
        turn = self.turn
        return {
            "following": self.following(now),
            "leader": None if turn is None else turn.leader,
            "heard_ago": None if self.heard is None else round(now - self.heard, 3),
            "leader_showing": None if turn is None else turn.pin or turn.key,
            "leader_left": None if turn is None else round(turn.left_at(now), 3),
            "in_rotation": self.in_rotation,
            "pinned_by_leader": self.pinned,
        }


@final
@dataclass(frozen=True, slots=True)
class DueNotice:
    """A notice to start at :attr:`due` (our clock) for :attr:`seconds`."""

    notice: Notice
    due: float
    seconds: float


class Notices:
    """Notices waiting for their start, deduplicated, filtered by this sign's group."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._pending: list[DueNotice] = []
        self._seen: dict[tuple[str, str], None] = {}

    def add(self, notice: Notice, offset: float, now: float, wall_now: float) -> str:
        """Schedule ``notice``; the verdict: ``scheduled``, ``duplicate``, ``other_group``
        or ``over`` (it ended before it arrived)."""
        if notice.group is not None and notice.group != self.group:
            return "other_group"
        ident = (notice.leader, notice.id)
        if ident in self._seen:
            return "duplicate"
        self._seen[ident] = None
        while len(self._seen) > SEEN_NOTICES:
            del self._seen[next(iter(self._seen))]
        due = to_local(notice.start, offset, now, wall_now)
        if due + notice.seconds <= now:
            return "over"
        self._pending.append(DueNotice(notice, due, notice.seconds))
        return "scheduled"

    def next_due(self) -> float | None:
        """When the earliest pending notice starts."""
        return min((p.due for p in self._pending), default=None)

    def pop_due(self, now: float) -> list[DueNotice]:
        """The notices whose start has come, earliest first, each with the screen time it
        has left (a notice that arrived late is cut by its lateness, so that it ends with
        the others)."""
        due = sorted((p for p in self._pending if p.due <= now), key=lambda p: p.due)
        self._pending = [p for p in self._pending if p.due > now]
        late = [DueNotice(p.notice, p.due, p.seconds - (now - p.due)) for p in due]
        return [p for p in late if p.seconds > 0]

    def pending(self) -> int:
        return len(self._pending)
