"""Time windows: the ``[schedule]`` table and the ``when`` of rotation entries.

A window is a TOML inline table ``{ days = "mon-fri", from = "09:00", to = "17:00" }``
read as local wall-clock time. This module declares the frozen values
(:class:`Window`, :class:`DimWindow`, :class:`ScheduleConfig`) and parses raw config data
into them, reporting every problem through a callback with its key path, as the rest of
:mod:`config.loader` does. Deciding whether a moment falls inside a window is the host's
job (``host.schedule.windows``), where the time zone and the clock are.

Pure, except :func:`check_timezone`, which reads the time-zone database (STYLE.md rule 17).
"""

from __future__ import annotations

import datetime
import difflib
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from config.schema import KeyPath, describe_value, suggest
from config.settings import SETTINGS

__all__ = [
    "ALL_DAYS",
    "DAY_NAMES",
    "MINUTES_PER_DAY",
    "TINTS",
    "DimWindow",
    "Report",
    "ScheduleConfig",
    "Window",
    "check_timezone",
    "format_clock",
    "format_days",
    "parse_dim_windows",
    "parse_window",
    "parse_windows",
]

MINUTES_PER_DAY: Final = 24 * 60
#: Day names as written and shown; the index is ``datetime.weekday()`` (0 is Monday).
DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS: Final = frozenset(range(7))
#: Named tints as per-channel multipliers out of 255; ``None`` means no tint. Any
#: ``"#rrggbb"`` works too. ``warm`` is roughly a 2700 K lamp; ``red`` keeps a little green
#: and blue so white text stays readable as a pale red instead of vanishing. ``host.display.color``
#: builds its lookup tables from this one table.
TINTS: Final[Mapping[str, tuple[int, int, int] | None]] = {
    "none": None,
    "warm": (255, 180, 110),
    "red": (255, 40, 20),
}

#: How parsers report a problem: ``report(key_path, message)``.
Report = Callable[[KeyPath, str], None]

_FULL_NAMES: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ALIASES: Final[Mapping[str, frozenset[int]]] = {
    "all": ALL_DAYS,
    "daily": ALL_DAYS,
    "weekdays": frozenset(range(5)),
    "weekends": frozenset((5, 6)),
    "weekend": frozenset((5, 6)),
}
_DAY_RULE: Final = (
    'use mon, tue, wed, thu, fri, sat, sun (or full names), ranges such as "mon-fri" or '
    '"fri-mon", "all", "daily", "weekdays" or "weekends"'
)
_CLOCK: Final = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])")
_HEX_COLOUR: Final = re.compile(r"#[0-9a-fA-F]{6}")
_WINDOW_KEYS: Final = ("days", "from", "to")
_EXAMPLE: Final = '{ days = "mon-fri", from = "09:00", to = "17:00" }'
_DIM_EXAMPLE: Final = '{ from = "22:00", to = "07:00", brightness = 20, tint = "warm" }'
_BRIGHTNESS: Final = next(s for s in SETTINGS if s.key == "display.brightness")


