"""Drawing coins: the ticker strip, a board page per coin, arrows and the 7-day chart.

Layouts are pure functions of the room, the coin and the style (:func:`board_layout`),
so tests can check that nothing leaves the panel without looking at pixels. Lines are
placed by the rows their glyphs can light (capitals, digits, ``%``), not by the text
shown now, so two coins' pages put their lines at the same height.

The up and down arrows are pixel triangles drawn with :meth:`sdk.Canvas.bitmap`: the
bundled fonts have no ▲ and ▼, and a triangle scaled to each font's digits reads better
than any stand-in letter.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugins_builtin.crypto.model import (
    Coin,
    change_direction,
    format_change,
    format_number,
    format_price,
)
from sdk import Canvas, Font, load_font
from sdk.canvas import RGB, parse_color

__all__ = [
    "Arrow",
    "BoardLayout",
    "Box",
    "Style",
    "Text",
    "arrow_rows",
    "board_layout",
    "change_pieces",
    "change_width",
    "draw_board",
    "draw_pieces",
    "draw_sparkline",
    "draw_strip",
    "strip_font",
]

#: Bundled fonts, biggest first.
_FONTS = ("xlarge", "large", "medium", "small")
#: Rows of the up/down triangle per font: about half the height of its digits.
_ARROW_ROWS = {"small": 3, "medium": 4, "large": 5, "xlarge": 6}
#: Glyphs whose lit rows fix where a line sits (see the module docstring).
_HEADER_GLYPHS = string.ascii_uppercase + string.digits + "%"
_PRICE_GLYPHS = string.ascii_uppercase + string.digits + ",.-$€£"
_NAME_GLYPHS = string.ascii_letters + string.digits
_LINE_GLYPHS = _HEADER_GLYPHS + _PRICE_GLYPHS
#: Blank pixel rows at least between two lines of a board page.
_MIN_GAP = 2
#: A change of 0.0 % and a coin's full name are drawn in these greys.
_FLAT_COLOR: RGB = (150, 150, 150)
_NAME_COLOR: RGB = (140, 140, 140)
#: Strips at least this tall draw each coin's 7-day chart under its line.
_STRIP_CHART_HEIGHT = 48
#: Symbols longer than this are cut on purpose (a few CoinGecko symbols are words).
_MAX_SYMBOL = 6


@dataclass(frozen=True)
class Style:
    """What the config says about looks, parsed once per render."""

    currency: str
    decimals: int = -1
    show_change: bool = True
    sparkline: bool = True
    symbol_color: RGB = (255, 176, 0)
    price_color: RGB = (255, 255, 255)
    up_color: RGB = (0, 224, 96)
    down_color: RGB = (255, 48, 64)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], currency: str) -> Style:
        """The style of ``config`` for prices in ``currency`` (the data's, not the config's:
        until the next fetch, data in the old currency keeps its own symbol)."""
        return cls(
            currency=currency,
            decimals=int(config.get("decimals", -1)),
            show_change=bool(config.get("show_change", True)),
            sparkline=bool(config.get("sparkline", True)),
            symbol_color=parse_color(config.get("symbol_color", "#ffb000")),
            price_color=parse_color(config.get("price_color", "#ffffff")),
            up_color=parse_color(config.get("up_color", "#00e060")),
            down_color=parse_color(config.get("down_color", "#ff3040")),
        )

    def change_color(self, direction: int) -> RGB:
        """Green up, red down, grey for no change (or the configured colours)."""
        if direction > 0:
            return self.up_color
        return self.down_color if direction < 0 else _FLAT_COLOR

    def price(self, coin: Coin) -> str:
        return format_price(coin.price, self.currency, self.decimals)

    def change(self, coin: Coin) -> float | None:
        return coin.change_24h if self.show_change else None


@dataclass(frozen=True)
class Box:
    """A rectangle of the panel: top left ``(x, y)``, ``w`` x ``h`` pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Text:
    """A line of text with its line box's top left at ``(x, y)``."""

    x: int
    y: int
    text: str
    font: Font
    color: RGB


