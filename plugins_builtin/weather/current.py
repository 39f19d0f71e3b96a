"""Layout of the ``current`` mode: an icon and the temperature, then as many details as fit.

The "hero" (icon and temperature) comes first: the biggest that still leaves a line for
the condition word. What is left holds, in this order, the condition word, feels-like,
humidity, wind and today's high and low, packed side by side where a line is wide enough,
and the location name on top when a line is still free. Two arrangements cover every
size:

- **side by side** on wide panels (at least three times as wide as high: 128x32,
  256x64): the hero on the left, the details in a column on its right;
- **stacked** otherwise (64x32, 128x64): the hero centred, the details centred below.

Fonts are chosen from the widest text a value can produce (``-00°``), not the current
value, so a drop from 10° to 9° never changes the layout.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from plugins_builtin.weather.conditions import CONDITIONS, UNKNOWN, condition
from plugins_builtin.weather.drawing import (
    BIGGEST_FIRST,
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
from sdk import load_font, shorten
from sdk.canvas import RGB
from sdk.fonts import ELLIPSIS

__all__ = ["Hero", "Line", "layout_current"]

#: Blank pixels kept at the panel's edges.
MARGIN = 1
#: Between the icon and the temperature.
ICON_GAP = 3
#: Between the hero and the details (at least; spare rows are spread over the gaps).
GROUP_GAP = 2
#: Between two detail lines.
LINE_GAP = 2
#: Between the hero and the detail column of the side-by-side arrangement.
COLUMN_GAP = 6
#: Between two details packed on one line.
SEPARATOR = "  "
#: A font choice that shows the condition word and this many details is good enough.
ENOUGH_DETAILS = 2


@dataclass(frozen=True)
class Hero:
    """One way to draw the icon and the temperature: icon size (0: none), font, and
    whether the unit letter follows the degree sign."""

    icon: int
    font: str
    letter: bool


#: Biggest first. A temperature is worth more than its unit letter, so a big font
#: without the letter beats a smaller one with it.
HEROES = (
    Hero(20, "xlarge", True),
    Hero(20, "xlarge", False),
    Hero(10, "large", True),
    Hero(10, "large", False),
    Hero(10, "medium", True),
    Hero(10, "medium", False),
    Hero(0, "medium", False),
    Hero(0, "small", False),
)


@dataclass(frozen=True)
class Line:
    """One line of the details: its text, font and colour."""

    text: str
    font: str
    color: RGB


def layout_current(
    width: int, height: int, weather: Weather, *, location: str = "", age: float = 0.0
) -> list[Piece]:
    """Place the current conditions on a ``width`` x ``height`` panel.

    :param location: a name to show when there is room ("" for none).
    :param age: seconds since the answer was fetched (to find today's high and low).
    """
    today = _today(weather, age)
    current = weather.current
    word = condition(current.code).text(day=current.is_day)
    details = _details(weather, today)
    if width >= 3 * height:
        return _side(width, height, weather, word, details, location)
    return _stack(width, height, weather, word, details, location)


def _today(weather: Weather, age: float) -> Day | None:
    date = weather.local_date(age)
    days = weather.days_from(date)
    return days[0] if days and days[0].date == date else None


def _details(weather: Weather, today: Day | None) -> list[str]:
    """The details after the condition word, most wanted first; missing data is left out."""
    current, unit = weather.current, weather.temperature_unit
    items = []
    if current.apparent is not None:
        items.append(f"Feels {temperature(current.apparent, unit, letter=False)}")
    if current.humidity is not None:
        items.append(f"Humidity {whole(current.humidity)}%")
    if current.wind_speed is not None:
        items.append(f"Wind {whole(current.wind_speed)} {weather.wind_unit}")
    if today is not None and today.high is not None and today.low is not None:
        high = temperature(today.high, unit, letter=False)
        low = temperature(today.low, unit, letter=False)
        items.append(f"High {high} Low {low}")
    return items


def _hero_size(hero: Hero, unit: str) -> tuple[int, int]:
    """``(width, height)`` the hero needs for any temperature."""
    text = ink_width(widest_temperature(unit, letter=hero.letter), hero.font)
    width = hero.icon + (ICON_GAP if hero.icon else 0) + text
    return width, max(hero.icon, band_height(hero.font, descenders=False))


def _detail_fonts(hero: Hero) -> tuple[str, ...]:
    """Fonts for the details: two sizes below the temperature's, so it stands out."""
    start = min(BIGGEST_FIRST.index(hero.font) + 2, len(BIGGEST_FIRST) - 1)
    return BIGGEST_FIRST[start:]


def _pack(items: Sequence[str], font: str, width: int) -> list[str]:
    """Put ``items`` on lines in order, several on one line where it is wide enough."""
    lines: list[str] = []
    for item in items:
        if ink_width(item, font) > width:
            continue
        joined = f"{lines[-1]}{SEPARATOR}{item}" if lines else ""
        if lines and ink_width(joined, font) <= width:
            lines[-1] = joined
        else:
            lines.append(item)
    return lines


def _lines_height(lines: Sequence[Line]) -> int:
    if not lines:
        return 0
    return sum(band_height(line.font) for line in lines) + LINE_GAP * (len(lines) - 1)


def _choose_lines(
    word: str, details: Sequence[str], fonts: Sequence[str], width: int, room: int
) -> list[Line]:
    """The detail lines for a ``width`` x ``room`` area: the biggest font that shows the
    condition word and :data:`ENOUGH_DETAILS` details, else the one that shows most."""
    best: list[Line] = []
    best_shown = 0
    for font in fonts:
        pitch = band_height(font) + LINE_GAP
        count = (room + LINE_GAP) // pitch
        if count < 1 or _widest_word(font) > width:
            continue
        packed = _pack(details, font, width)[: count - 1]
        lines = [Line(word, font, Colors.CONDITION)]
        lines += [Line(text, font, Colors.DETAIL) for text in packed]
        shown = 1 + sum(text.count(SEPARATOR) + 1 for text in packed)
        if shown >= min(1 + ENOUGH_DETAILS, 1 + len(details)):
            return lines
        if shown > best_shown:
            best, best_shown = lines, shown
    return best


@functools.cache
def _widest_word(font: str) -> int:
    """The widest condition word in ``font``: a font is only chosen if every word fits,
    so the layout stays put when the sky changes."""
    words = {UNKNOWN.word} | {w for c in CONDITIONS.values() for w in (c.word, c.night_word) if w}
    return max(ink_width(word, font) for word in words)


def _location_line(location: str, font: str, width: int) -> Line | None:
    """The location name, shortened with an ellipsis if it must be; ``None`` if empty or
    if fewer than three letters would be left."""
    text = location.strip()
    if ink_width(text, font) > width:
        # sdk.shorten fits advances, these layouts fit lit columns: the blank columns that
        # end the ellipsis may pass the edge. The space stops shorten from keeping the
        # whole text, whose last glyph may light its cell's last column (xlarge "J").
        face = load_font(font)
        room = width + face.measure(ELLIPSIS)[0] - ink_width(ELLIPSIS, font)
        text = shorten(text + " ", face, room)
    return Line(text, font, Colors.LOCATION) if len(text.strip(ELLIPSIS)) >= 3 else None


def _hero_pieces(x: int, y: int, hero: Hero, weather: Weather) -> list[Piece]:
    """The hero with its top left at ``(x, y)``, icon and digits centred on each other."""
    current, unit = weather.current, weather.temperature_unit
    _, height = _hero_size(hero, unit)
    pieces: list[Piece] = []
    if hero.icon:
        kind = condition(current.code).kind
        pieces.append(IconPiece(x, y + (height - hero.icon) // 2, kind, hero.icon, current.is_day))
        x += hero.icon + ICON_GAP
    top, bottom = band(hero.font, descenders=False)
    text_y = y + (height - (bottom - top)) // 2 - top
    text = temperature(current.temperature, unit, letter=hero.letter)
    pieces.append(TextPiece(x, text_y, text, load_font(hero.font), Colors.TEMPERATURE))
    return pieces


def _line_pieces(lines: Sequence[Line], y: int, x_of: dict[int, int]) -> list[Piece]:
    """Detail lines from ``y`` down; ``x_of`` maps a line's index to its x."""
    pieces: list[Piece] = []
    for index, line in enumerate(lines):
        top = band(line.font)[0]
        pieces.append(TextPiece(x_of[index], y - top, line.text, load_font(line.font), line.color))
        y += band_height(line.font) + LINE_GAP
    return pieces


def _stack(
    width: int,
    height: int,
    weather: Weather,
    word: str,
    details: Sequence[str],
    location: str,
) -> list[Piece]:
    inner_w, inner_h = width - 2 * MARGIN, height - 2 * MARGIN
    unit = weather.temperature_unit
    chosen: tuple[Hero, list[Line]] | None = None
    for hero in HEROES:
        hero_w, hero_h = _hero_size(hero, unit)
        if hero_w > inner_w or hero_h > inner_h:
            continue
        lines = _choose_lines(
            word, details, _detail_fonts(hero), inner_w, inner_h - hero_h - GROUP_GAP
        )
        if lines:
            chosen = (hero, lines)
            break
        if chosen is None:
            chosen = (hero, [])
    if chosen is None:
        return []
    hero, lines = chosen
    hero_w, hero_h = _hero_size(hero, unit)
    used = hero_h + (GROUP_GAP + _lines_height(lines) if lines else 0)
    header = None
    for font in dict.fromkeys([lines[-1].font if lines else "small", "small"]):
        line = _location_line(location, font, inner_w)
        if line is not None and used + band_height(font) + GROUP_GAP <= inner_h:
            header = line
            break
    blocks = ([band_height(header.font)] if header else []) + [hero_h]
    blocks += [_lines_height(lines)] if lines else []
    tops = _spread(blocks, inner_h)
    pieces: list[Piece] = []
    if header is not None:
        x = MARGIN + (inner_w - ink_width(header.text, header.font)) // 2
        pieces += _line_pieces([header], MARGIN + tops.pop(0), {0: x})
    actual = _hero_width(hero, weather)
    pieces += _hero_pieces(MARGIN + (inner_w - actual) // 2, MARGIN + tops.pop(0), hero, weather)
    if lines:
        xs = {
            i: MARGIN + (inner_w - ink_width(ln.text, ln.font)) // 2 for i, ln in enumerate(lines)
        }
        pieces += _line_pieces(lines, MARGIN + tops.pop(0), xs)
    return pieces


def _side(
    width: int,
    height: int,
    weather: Weather,
    word: str,
    details: Sequence[str],
    location: str,
) -> list[Piece]:
    inner_w, inner_h = width - 2 * MARGIN, height - 2 * MARGIN
    unit = weather.temperature_unit
    for hero in HEROES:
        hero_w, hero_h = _hero_size(hero, unit)
        column = inner_w - hero_w - COLUMN_GAP
        if hero_h > inner_h or column <= 0:
            continue
        lines = _choose_lines(word, details, _detail_fonts(hero), column, inner_h)
        if lines:
            break
    else:
        return _stack(width, height, weather, word, details, location)
    header = _location_line(location, lines[0].font, column)
    if header is not None and _lines_height([header, *lines]) <= inner_h:
        lines = [header, *lines]
    # Spare columns go evenly left of the hero, between, and right of the text.
    text_w = max(ink_width(line.text, line.font) for line in lines)
    spare = max(0, inner_w - hero_w - COLUMN_GAP - text_w) // 3
    hero_x = MARGIN + spare
    column_x = hero_x + hero_w + COLUMN_GAP + spare
    pieces = _hero_pieces(hero_x, MARGIN + (inner_h - hero_h) // 2, hero, weather)
    lines_y = MARGIN + (inner_h - _lines_height(lines)) // 2
    pieces += _line_pieces(lines, lines_y, {i: column_x for i in range(len(lines))})
    return pieces


def _hero_width(hero: Hero, weather: Weather) -> int:
    """The hero's width for the temperature now (for centring it)."""
    text = temperature(weather.current.temperature, weather.temperature_unit, letter=hero.letter)
    return hero.icon + (ICON_GAP if hero.icon else 0) + ink_width(text, hero.font)


def _spread(heights: Sequence[int], room: int) -> list[int]:
    """Tops of blocks of ``heights`` spread down ``room`` rows: at least
    :data:`GROUP_GAP` between them, spare rows shared by the gaps and both ends."""
    spare = room - sum(heights) - GROUP_GAP * (len(heights) - 1)
    share = max(0, spare) // (len(heights) + 1)
    y = max(0, spare - share * (len(heights) - 1)) // 2
    tops = []
    for block in heights:
        tops.append(y)
        y += block + GROUP_GAP + share
    return tops
