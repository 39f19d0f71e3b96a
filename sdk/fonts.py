"""The pixel fonts bundled with ledhost, and measuring text set in them.

LED panels are a few dozen pixels tall, where anti-aliased vector fonts turn to mush; the
X11 misc-fixed bitmap fonts were drawn pixel by pixel for such sizes, and are in the
public domain (``sdk/fonts/LICENSE``). They ship as BDF text files and are turned into
Pillow fonts in memory on first use, so nothing is ever written into the installed
package, which may be read-only.

Pillow's bitmap fonts hold 256 glyphs addressed by a Latin-1 string. :class:`Font` maps
any text onto those slots first (:meth:`Font.encode`): Latin-1 as is, the Windows-1252
punctuation (``€ – — ‘ ’ “ ” …``) in 0x80-0x9F, accented letters the font lacks by their
base letter, everything else to the font's "missing glyph" box. Drawing and measuring both
go through that mapping, so a measured width is always the drawn width.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Sequence
from importlib import resources

from PIL import BdfFontFile, Image, ImageDraw, ImageFont

__all__ = ["ELLIPSIS", "Font", "fit_font", "font_names", "load_font", "shorten", "wrap"]

#: What :func:`shorten` ends a cut text with.
ELLIPSIS = "\u2026"

#: Bundled font name -> BDF file in ``sdk/fonts``; see ``sdk/fonts/README.md``.
_BUNDLED: dict[str, str] = {
    "small": "4x6.bdf",
    "medium": "6x10.bdf",
    "large": "7x13.bdf",
    "xlarge": "10x20.bdf",
}

#: The slot the font's DEFAULT_CHAR glyph goes to. Not 0: Pillow stops reading text at NUL.
_MISSING_SLOT = 0x7F

#: Stand-ins for characters that neither Windows-1252 nor a Unicode decomposition covers
#: but that turn up in weather, sports and news text.
_STAND_INS: dict[str, str] = {
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2015": "\u2014",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2032": "'",  # prime
    "\u2033": '"',  # double prime
    "\u2190": "<-",
    "\u2192": "->",
    "\u2191": "^",
    "\u2193": "v",
}


class Font:
    """A bundled pixel font, ready to draw with Pillow and to measure exactly.

    Get one with :func:`load_font` (or ``context.font(name)``); each font is loaded once
    per process and shared, so treat it as read-only.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        name: str,
        file: str,
        ascent: int,
        descent: int,
        pil: ImageFont.ImageFont,
        slots: frozenset[int],
    ) -> None:
        #: The name :func:`load_font` knows it by, e.g. ``"small"``.
        self.name = name
        #: The BDF file it was loaded from, e.g. ``"4x6.bdf"``.
        self.file = file
        #: Pixels from the top of the line box down to the baseline.
        self.ascent = ascent
        #: Pixels below the baseline, for descenders (g, j, p, q, y).
        self.descent = descent
        #: Line height in pixels, ``ascent + descent``: the height of every drawn line box.
        self.height = ascent + descent
        #: The Pillow font; pass text through :meth:`encode` before handing it to Pillow.
        self.pil = pil
        self._slots = slots
        self._encoded: dict[str, str] = {}
        self._cell_inks: dict[str, tuple[int, int, int, int] | None] = {}

    def __repr__(self) -> str:
        return f"<Font {self.name!r} {self.file} height={self.height}>"

    def encode(self, text: str) -> str:
        """Return ``text`` as the string of glyph slots Pillow draws for it.

        Whitespace becomes a space, characters the font cannot show become similar ones
        it can (``ő`` -> ``o``, ``−`` -> ``-``) or its missing-glyph box. Never raises.
        """
        text = unicodedata.normalize("NFC", text)
        return "".join(self._encode_char(char) for char in text)

    def measure(self, text: str) -> tuple[int, int]:
        """Return ``(width, height)`` of the line box ``text`` occupies when drawn.

        ``width`` is the exact advance in pixels (where the next text would start);
        ``height`` is :attr:`height`, also for an empty string.
        """
        return int(self.pil.getlength(self.encode(text))), self.height

    def ink_box(self, text: str) -> tuple[int, int, int, int] | None:
        """Return the box ``(x0, y0, x1, y1)`` of the pixels ``text`` lights, or ``None``.

        Coordinates are relative to the top left of the line box, ``x1``/``y1`` exclusive.
        Layouts use it to centre what the eye sees rather than the line box, whose blank
        rows above capitals and below the baseline differ from font to font.
        """
        width, height = self.measure(text)
        if width == 0:
            return None
        mask = Image.new("1", (width, height))
        ImageDraw.Draw(mask).text((0, 0), self.encode(text), font=self.pil, fill=1)
        return mask.getbbox()

    def cell_ink(self, glyphs: str) -> tuple[int, int, int, int] | None:
        """Return the box ``(x0, y0, x1, y1)`` any one of ``glyphs`` lights in its cell.

        The union of :meth:`ink_box` of each character alone, relative to its own cell
        (``x1``/``y1`` exclusive), or ``None`` when none of them lights anything. Laying
        out by this box rather than by the ink of the text shown now keeps a line still
        while its digits tick over: a ``1`` is narrower than a ``0`` and a ``:`` shorter
        than both, but a line placed by the box of ``"0123456789:"`` never moves.
        Cached per font and glyph set, so it costs nothing to ask on every frame.

        .. versionadded:: 0.1
        """
        try:
            return self._cell_inks[glyphs]
        except KeyError:
            pass
        boxes = [box for box in map(self.ink_box, glyphs) if box is not None]
        union: tuple[int, int, int, int] | None = None
        if boxes:
            union = (
                min(box[0] for box in boxes),
                min(box[1] for box in boxes),
                max(box[2] for box in boxes),
                max(box[3] for box in boxes),
            )
        self._cell_inks[glyphs] = union
        return union

    def steady_width(self, text: str, glyphs: str) -> int:
        """Return the width of the lit columns of ``text`` when any character could be any
        of ``glyphs``: the advance of all but its last character, plus the width of
        :meth:`cell_ink` of ``glyphs``.

        What to centre a changing line by (a clock, a countdown): the widest any such
        text can light, from its first possible lit column, so the line neither jumps
        nor changes size when ``11:11`` becomes ``10:00``. ``0`` for empty ``text`` or
        when none of ``glyphs`` lights anything. Scaled text is this times the scale.

        .. versionadded:: 0.1
        """
        box = self.cell_ink(glyphs)
        encoded = self.encode(text)
        if box is None or not encoded:
            return 0
        return int(self.pil.getlength(encoded[:-1])) + box[2] - box[0]

    def _encode_char(self, char: str) -> str:
        cached = self._encoded.get(char)
        if cached is None:
            cached = self._encode_uncached(char)
            self._encoded[char] = cached
        return cached

    def _encode_uncached(self, char: str) -> str:
        if char.isspace():
            return " "
        direct = self._slot(char)
        if direct is not None:
            return direct
        stand_in = _STAND_INS.get(char)
        if stand_in is not None:
            mapped = [self._slot(c) for c in stand_in]
            if all(m is not None for m in mapped):
                return "".join(m for m in mapped if m is not None)
        # Compatibility decomposition without the combining marks: ő -> o, ﬁ -> fi, ℃ -> °C.
        parts = [c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)]
        mapped = [self._slot(c) for c in parts]
        if parts and all(m is not None for m in mapped):
            return "".join(m for m in mapped if m is not None)
        return chr(_MISSING_SLOT)

    def _slot(self, char: str) -> str | None:
        slot = _slot_for(ord(char))
        if slot is None or slot not in self._slots:
            return None
        return chr(slot)


