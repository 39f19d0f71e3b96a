"""Which mode is on screen: a pure decision from time and what plugins report.

No clock, no I/O: the host passes ``now`` and a predicate saying whether a slot can be
shown (its worker runs and the mode has content). The first version covers the rotation
(ordered modes with durations, skipping modes without content), priority interrupts and
pins; later work adds schedules and transitions on the same seams.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Slot:
    """One entry of the rotation: a mode of a plugin instance and how long it stays."""

    instance: str
    mode: str
    duration: float

    @property
    def key(self) -> str:
        return f"{self.instance}:{self.mode}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to show and why (``"rotation"``, ``"interrupt"`` or ``"pin"``)."""

    slot: Slot
    reason: str


@dataclass(slots=True)
class Interrupt:
    slot: Slot
    priority: int
    until: float
    seq: int


@dataclass
class Scheduler:
    """The rotation plus interrupts; one instance lives in the host."""

    slots: list[Slot] = field(default_factory=list)
    _index: int = -1
    _since: float = 0.0
    _interrupts: list[Interrupt] = field(default_factory=list)
    _seq: int = 0
    _pin: tuple[Slot, float | None] | None = None

    def set_slots(self, slots: Sequence[Slot]) -> None:
        """Replace the rotation, keeping the current slot if it is still in it."""
        current = self.slots[self._index] if 0 <= self._index < len(self.slots) else None
        self.slots = list(slots)
        if current is not None and current in self.slots:
            self._index = self.slots.index(current)
        else:
            self._index = min(self._index, len(self.slots) - 1)

    def interrupt(self, slot: Slot, priority: int, until: float) -> None:
        """Show ``slot`` ahead of the rotation until ``until`` (or its release)."""
        self.release(slot.instance, slot.mode)
        self._seq += 1
        self._interrupts.append(Interrupt(slot, priority, until, self._seq))

    def release(self, instance: str, mode: str | None = None) -> None:
        self._interrupts = [
            i
            for i in self._interrupts
            if not (i.slot.instance == instance and (mode is None or i.slot.mode == mode))
        ]

    def pin(self, slot: Slot, until: float | None) -> None:
        """Show ``slot`` regardless of the rotation until ``until`` or :meth:`unpin`."""
        self._pin = (slot, until)

    def unpin(self) -> None:
        self._pin = None

    def decide(self, now: float, can_show: Callable[[Slot], bool]) -> Decision | None:
        """What should be on screen at ``now``; ``None`` when nothing can be shown."""
        if self._pin is not None:
            slot, until = self._pin
            if until is not None and now >= until:
                self._pin = None
            elif can_show(slot):
                return Decision(slot, "pin")
        self._interrupts = [i for i in self._interrupts if i.until > now]
        live = [i for i in self._interrupts if can_show(i.slot)]
        if live:
            best = max(live, key=lambda i: (i.priority, i.seq))
            return Decision(best.slot, "interrupt")
        return self._rotate(now, can_show)

    def _rotate(self, now: float, can_show: Callable[[Slot], bool]) -> Decision | None:
        n = len(self.slots)
        if n == 0:
            return None
        if 0 <= self._index < n:
            current = self.slots[self._index]
            if now < self._since + current.duration and can_show(current):
                return Decision(current, "rotation")
        # Advance to the next slot that can be shown, wrapping once around.
        for step in range(1, n + 1):
            index = (self._index + step) % n
            if can_show(self.slots[index]):
                self._index = index
                self._since = now
                return Decision(self.slots[index], "rotation")
        return None

    def next_change(self) -> float | None:
        """When the rotation's current slot runs out (the host wakes up then)."""
        times = [i.until for i in self._interrupts]
        if 0 <= self._index < len(self.slots):
            times.append(self._since + self.slots[self._index].duration)
        if self._pin is not None and self._pin[1] is not None:
            times.append(self._pin[1])
        return min(times) if times else None
