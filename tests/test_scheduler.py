"""Scheduler decisions as tables of times, plugin reports and expected screens.

Each script is a list of steps ``(now, events, expected)``: the events happen at ``now``
(before the decision), then :meth:`Scheduler.decide` runs with what can show, and the
result must read ``"<letter> <reason>"`` (or ``None``: nothing to show). No clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from host.schedule.rotation import Scheduler, Slot

A = Slot("a", "m", 10.0)
B = Slot("b", "m", 5.0)
C = Slot("c", "m", 8.0)
X = Slot("x", "alert", 4.0)
Y = Slot("y", "alert", 4.0)
Z = Slot("z", "alert", 4.0)
SLOTS = {"A": A, "B": B, "C": C, "X": X, "Y": Y, "Z": Z}
NAMES = {slot.key: name for name, slot in SLOTS.items()}

Event = tuple[Any, ...]
Step = tuple[float, list[Event], str | None]


class Runner:
    """Applies events to a scheduler and records what can show."""

    def __init__(self, rotation: str = "ABC") -> None:
        self.s = Scheduler()
        self.s.set_slots([SLOTS[c] for c in rotation])
        self.gone: set[str] = set()  # letters without content
        self.on = True  # False: display off, nothing can show

    def can_show(self, slot: Slot) -> bool:
        return self.on and NAMES[slot.key] not in self.gone

    def apply(self, now: float, event: Event) -> None:
        match event:
            case ("interrupt", name, priority, until, *opts):
                self.s.interrupt(SLOTS[name], priority, until, **(opts[0] if opts else {}))
            case ("release", name):
                self.s.release(SLOTS[name].instance, SLOTS[name].mode)
            case ("release_id", interrupt_id):
                self.s.release_id(interrupt_id)
            case ("pin", name, until):
                self.s.pin(SLOTS[name], until)
            case ("unpin",):
                self.s.unpin()
            case ("extend", name, seconds, max_dwell):
                self.s.extend(SLOTS[name].instance, SLOTS[name].mode, seconds, now, max_dwell)
            case ("gone", names):
                self.gone |= set(names)
            case ("back", names):
                self.gone -= set(names)
            case ("off",):
                self.on = False
            case ("on",):
                self.on = True
            case ("slots", names):
                self.s.set_slots([SLOTS[c] for c in names])
            case _:
                raise AssertionError(f"unknown event {event}")

    def step(self, now: float, events: list[Event]) -> str | None:
        for event in events:
            self.apply(now, event)
        decision = self.s.decide(now, self.can_show)
        return None if decision is None else f"{NAMES[decision.slot.key]} {decision.reason}"


def run(script: list[Step], rotation: str = "ABC") -> Runner:
    runner = Runner(rotation)
    for now, events, expected in script:
        assert runner.step(now, events) == expected, f"at {now} after {events}"
    return runner


ROTATION: dict[str, list[Step]] = {
    "order and durations": [
        (0.0, [], "A rotation"),
        (9.9, [], "A rotation"),
        (10.0, [], "B rotation"),
        (14.9, [], "B rotation"),
        (15.0, [], "C rotation"),
        (23.0, [], "A rotation"),
    ],
    "late wake-up starts the next turn then": [
        (0.0, [], "A rotation"),
        (12.0, [], "B rotation"),
        (16.9, [], "B rotation"),
        (17.0, [], "C rotation"),
    ],
    "slot without content is skipped without a gap": [
        (0.0, [("gone", "B")], "A rotation"),
        (10.0, [], "C rotation"),
        (18.0, [], "A rotation"),
    ],
    "slot losing content is left at once": [
        (0.0, [], "A rotation"),
        (3.0, [("gone", "A")], "B rotation"),
        (8.0, [], "C rotation"),
        (16.0, [], "B rotation"),
    ],
    "slot regaining content rejoins in order": [
        (0.0, [("gone", "B")], "A rotation"),
        (10.0, [("back", "B")], "B rotation"),
    ],
    "all empty, then content comes": [
        (0.0, [("gone", "ABC")], None),
        (5.0, [], None),
        (6.0, [("back", "C")], "C rotation"),
        (7.0, [("back", "AB")], "C rotation"),
        (14.0, [], "A rotation"),
    ],
    "a single slot takes turn after turn": [
        (0.0, [("gone", "BC")], "A rotation"),
        (10.0, [], "A rotation"),
        (25.0, [], "A rotation"),
    ],
    "display off mid-turn, then on: the slot after, with a full turn": [
        (0.0, [], "A rotation"),
        (10.0, [], "B rotation"),
        (12.0, [("off",)], None),
        (3600.0, [("on",)], "C rotation"),
        (3607.9, [], "C rotation"),
        (3608.0, [], "A rotation"),
    ],
    "display off by not deciding: the same": [
        (0.0, [], "A rotation"),
        (10.0, [], "B rotation"),
        (3600.0, [], "C rotation"),
    ],
}


@pytest.mark.parametrize("script", list(ROTATION.values()), ids=list(ROTATION))
def test_rotation(script: list[Step]) -> None:
    run(script)


INTERRUPTS: dict[str, list[Step]] = {
    "preempts; the rotation slot resumes for its remaining time": [
        (0.0, [], "A rotation"),
        (4.0, [("interrupt", "X", 50, 10.0)], "X interrupt"),
        (10.0, [], "A rotation"),  # 6 s of A's turn left: until 16
        (15.9, [], "A rotation"),
        (16.0, [], "B rotation"),
    ],
    "the paused slot cannot show any more: the next one": [
        (0.0, [], "A rotation"),
        (4.0, [("interrupt", "X", 50, 10.0)], "X interrupt"),
        (9.0, [("gone", "A")], "X interrupt"),
        (10.0, [], "B rotation"),
        (15.0, [], "C rotation"),
    ],
    "the turn had run out under the interrupt: the next one": [
        (0.0, [], "A rotation"),
        (10.0, [("interrupt", "X", 50, 20.0)], "X interrupt"),
        (20.0, [], "B rotation"),
    ],
    "before any rotation turn": [
        (0.0, [("interrupt", "X", 50, 6.0)], "X interrupt"),
        (5.9, [], "X interrupt"),
        (6.0, [], "A rotation"),
        (16.0, [], "B rotation"),
    ],
    "any priority beats the rotation": [
        (0.0, [("interrupt", "X", -5, 3.0)], "X interrupt"),
        (3.0, [], "A rotation"),
    ],
    "higher preempts lower at once; lower resumes": [
        (0.0, [("interrupt", "X", 10, 100.0)], "X interrupt"),
        (1.0, [("interrupt", "Z", 90, 3.0)], "Z interrupt"),
        (3.0, [], "X interrupt"),
        (6.0, [], "X interrupt"),  # sole at its level: quantum after quantum
        (100.0, [], "A rotation"),
    ],
    "lower arriving later waits": [
        (0.0, [("interrupt", "Z", 90, 5.0)], "Z interrupt"),
        (1.0, [("interrupt", "X", 10, 20.0)], "Z interrupt"),
        (5.0, [], "X interrupt"),
        (20.0, [], "A rotation"),
    ],
    "equal priorities share in turn, one quantum each": [
        (0.0, [("interrupt", "X", 50, 100.0), ("interrupt", "Y", 50, 100.0)], "X interrupt"),
        (3.9, [], "X interrupt"),
        (4.0, [], "Y interrupt"),
        (8.0, [], "X interrupt"),
        (12.0, [], "Y interrupt"),
    ],
    "a newcomer of equal priority waits for the current quantum": [
        (0.0, [("interrupt", "X", 50, 100.0)], "X interrupt"),
        (1.0, [("interrupt", "Y", 50, 100.0)], "X interrupt"),
        (4.0, [], "Y interrupt"),
        (8.0, [], "X interrupt"),
    ],
    "share sets the quantum": [
        (0.0, [("interrupt", "X", 50, 100.0, {"share": 2.0})], "X interrupt"),
        (0.0, [("interrupt", "Y", 50, 100.0, {"share": 1.0})], "X interrupt"),
        (2.0, [], "Y interrupt"),
        (3.0, [], "X interrupt"),
        (5.0, [], "Y interrupt"),
    ],
    "higher arriving mid-share; the share resumes its quantum": [
        (0.0, [("interrupt", "X", 50, 100.0), ("interrupt", "Y", 50, 100.0)], "X interrupt"),
        (2.0, [("interrupt", "Z", 90, 5.0)], "Z interrupt"),
        (5.0, [], "X interrupt"),  # 2 s of X's quantum left
        (6.9, [], "X interrupt"),
        (7.0, [], "Y interrupt"),
    ],
    "expiry of the one on screen hands over to its peer": [
        (0.0, [("interrupt", "X", 50, 2.0), ("interrupt", "Y", 50, 100.0)], "X interrupt"),
        (2.0, [], "Y interrupt"),
    ],
    "an interrupt that cannot show loses its quantum": [
        (0.0, [("interrupt", "X", 50, 100.0), ("interrupt", "Y", 50, 100.0)], "X interrupt"),
        (1.0, [("gone", "X")], "Y interrupt"),
        (2.0, [("back", "X")], "Y interrupt"),  # X does not take back the rest of its
        (5.0, [], "X interrupt"),  # quantum: it waits for its next one
        (9.0, [], "Y interrupt"),
    ],
    "an interrupt that cannot show is skipped but kept": [
        (0.0, [("gone", "X"), ("interrupt", "X", 50, 20.0)], "A rotation"),
        (5.0, [("back", "X")], "X interrupt"),
        (20.0, [], "A rotation"),  # 5 s of A's turn left
        (25.0, [], "B rotation"),
    ],
    "an interrupt that cannot show until it expires never shows": [
        (0.0, [("gone", "X"), ("interrupt", "X", 50, 5.0)], "A rotation"),
        (6.0, [("back", "X")], "A rotation"),
    ],
    "display off: interrupts count down by the clock, the rotation moves on": [
        (0.0, [], "A rotation"),
        (2.0, [("interrupt", "X", 50, 30.0)], "X interrupt"),
        (3.0, [("off",)], None),
        (20.0, [("on",)], "X interrupt"),
        (30.0, [], "B rotation"),  # A's paused turn ended when nothing could show
    ],
    "release by key": [
        (0.0, [("interrupt", "X", 50, 100.0)], "X interrupt"),
        (1.0, [("release", "X")], "A rotation"),
    ],
    "release by id": [
        (0.0, [("interrupt", "X", 50, 100.0), ("interrupt", "Y", 90, 100.0)], "Y interrupt"),
        (1.0, [("release_id", 2)], "X interrupt"),
        (2.0, [("release_id", 1)], "A rotation"),
        (3.0, [("release_id", 1)], "A rotation"),
    ],
    "asking again replaces: new limit, same id": [
        (0.0, [("interrupt", "X", 50, 5.0)], "X interrupt"),
        (1.0, [("interrupt", "X", 50, 9.0)], "X interrupt"),
        (5.0, [], "X interrupt"),
        (9.0, [("release_id", 1)], "A rotation"),
    ],
    "an external push without limit lasts at most open_limit": [
        (0.0, [("interrupt", "X", 50, None, {"source": "api"})], "X interrupt"),
        (3599.0, [], "X interrupt"),
        (3600.0, [], "A rotation"),
    ],
}


@pytest.mark.parametrize("script", list(INTERRUPTS.values()), ids=list(INTERRUPTS))
def test_interrupts(script: list[Step]) -> None:
    run(script)


PINS: dict[str, list[Step]] = {
    "pin with an end; the rotation resumes after it": [
        (0.0, [], "A rotation"),
        (2.0, [("pin", "B", 20.0)], "B pin"),
        (19.9, [], "B pin"),
        (20.0, [], "A rotation"),  # 8 s of A's turn left
        (28.0, [], "B rotation"),
    ],
    "pin without end, until unpinned": [
        (0.0, [], "A rotation"),
        (2.0, [("pin", "C", None)], "C pin"),
        (5000.0, [], "C pin"),
        (5001.0, [("unpin",)], "A rotation"),
        (5009.0, [], "B rotation"),
    ],
    "pinning the current slot pauses its turn": [
        (0.0, [], "A rotation"),
        (6.0, [("pin", "A", 30.0)], "A pin"),
        (30.0, [], "A rotation"),
        (34.0, [], "B rotation"),
    ],
    "pin beats interrupts; the interrupt follows": [
        (0.0, [("interrupt", "X", 90, 100.0)], "X interrupt"),
        (1.0, [("pin", "B", None)], "B pin"),
        (5.0, [("unpin",)], "X interrupt"),
    ],
    "interrupt arriving during a pin waits": [
        (0.0, [("pin", "B", 10.0)], "B pin"),
        (1.0, [("interrupt", "X", 90, 20.0)], "B pin"),
        (10.0, [], "X interrupt"),
        (20.0, [], "A rotation"),
    ],
    "a pinned slot that cannot show is passed over, the pin kept": [
        (0.0, [("gone", "C"), ("pin", "C", 50.0)], "A rotation"),
        (5.0, [("back", "C")], "C pin"),
        (50.0, [], "A rotation"),
    ],
    "a new pin replaces the old": [
        (0.0, [("pin", "B", None)], "B pin"),
        (1.0, [("pin", "C", 5.0)], "C pin"),
        (5.0, [], "A rotation"),
    ],
}


@pytest.mark.parametrize("script", list(PINS.values()), ids=list(PINS))
def test_pins(script: list[Step]) -> None:
    run(script)


DWELL: dict[str, list[Step]] = {
    "within the cap: seconds from now": [
        (0.0, [], "A rotation"),
        (8.0, [("extend", "A", 5.0, 30.0)], "A rotation"),
        (12.9, [], "A rotation"),
        (13.0, [], "B rotation"),
    ],
    "beyond the cap: cut at max_dwell after the turn started": [
        (0.0, [], "A rotation"),
        (8.0, [("extend", "A", 50.0, 20.0)], "A rotation"),
        (19.9, [], "A rotation"),
        (20.0, [], "B rotation"),
    ],
    "asking again does not stack": [
        (0.0, [], "A rotation"),
        (8.0, [("extend", "A", 5.0, 30.0)], "A rotation"),
        (9.0, [("extend", "A", 5.0, 30.0)], "A rotation"),
        (14.0, [], "B rotation"),
    ],
    "never shortens the turn": [
        (0.0, [], "A rotation"),
        (2.0, [("extend", "A", 1.0, 30.0)], "A rotation"),
        (9.9, [], "A rotation"),
        (10.0, [], "B rotation"),
    ],
    "a cap below the duration changes nothing": [
        (0.0, [], "A rotation"),
        (8.0, [("extend", "A", 5.0, 4.0)], "A rotation"),
        (10.0, [], "B rotation"),
    ],
    "a slot not holding the turn is ignored": [
        (0.0, [], "A rotation"),
        (8.0, [("extend", "B", 30.0, 60.0)], "A rotation"),
        (10.0, [], "B rotation"),
        (15.0, [], "C rotation"),
    ],
    "the cap counts screen time, not the interrupt": [
        (0.0, [], "A rotation"),
        (8.0, [("extend", "A", 50.0, 20.0)], "A rotation"),
        (10.0, [("interrupt", "X", 50, 15.0)], "X interrupt"),
        (15.0, [], "A rotation"),  # 10 s of screen time used, 10 left
        (24.9, [], "A rotation"),
        (25.0, [], "B rotation"),
    ],
}


@pytest.mark.parametrize("script", list(DWELL.values()), ids=list(DWELL))
def test_extend(script: list[Step]) -> None:
    run(script)


SET_SLOTS: dict[str, list[Step]] = {
    "current slot still there keeps its turn": [
        (0.0, [], "A rotation"),
        (10.0, [], "B rotation"),
        (11.0, [("slots", "CAB")], "B rotation"),
        (15.0, [], "C rotation"),
    ],
    "current slot removed: the one that followed it": [
        (0.0, [], "A rotation"),
        (10.0, [], "B rotation"),
        (11.0, [("slots", "AC")], "C rotation"),
        (19.0, [], "A rotation"),
    ],
    "current slot and its follower removed: the next still there": [
        (0.0, [], "A rotation"),
        (10.0, [], "B rotation"),
        (11.0, [("slots", "AX")], "A rotation"),
    ],
    "a slot added after the current one comes next": [
        (0.0, [], "A rotation"),
        (1.0, [("slots", "AXBC")], "A rotation"),
        (10.0, [], "X rotation"),
        (14.0, [], "B rotation"),
    ],
    "repeated slots keep their own places": [
        (0.0, [("slots", "ABAC")], "A rotation"),
        (10.0, [], "B rotation"),
        (15.0, [], "A rotation"),
        (16.0, [("slots", "ABAC")], "A rotation"),
        (25.0, [], "C rotation"),
    ],
    "emptied, then filled again": [
        (0.0, [], "A rotation"),
        (1.0, [("slots", "")], None),
        (2.0, [("slots", "BC")], "B rotation"),
    ],
}


@pytest.mark.parametrize("script", list(SET_SLOTS.values()), ids=list(SET_SLOTS))
def test_set_slots(script: list[Step]) -> None:
    run(script)


NEXT_CHANGE: dict[str, tuple[list[Step], float | None]] = {
    "end of the rotation turn": ([(2.0, [], "A rotation")], 12.0),
    "end of an extended turn": (
        [(0.0, [], "A rotation"), (1.0, [("extend", "A", 15.0, 30.0)], "A rotation")],
        16.0,
    ),
    "interrupt expiry before its quantum": (
        [(0.0, [("interrupt", "X", 50, 3.0)], "X interrupt")],
        3.0,
    ),
    "quantum end when sharing": (
        [(0.0, [("interrupt", "X", 50, 100.0), ("interrupt", "Y", 50, 100.0)], "X interrupt")],
        4.0,
    ),
    "a queued interrupt's expiry counts too": (
        [
            (
                0.0,
                [("interrupt", "X", 50, 100.0, {"share": 50.0}), ("interrupt", "Y", 10, 7.0)],
                "X interrupt",
            )
        ],
        7.0,
    ),
    "pin end, the paused turn does not count": (
        [(0.0, [], "A rotation"), (1.0, [("pin", "B", 30.0)], "B pin")],
        30.0,
    ),
    "open pin": ([(0.0, [("pin", "B", None)], "B pin")], None),
    "open pin, queued interrupt": (
        [(0.0, [("pin", "B", None), ("interrupt", "X", 50, None)], "B pin")],
        3600.0,
    ),
    "nothing to show": ([(0.0, [("off",)], None)], None),
}


@pytest.mark.parametrize("script, expected", list(NEXT_CHANGE.values()), ids=list(NEXT_CHANGE))
def test_next_change(script: list[Step], expected: float | None) -> None:
    assert run(script).s.next_change() == expected


def test_status_in_rotation() -> None:
    runner = run([(0.0, [], "A rotation"), (10.0, [], "B rotation")])
    assert runner.s.status(12.0) == {
        "current": {
            "instance": "b",
            "mode": "m",
            "key": "b:m",
            "reason": "rotation",
            "since": 10.0,
            "ends_at": 15.0,
        },
        "rotation": {"key": "b:m", "left": 3.0, "next": "c:m"},
        "interrupts": [],
        "interrupt_queued": False,
        "pin": None,
    }


def test_status_with_interrupts_and_a_paused_turn() -> None:
    runner = run(
        [
            (0.0, [], "A rotation"),
            (4.0, [("interrupt", "X", 50, 30.0), ("interrupt", "Y", 50, 6.0)], "X interrupt"),
            (5.0, [("interrupt", "Z", 10, 40.0, {"source": "api"})], "X interrupt"),
        ]
    )
    status = runner.s.status(5.0)
    assert status["current"] == {
        "instance": "x",
        "mode": "alert",
        "key": "x:alert",
        "reason": "interrupt",
        "since": 4.0,
        "ends_at": 8.0,
    }
    assert status["rotation"] == {"key": "a:m", "left": 6.0, "next": "a:m"}
    assert status["interrupts"] == [
        {
            "id": 1,
            "source": "plugin",
            "key": "x:alert",
            "priority": 50,
            "remaining": 25.0,
            "on_screen": True,
        },
        {
            "id": 2,
            "source": "plugin",
            "key": "y:alert",
            "priority": 50,
            "remaining": 1.0,
            "on_screen": False,
        },
        {
            "id": 3,
            "source": "api",
            "key": "z:alert",
            "priority": 10,
            "remaining": 35.0,
            "on_screen": False,
        },
    ]
    assert status["interrupt_queued"] is True
    assert status["pin"] is None


def test_status_of_a_pin_and_after_it() -> None:
    runner = run([(0.0, [], "A rotation"), (3.0, [("pin", "C", 20.0)], "C pin")])
    status = runner.s.status(5.0)
    assert status["current"] is not None
    assert (status["current"]["reason"], status["current"]["ends_at"]) == ("pin", 20.0)
    assert status["pin"] == {"key": "c:m", "remaining": 15.0}
    assert runner.step(20.0, []) == "A rotation"
    status = runner.s.status(20.0)
    assert status["pin"] is None
    assert status["current"] is not None
    assert (status["current"]["since"], status["current"]["ends_at"]) == (20.0, 27.0)


def test_status_before_anything() -> None:
    status = Scheduler().status(0.0)
    assert status["current"] is None
    assert status["rotation"] == {"key": None, "left": None, "next": None}


def test_interrupt_returns_ids_and_release_counts() -> None:
    s = Scheduler([A])
    assert s.interrupt(X, 50, 10.0) == 1
    assert s.interrupt(X, 60, 12.0) == 1  # same source and slot: updated in place
    assert s.interrupt(X, 60, 12.0, source="api") == 2
    assert s.interrupt(X, 60, 12.0, source="api", replace=False) == 3
    assert s.release("x", source="api") == 2
    assert s.release("x", "other") == 0
    assert s.release_id(1) is True
    assert s.release_id(1) is False


def test_extend_reports_whether_it_applied() -> None:
    s = Scheduler([A, B])
    assert s.extend("a", "m", 5.0, 0.0, 30.0) is False  # no turn yet
    s.decide(0.0, lambda slot: True)
    assert s.extend("a", "m", 5.0, 8.0, 30.0) is True
    assert s.extend("b", "m", 5.0, 8.0, 30.0) is False


def test_status_of_a_sole_interrupt_ends_at_its_limit() -> None:
    runner = run([(0.0, [("interrupt", "X", 50, 30.0)], "X interrupt")])
    current = runner.s.status(1.0)["current"]
    assert current is not None and current["ends_at"] == 30.0


def test_status_names_the_next_slot_when_the_paused_turn_ran_out() -> None:
    runner = run([(0.0, [], "A rotation"), (10.0, [("interrupt", "X", 50, 20.0)], "X interrupt")])
    assert runner.s.status(12.0)["rotation"] == {"key": "a:m", "left": 0.0, "next": "b:m"}


def test_turn_ends_despite_float_noise() -> None:
    """Verify that a turn paused and resumed at inexact times still ends on time."""
    runner = run(
        [
            (0.0, [], "A rotation"),
            (0.1, [("interrupt", "X", 50, 2.3)], "X interrupt"),
            (2.3, [], "A rotation"),
        ]
    )
    end = runner.s.next_change()
    assert end == pytest.approx(12.2)
    assert runner.step(2.3 + (10.0 - 0.1), []) == "B rotation"  # 1.8e-15 s left by floats


def test_extend_caps_at_the_schedulers_max_dwell_by_default() -> None:
    s = Scheduler([A, B], max_dwell=15.0)
    s.decide(0.0, lambda slot: True)
    assert s.extend("a", "m", 60.0, 8.0) is True
    assert s.next_change() == 15.0