def format_clock(minute: int) -> str:
    """Render a minute of the day as ``"HH:MM"`` (1440 is ``"24:00"``)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def format_days(days: Iterable[int]) -> str:
    """Render days canonically: ``"all"``, ``"mon-fri"``, ``"sat,sun"``, ``"fri-mon"``."""
    chosen = frozenset(days)
    if chosen >= ALL_DAYS:
        return "all"
    # Start at the beginning of a run, so a run across Sunday stays one range.
    start = next(d for d in range(7) if d in chosen and (d - 1) % 7 not in chosen)
    runs: list[list[int]] = [[]]
    for day in ((start + k) % 7 for k in range(7)):
        if day in chosen:
            runs[-1].append(day)
        elif runs[-1]:
            runs.append([])
    parts: list[str] = []
    for run in (r for r in runs if r):
        if len(run) <= 2:
            parts += [DAY_NAMES[d] for d in run]
        else:
            parts.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
    return ",".join(parts)


@final
@dataclass(frozen=True, slots=True)
class Window:
    """A weekly window of local wall-clock time.

    It opens at ``start_minute`` on each of ``days`` and closes at ``end_minute`` the same
    day, or, when ``end_minute <= start_minute`` (an overnight window), the next day: a
    window belongs to the day it starts on. The end is exclusive.
    """

    #: Days the window starts on, ``datetime.weekday()`` numbers (0 is Monday).
    days: frozenset[int] = ALL_DAYS
    #: Minute of the day it opens, 0-1439.
    start_minute: int = 0
    #: Minute of the day it closes, 1-1440 (1440 is midnight at the end of the day).
    end_minute: int = MINUTES_PER_DAY

    @property
    def overnight(self) -> bool:
        """Whether the window closes on the day after it opens."""
        return self.end_minute <= self.start_minute

    @property
    def label(self) -> str:
        """Short text for logs and status: ``"mon-fri 09:00-17:00"``, ``"22:00-07:00"``."""
        span = f"{format_clock(self.start_minute)}-{format_clock(self.end_minute)}"
        return span if self.days >= ALL_DAYS else f"{format_days(self.days)} {span}"

    def to_toml_value(self) -> dict[str, str]:
        """Return the window as written in the config file."""
        table = {"from": format_clock(self.start_minute), "to": format_clock(self.end_minute)}
        return table if self.days >= ALL_DAYS else {"days": format_days(self.days), **table}


@final
@dataclass(frozen=True, slots=True)
class DimWindow:
    """A window with its own brightness and tint (``schedule.dim``)."""

    window: Window
    #: Brightness in percent while the window lasts, instead of ``display.brightness``.
    brightness: int
    #: ``"none"``, ``"warm"``, ``"red"`` or ``"#rrggbb"`` (lower case), as configured.
    tint: str = "none"

    @property
    def tint_rgb(self) -> tuple[int, int, int] | None:
        """The tint as an RGB colour filter (each channel scales by value/255), or ``None``."""
        if self.tint in TINTS:
            return TINTS[self.tint]
        value = int(self.tint[1:], 16)
        return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)

    @property
    def label(self) -> str:
        """Short text for logs and status: ``"22:00-07:00, 20%, warm"``."""
        tint = "" if self.tint == "none" else f", {self.tint}"
        return f"{self.window.label}, {self.brightness}%{tint}"

    def to_toml_value(self) -> dict[str, Any]:
        """Return the window as written in the config file."""
        table: dict[str, Any] = {**self.window.to_toml_value(), "brightness": self.brightness}
        if self.tint != "none":
            table["tint"] = self.tint
        return table


@final
@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """The ``[schedule]`` table. The defaults mean: always on, local time, never dimmed."""

    #: IANA time zone name; empty means the system's local time.
    timezone: str = ""
    #: Windows the panel is on in; empty means always on.
    on: tuple[Window, ...] = ()
    #: Dim windows in config order; the first that matches wins.
    dim: tuple[DimWindow, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the table as written in the config file."""
        return {
            "timezone": self.timezone,
            "on": [window.to_toml_value() for window in self.on],
            "dim": [window.to_toml_value() for window in self.dim],
        }


# --- parsing ----------------------------------------------------------------------------


def _day_set(token: str) -> frozenset[int] | str:
    """The days one token names, or a message saying what is wrong with it."""
    word = token.strip().lower()
    if word in _ALIASES:
        return _ALIASES[word]
    first, dash, last = word.partition("-")
    if dash:
        ends = [_day_index(first.strip()), _day_index(last.strip())]
        if ends[0] is None or ends[1] is None:
            bad = first if ends[0] is None else last
            return f"unknown day {bad.strip()!r} in the range {token.strip()!r}{_day_hint(bad)}"
        span = (ends[1] - ends[0]) % 7
        return frozenset((ends[0] + k) % 7 for k in range(span + 1))
    index = _day_index(word)
    if index is None:
        what = "empty day name" if not word else f"unknown day {token.strip()!r}"
        return f"{what}{_day_hint(word)}"
    return frozenset((index,))


