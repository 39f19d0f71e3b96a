"""Pure frame math and rotation decisions: plain values, no processes, no clock."""

from __future__ import annotations

import numpy as np
import pytest

from host.display.compositor import Compositor
from host.ipc.strip import StripImage
from host.schedule.rotation import Scheduler, Slot

A = Slot("clock", "time", 10.0)
B = Slot("text", "message", 5.0)
C = Slot("weather", "now", 8.0)


def _everything(slot: Slot) -> bool:
    return True


def test_rotation_shows_slots_in_order_for_their_durations() -> None:
    s = Scheduler()
    s.set_slots([A, B, C])
    timeline = [(0.0, A), (9.9, A), (10.0, B), (14.9, B), (15.0, C), (22.9, C), (23.0, A)]
    for now, slot in timeline:
        decision = s.decide(now, _everything)
        assert decision is not None and decision.slot == slot, now
        assert decision.reason == "rotation"


@pytest.mark.parametrize(
    "available, expected",
    [({"clock", "weather"}, [A, C, A]), ({"text"}, [B, B, B]), (set(), [None, None, None])],
)
def test_rotation_skips_modes_without_content(available: set[str], expected: list) -> None:
    s = Scheduler()
    s.set_slots([A, B, C])
    got = []
    for now in (0.0, 10.0, 18.0):
        decision = s.decide(now, lambda slot: slot.instance in available)
        got.append(decision.slot if decision else None)
    # With A and C only: A for 10 s, then C (B skipped) for 8 s, then A again.
    assert got == expected


def test_slot_losing_content_is_left_at_once() -> None:
    s = Scheduler()
    s.set_slots([A, B])
    assert s.decide(0.0, _everything).slot == A
    assert s.decide(1.0, lambda slot: slot != A).slot == B


def test_interrupt_preempts_and_rotation_resumes_where_it_was() -> None:
    s = Scheduler()
    s.set_slots([A, B, C])
    assert s.decide(0.0, _everything).slot == A
    assert s.decide(11.0, _everything).slot == B  # B since 11.0
    alert = Slot("scores", "live", 10.0)
    s.interrupt(alert, priority=80, until=14.0)
    decision = s.decide(12.0, _everything)
    assert decision.slot == alert and decision.reason == "interrupt"
    # Interrupt over: back to B, whose turn had not run out by the clock.
    assert s.decide(14.0, _everything).slot == B


def test_higher_priority_interrupt_wins_and_equal_priorities_take_turns() -> None:
    s = Scheduler()
    s.set_slots([A])
    low, high, high2 = Slot("x", "a", 1), Slot("y", "b", 1), Slot("z", "c", 1)
    s.interrupt(low, 10, until=100)
    s.interrupt(high, 90, until=100)
    assert s.decide(0.0, _everything).slot == high
    s.interrupt(high2, 90, until=100)
    assert s.decide(0.0, _everything).slot == high  # the newcomer waits for its turn
    assert s.decide(1.0, _everything).slot == high2
    s.release("z")
    assert s.decide(1.5, _everything).slot == high


def test_pin_beats_interrupts_until_it_expires() -> None:
    s = Scheduler()
    s.set_slots([A, B])
    s.interrupt(C, 50, until=100)
    s.pin(B, until=5.0)
    assert s.decide(1.0, _everything).reason == "pin"
    assert s.decide(6.0, _everything).slot == C


def test_next_change_is_the_end_of_the_current_turn() -> None:
    s = Scheduler()
    s.set_slots([A, B])
    s.decide(2.0, _everything)
    assert s.next_change() == 12.0


def test_set_slots_keeps_the_current_slot() -> None:
    s = Scheduler()
    s.set_slots([A, B])
    s.decide(0.0, _everything)
    s.decide(10.0, _everything)  # on B
    s.set_slots([C, A, B])
    assert s.decide(11.0, _everything).slot == B


# -- compositor -------------------------------------------------------------------------


def test_brightness_is_exact_integer_scaling() -> None:
    c = Compositor(4, 2, brightness=50)
    src = np.array([[[0, 1, 2], [3, 100, 101], [254, 255, 128], [7, 8, 9]]] * 2, np.uint8)
    out = c.compose_frame(src)
    # Reference in wide integers: round(v * 50 / 100), half up.
    expected = (src.astype(np.int64) * 50 + 50) // 100
    assert np.array_equal(out, expected.astype(np.uint8))
    c.set_brightness(100)
    assert np.array_equal(c.compose_frame(src), src)
    c.set_brightness(0)
    assert not c.compose_frame(src).any()


def test_output_buffer_is_reused() -> None:
    c = Compositor(4, 2)
    first = c.compose_frame(np.ones((2, 4, 3), np.uint8))
    second = c.compose_frame(np.zeros((2, 4, 3), np.uint8))
    assert first is second


def _strip(width: int, gap: int | None = None) -> StripImage:
    pixels = np.zeros((2, width, 3), np.uint8)
    pixels[:, :, 0] = np.arange(1, width + 1, dtype=np.uint8)  # column i has red = i + 1
    return StripImage("m", 1, pixels, speed=10.0, gap=gap)


def test_strip_enters_from_the_right_and_moves_one_pixel_per_step() -> None:
    c = Compositor(4, 2)
    strip = _strip(6)
    assert not c.compose_strip(strip, 0).any()  # offset 0: just off the right edge
    row = c.compose_strip(strip, 1)[0, :, 0].tolist()
    assert row == [0, 0, 0, 1]
    row = c.compose_strip(strip, 3)[0, :, 0].tolist()
    assert row == [0, 1, 2, 3]
    row = c.compose_strip(strip, 6)[0, :, 0].tolist()
    assert row == [3, 4, 5, 6]


def test_strip_leaves_fully_and_repeats_after_width_plus_gap() -> None:
    c = Compositor(4, 2)
    strip = _strip(6)  # gap defaults to the display width
    period = c.strip_period(strip)
    assert period == 10
    assert c.compose_strip(strip, 10)[0, :, 0].tolist() == [0, 0, 0, 0]
    for offset in range(period):
        a = c.compose_strip(strip, offset).copy()
        assert np.array_equal(a, c.compose_strip(strip, offset + period))


def test_strip_with_explicit_gap() -> None:
    c = Compositor(4, 2)
    strip = _strip(3, gap=1)
    assert c.strip_period(strip) == 4
    assert c.compose_strip(strip, 0)[0, :, 0].tolist() == [0, 1, 2, 3]
