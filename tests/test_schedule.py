"""Tables for ``host.schedule.windows``: windows, on/off and dim states, and DST changes.

Every moment is an explicit timestamp built from an aware datetime; nothing reads the
clock. The week used: 2026-06-01 is a Monday, so 06-05 is a Friday and 06-07 a Sunday.
The DST days of 2026: Europe/Berlin springs forward on 03-29 (02:00 CET -> 03:00 CEST)
and falls back on 10-25 (03:00 CEST -> 02:00 CET); America/New_York on 03-08
(02:00 EST -> 03:00 EDT) and 11-01 (02:00 EDT -> 01:00 EST).
"""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config import DimWindow, ScheduleConfig, Window
from config.schema import KeyPath
from config.windows import parse_window
from host.schedule.windows import (
    DisplayState,
    display_state,
    in_window,
    local_day_and_minute,
    mode_allowed,
    next_change,
    zone,
)

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(tz: tzinfo, text: str, fold: int = 0) -> float:
    """POSIX time of ``"2026-06-05 23:30"`` read in ``tz`` (``fold=1``: the second pass)."""
    return datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold).timestamp()


def utc(text: str) -> float:
    return at(UTC, text)


def window(spec: str) -> Window:
    """Build a window from ``"fri 22:00-02:00"`` (days optional) through the config parser."""
    *days, span = spec.split(" ")
    start, end = span.split("-")
    raw: dict[str, Any] = {"from": start, "to": end}
    if days:
        raw["days"] = days[0]

    def fail(path: KeyPath, message: str) -> None:
        raise AssertionError(f"{path}: {message}")

    parsed = parse_window(raw, ("test",), fail)
    assert parsed is not None
    return parsed


# --- local time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "moment", "expected"),
    [
        (UTC, utc("2026-06-01 00:00"), (0, 0)),
        (UTC, utc("2026-06-07 23:59"), (6, 1439)),
        (BERLIN, utc("2026-06-05 22:30"), (5, 30)),  # Saturday 00:30 CEST
        (NEW_YORK, utc("2026-06-06 02:00"), (4, 22 * 60)),  # Friday 22:00 EDT
        (BERLIN, utc("2026-03-29 01:00"), (6, 180)),  # 03:00 CEST, right after the jump
        (BERLIN, utc("2026-03-29 00:59:59"), (6, 119)),  # 01:59 CET, right before it
        # The repeated hour: first pass as read, second pass held at its end (02:59).
        (BERLIN, at(BERLIN, "2026-10-25 02:30"), (6, 150)),
        (BERLIN, at(BERLIN, "2026-10-25 02:30", fold=1), (6, 179)),
        (BERLIN, at(BERLIN, "2026-10-25 03:00"), (6, 180)),
        (NEW_YORK, at(NEW_YORK, "2026-11-01 01:15", fold=1), (6, 119)),
    ],
)
def test_local_day_and_minute(tz: tzinfo, moment: float, expected: tuple[int, int]) -> None:
    assert local_day_and_minute(moment, tz) == expected


# --- windows ----------------------------------------------------------------------------

WORKDAY = "mon-fri 09:00-17:00"
FRIDAY_NIGHT = "fri 22:00-02:00"


