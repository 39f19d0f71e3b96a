"""Layout of the ``forecast`` mode: one column per day, as many days as fit.

Each column holds the weekday, the day's icon, the high (warm colour) and the low (cool
colour), and, on panels 48 pixels high or more, the chance of precipitation. The column
style is the biggest whose rows fit the panel's height; the number of columns is then what
the width allows at that style's narrowest column, up to the days wanted and available:
3 at 64x32, 6 at 128x32, 4 at 128x64, 7 at 256x64. The unit letter follows the degree
sign when the columns have room for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugins_builtin.weather.conditions import condition
from plugins_builtin.weather.drawing import (
    Colors,
    IconPiece,
    Piece,
    TextPiece,
    band,
    band_height,
    ink_width,
    temperature,
    whole,
    widest_temperature,
)
from plugins_builtin.weather.model import Day, Weather
from sdk import load_font
from sdk.canvas import RGB

__all__ = ["ColumnStyle", "STYLES", "layout_forecast", "NO_FORECAST"]

#: Shown when an old answer holds no day from today on (the network was down for days).
NO_FORECAST = "No forecast"
#: Blank pixels kept at the top and bottom.
MARGIN = 1
#: Blank columns a day's column keeps around its widest text, at least.
PADDING = 4
#: Between two rows of a column, at least; spare rows are spread over the gaps.
ROW_GAP = 1

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ColumnStyle:
    """How one day's column is drawn: fonts and icon size (0: no icon)."""

    label: str
    icon: int
    temperature: str
    #: The font of the chance of precipitation, or "" to leave it out.
    precipitation: str = ""

    def rows(self) -> list[int]:
        """The heights of the column's rows, top to bottom."""
        heights = [band_height(self.label, descenders=False)]
        if self.icon:
            heights.append(self.icon)
        heights += [band_height(self.temperature, descenders=False)] * 2
        if self.precipitation:
            heights.append(band_height(self.precipitation, descenders=False))
        return heights

    def height(self) -> int:
        rows = self.rows()
        return sum(rows) + ROW_GAP * (len(rows) - 1)

    def width(self, unit: str, *, letter: bool) -> int:
        """The narrowest column this style needs."""
        widths = [max(ink_width(name, self.label) for name in _WEEKDAYS), self.icon]
        widths.append(ink_width(widest_temperature(unit, letter=letter), self.temperature))
        if self.precipitation:
            widths.append(ink_width("100%", self.precipitation))
        return max(widths) + PADDING


#: Biggest first; the first whose rows fit the panel's height is used.
STYLES = (
    ColumnStyle("medium", 20, "medium", "small"),
    ColumnStyle("medium", 20, "medium"),
    ColumnStyle("small", 10, "small"),
    ColumnStyle("small", 0, "small"),
)


def layout_forecast(
    width: int, height: int, weather: Weather, *, days: int = 7, age: float = 0.0
) -> list[Piece]:
    """Place up to ``days`` days of the forecast, from today on, on a ``width`` x
    ``height`` panel.

    :param age: seconds since the answer was fetched: days already past are left out.
    """
    shown = weather.days_from(weather.local_date(age))[:days]
    unit = weather.temperature_unit
    style = next((s for s in STYLES if s.height() <= height - 2 * MARGIN), None)
    if style is None:
        return []  # a region too low for even a weekday and two temperatures
    if not shown:
        return _message(width, height)
    count = min(len(shown), max(1, width // style.width(unit, letter=False)))
    shown = shown[:count]
    letter = width // count >= style.width(unit, letter=True)
    pieces: list[Piece] = []
    for index, day in enumerate(shown):
        left, right = index * width // count, (index + 1) * width // count
        pieces += _column(left, right - left, height, day, style, unit, letter)
    return pieces


def _column(
    x: int, width: int, height: int, day: Day, style: ColumnStyle, unit: str, letter: bool
) -> list[Piece]:
    """One day's column, ``width`` wide from ``x``, its rows spread down the panel."""
    rows = style.rows()
    spare = height - 2 * MARGIN - style.height()
    share = spare // (len(rows) + 1)
    y = MARGIN + (spare - share * (len(rows) - 1)) // 2
    # One entry per row: (text, font, colour), or None for the icon.
    entries: list[tuple[str, str, RGB] | None] = [
        (_WEEKDAYS[day.date.weekday()], style.label, Colors.WEEKDAY)
    ]
    if style.icon:
        entries.append(None)
    entries.append((temperature(day.high, unit, letter=letter), style.temperature, Colors.HIGH))
    entries.append((temperature(day.low, unit, letter=letter), style.temperature, Colors.LOW))
    if style.precipitation:
        chance = "" if day.precipitation is None else f"{whole(day.precipitation)}%"
        entries.append((chance, style.precipitation, Colors.PRECIPITATION))
    pieces: list[Piece] = []
    for entry, row in zip(entries, rows, strict=True):
        if entry is None:
            kind = condition(day.code).kind
            pieces.append(IconPiece(x + (width - style.icon) // 2, y, kind, style.icon))
        else:
            text, font, color = entry
            top = band(font, descenders=False)[0]
            left = x + (width - ink_width(text, font) + 1) // 2
            pieces.append(TextPiece(left, y - top, text, load_font(font), color))
        y += row + ROW_GAP + share
    return pieces


def _message(width: int, height: int) -> list[Piece]:
    font = "small"
    if ink_width(NO_FORECAST, font) > width:
        return []
    top, bottom = band(font)
    x = (width - ink_width(NO_FORECAST, font)) // 2
    y = (height - (bottom - top)) // 2 - top
    return [TextPiece(x, y, NO_FORECAST, load_font(font), Colors.MESSAGE)]