def font_names() -> list[str]:
    """Return the names :func:`load_font` accepts, smallest font first.

    .. versionadded:: 0.1
    """
    return list(_BUNDLED)


def fit_font(
    text: str,
    width: int,
    height: int | None = None,
    names: Sequence[str] | None = None,
) -> Font | None:
    """Return the biggest font in which ``text`` fits ``width`` (and ``height``), or ``None``.

    The rule every builtin follows for text of unknown length: shrink to the next font
    until it fits, and scroll it (a strip) when even the smallest does not, so text is
    never clipped mid-glyph.

    :param text: one line of text.
    :param width: the room in pixels across.
    :param height: the room in pixels down, or ``None`` for no limit.
    :param names: the fonts to try, in the order to try them; by default every bundled
        font from the biggest down.

    .. versionadded:: 0.1
    """
    for name in reversed(font_names()) if names is None else names:
        font = load_font(name)
        text_width, text_height = font.measure(text)
        if text_width <= width and (height is None or text_height <= height):
            return font
    return None


def shorten(text: str, font: Font, width: int, *, at_words: bool = False, scale: int = 1) -> str:
    """Return ``text`` cut to fit ``width`` pixels in whole glyphs, ending in an ellipsis.

    For text that may neither scroll nor shrink further (a label under a clock, a team
    name): cutting at a glyph boundary and saying so beats a letter sliced in half.

    :param at_words: cut after a whole word instead, when that keeps at least half the
        room; a single long word is still cut between letters.
    :param scale: the text is drawn this many times as big (see :meth:`sdk.Canvas.text`).
    :return: ``text`` itself if it fits; ``""`` if not even one letter and the ellipsis do.

    .. versionadded:: 0.1
    """

    def measure(part: str) -> int:
        return font.measure(part)[0] * scale

    if measure(text) <= width:
        return text
    cut = len(text)
    while cut > 0 and measure(text[:cut].rstrip() + ELLIPSIS) > width:
        cut -= 1
    head = text[:cut].rstrip()
    if at_words and not text[len(head) : len(head) + 1].isspace():
        words = head.rpartition(" ")[0].rstrip()
        if words and measure(words + ELLIPSIS) * 2 >= width:
            head = words
    return head + ELLIPSIS if head else ""