def _day_index(word: str) -> int | None:
    # "tue", "tues", "tuesday": three letters or more of a full name.
    if len(word) >= 3:
        for index, name in enumerate(_FULL_NAMES):
            if name.startswith(word):
                return index
    return None


def _day_hint(word: str) -> str:
    return suggest(word.strip(), (*DAY_NAMES, *_FULL_NAMES, *_ALIASES)) if word.strip() else ""


def parse_days(raw: object, path: KeyPath, report: Report) -> frozenset[int] | None:
    """Parse ``days``: ``"mon-fri"``, ``"sat,sun"``, ``"all"``, or an array of such names.

    :returns: the weekday numbers, or ``None`` after reporting a problem.
    """
    parts: list[tuple[KeyPath, object]]
    if isinstance(raw, str):
        parts = [(path, part) for part in raw.split(",")]
    elif isinstance(raw, list | tuple) and raw:
        parts = [((*path, index), item) for index, item in enumerate(raw)]
    else:
        expected = 'expected day names such as "mon-fri", "sat,sun" or "all", or an array of them'
        report(path, f"{expected}, found {describe_value(raw)}")
        return None
    days: set[int] = set()
    ok = True
    for where, part in parts:
        found = _day_set(part) if isinstance(part, str) else f"found {describe_value(part)}"
        if isinstance(found, str):
            context = f" in {raw!r}" if isinstance(raw, str) and "," in raw else ""
            report(where, f"{found}{context}; {_DAY_RULE}")
            ok = False
        else:
            days |= found
    return frozenset(days) if ok else None


def parse_clock(raw: object, path: KeyPath, report: Report, *, end: bool) -> int | None:
    """Parse ``"HH:MM"`` (24-hour; ``"24:00"`` only as an end) into a minute of the day.

    A TOML local time without seconds (``09:00:00``) is accepted too.
    """
    if isinstance(raw, datetime.time) and raw.tzinfo is None:
        if not (raw.second or raw.microsecond):
            return raw.hour * 60 + raw.minute
        found = f"time {raw.isoformat()} (seconds are not supported)"
    else:
        if isinstance(raw, str) and (match := _CLOCK.fullmatch(raw)):
            minute = int(match[1]) * 60 + int(match[2])
            if minute < MINUTES_PER_DAY or (end and minute == MINUTES_PER_DAY):
                return minute
        found = describe_value(raw)
    last = "24:00" if end else "23:59"
    report(path, f'expected "HH:MM" (24-hour, 00:00 to {last}), found {found}')
    return None


def parse_window(
    raw: object,
    path: KeyPath,
    report: Report,
    *,
    extra_keys: tuple[str, ...] = (),
    example: str = _EXAMPLE,
) -> Window | None:
    """Parse one window table; ``from`` defaults to ``"00:00"`` and ``to`` to ``"24:00"``.

    :param extra_keys: further keys the caller reads from the same table (a dim window's
        ``brightness`` and ``tint``), so they are not reported as unknown.
    :returns: the window, or ``None`` after reporting every problem found in it.
    """
    if not isinstance(raw, Mapping):
        report(path, f"expected a window table such as {example}, found {describe_value(raw)}")
        return None
    known = (*_WINDOW_KEYS, *extra_keys)
    ok = True
    for key in raw:
        if key not in known:
            allowed = ", ".join(known)
            hint = suggest(str(key), known)
            report((*path, key), f"unknown key {key!r} in a window{hint}; it takes {allowed}")
            ok = False
    days = parse_days(raw["days"], (*path, "days"), report) if "days" in raw else ALL_DAYS
    start = parse_clock(raw.get("from", "00:00"), (*path, "from"), report, end=False)
    end = parse_clock(raw.get("to", "24:00"), (*path, "to"), report, end=True)
    if days is None or start is None or end is None or not ok:
        return None
    if end == 0:
        end = MINUTES_PER_DAY  # to = "00:00" is midnight at the end of the day
    if start == end:
        shown = format_clock(start)
        report(
            path,
            f'empty window: "from" and "to" are both "{shown}"; for a whole day leave both '
            'out or write from = "00:00", to = "24:00"',
        )
        return None
    return Window(days, start, end)


