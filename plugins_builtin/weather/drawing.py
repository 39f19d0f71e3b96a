"""What the layouts produce (pieces of text and icons) and how numbers are written.

Layouts are pure functions from a size and the weather to a list of pieces, so they can
be tested and reasoned about without pixels; :func:`paint` is the only code that draws.
Text is placed by the rows its glyphs light (:func:`band`), not by the font's line box,
whose blank rows above the capitals differ from font to font.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from plugins_builtin.weather.icons import Kind, draw_icon
from sdk import Canvas, Font, load_font
from sdk.canvas import RGB

__all__ = [
    "BIGGEST_FIRST",
    "Colors",
    "IconPiece",
    "Piece",
    "TextPiece",
    "band",
    "band_height",
    "paint",
    "temperature",
    "whole",
    "ink_width",
    "widest_temperature",
]

#: The bundled fonts, biggest first.
BIGGEST_FIRST = ("xlarge", "large", "medium", "small")

#: Glyphs whose lit rows define a line's band: capitals and digits reach the top.
_TALL = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ°"
_DESCENDERS = "gjpqy"


class Colors:
    """The plugin's palette, picked on a panel: full white is for the one number that
    matters; the rest is dimmer so the eye finds the temperature first."""

    TEMPERATURE: RGB = (255, 255, 255)
    CONDITION: RGB = (255, 214, 120)
    DETAIL: RGB = (150, 176, 214)
    LOCATION: RGB = (120, 214, 140)
    WEEKDAY: RGB = (220, 220, 220)
    HIGH: RGB = (255, 150, 80)
    LOW: RGB = (96, 164, 255)
    PRECIPITATION: RGB = (70, 120, 230)
    DIVIDER: RGB = (36, 40, 52)
    MESSAGE: RGB = (160, 160, 160)


@dataclass(frozen=True)
class TextPiece:
    """Text whose line box's top left corner is at ``(x, y)``."""

    x: int
    y: int
    text: str
    font: Font
    color: RGB


@dataclass(frozen=True)
class IconPiece:
    """An icon whose top left corner is at ``(x, y)``."""

    x: int
    y: int
    kind: Kind
    size: int
    day: bool = True


Piece = TextPiece | IconPiece


def paint(canvas: Canvas, pieces: Iterable[Piece]) -> None:
    """Draw ``pieces`` in order."""
    for piece in pieces:
        if isinstance(piece, TextPiece):
            canvas.text(piece.x, piece.y, piece.text, piece.font, piece.color)
        else:
            draw_icon(canvas, piece.x, piece.y, piece.kind, piece.size, day=piece.day)


@functools.cache
def band(font_name: str, descenders: bool = True) -> tuple[int, int]:
    """``(top, bottom)``: the rows of a line box that text in ``font_name`` lights.

    ``top`` is where capitals and digits start; ``bottom`` (exclusive) is the baseline, or
    the lowest descender row when ``descenders`` is true. The difference is the line's
    height on the panel.
    """
    font = load_font(font_name)
    box = font.cell_ink(_TALL)
    assert box is not None
    bottom = font.ascent
    if descenders:
        low = font.cell_ink(_DESCENDERS)
        bottom = max(bottom, low[3] if low else bottom)
    return box[1], bottom


def band_height(font_name: str, descenders: bool = True) -> int:
    """The rows a line of ``font_name`` lights; see :func:`band`."""
    top, bottom = band(font_name, descenders)
    return bottom - top


def whole(value: float) -> int:
    """``value`` rounded half up to a whole number, as a thermometer is read.

    Never ``-0``: -0.4 is 0, and Python's ``round`` would make 0.5 and 2.5 disagree.
    """
    return math.floor(value + 0.5)


def temperature(value: float | None, unit: str, *, letter: bool = True) -> str:
    """``"23°C"``, ``"-4°"`` (without the unit letter), or ``"--°"`` for no data."""
    number = "--" if value is None else str(whole(value))
    return f"{number}°{unit if letter else ''}"


def widest_temperature(unit: str, *, letter: bool = True) -> str:
    """The widest temperature a layout must have room for (-12°, or 104° in Fahrenheit),
    so that the font chosen for 9° is the font for -12° too (the fonts are monospaced)."""
    return "-00°" + (unit if letter else "")


@functools.lru_cache(maxsize=2048)
def ink_width(text: str, font_name: str) -> int:
    """Columns from the start of ``text``'s line box to its last lit column, inclusive.

    What must fit the room: the font's advance also counts the blank column after the
    last glyph, and a layout that reserved it would give away a column at every edge.
    """
    box = load_font(font_name).ink_box(text)
    return 0 if box is None else box[2]