@dataclass(frozen=True)
class Arrow:
    """An up or down triangle with its top left at ``(x, y)``."""

    x: int
    y: int
    rows: tuple[str, ...]
    color: RGB


@dataclass(frozen=True)
class BoardLayout:
    """Everything on one coin's page: the text and arrow pieces, and the chart's box."""

    pieces: tuple[Text | Arrow, ...]
    chart: Box | None


# -- pieces ------------------------------------------------------------------------------


@functools.cache
def arrow_rows(font_name: str, up: bool) -> tuple[str, ...]:
    """The triangle for text in ``font_name``, as :meth:`sdk.Canvas.bitmap` rows of ``#``."""
    n = _ARROW_ROWS[font_name]
    rows = tuple("." * (n - 1 - r) + "#" * (2 * r + 1) + "." * (n - 1 - r) for r in range(n))
    return rows if up else rows[::-1]


def _arrow_gap(font: Font) -> int:
    return 2 if font.name == "xlarge" else 1


def change_width(font: Font, percent: float) -> int:
    """Pixels across of the arrow and the change, e.g. ``▲2.3%``."""
    text_width = font.measure(format_change(percent))[0]
    if change_direction(percent) == 0:
        return text_width
    return 2 * _ARROW_ROWS[font.name] - 1 + _arrow_gap(font) + text_width


