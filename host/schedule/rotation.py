"""Which mode is on screen: a pure decision from time and what plugins report.

No clock, no I/O (STYLE rule 17): the host passes ``now`` and a ``can_show`` predicate
saying whether a slot can be shown (its worker runs, the mode has content, its schedule
window is open). Three sources compete for the screen, strongest first:

1. **Pin** -- the user's explicit "show this now", for N seconds or until :meth:`unpin`.
   It beats interrupts because it is the most direct request there is. A pinned slot that
   cannot show is passed over (the pin stays until it ends); an ended pin gives the screen
   back to whatever would be shown without it.
2. **Interrupts** -- a plugin or an outside caller (the REST API) asks to be shown now,
   with a priority and a time limit. Any interrupt beats the rotation. The highest
   priority that can show wins and a higher newcomer preempts at once. Equal top
   priorities share the screen in turn: each gets a *quantum* (its ``share``, else its
   slot's duration), then the entry waiting longest goes next; a newcomer waits for the
   current quantum to end. An interrupt whose slot cannot show is skipped but kept until
   it expires or is released.
3. **Rotation** -- the ordered slots, each shown for its duration; slots that cannot show
   are skipped, so there is no blank frame while any slot can show.

*Turns count screen time.* A rotation turn or an interrupt quantum preempted by something
stronger is paused with its remaining time and resumes where it was once the stronger
thing ends, if its slot can still show; otherwise it is over and the next one starts. A
slot that cannot show while it is on screen loses its turn at once. So for "display off"
the host calls :meth:`decide` with a ``can_show`` that is always false: the running turn
ends, interrupts and the pin keep counting down by the clock, and afterwards the rotation
carries on with the slot after the one that was on, with a full turn. (Not calling
:meth:`decide` at all does the same once the window outlasts the turn.) A turn with time
left over is kept only for a preemption, never for an empty screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypedDict, final

__all__ = ["Decision", "Scheduler", "SchedulerStatus", "Slot"]

#: How long an interrupt without a time limit lasts at most, counted from the first
#: :meth:`Scheduler.decide` that sees it: a forgotten "until released" must not hold
#: the display forever.
OPEN_LIMIT: Final = 3600.0
#: Default for :attr:`Scheduler.max_dwell`, as the ``rotation.max_dwell`` setting's.
MAX_DWELL: Final = 120.0
#: A turn with less left than this is over: float noise must not keep it one more pass.
_SLACK: Final = 1e-6


@final
@dataclass(frozen=True, slots=True)
class Slot:
    """One entry of the rotation: a mode of a plugin instance and how long it stays."""

    instance: str
    mode: str
    duration: float

    @property
    def key(self) -> str:
        return f"{self.instance}:{self.mode}"


@final
@dataclass(frozen=True, slots=True)
class Decision:
    """What to show and why: ``"rotation"``, ``"interrupt"`` or ``"pin"``."""

    slot: Slot
    reason: str


class CurrentStatus(TypedDict):
    instance: str
    mode: str
    key: str
    reason: str
    since: float  #: when this decision first came up, without a break
    ends_at: float | None  #: end of the turn, quantum (or limit) or pin; None if open


class RotationStatus(TypedDict):
    key: str | None  #: the slot whose turn is in progress (on screen or paused)
    left: float | None  #: that turn's remaining screen time
    next: str | None  #: the rotation slot shown when the current thing ends


class InterruptStatus(TypedDict):
    id: int
    source: str
    key: str
    priority: int
    remaining: float | None  #: seconds until it expires; None before its limit is set
    on_screen: bool


class PinStatus(TypedDict):
    key: str
    remaining: float | None  #: None: until unpinned


class SchedulerStatus(TypedDict):
    current: CurrentStatus | None
    rotation: RotationStatus
    interrupts: list[InterruptStatus]  #: strongest first
    interrupt_queued: bool  #: an interrupt is waiting (not on screen)
    pin: PinStatus | None


@dataclass(slots=True)
class _Turn:
    """A stretch of screen time: ``length`` seconds, consumed only while on screen."""

    length: float
    used: float = 0.0  # screen time consumed before the current stretch on screen
    since: float | None = None  # on screen since; None while paused or not yet shown

    def left(self, now: float) -> float:
        return self.length - self.used - (0.0 if self.since is None else now - self.since)

    def over(self, now: float) -> bool:
        return self.left(now) <= _SLACK

    def run(self, now: float) -> None:
        if self.since is None:
            self.since = now

    def pause(self, now: float) -> None:
        if self.since is not None:
            self.used += now - self.since
            self.since = None

    def ends_at(self) -> float | None:
        return None if self.since is None else self.since + self.length - self.used


@dataclass(slots=True)
class _Entry:
    """One interrupt in the queue."""

    id: int
    source: str
    slot: Slot
    priority: int
    until: float | None
    share: float | None
    turn: _Turn | None = None  # its quantum, while in progress
    started: float = -math.inf  # when its latest quantum started: the longest waiting goes next


class Scheduler:
    """The rotation, the interrupt queue and the pin; one instance lives in the host."""

    def __init__(
        self,
        slots: Sequence[Slot] = (),
        *,
        open_limit: float = OPEN_LIMIT,
        max_dwell: float = MAX_DWELL,
    ) -> None:
        self.slots: list[Slot] = list(slots)
        #: Longest life of an interrupt given without a time limit.
        self.open_limit: Final = open_limit
        #: Longest screen time of one rotation turn that :meth:`extend` may grant.
        self.max_dwell = max_dwell
        self._index = -1  # the rotation's position; -1 before the first turn
        self._turn: _Turn | None = None  # the turn of ``slots[_index]``, while in progress
        self._entries: list[_Entry] = []
        self._last_id = 0
        self._pin: tuple[Slot, float | None] | None = None
        self._running: _Turn | None = None  # the turn or quantum on screen
        self._current: Decision | None = None
        self._since = 0.0
        #: The slot the next rotation turn goes to, if it can show (set by :meth:`align`).
        self._after: str | None = None

    # -- rotation ----------------------------------------------------------------------

    def set_slots(self, slots: Sequence[Slot]) -> None:
        """Replace the rotation, keeping the current slot and its turn if still in it.

        A changed duration applies from the slot's next turn. When the current slot is
        gone, the slot that followed it (and is still there) comes next.
        """
        old, new = self.slots, list(slots)
        self.slots = new
        if not 0 <= self._index < len(old):
            self._index, self._turn = -1, None
            return
        keys = [s.key for s in new]
        current = old[self._index].key
        if self._index < len(new) and keys[self._index] == current:
            return
        if current in keys:
            self._index = keys.index(current)
            return
        self._turn = None
        for step in range(1, len(old) + 1):
            follower = old[(self._index + step) % len(old)].key
            if follower in keys:
                self._index = keys.index(follower) - 1
                return
        self._index = -1

    def extend(
        self, instance: str, mode: str, seconds: float, now: float, max_dwell: float | None = None
    ) -> bool:
        """Keep the current rotation turn for at least ``seconds`` more screen time.

        For a plugin that needs longer to finish a cycle. The turn never shrinks and never
        grows beyond ``max_dwell`` (default :attr:`max_dwell`) seconds of screen time in all
        (wall time from its start when nothing preempted it). Asking again does not stack:
        it is "``seconds`` from now", not "``seconds`` more than granted".

        :returns: whether the slot holds the rotation's turn (else nothing changes).
        """
        if self._turn is None or not 0 <= self._index < len(self.slots):
            return False
        slot = self.slots[self._index]
        if (slot.instance, slot.mode) != (instance, mode):
            return False
        cap = self.max_dwell if max_dwell is None else max_dwell
        used = self._turn.length - self._turn.left(now)
        self._turn.length = max(self._turn.length, min(used + seconds, cap))
        return True

    def align(self, key: str, left: float, now: float, following: str | None = None) -> bool:
        """Take another sign's rotation turn as ours: its turn of ``key`` has ``left``
        seconds of screen time left at ``now``.

        For a follower (:mod:`host.schedule.follow`): the turn of ``key`` becomes this
        rotation's turn and ends when the leader's does; ``following``, if it is one of
        our slots and can show then, is the slot after it (the leader said so), whatever
        our own order says. A turn already in progress for ``key`` keeps running (or
        paused) with its remaining time set, so following the leader never restarts what
        is on screen; ``left`` of 0 ends it at the next :meth:`decide`.

        :returns: whether ``key`` is one of our slots; otherwise the turn is ours as it
            was (only ``following`` is taken).
        """
        keys = [s.key for s in self.slots]
        self._after = following if following in keys else None
        if key not in keys:
            return False
        index = keys.index(key)
        if index == self._index and self._turn is not None:
            self._turn.length += left - self._turn.left(now)
            return True
        self._index, self._turn = index, _Turn(left)
        return True

    # -- interrupts ----------------------------------------------------------------------

    def interrupt(
        self,
        slot: Slot,
        priority: int,
        until: float | None,
        *,
        source: str = "plugin",
        share: float | None = None,
        replace: bool = True,
    ) -> int:
        """Queue ``slot`` ahead of the rotation until ``until`` (or its release).

        :param until: absolute end; ``None`` lasts until released, at most ``open_limit``.
        :param source: who asked, e.g. ``"plugin"`` or ``"api"``; shown in the status.
        :param share: quantum when sharing the screen with equal priorities (default:
            the slot's duration).
        :param replace: update an entry of the same source and slot in place (keeping
            its id and its turn) rather than queue another one.
        :returns: the entry's id, for :meth:`release_id`.
        """
        if replace:
            for entry in self._entries:
                if entry.source == source and entry.slot.key == slot.key:
                    entry.slot, entry.priority, entry.until = slot, priority, until
                    entry.share = share
                    return entry.id
        self._last_id += 1
        self._entries.append(_Entry(self._last_id, source, slot, priority, until, share))
        return self._last_id

    def release(self, instance: str, mode: str | None = None, source: str | None = None) -> int:
        """Drop the interrupts of ``instance`` (of one ``mode``, from one ``source``).

        :returns: how many were dropped.
        """
        before = len(self._entries)
        self._entries = [
            e
            for e in self._entries
            if e.slot.instance != instance
            or mode not in (None, e.slot.mode)
            or source not in (None, e.source)
        ]
        return before - len(self._entries)

    def interrupts_of(self, instance: str, source: str | None = None) -> list[str]:
        """The modes of ``instance`` with a queued interrupt (from ``source``), in order."""
        return [
            e.slot.mode
            for e in self._entries
            if e.slot.instance == instance and source in (None, e.source)
        ]

    def release_id(self, interrupt_id: int) -> bool:
        """Drop one interrupt by the id :meth:`interrupt` returned; whether it was queued."""
        before = len(self._entries)
        self._entries = [e for e in self._entries if e.id != interrupt_id]
        return len(self._entries) < before

    def skip(self, back: bool = False) -> None:
        """End the rotation's turn now (the user's next/previous).

        The next :meth:`decide` shows the following slot that can show, or with ``back``
        the one before the current; interrupts and a pin still come first.
        """
        self._turn = None
        if back and self.slots:
            self._index = (self._index - 2) % len(self.slots)

    # -- pin ---------------------------------------------------------------------------

    def pin(self, slot: Slot, until: float | None) -> None:
        """Show ``slot`` above everything else until ``until`` or :meth:`unpin`."""
        self._pin = (slot, until)

    def unpin(self) -> None:
        self._pin = None

    # -- deciding ------------------------------------------------------------------------

    def decide(self, now: float, can_show: Callable[[Slot], bool]) -> Decision | None:
        """What should be on screen at ``now``; ``None`` when nothing can be shown.

        Call it after every event that may change the answer and at :meth:`next_change`.
        """
        self._expire(now)
        decision, turn = self._choose(now, can_show)
        if turn is not self._running:
            if self._running is not None:
                self._running.pause(now)
            self._running = turn
        if turn is not None:
            turn.run(now)
        if decision != self._current:
            self._current, self._since = decision, now
        return decision

    def next_change(self) -> float | None:
        """When the decision may change by time alone (the host wakes up then).

        The end of the turn or quantum on screen, any interrupt's expiry and the pin's
        end, as of the last :meth:`decide`.
        """
        times = [e.until for e in self._entries if e.until is not None]
        if self._running is not None and (end := self._running.ends_at()) is not None:
            times.append(end)
        if self._pin is not None and self._pin[1] is not None:
            times.append(self._pin[1])
        return min(times) if times else None

    def _expire(self, now: float) -> None:
        if self._pin is not None and self._pin[1] is not None and now >= self._pin[1]:
            self._pin = None
        for entry in self._entries:
            if entry.until is None:
                entry.until = now + self.open_limit
        self._entries = [e for e in self._entries if e.until is None or e.until > now]

    def _choose(
        self, now: float, can_show: Callable[[Slot], bool]
    ) -> tuple[Decision | None, _Turn | None]:
        if self._pin is not None and can_show(self._pin[0]):
            return Decision(self._pin[0], "pin"), None
        entry = self._choose_interrupt(now, can_show)
        if entry is not None:
            return Decision(entry.slot, "interrupt"), entry.turn
        return self._choose_rotation(now, can_show)

    def _choose_interrupt(self, now: float, can_show: Callable[[Slot], bool]) -> _Entry | None:
        live = []
        for entry in self._entries:
            if can_show(entry.slot):
                live.append(entry)
            else:
                entry.turn = None  # its quantum ends, as a rotation turn would
        if not live:
            return None
        top = max(e.priority for e in live)
        level = [e for e in live if e.priority == top]
        for entry in level:
            if entry.turn is not None and entry.turn.over(now):
                entry.turn = None
        in_progress = [e for e in level if e.turn is not None]
        if in_progress:
            return min(in_progress, key=lambda e: e.started)
        entry = min(level, key=lambda e: (e.started, e.id))
        entry.turn = _Turn(entry.share if entry.share is not None else entry.slot.duration)
        entry.started = now
        return entry

    def _choose_rotation(
        self, now: float, can_show: Callable[[Slot], bool]
    ) -> tuple[Decision | None, _Turn | None]:
        n = len(self.slots)
        if self._turn is not None and 0 <= self._index < n:
            slot = self.slots[self._index]
            if not self._turn.over(now) and can_show(slot):
                return Decision(slot, "rotation"), self._turn
        self._turn = None
        after, self._after = self._after, None
        keys = [s.key for s in self.slots]
        if after in keys and can_show(self.slots[keys.index(after)]):
            self._index = keys.index(after)
            self._turn = _Turn(self.slots[self._index].duration)
            return Decision(self.slots[self._index], "rotation"), self._turn
        for step in range(1, n + 1):
            index = (self._index + step) % n
            if can_show(self.slots[index]):
                self._index, self._turn = index, _Turn(self.slots[index].duration)
                return Decision(self.slots[index], "rotation"), self._turn
        return None, None

    # -- status ------------------------------------------------------------------------

    def status(self, now: float) -> SchedulerStatus:
        """What is shown and why, what comes next and what is queued, for the host status.

        As of the last :meth:`decide`; ``now`` only turns times into remaining seconds.
        """
        current: CurrentStatus | None = None
        if self._current is not None:
            slot, reason = self._current.slot, self._current.reason
            current = {
                "instance": slot.instance,
                "mode": slot.mode,
                "key": slot.key,
                "reason": reason,
                "since": self._since,
                "ends_at": self._ends_at(reason),
            }
        turn, turn_slot = self._turn, self.slots[self._index] if self._turn else None
        following: Slot | None = None
        if turn and turn_slot and turn is not self._running and not turn.over(now):
            following = turn_slot  # a paused turn resumes
        elif self.slots:
            following = self.slots[(self._index + 1) % len(self.slots)]
        order = sorted(self._entries, key=lambda e: (-e.priority, e.id))
        interrupts: list[InterruptStatus] = [
            {
                "id": e.id,
                "source": e.source,
                "key": e.slot.key,
                "priority": e.priority,
                "remaining": None if e.until is None else e.until - now,
                "on_screen": e.turn is not None and e.turn is self._running,
            }
            for e in order
        ]
        pin: PinStatus | None = None
        if self._pin is not None:
            until = self._pin[1]
            pin = {"key": self._pin[0].key, "remaining": None if until is None else until - now}
        return {
            "current": current,
            "rotation": {
                "key": None if turn_slot is None else turn_slot.key,
                "left": None if turn is None else turn.left(now),
                "next": None if following is None else following.key,
            },
            "interrupts": interrupts,
            "interrupt_queued": any(not i["on_screen"] for i in interrupts),
            "pin": pin,
        }

    def _ends_at(self, reason: str) -> float | None:
        if reason == "pin":
            return None if self._pin is None else self._pin[1]
        end = None if self._running is None else self._running.ends_at()
        holder = next((e for e in self._entries if e.turn is self._running), None)
        if reason != "interrupt" or holder is None:
            return end
        # The quantum only ends the show when a peer of equal priority waits for its turn.
        peers = any(e is not holder and e.priority == holder.priority for e in self._entries)
        ends = [t for t in (end if peers else None, holder.until) if t is not None]
        return min(ends) if ends else None
