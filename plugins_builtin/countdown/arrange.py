"""Where the countdown's lines go: faces, the choice of fonts, and stacking the lines.

Pure functions of the display size and the strings to show, so they are tested without a
worker and cached per size and shape. Digits may be drawn at twice a bundled font's size
(a :class:`Face` with ``scale=2``): the bundled fonts stop at 10x20 pixels, which leaves
most of a 128x64 or 256x64 display empty, and pixel-doubled digits are what big LED
counters look like anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sdk import Canvas, Font, fit_font, load_font, shorten, wrap
from sdk.canvas import RGB

__all__ = ["Face", "Piece", "draw", "place_countdown", "place_text"]

#: Bundled fonts, largest first.
FONTS = ("xlarge", "large", "medium", "small")
#: Faces for digits and the done text, biggest first: doubled fonts, then the bundled
#: ones. "small" is not doubled: 8x12 blocks read worse than "large".
_BIG = (
    ("xlarge", 2),
    ("large", 2),
    ("medium", 2),
    ("xlarge", 1),
    ("large", 1),
    ("medium", 1),
    ("small", 1),
)
#: The smallest label font read from across a room; "small" is a last resort.
_LEGIBLE = "medium"
#: Blank pixels between lines, at least.
LINE_GAP = 2
#: Every glyph a counting line can hold, so lines keep still as digits tick over.
DIGIT_GLYPHS = "0123456789:d"
DAYS_GLYPHS = "0123456789 days"


@dataclass(frozen=True)
class Face:
    """A bundled font drawn ``scale`` times as big: each pixel a ``scale``-square block."""

    name: str
    scale: int = 1

    @property
    def font(self) -> Font:
        return load_font(self.name)

    @property
    def height(self) -> int:
        """Line height in pixels."""
        return self.font.height * self.scale

    def width(self, text: str) -> int:
        """Advance width of ``text`` in pixels."""
        return self.font.measure(text)[0] * self.scale

    def ink(self, glyphs: str) -> tuple[int, int, int, int]:
        """:meth:`sdk.Font.cell_ink` of ``glyphs``, enlarged; a blank line's is the line box."""
        box = self.font.cell_ink(glyphs) or (0, 0, 0, self.font.height)
        return (
            box[0] * self.scale,
            box[1] * self.scale,
            box[2] * self.scale,
            box[3] * self.scale,
        )


@dataclass(frozen=True)
class Piece:
    """One run of text to draw: line box top left ``(x, y)``, face and colour."""

    x: int
    y: int
    text: str
    face: Face
    color: RGB


@dataclass(frozen=True)
class _Line:
    """A line before placement. ``glyphs`` fixes its ink box: every glyph the line can
    hold for counting lines (so they keep still), its own text otherwise."""

    text: str
    face: Face
    color: RGB
    glyphs: str


def place_countdown(
    width: int,
    height: int,
    *,
    main: str,
    split: tuple[str, str] | None,
    label: str,
    below: bool,
    color: RGB,
    label_color: RGB,
) -> list[Piece]:
    """Place the time left and the label: the biggest digits that fit, with the label
    whole if it fits anywhere.

    :param main: the time left on one line, e.g. ``"12d 04:33:10"``.
    :param split: the same on two lines, ``("12 days", "04:33:10")``, or ``None``.
    :param label: the label, ``""`` for none.
    :param below: the label goes below the digits instead of above.
    """
    # The choice depends only on the shape of the text (the fonts are monospaced), so it
    # is made once per shape, not every second: digits all become "0" for the choice.
    real = {_shape(main): main}
    if split is not None:
        real.update({_shape(split[0]): split[0], _shape(split[1]): split[1]})
    shaped = (_shape(split[0]), _shape(split[1])) if split is not None else None
    chosen = _choose(width, height, _shape(main), shaped, label, below, color, label_color)
    lines = [replace(line, text=real[line.text]) if line.glyphs else line for line in chosen]
    return _stack(lines, width, height)


def _shape(text: str) -> str:
    return "".join("0" if c.isdigit() else c for c in text)


def place_text(text: str, width: int, height: int, color: RGB) -> list[Piece]:
    """Place ``text`` in the biggest face it fits in, wrapped at spaces onto lines; as a
    last resort shortened on one line in "small"."""
    for name, scale in _BIG:
        face = Face(name, scale)
        rows = wrap(text, face.font, width, scale=scale)
        if rows is None:
            continue
        lines = [_Line(row, face, color, text) for row in rows]
        if _stack_height(lines) <= height:
            return _stack(lines, width, height)
    small = Face("small")
    short = shorten(text, small.font, width, at_words=True)
    return _stack([_Line(short, small, color, text)], width, height)