def parse_windows(raw: object, path: KeyPath, report: Report) -> tuple[Window, ...]:
    """Parse an array of windows; ``None`` (already reported as bad) gives none."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        report(
            path, f"expected an array of windows such as [{_EXAMPLE}], found {describe_value(raw)}"
        )
        return ()
    windows = (parse_window(item, (*path, index), report) for index, item in enumerate(raw))
    return tuple(window for window in windows if window is not None)


def parse_tint(raw: object) -> tuple[str | None, str | None]:
    """Check a tint: ``(normalized, None)`` or ``(None, message)``."""
    if isinstance(raw, str) and (raw.lower() in TINTS or _HEX_COLOUR.fullmatch(raw)):
        return raw.lower(), None
    hint = suggest(raw.lower(), tuple(TINTS)) if isinstance(raw, str) else ""
    expected = 'expected "none", "warm", "red" or a colour "#rrggbb"'
    return None, f"{expected}, found {describe_value(raw)}{hint}"


def parse_dim_window(raw: object, path: KeyPath, report: Report) -> DimWindow | None:
    """Parse one dim window: a window plus ``brightness`` (required) and ``tint``."""
    extra = ("brightness", "tint")
    window = parse_window(raw, path, report, extra_keys=extra, example=_DIM_EXAMPLE)
    if not isinstance(raw, Mapping):
        return None
    brightness: int | None = None
    if "brightness" not in raw:
        report(path, f'missing "brightness" (0-100 percent), e.g. {_DIM_EXAMPLE}')
    else:
        brightness, problem = _BRIGHTNESS.check(raw["brightness"])
        if problem is not None:
            report((*path, "brightness"), problem)
    tint, problem = parse_tint(raw.get("tint", "none"))
    if problem is not None:
        report((*path, "tint"), problem)
    if window is None or brightness is None or tint is None:
        return None
    return DimWindow(window, brightness, tint)


def parse_dim_windows(raw: object, path: KeyPath, report: Report) -> tuple[DimWindow, ...]:
    """Parse ``schedule.dim``; ``None`` (already reported as bad) gives none."""
    if not isinstance(raw, list | tuple):
        return ()
    windows = (parse_dim_window(item, (*path, index), report) for index, item in enumerate(raw))
    return tuple(window for window in windows if window is not None)


def check_timezone(name: str) -> str | None:
    """Return ``None`` if ``name`` is an IANA time zone known here, else a message.

    Reads the time-zone database (the system's, or the ``tzdata`` package's); the message
    suggests close names: ``europe/berlin`` and ``Berlin`` both lead to ``Europe/Berlin``.
    """
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    else:
        return None
    known = sorted(zoneinfo.available_timezones())
    folded = {zone.lower(): zone for zone in known}
    wanted = name.strip().lower().replace(" ", "_")
    close: list[str] = []
    if wanted in folded:
        close = [folded[wanted]]
    else:
        close = [zone for zone in known if zone.lower().rsplit("/", 1)[-1] == wanted]
        close = close or [
            folded[match] for match in difflib.get_close_matches(wanted, folded, n=1, cutoff=0.75)
        ]
    hint = ""
    if close:
        hint = " (did you mean " + " or ".join(repr(zone) for zone in close[:3]) + "?)"
    return (
        f"unknown time zone {name!r}{hint}; use an IANA name such as 'Europe/Berlin' or "
        "'America/New_York', or '' for the system's local time"
    )