def change_pieces(x: int, y: int, font: Font, percent: float, style: Style) -> list[Text | Arrow]:
    """The arrow and the change with the line box's top left at ``(x, y)``."""
    direction = change_direction(percent)
    color = style.change_color(direction)
    pieces: list[Text | Arrow] = []
    if direction != 0:
        rows = arrow_rows(font.name, direction > 0)
        top, bottom = _ink_rows(font, string.digits)
        pieces.append(Arrow(x, y + top + (bottom - top - len(rows)) // 2, rows, color))
        x += len(rows[0]) + _arrow_gap(font)
    pieces.append(Text(x, y, format_change(percent), font, color))
    return pieces


def draw_pieces(canvas: Canvas, pieces: Sequence[Text | Arrow]) -> None:
    """Draw laid-out text and arrows on ``canvas``."""
    for piece in pieces:
        if isinstance(piece, Arrow):
            canvas.bitmap(piece.x, piece.y, piece.rows, {"#": piece.color})
        else:
            canvas.text(piece.x, piece.y, piece.text, piece.font, piece.color)


def _ink_rows(font: Font, glyphs: str) -> tuple[int, int]:
    """Top and bottom (exclusive) of the rows any of ``glyphs`` lights in a line box."""
    box = font.cell_ink(glyphs)
    assert box is not None, f"none of {glyphs!r} lights a pixel in {font.name}"
    return box[1], box[3]


def _ink_height(font: Font, glyphs: str) -> int:
    top, bottom = _ink_rows(font, glyphs)
    return bottom - top


# -- the strip ---------------------------------------------------------------------------


def strip_font(height: int) -> Font:
    """The biggest font whose line fits a strip ``height`` pixels high."""
    for name in _FONTS:
        font = load_font(name)
        if font.height <= height:
            return font
    return load_font("small")


def draw_strip(
    coins: Sequence[Coin], style: Style, height: int, *, stale: bool
) -> tuple[Canvas, int]:
    """One strip of every coin, ``BTC $43,251 ▲2.3%   ETH $2,280 ▼0.8%``.

    On strips of 48 pixels and more each coin's 7-day chart runs under its line. With
    ``stale``, every coin carries the stale mark, so it is seen whichever coin is passing.

    :returns: the strip and the blank pixels between two coins (the strip's loop gap).
    """
    font = strip_font(height)
    gap = 3 * font.measure(" ")[0]
    chart = style.sparkline and height >= _STRIP_CHART_HEIGHT and any(c.sparkline for c in coins)
    items = [_strip_item(coin, style, font, height, chart=chart, stale=stale) for coin in coins]
    width = sum(item.width for item in items) + gap * (len(items) - 1)
    canvas = Canvas(max(width, 1), height)
    x = 0
    for item in items:
        canvas.image.paste(item.image, (x, 0))
        x += item.width + gap
    return canvas, gap


def _strip_item(
    coin: Coin, style: Style, font: Font, height: int, *, chart: bool, stale: bool
) -> Canvas:
    space = font.measure(" ")[0]
    symbol = coin.symbol[:_MAX_SYMBOL]
    price = style.price(coin)
    change = style.change(coin)
    width = font.measure(symbol)[0] + space + font.measure(price)[0]
    if change is not None:
        width += space + change_width(font, change)
    top, bottom = _ink_rows(font, _LINE_GLYPHS)
    line = bottom - top
    chart_height = 0
    if chart:
        chart_height = min(line + 6, height - line - 3 - 4)
    block = line + (3 + chart_height if chart_height > 0 else 0)
    y = (height - block) // 2 - top
    item = Canvas(width, height)
    x = item.text(0, y, symbol, font, style.symbol_color) + space
    x = item.text(x, y, price, font, style.price_color) + space
    if change is not None:
        draw_pieces(item, change_pieces(x, y, font, change, style))
    if chart_height > 0 and len(coin.sparkline) >= 2:
        box = Box(0, y + bottom + 3, width, chart_height)
        draw_sparkline(item, box, coin.sparkline, style)
    if stale:
        item.mark_stale()
    return item


# -- a board page ------------------------------------------------------------------------


def board_layout(width: int, height: int, coin: Coin, style: Style) -> BoardLayout:
    """Place one coin's page on a ``width`` x ``height`` panel.

    The symbol and the change share the top line, the price is the biggest text, and
    where there is room the 7-day chart goes beside (wide panels: 128x32, 256x64) or
    below (128x64) the text, and the coin's name under the price (256x64). A chart only
    takes room the price can spare: never at the cost of a price smaller than the large
    font that it would otherwise get.
    """
    whole = _text_layout(Box(0, 0, width, height), coin, style)
    plans: list[tuple[Box, Box]] = []
    if style.sparkline and len(coin.sparkline) >= 2:
        if width >= 3 * height:
            # 80 of 128x32 for a price in the biggest font, half of 256x64 for balance.
            text_width = width // 2 if height >= 48 else width * 5 // 8
            chart = Box(text_width + 2, 2, width - text_width - 4, height - 4)
            plans.append((Box(0, 0, text_width, height), chart))
        elif height >= 48:
            chart_height = height * 3 // 8
            chart = Box(2, height - chart_height - 2, width - 4, chart_height)
            plans.append((Box(0, 0, width, height - chart_height - 2), chart))
    for text_box, chart_box in plans:
        text = _text_layout(text_box, coin, style)
        if text.price_font.height >= min(whole.price_font.height, load_font("large").height):
            return BoardLayout(text.pieces, chart_box)
    return BoardLayout(whole.pieces, None)


@dataclass(frozen=True)
class _TextLayout:
    pieces: tuple[Text | Arrow, ...]
    price_font: Font


def _text_layout(box: Box, coin: Coin, style: Style) -> _TextLayout:
    """Symbol and change over the price (and the name, in a tall box) inside ``box``."""
    fonts = [load_font(name) for name in _FONTS]
    small = fonts[-1]
    room = box.w - 2
    change = style.change(coin)
    symbol = coin.symbol[:_MAX_SYMBOL]

    def fits_down(*lines: tuple[Font, str]) -> bool:
        total = sum(_ink_height(font, glyphs) for font, glyphs in lines)
        return total + _MIN_GAP * (len(lines) + 1) <= box.h

    def header_width(font: Font, text: str) -> int:
        width = font.measure(text)[0]
        if change is not None:
            width += font.measure(" ")[0] + change_width(font, change)
        return width

    def price_font_for(text: str) -> Font | None:
        return next(
            (
                f
                for f in fonts
                if f.measure(text)[0] <= room
                and fits_down((f, _PRICE_GLYPHS), (small, _HEADER_GLYPHS))
            ),
            None,
        )

    # The currency goes when it would leave the price in the smallest font, and the bare
    # number gets a bigger one (0.00000912 at 64x32).
    price = style.price(coin)
    price_font = price_font_for(price) or small
    if price_font is small:
        number = format_number(coin.price, style.decimals)
        number_font = price_font_for(number)
        if number_font is not None and number_font.height > small.height:
            price, price_font = number, number_font
    # The price is the biggest text: the top line is set smaller (unless both are small).
    header_font = next(
        (
            f
            for f in fonts
            if (f.height < price_font.height or f is small)
            and header_width(f, symbol) <= room
            and fits_down((price_font, _PRICE_GLYPHS), (f, _HEADER_GLYPHS))
        ),
        small,
    )
    while len(symbol) > 1 and header_width(header_font, symbol) > room:
        symbol = symbol[:-1]  # shortened on purpose rather than clipped by the change

    lines: list[tuple[Font, str]] = [(header_font, _HEADER_GLYPHS), (price_font, _PRICE_GLYPHS)]
    name_font = None
    if box.h >= 48 and coin.name != coin.symbol:
        name_font = next(
            (
                f
                for f in fonts
                if f.height < price_font.height
                and f.height <= header_font.height
                and f.measure(coin.name)[0] <= room
                and fits_down(*lines, (f, _NAME_GLYPHS))
            ),
            None,
        )
        if name_font is not None:
            lines.append((name_font, _NAME_GLYPHS))

    # Spread the lines' lit rows evenly down the box.
    heights = [_ink_height(font, glyphs) for font, glyphs in lines]
    free = box.h - sum(heights)
    between = max(_MIN_GAP, free // (len(lines) + 1))
    cursor = box.y + (free - between * (len(lines) - 1)) // 2
    tops = []
    for (font, glyphs), height in zip(lines, heights, strict=True):
        tops.append(cursor - _ink_rows(font, glyphs)[0])
        cursor += height + between

    pieces: list[Text | Arrow] = [Text(box.x + 1, tops[0], symbol, header_font, style.symbol_color)]
    if change is not None:
        x = box.x + box.w - 1 - change_width(header_font, change)
        pieces += change_pieces(x, tops[0], header_font, change, style)
    price_x = box.x + (box.w - price_font.measure(price)[0]) // 2
    pieces.append(Text(price_x, tops[1], price, price_font, style.price_color))
    if name_font is not None:
        name_x = box.x + (box.w - name_font.measure(coin.name)[0]) // 2
        pieces.append(Text(name_x, tops[2], coin.name, name_font, _NAME_COLOR))
    return _TextLayout(tuple(pieces), price_font)


def draw_board(canvas: Canvas, coin: Coin, style: Style) -> None:
    """Draw ``coin``'s page on the whole canvas."""
    layout = board_layout(canvas.width, canvas.height, coin, style)
    draw_pieces(canvas, layout.pieces)
    if layout.chart is not None:
        draw_sparkline(canvas, layout.chart, coin.sparkline, style)


# -- the chart ---------------------------------------------------------------------------


def draw_sparkline(canvas: Canvas, box: Box, prices: Sequence[float], style: Style) -> None:
    """The prices as a line over a dim fill, scaled to fill ``box``.

    Coloured by the trend over the whole chart (7 days), like CoinGecko's own charts:
    up colour when the last price is at or above the first.
    """
    if len(prices) < 2 or box.w < 2 or box.h < 2:
        return
    columns = [prices[round(i * (len(prices) - 1) / (box.w - 1))] for i in range(box.w)]
    low, high = min(prices), max(prices)
    bottom = box.y + box.h - 1

    def row(value: float) -> int:
        if high == low:
            return box.y + (box.h - 1) // 2
        return bottom - round((value - low) / (high - low) * (box.h - 1))

    color = style.up_color if prices[-1] >= prices[0] else style.down_color
    dim = (color[0] // 4, color[1] // 4, color[2] // 4)
    rows = [row(value) for value in columns]
    for i, y in enumerate(rows):
        if y < bottom:
            canvas.draw.line((box.x + i, y + 1, box.x + i, bottom), fill=dim)
    for i in range(1, len(rows)):
        canvas.draw.line((box.x + i - 1, rows[i - 1], box.x + i, rows[i]), fill=color)
