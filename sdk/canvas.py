"""The canvas a plugin draws a frame (or a strip) on.

A :class:`Canvas` is a Pillow RGB image the size of the display plus the few helpers
pixel-font text needs: Pillow draws shapes and images well, but its text API knows
nothing of line boxes of bitmap fonts or of colours written as ``"#rrggbb"`` in a
plugin's config. The worker turns the finished canvas into a numpy array with
:meth:`Canvas.to_array` and hands it to the host through shared memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from sdk.fonts import Font, load_font

__all__ = ["STALE_COLOR", "Canvas", "Color", "RGB", "parse_color"]

#: An RGB triple of 0-255 integers.
RGB: TypeAlias = tuple[int, int, int]
#: What every colour argument accepts: ``(r, g, b)`` (a list too, as JSON config gives
#: it) or a ``"#rrggbb"`` / ``"#rgb"`` string.
Color: TypeAlias = RGB | Sequence[int] | str

#: The colour of the mark :meth:`Canvas.mark_stale` draws: orange, like a warning light.
STALE_COLOR: RGB = (255, 96, 0)

_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def parse_color(value: Color) -> RGB:
    """Return ``value`` as an ``(r, g, b)`` tuple of 0-255 integers.

    Config files and the web UI give colours as ``"#rrggbb"`` strings; code likes tuples.
    Accepting both everywhere spares each plugin its own parsing.

    :raises ValueError: naming the bad value and the accepted forms.

    .. versionadded:: 0.1
    """
    if isinstance(value, str):
        match = _HEX.fullmatch(value.strip())
        if match is None:
            raise ValueError(
                f"invalid colour {value!r}: expected '#rrggbb' (e.g. '#ff8800') or '#rgb'"
            )
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
        return (r, g, b)
    channels: list[int] = []
    if isinstance(value, Sequence) and len(value) == 3:
        channels = [
            int(c) for c in value if isinstance(c, int | np.integer) and not isinstance(c, bool)
        ]
    if len(channels) == 3 and all(0 <= c <= 255 for c in channels):
        return (channels[0], channels[1], channels[2])
    raise ValueError(
        f"invalid colour {value!r}: expected (r, g, b) with integers 0-255, or '#rrggbb'"
    )


def _font(font: str | Font) -> Font:
    return font if isinstance(font, Font) else load_font(font)


def _scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 16:
        raise ValueError(f"text scale must be a whole number from 1 to 16, got {scale!r}")
    return scale


class Canvas:
    """An RGB drawing surface of ``width`` x ``height`` pixels, black when created.

    Draw text with :meth:`text` and :meth:`text_centered`, anything else with Pillow
    through :attr:`draw` (colours for Pillow go through :func:`parse_color`), or put
    whole pixel arrays in with :meth:`paste_array`.

    .. versionadded:: 0.1
    """

    def __init__(self, width: int, height: int) -> None:
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise ValueError(f"canvas size must be positive integers, got {width!r}x{height!r}")
        #: Width in pixels.
        self.width = width
        #: Height in pixels.
        self.height = height
        #: The Pillow image behind the canvas, mode ``"RGB"``.
        self.image = Image.new("RGB", (width, height))
        #: A Pillow ``ImageDraw`` on :attr:`image`, for shapes, lines and pixels.
        self.draw = ImageDraw.Draw(self.image)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return (self.width, self.height)

    def clear(self, color: Color = (0, 0, 0)) -> None:
        """Fill the whole canvas with ``color``."""
        self.draw.rectangle((0, 0, self.width - 1, self.height - 1), fill=parse_color(color))

    def measure(self, text: str, font: str | Font = "small", *, scale: int = 1) -> tuple[int, int]:
        """Return ``(width, height)`` of ``text``'s line box in ``font`` (see
        :meth:`sdk.Font.measure`), ``scale`` times as big: exactly the room :meth:`text`
        will use."""
        width, height = _font(font).measure(text)
        return width * _scale(scale), height * scale

    def text(
        self,
        x: int,
        y: int,
        text: str,
        font: str | Font = "small",
        color: Color = (255, 255, 255),
        *,
        scale: int = 1,
    ) -> int:
        """Draw one line of ``text`` with its line box's top left corner at ``(x, y)``.

        ``y`` is the top of the line box, not the baseline, so stacking lines is adding
        heights: the baseline is at ``y + font.ascent``. Text outside the canvas is clipped.
        Characters the font lacks are drawn as a look-alike or a box, never an error.

        :param scale: draw each pixel of the font as a ``scale`` x ``scale`` block, for
            digits bigger than the biggest bundled font on a large display (a countdown
            on 256x64). Blocks stay crisp; the line box grows by the same factor.
        :return: the x just after the text, where a following piece of text would start.

        .. versionchanged:: 0.1 ``scale``.
        """
        scale = _scale(scale)
        face = _font(font)
        encoded = face.encode(text)
        width, height = face.measure(text)
        if not encoded or width == 0:
            return x + width * scale
        if scale == 1:
            self.draw.text((x, y), encoded, font=face.pil, fill=parse_color(color))
            return x + width
        mask = Image.new("L", (width, height))
        ImageDraw.Draw(mask).text((0, 0), encoded, font=face.pil, fill=255)
        mask = mask.resize((width * scale, height * scale), Image.Resampling.NEAREST)
        self.image.paste(parse_color(color), (x, y), mask)
        return x + width * scale

    def text_centered(
        self,
        text: str,
        font: str | Font = "small",
        color: Color = (255, 255, 255),
        *,
        y: int | None = None,
        scale: int = 1,
    ) -> tuple[int, int]:
        """Draw ``text`` centred horizontally, and vertically too unless ``y`` is given.

        Centring uses the line box, so text of one font keeps still when it changes;
        an odd pixel left over goes to the right and bottom.

        :param scale: as for :meth:`text`.
        :return: the ``(x, y)`` the line box was drawn at.
        """
        face = _font(font)
        width, height = self.measure(text, face, scale=scale)
        x = (self.width - width) // 2
        top = (self.height - height) // 2 if y is None else y
        self.text(x, top, text, face, color, scale=scale)
        return (x, top)

    def to_array(self) -> npt.NDArray[np.uint8]:
        """Return the pixels as a new ``(height, width, 3)`` ``uint8`` array (a copy)."""
        return np.array(self.image, dtype=np.uint8)

    def paste_array(self, pixels: npt.NDArray[np.uint8], x: int = 0, y: int = 0) -> None:
        """Copy an ``(h, w, 3)`` ``uint8`` array of RGB pixels onto the canvas at ``(x, y)``.

        For plugins that compute frames with numpy (plasma, game of life). The array must
        fit inside the canvas, so a frame of the wrong size fails loudly here instead of
        showing up cropped on the panel.

        :raises ValueError: if the array's shape, dtype or position is wrong.
        """
        if not isinstance(pixels, np.ndarray):
            raise ValueError(f"paste_array needs a numpy array, got {type(pixels).__name__}")
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(
                f"paste_array needs an (height, width, 3) RGB array, got shape {pixels.shape}"
            )
        if pixels.dtype != np.uint8:
            raise ValueError(
                f"paste_array needs dtype uint8 (0-255 per channel), got {pixels.dtype}; "
                "convert with np.clip(a, 0, 255).astype(np.uint8)"
            )
        height, width = pixels.shape[:2]
        if width == 0 or height == 0:
            return
        if x < 0 or y < 0 or x + width > self.width or y + height > self.height:
            raise ValueError(
                f"a {width}x{height} array at ({x}, {y}) does not fit the "
                f"{self.width}x{self.height} canvas"
            )
        self.image.paste(Image.fromarray(np.ascontiguousarray(pixels)), (x, y))

    def bitmap(self, x: int, y: int, rows: Sequence[str], palette: Mapping[str, Color]) -> None:
        """Draw a small picture written as text, one character per pixel.

        Pixel icons (weather symbols, arrows) read best as art in the source::

            SUN = ["..y..", ".yyy.", "yyyyy", ".yyy.", "..y.."]
            canvas.bitmap(2, 2, SUN, {"y": "#ffd000"})

        Characters missing from ``palette`` (``.`` and space by convention) are left
        untouched, so icons can sit on anything. Pixels outside the canvas are clipped.

        :raises ValueError: if a palette colour is invalid.

        .. versionadded:: 0.1
        """
        colors = {key: parse_color(value) for key, value in palette.items()}
        pixels = self.image.load()
        assert pixels is not None
        for dy, row in enumerate(rows):
            py = y + dy
            if not 0 <= py < self.height:
                continue
            for dx, char in enumerate(row):
                color = colors.get(char)
                px = x + dx
                if color is not None and 0 <= px < self.width:
                    pixels[px, py] = color

    def mark_stale(self, color: Color = STALE_COLOR) -> None:
        """Mark the frame as showing old data: three pixels folded over the top right corner.

        Network plugins keep showing their last good data when the network is down; this
        mark is how every one of them says "this is old", so users learn one sign. Draw it
        last, over the content.

        .. versionadded:: 0.1
        """
        rgb = parse_color(color)
        right = self.width - 1
        for px, py in ((right, 0), (right - 1, 0), (right, 1)):
            if 0 <= px and py < self.height:
                self.draw.point((px, py), fill=rgb)
