"""Clock: the time, and the date when there is room, in the biggest font that fits.

An ordinary plugin that uses only :mod:`sdk`. It draws a still frame and asks for the next
one exactly when the text changes (the next second, or the next minute without seconds),
so a clock costs the host one frame per second, not one per display refresh.

The layout is a pure function of the display size, the time and the config
(:func:`layout`), chosen from the longest strings a format can produce rather than the
current ones, so the font never changes between 9:59 and 10:00 and the lines never jump.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sdk import (
    Canvas,
    Font,
    PluginContext,
    check_colors,
    color_option,
    hookimpl,
    load_font,
    time_zone,
    time_zone_option,
)
from sdk.canvas import RGB, parse_color

MODE = "time"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "format": {
            "type": "string",
            "enum": ["24h", "12h"],
            "default": "24h",
            "title": "Time format",
            "description": "24-hour (13:45) or 12-hour with AM/PM (1:45 PM).",
        },
        "show_seconds": {
            "type": "boolean",
            "default": True,
            "title": "Show seconds",
            "description": "Off: the clock changes once a minute and can use a bigger font.",
        },
        "show_date": {
            "type": "boolean",
            "default": True,
            "title": "Show date",
            "description": "Show the weekday and date below the time when they fit.",
        },
        "timezone": time_zone_option(),
        "color": color_option("#ffffff", "Time colour", "Colour of the digits, as #rrggbb."),
        "date_color": color_option(
            "#4f9dff", "Date colour", "Colour of the weekday and date lines, as #rrggbb."
        ),
    },
}

# English on purpose: the same text on every Pi whatever its locale, and within the fonts.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
#: Largest first. A date is set smaller than the time (unless both must be "small").
_FONTS = ("xlarge", "large", "medium", "small")
#: Faces for the time, largest first: on a 128x64 or 256x64 panel the biggest bundled
#: font leaves most of the panel empty, so it is also drawn twice as big (crisp blocks).
_TIME_FACES = (("xlarge", 2), ("large", 2)) + tuple((name, 1) for name in _FONTS)
#: Smallest date font read from across a room; smaller ones are a last resort.
_LEGIBLE = "medium"
#: Blank pixels between lines, at least, and between the time and its AM/PM.
_LINE_GAP = 2
_SUFFIX_GAP = 2
#: Frames are asked for this long after the second changes, never a float rounding before.
_LATE = 0.001
_TIME_GLYPHS = "0123456789:"
_DATE_GLYPHS = "".join(sorted(set("0123456789" + "".join(_WEEKDAYS + _MONTHS))))


@dataclass(frozen=True)
class Face:
    """A bundled font drawn ``scale`` times as big."""

    font: Font
    scale: int = 1

    @property
    def height(self) -> int:
        return self.font.height * self.scale

    def ink(self, glyphs: str) -> tuple[int, int, int, int]:
        """:meth:`sdk.Font.cell_ink` of ``glyphs``, enlarged; the clock's glyphs all light."""
        box = self.font.cell_ink(glyphs)
        assert box is not None, f"none of {glyphs!r} lights a pixel in {self.font.name}"
        return (box[0] * self.scale, box[1] * self.scale, box[2] * self.scale, box[3] * self.scale)

    def rows(self, glyphs: str) -> tuple[int, int]:
        """Top and bottom (exclusive) of the rows any of ``glyphs`` lights."""
        box = self.ink(glyphs)
        return box[1], box[3]


@dataclass(frozen=True)
class Piece:
    """One run of text the clock draws: line box top left ``(x, y)``, font, colour and
    the factor it is drawn enlarged by."""

    x: int
    y: int
    text: str
    font: Font
    color: RGB
    scale: int = 1


def local_time(now: float, config: Mapping[str, Any]) -> datetime:
    """``now`` (epoch seconds) as an aware datetime in the configured time zone."""
    return datetime.fromtimestamp(now, time_zone(str(config.get("timezone", ""))))