@pytest.mark.parametrize(
    ("spec", "local", "inside"),
    [
        (WORKDAY, "2026-06-03 12:00", True),
        (WORKDAY, "2026-06-03 09:00", True),  # the start is inside
        (WORKDAY, "2026-06-03 08:59", False),
        (WORKDAY, "2026-06-03 17:00", False),  # the end is not
        (WORKDAY, "2026-06-06 12:00", False),  # Saturday
        (FRIDAY_NIGHT, "2026-06-05 23:30", True),
        (FRIDAY_NIGHT, "2026-06-06 01:30", True),  # Saturday, the tail of Friday's window
        (FRIDAY_NIGHT, "2026-06-06 02:00", False),
        (FRIDAY_NIGHT, "2026-06-06 22:30", False),  # Saturday evening: not a Friday
        (FRIDAY_NIGHT, "2026-06-05 21:59", False),
        (FRIDAY_NIGHT, "2026-06-05 01:30", False),  # Friday morning: Thursday's tail
        ("sun 23:00-01:00", "2026-06-08 00:30", True),  # across the end of the week
        ("sun 23:00-01:00", "2026-06-01 00:30", True),
        ("sun 23:00-01:00", "2026-06-02 00:30", False),
        ("fri-mon 10:00-11:00", "2026-06-07 10:30", True),  # the range wraps
        ("fri-mon 10:00-11:00", "2026-06-01 10:30", True),
        ("fri-mon 10:00-11:00", "2026-06-02 10:30", False),
        ("sat 00:00-24:00", "2026-06-06 00:00", True),
        ("sat 00:00-24:00", "2026-06-06 23:59", True),
        ("sat 00:00-24:00", "2026-06-07 00:00", False),
        ("20:00-00:00", "2026-06-02 23:59", True),  # "to 00:00" is the end of the day
        ("20:00-00:00", "2026-06-03 00:00", False),
        ("22:00-07:00", "2026-06-01 06:59", True),  # daily: Sunday's tail on Monday
    ],
)
def test_in_window(spec: str, local: str, inside: bool) -> None:
    assert in_window(window(spec), at(BERLIN, local), BERLIN) is inside


def test_a_window_is_judged_in_its_time_zone() -> None:
    """Verify that the same moment is inside 9-17 in Berlin and outside in New York."""
    moment = utc("2026-06-03 14:00")  # 16:00 in Berlin, 10:00 in New York, 14:00 in UTC
    assert in_window(window("09:00-11:00"), moment, NEW_YORK)
    assert not in_window(window("09:00-11:00"), moment, BERLIN)
    assert not in_window(window("09:00-11:00"), moment, UTC)


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        ("2026-06-01 09:00", True),
        ("2026-06-05 16:59", True),
        ("2026-06-05 17:00", False),
        ("2026-06-06 12:00", False),
    ],
)
def test_mode_allowed_only_inside_its_when_windows(local: str, allowed: bool) -> None:
    """Verify the issue's example: the stocks only on weekdays 9-17."""
    assert mode_allowed((window(WORKDAY),), at(BERLIN, local), BERLIN) is allowed


def test_mode_without_when_windows_is_always_allowed() -> None:
    assert mode_allowed((), utc("2026-06-06 03:00"), BERLIN)


def test_mode_allowed_inside_any_of_its_windows() -> None:
    when = (window("mon 08:00-09:00"), window("sat,sun 10:00-12:00"))
    assert mode_allowed(when, at(BERLIN, "2026-06-07 11:00"), BERLIN)
    assert not mode_allowed(when, at(BERLIN, "2026-06-02 08:30"), BERLIN)


# --- display state ----------------------------------------------------------------------

ON_WEEKDAYS = window("mon-fri 07:00-23:00")
ON_WEEKENDS = window("sat,sun 09:00-01:00")
NIGHT = DimWindow(window("21:00-07:00"), 20, "warm")
LATE = DimWindow(window("22:00-23:00"), 5, "red")
EVENING = DimWindow(window("fri 18:00-24:00"), 60, "#102030")
SCHEDULE = ScheduleConfig("Europe/Berlin", (ON_WEEKDAYS, ON_WEEKENDS), (NIGHT, LATE, EVENING))


