"""Image files made in the test, so every fixture is small, known pixel by pixel, and free.

Used by ``test_sdk_images.py`` and ``test_plugin_image.py``. Each function returns the
file's bytes; write them wherever the test needs them.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

#: The colours of :func:`pixel_art_png`'s sprite (besides its transparent corners).
SPRITE_COLORS = {"r": (230, 40, 40), "y": (250, 210, 40), "b": (40, 90, 230)}
#: An 8x8 sprite: a ring of red around yellow with a blue centre; "." is transparent.
SPRITE = [
    "..rrrr..",
    ".ryyyyr.",
    "ryybbyyr",
    "rybbbbyr",
    "rybbbbyr",
    "ryybbyyr",
    ".ryyyyr.",
    "..rrrr..",
]


def checkerboard(size: int = 8, cell: int = 1) -> Image.Image:
    """A black and white checkerboard of ``size`` x ``size`` cells of ``cell`` pixels."""
    cells = (np.indices((size, size)).sum(axis=0) % 2 * 255).astype(np.uint8)
    pixels = np.kron(cells, np.ones((cell, cell), dtype=np.uint8))
    return Image.fromarray(pixels).convert("RGB")


def sprite_image() -> Image.Image:
    """:data:`SPRITE` as an RGBA image with fully transparent corners."""
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    for y, row in enumerate(SPRITE):
        for x, char in enumerate(row):
            if char in SPRITE_COLORS:
                image.putpixel((x, y), (*SPRITE_COLORS[char], 255))
    return image


def pixel_art_png() -> bytes:
    """:func:`sprite_image` as a PNG."""
    return _save(sprite_image(), "PNG")


def gradient_image(width: int = 120, height: int = 80) -> Image.Image:
    """A photo-like RGB image: smooth gradients with a soft disc, thousands of colours."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 255 * xs / (width - 1)
    green = 255 * ys / (height - 1)
    disc = np.hypot(xs - width * 0.6, ys - height * 0.45) / (min(width, height) * 0.35)
    blue = 255 * np.clip(1.2 - disc, 0, 1)
    pixels = np.stack([red, green, blue], axis=2).round().astype(np.uint8)
    return Image.fromarray(pixels)


def gradient_jpeg(width: int = 120, height: int = 80, orientation: int | None = None) -> bytes:
    """:func:`gradient_image` as a JPEG, optionally with an EXIF orientation tag."""
    image = gradient_image(width, height)
    buffer = io.BytesIO()
    if orientation is None:
        image.save(buffer, "JPEG", quality=90)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


#: The colours and durations (ms) of :func:`animated_gif`'s frames.
GIF_COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
GIF_DURATIONS_MS = [80, 250, 500, 40]


def animated_gif(
    colors: list[tuple[int, int, int]] | None = None,
    durations_ms: list[int] | None = None,
    size: tuple[int, int] = (16, 8),
) -> bytes:
    """An animated GIF of solid frames, one colour and duration each, looping forever."""
    colors = colors or GIF_COLORS
    durations_ms = durations_ms or GIF_DURATIONS_MS
    frames = [Image.new("RGB", size, color) for color in colors]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations_ms,
        loop=0,
        optimize=False,
        disposal=1,
    )
    return buffer.getvalue()


def corrupt_png() -> bytes:
    """A real PNG cut off halfway through its pixel data."""
    noisy = Image.effect_noise((64, 64), 80).convert("RGB")
    data = _save(noisy, "PNG")
    return data[: len(data) // 2]


def huge_png_header(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data.

    Decoding it would need gigabytes; a safe loader refuses it from the header alone.
    """
    signature = b"\x89PNG\r\n\x1a\n"
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    return signature + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _save(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()