@functools.lru_cache(maxsize=64)
def _choose(
    width: int,
    height: int,
    main: str,
    split: tuple[str, str] | None,
    label: str,
    below: bool,
    color: RGB,
    label_color: RGB,
) -> tuple[_Line, ...]:
    """Pick the lines and faces.

    Candidates are the time left on one line, or the days and the clock on two lines;
    each with a label smaller than the digits (or "small"). Preference, in order: digits
    at least as big as "medium", a label shown (when one is set), bigger digits, the whole
    label rather than a shortened one, a legible label, fewer lines, bigger days, a bigger
    label. So the label gives way only where it would leave the digits too small to read.
    """
    arrangements: list[list[tuple[str, str]]] = [
        [(main, DAYS_GLYPHS + ":" if "day" in main else DIGIT_GLYPHS)]
    ]
    if split is not None:
        arrangements.append([(split[0], DAYS_GLYPHS), (split[1], DIGIT_GLYPHS)])
    legible = load_font(_LEGIBLE).height
    top, bottom = Face(_LEGIBLE).ink(DIGIT_GLYPHS)[1::2]
    legible_digits = bottom - top
    best: tuple[tuple[int, ...], list[_Line]] | None = None
    for arrangement in arrangements:
        for name, scale in _BIG:
            digits = Face(name, scale)
            counting = _fit_counting(arrangement, digits, width, color)
            if counting is None:
                continue
            for label_line, shortened in _label_options(label, digits, width, label_color):
                lines = counting + ([label_line] if label_line else [])
                if _stack_height(lines) > height:
                    continue
                top, bottom = digits.ink(DIGIT_GLYPHS)[1::2]
                key = (
                    -min(bottom - top, legible_digits),
                    int(bool(label) and label_line is None),
                    top - bottom,
                    int(shortened),
                    int(label_line is not None and label_line.face.height < legible),
                    len(counting),
                    -counting[0].face.height,
                    -(label_line.face.height if label_line else 0),
                )
                if best is None or key < best[0]:
                    ordered = [label_line, *counting] if label_line and not below else lines
                    best = (key, ordered)
    if best is None:
        # Not even small digits fit: show them anyway, clipped by the display edge.
        return (_Line(main, Face("small"), color, DIGIT_GLYPHS),)
    return tuple(best[1])


def _fit_counting(
    arrangement: Sequence[tuple[str, str]], digits: Face, width: int, color: RGB
) -> list[_Line] | None:
    """The counting lines with the clock (the last line) in ``digits``, or ``None`` if it
    does not fit; a days line takes the biggest face no bigger than that which fits."""
    *head, (clock, glyphs) = arrangement
    if _ink_width(clock, digits, glyphs) > width:
        return None
    lines: list[_Line] = []
    for text, head_glyphs in head:
        faces = [Face(n, s) for n, s in _BIG if Face(n, s).height <= digits.height]
        face = next((f for f in faces if _ink_width(text, f, head_glyphs) <= width), None)
        if face is None:
            return None
        lines.append(_Line(text, face, color, head_glyphs))
    return [*lines, _Line(clock, digits, color, glyphs)]


def _label_options(
    label: str, digits: Face, width: int, color: RGB
) -> list[tuple[_Line | None, bool]]:
    """Ways to show the label beside ``digits``: ``(line or None, shortened)``.

    The label is set in a bundled font smaller than the digits (only "small" may match
    them). It shrinks (:func:`sdk.fit_font`) to the biggest such font it fits in whole,
    and any smaller one may be chosen for room; when it fits in none it is shortened in
    "small", which keeps the most of it. No label is always an option, the last resort.
    """
    options: list[tuple[_Line | None, bool]] = [(None, False)]
    if not label:
        return options
    allowed = [n for n in FONTS if load_font(n).height < digits.height or n == "small"]
    biggest = fit_font(label, width, names=allowed)
    if biggest is None:
        small = Face("small")
        short = shorten(label, small.font, width, at_words=True)
        options.append((_Line(short, small, color, ""), True))
        return options
    for name in allowed[allowed.index(biggest.name) :]:
        options.append((_Line(label, Face(name), color, ""), False))
    return options


def _stack_height(lines: Sequence[_Line]) -> int:
    rows = [_ink_rows(line) for line in lines]
    return sum(bottom - top for top, bottom in rows) + LINE_GAP * (len(lines) - 1)


def _stack(lines: Sequence[_Line], width: int, height: int) -> list[Piece]:
    """Centre each line by its ink and spread the lines evenly down the display."""
    if not lines:
        return []
    rows = [_ink_rows(line) for line in lines]
    heights = [bottom - top for top, bottom in rows]
    free = height - sum(heights)
    between = max(LINE_GAP, free // (len(lines) + 1)) if len(lines) > 1 else 0
    cursor = (free - between * (len(lines) - 1)) // 2
    pieces: list[Piece] = []
    for line, (top, _bottom), line_height in zip(lines, rows, heights, strict=True):
        glyphs = line.glyphs or line.text
        left = line.face.ink(glyphs)[0]
        x = (width - _ink_width(line.text, line.face, glyphs)) // 2 - left
        pieces.append(Piece(x, cursor - top, line.text, line.face, line.color))
        cursor += line_height + between
    return pieces


def _ink_width(text: str, face: Face, glyphs: str) -> int:
    """Width of the lit columns of ``text`` (:meth:`sdk.Font.steady_width`), enlarged."""
    return face.font.steady_width(text, glyphs) * face.scale


def _ink_rows(line: _Line) -> tuple[int, int]:
    box = line.face.ink(line.glyphs or line.text)
    return box[1], box[3]


def draw(canvas: Canvas, pieces: Sequence[Piece]) -> None:
    """Draw ``pieces``, doubled faces pixel by pixel (:meth:`sdk.Canvas.text`'s ``scale``)."""
    for piece in pieces:
        face = piece.face
        canvas.text(piece.x, piece.y, piece.text, face.font, piece.color, scale=face.scale)