def wrap(text: str, font: Font, width: int, *, scale: int = 1) -> list[str] | None:
    """Return ``text`` broken at spaces into lines no wider than ``width`` pixels.

    :param scale: the text is drawn this many times as big.
    :return: the lines (none for blank text), or ``None`` when one word alone is wider
        than ``width``: the caller then shrinks, shortens or scrolls instead.

    .. versionadded:: 0.1
    """
    lines: list[str] = []
    for word in text.split():
        if font.measure(word)[0] * scale > width:
            return None
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and font.measure(joined)[0] * scale <= width:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines


def load_font(name: str) -> Font:
    """Return the bundled font called ``name`` (see :func:`font_names`).

    Loaded on first use and cached for the life of the process.

    :raises ValueError: if there is no such font; the message lists the known names.

    .. versionadded:: 0.1
    """
    if not isinstance(name, str) or name not in _BUNDLED:
        known = ", ".join(repr(n) for n in _BUNDLED)
        raise ValueError(f"unknown font {name!r}: the bundled fonts are {known}")
    return _load_bundled(name)


@functools.cache
def _load_bundled(name: str) -> Font:
    file = _BUNDLED[name]
    data = resources.files("sdk").joinpath("fonts", file).read_bytes()
    return _font_from_bdf(name, file, data)


def _font_from_bdf(name: str, file: str, data: bytes) -> Font:
    """Parse a Unicode-encoded BDF font into a :class:`Font`.

    Pillow keeps only glyphs encoded 0-255, so the ``ENCODING`` lines are rewritten to
    Pillow's slots (see :func:`_slot_for`) before Pillow reads the file.
    """
    properties: dict[str, str] = {}
    lines = data.split(b"\n")
    in_header = True
    for index, line in enumerate(lines):
        if in_header:
            if line.startswith(b"STARTCHAR"):
                in_header = False
            else:
                key, _, value = line.decode("ascii", "replace").partition(" ")
                properties[key] = value.strip().strip('"')
                continue
        if line.startswith(b"ENCODING "):
            code = int(line.split()[1])
            lines[index] = b"ENCODING %d" % _slot_for_bdf(code, properties)
    try:
        ascent = int(properties["FONT_ASCENT"])
        descent = int(properties["FONT_DESCENT"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"font file {file} lacks FONT_ASCENT/FONT_DESCENT") from exc
    font_file = BdfFontFile.BdfFontFile(io.BytesIO(b"\n".join(lines)))
    slots = frozenset(i for i, glyph in enumerate(font_file.glyph) if glyph is not None)
    return Font(
        name=name,
        file=file,
        ascent=ascent,
        descent=descent,
        pil=font_file.to_imagefont(),
        slots=slots,
    )


def _slot_for_bdf(code: int, properties: dict[str, str]) -> int:
    """The Pillow slot for the glyph a BDF file encodes as ``code``; -1 drops it."""
    default = properties.get("DEFAULT_CHAR")
    if default is not None and default.isdigit() and code == int(default):
        return _MISSING_SLOT
    slot = _slot_for(code)
    return -1 if slot is None else slot


def _slot_for(code: int) -> int | None:
    """The Pillow slot of Unicode code point ``code``: Windows-1252, which is Latin-1
    with printable punctuation where Latin-1 has control codes 0x80-0x9F."""
    if code < 0x20 or code == _MISSING_SLOT:
        return None
    if code < 0x80 or 0xA0 <= code <= 0xFF:
        return code
    try:
        encoded = chr(code).encode("cp1252")
    except UnicodeEncodeError:
        return None
    return encoded[0]