OFF = DisplayState(False, None, None, "off: outside every schedule.on window")
WARM = (255, 180, 110)
NIGHT_STATE = DisplayState(True, 20, WARM, "dimmed: schedule.dim[0] (21:00-07:00, 20%, warm)")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (
            "2026-06-03 12:00",
            DisplayState(True, None, None, "on: schedule.on[0] (mon-fri 07:00-23:00)"),
        ),
        ("2026-06-03 06:59", OFF),
        ("2026-06-03 23:00", OFF),
        ("2026-06-03 21:30", NIGHT_STATE),
        ("2026-06-03 22:30", NIGHT_STATE),  # both night windows match: the first wins
        (
            "2026-06-05 19:00",
            DisplayState(
                True, 60, (16, 32, 48), "dimmed: schedule.dim[2] (fri 18:00-24:00, 60%, #102030)"
            ),
        ),
        # Saturday 00:30: Friday's weekday window ended at 23:00, the weekend one opens at 9.
        ("2026-06-06 00:30", OFF),
        # Sunday and Monday 00:30: the tails of Saturday's and Sunday's overnight windows.
        ("2026-06-07 00:30", NIGHT_STATE),
        ("2026-06-08 00:30", NIGHT_STATE),
        ("2026-06-08 01:00", OFF),
    ],
)
def test_display_state(local: str, expected: DisplayState) -> None:
    assert display_state(SCHEDULE, at(BERLIN, local), BERLIN) == expected


def test_empty_schedule_is_always_on_at_full_brightness() -> None:
    assert display_state(ScheduleConfig(), utc("2026-06-03 03:00"), BERLIN) == DisplayState(
        True, None, None, "always on"
    )


def test_dim_without_on_windows_dims_and_stays_on() -> None:
    schedule = ScheduleConfig(dim=(DimWindow(window("22:00-06:00"), 0, "none"),))
    state = display_state(schedule, at(BERLIN, "2026-06-03 23:00"), BERLIN)
    assert (state.on, state.brightness, state.tint) == (True, 0, None)
    assert display_state(schedule, at(BERLIN, "2026-06-03 12:00"), BERLIN).reason == "always on"


# --- next change ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("specs", "local", "expected"),
    [
        ([WORKDAY], "2026-06-03 08:00", "2026-06-03 09:00"),
        ([WORKDAY], "2026-06-03 09:00", "2026-06-03 17:00"),  # strictly after now
        ([WORKDAY], "2026-06-05 17:00", "2026-06-08 09:00"),  # over the weekend
        ([FRIDAY_NIGHT], "2026-06-05 23:30", "2026-06-06 02:00"),
        ([FRIDAY_NIGHT], "2026-06-06 02:00", "2026-06-12 22:00"),  # a week later
        # Back-to-back windows: entering the second at 12:00 changes membership.
        (["09:00-12:00", "12:00-17:00"], "2026-06-03 10:00", "2026-06-03 12:00"),
        # Overlapping copies of one window change together.
        (["09:00-12:00", "09:00-12:00"], "2026-06-03 10:00", "2026-06-03 12:00"),
    ],
)
def test_next_change_of_windows(specs: list[str], local: str, expected: str) -> None:
    windows = [window(spec) for spec in specs]
    assert next_change(windows, at(BERLIN, local), BERLIN) == at(BERLIN, expected)


def test_next_change_skips_boundaries_where_nothing_changes() -> None:
    """Verify that a daily all-day window, on at every midnight, never changes."""
    assert next_change([window("00:00-24:00")], utc("2026-06-03 12:00"), BERLIN) is None
    assert next_change([], utc("2026-06-03 12:00"), BERLIN) is None
    assert next_change(ScheduleConfig(), utc("2026-06-03 12:00"), BERLIN) is None


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-06-03 12:00", "2026-06-03 21:00"),  # dimming starts
        ("2026-06-03 21:30", "2026-06-03 22:00"),  # the second dim window starts
        ("2026-06-03 22:30", "2026-06-03 23:00"),  # off
        ("2026-06-03 23:30", "2026-06-04 07:00"),  # on, and the night window ends
        ("2026-06-06 00:30", "2026-06-06 07:00"),  # only the night window ends
    ],
)
def test_next_change_of_a_schedule(local: str, expected: str) -> None:
    assert next_change(SCHEDULE, at(BERLIN, local), BERLIN) == at(BERLIN, expected)