def time_parts(now: float, config: Mapping[str, Any]) -> tuple[str, str]:
    """The time as drawn: ``("13:04:05", "")`` or, in 12h format, ``("1:04:05", "PM")``."""
    t = local_time(now, config)
    seconds = f":{t.second:02d}" if config.get("show_seconds", True) else ""
    if config.get("format", "24h") == "12h":
        return f"{t.hour % 12 or 12}:{t.minute:02d}{seconds}", "AM" if t.hour < 12 else "PM"
    return f"{t.hour:02d}:{t.minute:02d}{seconds}", ""


def time_text(now: float, config: Mapping[str, Any]) -> str:
    """The time as one string, e.g. ``"13:04:05"`` or ``"1:04:05 PM"``."""
    main, suffix = time_parts(now, config)
    return f"{main} {suffix}" if suffix else main


def date_options(now: float, config: Mapping[str, Any]) -> list[list[str]]:
    """The date lines to choose from, most informative first:
    ``[["Monday", "27 November"], ["Mon 27 Nov"], ["27 Nov"]]``."""
    t = local_time(now, config)
    weekday, month = _WEEKDAYS[t.weekday()], _MONTHS[t.month - 1]
    return [
        [weekday, f"{t.day} {month}"],
        [f"{weekday[:3]} {t.day} {month[:3]}"],
        [f"{t.day} {month[:3]}"],
    ]


def next_delay(now: float, config: Mapping[str, Any]) -> float:
    """Seconds from ``now`` until the shown time changes (next second or minute)."""
    t = local_time(now, config)
    into = t.microsecond / 1e6
    if not config.get("show_seconds", True):
        into += t.second
        return 60.0 - into + _LATE
    return 1.0 - into + _LATE


