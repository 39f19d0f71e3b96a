"""Schedules: is the panel on, how bright, and may a mode show right now.

Pure (STYLE.md rule 17): ``now`` is a POSIX timestamp passed in and the time zone is a
``tzinfo`` (``None`` for the system's local time), so tests need no clock. Only
:func:`zone` touches the time-zone database, once, when the config is loaded.

Windows (:class:`config.Window`) are read in local wall-clock time, minute by minute;
the end of a window is exclusive. Across a daylight-saving change:

- a boundary the clocks skip (02:30 on a spring-forward night in Europe/Berlin) is
  crossed at the jump, the moment after the gap (03:00 CEST);
- a boundary in the hour the clocks repeat is crossed once, the first time. During the
  repeat the schedule keeps the state it had at the end of the first pass (wall time
  only counts forward), so a panel switched off at 02:30 does not come back on when the
  clocks fall back from 03:00 to 02:00.

:func:`next_change` follows the same rules, so a host that sleeps until it never misses
a change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Final, final
from zoneinfo import ZoneInfo

from config import DimWindow, ScheduleConfig, Window

__all__ = [
    "DisplayState",
    "display_state",
    "in_window",
    "local_day_and_minute",
    "mode_allowed",
    "next_change",
    "zone",
]

#: Days of window boundaries :func:`next_change` looks through. Every weekly boundary
#: recurs within 7 days; one more covers an overnight window reaching into the 8th.
HORIZON_DAYS: Final = 8


@final
@dataclass(frozen=True, slots=True)
class DisplayState:
    """What the schedule says about the panel at one moment."""

    #: Whether the panel shows anything; ``False`` means dark.
    on: bool
    #: Brightness in percent from a dim window, or ``None`` for ``display.brightness``.
    brightness: int | None
    #: RGB colour filter from a dim window (each channel scales by value/255), or ``None``.
    tint: tuple[int, int, int] | None
    #: Why, for logs and the status API: ``"schedule.dim[1] (22:00-07:00, 20%, warm)"``.
    reason: str


def zone(name: str) -> tzinfo | None:
    """Return the time zone called ``name``, or ``None`` (local time) for ``""``.

    Reads the time-zone database (``zoneinfo`` caches it); the config loader has already
    checked the name, so this does not fail for a loaded config.

    :raises zoneinfo.ZoneInfoNotFoundError: for an unknown name.
    """
    return ZoneInfo(name) if name else None


# --- wall-clock time --------------------------------------------------------------------


def _wall(now: float, tz: tzinfo | None) -> datetime:
    """Naive local wall time of ``now``, ``fold`` set on the second pass of a repeat."""
    # With tz None, fromtimestamp gives naive local time and sets fold itself (PEP 495).
    return datetime.fromtimestamp(now, tz).replace(tzinfo=None)


def _instant(wall: datetime, tz: tzinfo | None, fold: int) -> float:
    """POSIX time of a naive wall time; ``fold`` picks the pass (PEP 495 semantics)."""
    return wall.replace(tzinfo=tz, fold=fold).timestamp()


def _first_true(low: float, high: float, test: Callable[[float], bool]) -> float:
    """The earliest whole second in ``(low, high]`` where ``test`` holds, else ``high``.

    ``test`` is false at ``low`` and true at ``high`` and flips once between them. Zone
    transitions fall on whole seconds, so bisecting over seconds finds them exactly.
    """
    below, above = math.floor(low), math.floor(high)
    if above <= below or not test(above):
        return high
    while above - below > 1:
        middle = (below + above) // 2
        if test(middle):
            above = middle
        else:
            below = middle
    return float(above)


def _effective_wall(now: float, tz: tzinfo | None) -> datetime:
    """Wall time as the schedule sees it: during a repeated hour's second pass, the
    wall time at the end of the first pass (see the module docstring)."""
    wall = _wall(now, tz)
    if not wall.fold:
        return wall
    first = _instant(wall, tz, 0)  # the same wall time on the first pass
    repeat_starts = _first_true(first, now, lambda t: _wall(t, tz).fold == 1)
    return _wall(repeat_starts - 1, tz)


def _boundary_instant(wall: datetime, tz: tzinfo | None) -> float:
    """The moment the wall clock reaches ``wall``: the first pass of a repeated time,
    the jump itself for a time the clocks skip."""
    early, late = sorted((_instant(wall, tz, 0), _instant(wall, tz, 1)))
    if _wall(early, tz) == wall:  # naive comparison ignores fold
        return early
    if _wall(late, tz) != wall:  # skipped: find the jump across it
        return _first_true(early, late, lambda t: _wall(t, tz) >= wall)
    return late


def local_day_and_minute(now: float, tz: tzinfo | None) -> tuple[int, int]:
    """Return ``(weekday, minute of the day)`` of ``now`` in ``tz`` (Monday is 0).

    :param now: POSIX time.
    :param tz: the time zone, or ``None`` for the system's local time.
    """
    wall = _effective_wall(now, tz)
    return wall.weekday(), wall.hour * 60 + wall.minute


def _contains(window: Window, day: int, minute: int) -> bool:
    if day in window.days and minute >= window.start_minute:
        if window.overnight or minute < window.end_minute:
            return True
    # The tail of an overnight window that started yesterday.
    return window.overnight and (day - 1) % 7 in window.days and minute < window.end_minute


def in_window(window: Window, now: float, tz: tzinfo | None) -> bool:
    """Return whether ``now`` falls inside ``window`` (overnight windows included)."""
    return _contains(window, *local_day_and_minute(now, tz))


def mode_allowed(when: Sequence[Window], now: float, tz: tzinfo | None) -> bool:
    """Return whether a rotation entry with these ``when`` windows may show now.

    :param when: ``RotationEntry.when``; empty means always.
    """
    if not when:
        return True
    day, minute = local_day_and_minute(now, tz)
    return any(_contains(window, day, minute) for window in when)


def display_state(schedule: ScheduleConfig, now: float, tz: tzinfo | None) -> DisplayState:
    """Return whether the panel is on and its brightness and tint at ``now``.

    Off outside every ``schedule.on`` window (when there are any); otherwise the first
    matching ``schedule.dim`` window, in config order, gives brightness and tint.
    """
    day, minute = local_day_and_minute(now, tz)
    reason = "always on"
    if schedule.on:
        matching = [i for i, w in enumerate(schedule.on) if _contains(w, day, minute)]
        if not matching:
            return DisplayState(False, None, None, "off: outside every schedule.on window")
        reason = f"on: schedule.on[{matching[0]}] ({schedule.on[matching[0]].label})"
    for index, dim in enumerate(schedule.dim):
        if _contains(dim.window, day, minute):
            return DisplayState(
                True, dim.brightness, dim.tint_rgb, f"dimmed: schedule.dim[{index}] ({dim.label})"
            )
    return DisplayState(True, None, None, reason)


def _windows_of(source: ScheduleConfig | Iterable[Window | DimWindow]) -> tuple[Window, ...]:
    if isinstance(source, ScheduleConfig):
        return (*source.on, *(dim.window for dim in source.dim))
    return tuple(item.window if isinstance(item, DimWindow) else item for item in source)


def next_change(
    source: ScheduleConfig | Iterable[Window | DimWindow], now: float, tz: tzinfo | None
) -> float | None:
    """Return the next POSIX time after ``now`` at which a window is entered or left.

    At the returned moment the new state already holds (``display_state`` or
    :func:`mode_allowed` called with it gives the new answer). The host may sleep until
    then; it should still wake at least every minute or so, because the system clock
    can jump (a Pi without a real-time clock sets it from the network after booting).

    :param source: a schedule (its ``on`` and ``dim`` windows), or windows such as every
        rotation entry's ``when`` together.
    :param tz: the time zone, or ``None`` for the system's local time.
    :returns: the moment, or ``None`` when no window changes within eight days (there are
        none, or they cover all the time).
    """
    windows = tuple(dict.fromkeys(_windows_of(source)))
    if not windows:
        return None

    def membership(at: float) -> tuple[bool, ...]:
        day, minute = local_day_and_minute(at, tz)
        return tuple(_contains(window, day, minute) for window in windows)

    today = _effective_wall(now, tz).date()
    candidates: set[float] = set()
    # From yesterday, whose overnight windows may end today.
    for offset in range(-1, HORIZON_DAYS + 1):
        date = today + timedelta(days=offset)
        for window in windows:
            if date.weekday() not in window.days:
                continue
            end_date = date + timedelta(days=1 if window.overnight else 0)
            for day, minute in ((date, window.start_minute), (end_date, window.end_minute)):
                wall = datetime.combine(day, time()) + timedelta(minutes=minute)
                at = _boundary_instant(wall, tz)
                if at > now:
                    candidates.add(at)
    current = membership(now)
    for at in sorted(candidates):
        if membership(at) != current:
            return at
    return None