def test_next_change_accepts_dim_windows() -> None:
    assert next_change([NIGHT], at(BERLIN, "2026-06-03 12:00"), BERLIN) == at(
        BERLIN, "2026-06-03 21:00"
    )


# --- daylight-saving changes ------------------------------------------------------------

#: A window 01:00-03:00 every day: on the DST nights it straddles the change.
SMALL_HOURS = "01:00-03:00"


@pytest.mark.parametrize(
    ("tz", "moment", "inside"),
    [
        # Berlin, spring: 01:00 CET (00:00Z) to 03:00 CEST (01:00Z), one real hour.
        (BERLIN, utc("2026-03-28 23:59"), False),
        (BERLIN, utc("2026-03-29 00:00"), True),
        (BERLIN, utc("2026-03-29 00:59:59"), True),
        (BERLIN, utc("2026-03-29 01:00"), False),
        # Berlin, autumn: 01:00 CEST (23:00Z) to 03:00 CET (02:00Z), three real hours.
        (BERLIN, utc("2026-10-24 22:59"), False),
        (BERLIN, utc("2026-10-24 23:00"), True),
        (BERLIN, utc("2026-10-25 00:30"), True),  # 02:30 CEST
        (BERLIN, utc("2026-10-25 01:30"), True),  # 02:30 CET, the repeat
        (BERLIN, utc("2026-10-25 01:59"), True),
        (BERLIN, utc("2026-10-25 02:00"), False),  # 03:00 CET
        # New York, spring: 01:00 EST (06:00Z) to 03:00 EDT (07:00Z).
        (NEW_YORK, utc("2026-03-08 06:00"), True),
        (NEW_YORK, utc("2026-03-08 06:59"), True),
        (NEW_YORK, utc("2026-03-08 07:00"), False),
        # New York, autumn: 01:00 EDT (05:00Z) to 03:00 EST (08:00Z); 01:00-02:00 repeats.
        (NEW_YORK, utc("2026-11-01 04:59"), False),
        (NEW_YORK, utc("2026-11-01 05:00"), True),
        (NEW_YORK, utc("2026-11-01 06:30"), True),  # 01:30 EST, the repeat
        (NEW_YORK, utc("2026-11-01 07:59"), True),  # 02:59 EST
        (NEW_YORK, utc("2026-11-01 08:00"), False),
    ],
)
def test_window_across_dst_change(tz: tzinfo, moment: float, inside: bool) -> None:
    assert in_window(window(SMALL_HOURS), moment, tz) is inside


@pytest.mark.parametrize(
    ("tz", "spec", "moment", "expected"),
    [
        (BERLIN, SMALL_HOURS, utc("2026-03-28 23:30"), utc("2026-03-29 00:00")),
        # The end, 03:00, is the first moment after the jump.
        (BERLIN, SMALL_HOURS, utc("2026-03-29 00:30"), utc("2026-03-29 01:00")),
        # A start the clocks skip (02:30) is crossed at the jump: 03:00 CEST.
        (BERLIN, "02:30-04:00", utc("2026-03-29 00:30"), utc("2026-03-29 01:00")),
        (BERLIN, "02:30-04:00", utc("2026-03-29 01:00"), utc("2026-03-29 02:00")),
        # An end in the repeated hour counts the first time (02:30 CEST) ...
        (BERLIN, "01:00-02:30", utc("2026-10-24 23:30"), utc("2026-10-25 00:30")),
        # ... and the repeat does not re-enter it: the next change is Monday 01:00 CET.
        (BERLIN, "01:00-02:30", utc("2026-10-25 00:30"), utc("2026-10-26 00:00")),
        (BERLIN, "01:00-02:30", utc("2026-10-25 01:10"), utc("2026-10-26 00:00")),
        # A window over the repeat ends at 03:00 CET, three real hours after 01:00 CEST.
        (BERLIN, SMALL_HOURS, utc("2026-10-24 23:30"), utc("2026-10-25 02:00")),
        (NEW_YORK, SMALL_HOURS, utc("2026-03-08 05:30"), utc("2026-03-08 06:00")),
        (NEW_YORK, SMALL_HOURS, utc("2026-03-08 06:30"), utc("2026-03-08 07:00")),
        (NEW_YORK, "02:15-05:00", utc("2026-03-08 06:30"), utc("2026-03-08 07:00")),
        (NEW_YORK, SMALL_HOURS, utc("2026-11-01 04:30"), utc("2026-11-01 05:00")),
        (NEW_YORK, SMALL_HOURS, utc("2026-11-01 05:30"), utc("2026-11-01 08:00")),
        # A start in the repeated hour (01:30) counts the first time, 01:30 EDT.
        (NEW_YORK, "01:30-04:00", utc("2026-11-01 05:00"), utc("2026-11-01 05:30")),
        (NEW_YORK, "01:30-04:00", utc("2026-11-01 05:30"), utc("2026-11-01 09:00")),
    ],
)
def test_next_change_across_dst_change(
    tz: tzinfo, spec: str, moment: float, expected: float
) -> None:
    found = next_change([window(spec)], moment, tz)
    assert found == expected
    # The window's membership flips exactly there, and not a second earlier.
    assert in_window(window(spec), found, tz) is not in_window(window(spec), found - 1, tz)