def layout(width: int, height: int, now: float, config: Mapping[str, Any]) -> list[Piece]:
    """Place the time and the date lines on a ``width`` x ``height`` display.

    Lines are centred horizontally by the pixels they light and spread evenly down the
    display; see :func:`_choose` for how the fonts and date lines are picked.
    """
    twelve_hour = config.get("format", "24h") == "12h"
    choice = _choose(
        width,
        height,
        twelve_hour=twelve_hour,
        seconds=bool(config.get("show_seconds", True)),
        date=bool(config.get("show_date", True)),
    )
    time_face, date_face, option = choice
    main, suffix = time_parts(now, config)
    date_lines = [] if option is None else date_options(now, config)[option]
    # AM/PM is small beside the digits, and grows with them.
    suffix_face = Face(load_font("small"), time_face.scale)

    # Vertical: the lit rows of each line, spread evenly with at least _LINE_GAP between.
    time_top, time_bottom = time_face.rows(_TIME_GLYPHS)
    date_top, date_bottom = date_face.rows(_DATE_GLYPHS)
    heights = [time_bottom - time_top] + [date_bottom - date_top] * len(date_lines)
    free = height - sum(heights)
    between = max(_LINE_GAP, free // (len(heights) + 1))
    top = (free - between * (len(heights) - 1)) // 2

    time_color = parse_color(config.get("color", "#ffffff"))
    date_color = parse_color(config.get("date_color", "#4f9dff"))
    pieces: list[Piece] = []
    runs = [(main, time_face, _TIME_GLYPHS)]
    if suffix:
        runs.append((suffix, suffix_face, "AMP"))
    x = (width - _visible_width(runs)) // 2
    for text, face, glyphs in runs:
        left = face.ink(glyphs)[0]
        # The suffix hangs from the top of the digits, like a superscript.
        y = top - face.rows(glyphs)[0]
        pieces.append(Piece(x - left, y, text, face.font, time_color, face.scale))
        x += _visible_width([(text, face, glyphs)]) + _SUFFIX_GAP
    cursor = top + heights[0] + between
    for text in date_lines:
        x = (width - _visible_width([(text, date_face, _DATE_GLYPHS)])) // 2
        left = date_face.ink(_DATE_GLYPHS)[0]
        pieces.append(Piece(x - left, cursor - date_top, text, date_face.font, date_color))
        cursor += date_bottom - date_top + between
    return pieces


@functools.cache
def _choose(
    width: int, height: int, *, twelve_hour: bool, seconds: bool, date: bool
) -> tuple[Face, Face, int | None]:
    """Pick ``(time face, date face, date option index or None)`` for a display.

    From the widest text each format can produce, not the current text, so nothing
    changes size while the clock runs. The biggest time face that leaves room for a
    legible date (medium or bigger) wins, else the biggest that leaves room for any date;
    among dates, a legible font beats more words, and more words beat a bigger font.
    With no room for any date the time is shown alone.
    """
    small, legible = load_font("small"), load_font(_LEGIBLE)
    widest_time = "00:00:00" if seconds else "00:00"
    date_faces = [Face(load_font(name)) for name in _FONTS]

    def time_fits(face: Face) -> bool:
        runs = [(widest_time, face, _TIME_GLYPHS)]
        if twelve_hour:
            runs.append(("PM", Face(small, face.scale), "AMP"))
        top, bottom = face.rows(_TIME_GLYPHS)
        return _visible_width(runs) <= width and bottom - top <= height

    faces = (Face(load_font(name), scale) for name, scale in _TIME_FACES)
    fitting = [face for face in faces if time_fits(face)]
    # First a legible date under the biggest time that allows one, then any date: a
    # doubled time is not worth a date too small to read from across the room.
    for legible_only in (True, False) if date else ():
        for time_face in fitting:
            time_top, time_bottom = time_face.rows(_TIME_GLYPHS)
            candidates = sorted(
                (
                    (date.font.height < legible.height, index, -date.height, date)
                    for date in date_faces
                    # A date as big as the time competes with it; only "small" may repeat.
                    if date.height < time_face.height or date.font is small
                    if date.font.height >= legible.height or not legible_only
                    for index in range(len(_WIDEST_DATES))
                ),
                key=lambda c: c[:3],
            )
            for *_, index, _size, date_face in candidates:
                lines = _WIDEST_DATES[index]
                top, bottom = date_face.rows(_DATE_GLYPHS)
                rows = time_bottom - time_top + len(lines) * (bottom - top + _LINE_GAP)
                wide = max(_visible_width([(t, date_face, _DATE_GLYPHS)]) for t in lines)
                if rows <= height and wide <= width:
                    return time_face, date_face, index
    return (fitting[0] if fitting else Face(small)), Face(small), None


def _widest_dates() -> list[list[str]]:
    """The widest text of each :func:`date_options` entry (the fonts are monospaced)."""
    day = max(_WEEKDAYS, key=len)
    month = max(_MONTHS, key=len)
    return [[day, f"30 {month}"], [f"{day[:3]} 30 {month[:3]}"], [f"30 {month[:3]}"]]


_WIDEST_DATES = _widest_dates()


def _visible_width(runs: Sequence[tuple[str, Face, str]]) -> int:
    """Width of the lit columns of text runs set side by side, _SUFFIX_GAP apart.

    Each run is ``(text, face, glyphs)``; ``glyphs`` are all the characters the run can
    hold, so the width does not change as digits tick over.
    """
    total = sum(face.font.steady_width(text, glyphs) * face.scale for text, face, glyphs in runs)
    return total + _SUFFIX_GAP * (len(runs) - 1)


def _check_config(config: Mapping[str, Any]) -> None:
    """Fail early, with a message for the user, on values the schema cannot rule out."""
    time_zone(str(config.get("timezone", "")))
    check_colors(config, "color", "date_color")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(MODE, title="Clock", duration=10.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    _check_config(context.config)


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    _check_config(config)


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas, mode: str, now: float) -> float | None:
    if mode != MODE:
        return None
    for piece in layout(canvas.width, canvas.height, now, context.config):
        canvas.text(piece.x, piece.y, piece.text, piece.font, piece.color, scale=piece.scale)
    return next_delay(now, context.config)
