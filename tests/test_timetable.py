"""The timetable: schedule answers kept until they can change, with explicit wall times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from config import DimWindow, ScheduleConfig, Window
from host.schedule.timetable import RECHECK, Timetable

BERLIN = ZoneInfo("Europe/Berlin")


def _at(day: int, hour: int, minute: int = 0) -> float:
    """A POSIX time in Berlin in the week of Monday 2026-11-23."""
    return datetime(2026, 11, 23 + day, hour, minute, tzinfo=BERLIN).timestamp()


def _schedule() -> ScheduleConfig:
    return ScheduleConfig(
        timezone="Europe/Berlin",
        on=(Window(start_minute=7 * 60, end_minute=23 * 60),),
        dim=(DimWindow(Window(start_minute=20 * 60, end_minute=23 * 60), 30, "warm"),),
    )


def test_answers_are_kept_until_the_next_boundary_then_refreshed() -> None:
    table = Timetable(_schedule())
    assert table.refresh(_at(0, 12)) is False  # on, full brightness: as the default
    assert table.state.on and table.state.brightness is None
    assert table.until == _at(0, 12) + RECHECK  # no boundary soon: recheck in a minute
    assert table.refresh(_at(0, 12) + 30) is False  # kept meanwhile
    table.refresh(_at(0, 19, 59) + 30)
    assert table.until == _at(0, 20)  # the dim window opens next
    assert table.refresh(_at(0, 20)) is True
    assert table.state.brightness == 30 and table.state.tint == (255, 180, 110)
    assert table.refresh(_at(0, 23)) is True
    assert not table.state.on and "outside every schedule.on window" in table.state.reason


def test_mode_windows_gate_their_slots_only() -> None:
    table = Timetable(ScheduleConfig(timezone="Europe/Berlin"))
    weekdays_9_17 = Window(frozenset(range(5)), 9 * 60, 17 * 60)
    table.set_windows({"stocks:main": (weekdays_9_17,), "clock:time": ()})
    table.refresh(_at(5, 10))  # Saturday 10:00
    assert not table.allowed("stocks:main")
    assert table.allowed("clock:time") and table.allowed("not:listed")
    table.refresh(_at(0, 10))  # time moved back (a clock set from the network): refresh
    assert table.allowed("stocks:main")


def test_without_boundaries_it_still_rechecks_within_a_minute() -> None:
    table = Timetable(ScheduleConfig(timezone="Europe/Berlin"))
    table.refresh(1_800_000_000.0)
    assert table.until == 1_800_000_000.0 + RECHECK