@pytest.mark.parametrize(
    ("tz", "day", "opens", "closes"),
    [
        (BERLIN, "2026-03-28", "2026-03-28 08:00", "2026-03-28 16:00"),  # CET, UTC+1
        (BERLIN, "2026-03-29", "2026-03-29 07:00", "2026-03-29 15:00"),  # CEST, UTC+2
        (BERLIN, "2026-10-25", "2026-10-25 08:00", "2026-10-25 16:00"),  # CET again
        (NEW_YORK, "2026-03-08", "2026-03-08 13:00", "2026-03-08 21:00"),  # EDT, UTC-4
        (NEW_YORK, "2026-11-01", "2026-11-01 14:00", "2026-11-01 22:00"),  # EST, UTC-5
    ],
)
def test_nine_to_five_follows_the_wall_clock_on_dst_days(
    tz: tzinfo, day: str, opens: str, closes: str
) -> None:
    nine_to_five = [window("09:00-17:00")]
    start_of_day = at(tz, f"{day} 00:00")
    assert next_change(nine_to_five, start_of_day, tz) == utc(opens)
    assert next_change(nine_to_five, utc(opens), tz) == utc(closes)


def test_dim_schedule_across_dst_change() -> None:
    """Verify a dim window 22:00-07:00 on the Berlin autumn night: nine wall hours, ten real."""
    schedule = ScheduleConfig("Europe/Berlin", (), (DimWindow(window("22:00-07:00"), 10),))
    dimmed_at = next_change(schedule, utc("2026-10-24 12:00"), BERLIN)
    assert dimmed_at == utc("2026-10-24 20:00")
    assert display_state(schedule, utc("2026-10-25 01:30"), BERLIN).brightness == 10
    bright_at = next_change(schedule, dimmed_at, BERLIN)
    assert bright_at == utc("2026-10-25 06:00")
    assert bright_at - dimmed_at == 10 * 3600


def test_local_time_when_no_time_zone_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify ``tz=None`` follows the process's local zone, DST included (TZ + tzset)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert local_day_and_minute(utc("2026-06-05 22:30"), None) == (5, 30)
        assert next_change([window(SMALL_HOURS)], utc("2026-03-29 00:30"), None) == utc(
            "2026-03-29 01:00"
        )
        assert next_change([window("01:00-02:30")], utc("2026-10-25 00:30"), None) == utc(
            "2026-10-26 00:00"
        )
        assert in_window(window(SMALL_HOURS), utc("2026-10-25 01:30"), None)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_zone_names_map_to_tzinfo() -> None:
    assert zone("") is None
    assert zone("Europe/Berlin") == BERLIN
