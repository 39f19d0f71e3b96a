"""Pictures on a tiny display: decode safely, scale without blurring pixel art, paste.

An LED panel has a few thousand pixels, so how an image is scaled decides whether it is
recognisable. Pillow's defaults are made for photos on screens: they blur an 8x8 sprite
into mush when enlarging, and decode a 100-megapixel "image" a stranger uploaded. This
module makes the right choice by default:

- :func:`scale_image` enlarges with nearest-neighbour (pixel art keeps square pixels, at a
  whole-number factor where that fits) and reduces photos with a smooth filter;
- :func:`load_frames` checks an image's size *before* decoding its pixels, refuses
  truncated files, composites animation frames and gives each frame's duration with the
  browsers' rules for GIF timing;
- :func:`paste_image` and :func:`paste_centered` put the result on a :class:`sdk.Canvas`,
  alpha-aware and clipped.

Everything here is CPU work on whole images: call it from ``refresh_data`` (or ``setup``)
and keep the scaled result, so ``render_frame`` only pastes.

.. versionadded:: 0.1
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from sdk.errors import PluginError

if TYPE_CHECKING:
    from sdk.canvas import Canvas

__all__ = [
    "DECODED_FORMATS",
    "ImageError",
    "ImageTooLargeError",
    "frame_seconds",
    "is_pixel_art",
    "iter_frames",
    "load_frames",
    "paste_centered",
    "paste_image",
    "scale_image",
]

#: Pillow formats :func:`load_frames` decodes. Pillow reads dozens more (PSD, TIFF,
#: ICNS...), some with a history of parser bugs; what users put on a sign is one of these.
DECODED_FORMATS: Final = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
#: What ``fit`` may be.
SCALE_MODES: Final = ("fit", "fill", "stretch")
#: What ``resample`` may be.
RESAMPLES: Final = ("auto", "nearest", "smooth")
#: At most this many distinct colours make an image "pixel art" (see :func:`is_pixel_art`).
PIXEL_ART_COLORS: Final = 256
#: A frame shorter than this plays for :data:`DEFAULT_FRAME_SECONDS` instead, as browsers
#: do: many GIFs say 0 or 10 ms and were only ever seen at ~100 ms.
MIN_FRAME_SECONDS: Final = 0.02
#: The duration of an animation frame that gives none (or too short a one).
DEFAULT_FRAME_SECONDS: Final = 0.1


class ImageError(PluginError, ValueError):
    """An image that cannot or must not be decoded: not an image, truncated, corrupt.

    A :class:`sdk.PluginError` (its text is meant for the user) and a ``ValueError`` (it is
    bad input), so either ``except`` catches it.

    .. versionadded:: 0.1
    """


class ImageTooLargeError(ImageError):
    """An image whose pixel count is over the limit (a "decompression bomb" or a photo far
    bigger than any panel needs); refused before its pixels are decoded.

    .. versionadded:: 0.1
    """


def is_pixel_art(image: Image.Image) -> bool:
    """Whether ``image`` is drawn pixel by pixel: a palette image, or at most
    :data:`PIXEL_ART_COLORS` distinct colours.

    Such an image is never smoothed by :func:`scale_image` with ``resample="auto"``: every
    pixel is a deliberate choice, and a smoothing filter invents colours between them.
    Counting colours stops after :data:`PIXEL_ART_COLORS` + 1, so a photo costs one pass.

    .. versionadded:: 0.1
    """
    if image.mode in ("1", "P", "PA"):
        return True
    return image.getcolors(maxcolors=PIXEL_ART_COLORS) is not None


def scale_image(
    image: Image.Image,
    width: int,
    height: int,
    *,
    mode: str = "fit",
    resample: str = "auto",
    pixel_art: bool | None = None,
) -> Image.Image:
    """Return ``image`` scaled for a ``width`` x ``height`` box.

    :param mode: ``"fit"``: the whole image, aspect ratio kept, at most ``width`` x
        ``height`` (not padded: paste it with :func:`paste_centered`); ``"fill"``: covers
        the box, aspect ratio kept, the overflow cropped evenly from both sides, exactly
        ``width`` x ``height``; ``"stretch"``: exactly ``width`` x ``height``, aspect
        ratio ignored.
    :param resample: ``"auto"``: nearest-neighbour when enlarging or when the image is
        pixel art (:func:`is_pixel_art`), a smooth filter (Lanczos) when reducing a photo;
        ``"nearest"`` or ``"smooth"`` force one filter. Pixel art enlarged in ``"fit"``
        mode grows by a whole-number factor (the largest that fits), so every source pixel
        becomes the same square block instead of some rows doubling and others not.
    :param pixel_art: ``True`` or ``False`` to decide for :func:`is_pixel_art`; give it
        for every frame of an animation so all frames scale alike (``None``: decide from
        this image).
    :return: a new image, ``"RGBA"`` if ``image`` has an alpha channel or transparency,
        ``"RGB"`` otherwise.
    :raises ValueError: for a size that is not a positive integer or an unknown
        ``mode`` or ``resample``, naming the accepted values.

    .. versionadded:: 0.1
    """
    _check_size(width, height)
    if mode not in SCALE_MODES:
        raise ValueError(f"scale mode {mode!r} is unknown: use one of {', '.join(SCALE_MODES)}")
    if resample not in RESAMPLES:
        raise ValueError(f"resample {resample!r} is unknown: use one of {', '.join(RESAMPLES)}")
    if not isinstance(image, Image.Image):
        raise ValueError(f"scale_image needs a PIL.Image.Image, got {type(image).__name__}")
    source_w, source_h = image.size
    if source_w == 0 or source_h == 0:
        raise ValueError(f"cannot scale an empty {source_w}x{source_h} image")
    if pixel_art is None:
        pixel_art = resample != "smooth" and is_pixel_art(image)
    source = _as_rgb_or_rgba(image)

    if mode == "stretch":
        enlarging = width >= source_w and height >= source_h
        target, box = (width, height), None
    elif mode == "fit":
        scale = min(width / source_w, height / source_h)
        enlarging = scale >= 1
        if pixel_art and enlarging and resample != "smooth":
            factor = math.floor(scale + 1e-9)
            target = (source_w * factor, source_h * factor)
        else:
            target = _fit_size(source_w, source_h, width, height)
        box = None
    else:  # fill
        scale = max(width / source_w, height / source_h)
        enlarging = scale >= 1
        # The part of the source that covers the box, centred, in source pixels.
        crop_w, crop_h = width / scale, height / scale
        left, top = (source_w - crop_w) / 2, (source_h - crop_h) / 2
        # A crop of whole pixels starts on a whole pixel: a half-pixel offset would
        # resample (blur) an image that only needed cropping.
        if abs(crop_w - round(crop_w)) < 1e-6:
            left = float((source_w - round(crop_w)) // 2)
        if abs(crop_h - round(crop_h)) < 1e-6:
            top = float((source_h - round(crop_h)) // 2)
        right, bottom = min(source_w, left + crop_w), min(source_h, top + crop_h)
        target, box = (width, height), (max(0.0, left), max(0.0, top), right, bottom)

    nearest = resample == "nearest" or (resample == "auto" and (enlarging or pixel_art))
    if target == source.size and box is None:
        return source.copy() if source is image else source
    if nearest:
        return source.resize(target, Image.Resampling.NEAREST, box=box)
    # reducing_gap: shrink by whole factors first (fast, exact), Lanczos for the rest.
    return source.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def paste_image(canvas: Canvas, image: Image.Image, x: int, y: int) -> None:
    """Draw ``image`` on ``canvas`` with its top left corner at ``(x, y)``.

    Transparent and translucent pixels blend with what the canvas holds (alpha over);
    what falls outside the canvas is clipped, so ``x`` and ``y`` may be negative.

    .. versionadded:: 0.1
    """
    if not isinstance(image, Image.Image):
        raise ValueError(f"paste_image needs a PIL.Image.Image, got {type(image).__name__}")
    source = _as_rgb_or_rgba(image)
    if source.mode == "RGBA":
        # Pillow's paste with a mask is "alpha over" for an opaque target, and clips.
        canvas.image.paste(source.convert("RGB"), (int(x), int(y)), source.getchannel("A"))
    else:
        canvas.image.paste(source, (int(x), int(y)))


def paste_centered(
    canvas: Canvas,
    image: Image.Image,
    box: tuple[int, int, int, int] | None = None,
) -> tuple[int, int]:
    """Draw ``image`` centred in ``box`` on ``canvas``; return the top left used.

    :param box: ``(x, y, width, height)`` of the area (default: the whole canvas). An
        image bigger than the box is clipped to the box, centred; an odd pixel left over
        goes to the right and bottom, as in :meth:`sdk.Canvas.text_centered`.
    :return: ``(x, y)`` on the canvas of the image's top left corner (negative or left of
        the box when the image is bigger than the box).

    .. versionadded:: 0.1
    """
    if box is None:
        box = (0, 0, canvas.width, canvas.height)
    box_x, box_y, box_w, box_h = box
    if box_w <= 0 or box_h <= 0:
        raise ValueError(f"paste_centered needs a box of positive size, got {box!r}")
    image_w, image_h = image.size
    x = box_x + (box_w - image_w) // 2
    y = box_y + (box_h - image_h) // 2
    if image_w > box_w or image_h > box_h:
        # Keep what overflows the box off the rest of the canvas (a layout's other region).
        left, top = max(0, box_x - x), max(0, box_y - y)
        image = image.crop((left, top, left + min(image_w, box_w), top + min(image_h, box_h)))
        paste_image(canvas, image, x + left, y + top)
    else:
        paste_image(canvas, image, x, y)
    return (x, y)


def load_frames(
    source: bytes | Path,
    *,
    max_frames: int = 500,
    max_pixels: int = 4_000_000,
) -> list[tuple[Image.Image, float]]:
    """Decode an image file into ``[(frame, seconds), ...]``, every frame complete RGBA.

    A still image gives one frame with duration ``0.0`` (it has no timing). An animated
    GIF, PNG or WebP gives each frame composited as a browser shows it (earlier frames,
    disposal and transparency applied) with its duration: one that is missing or shorter
    than :data:`MIN_FRAME_SECONDS` plays :data:`DEFAULT_FRAME_SECONDS`, as in browsers.
    A JPEG's EXIF orientation is applied, so phone photos stand upright.

    :param source: the file's bytes, or its path.
    :param max_frames: decode at most this many frames; the rest of a longer animation
        is left out.
    :param max_pixels: refuse an image of more pixels than this (width x height),
        checked from its header before any pixel is decoded.
    :raises ImageTooLargeError: the image has more than ``max_pixels`` pixels.
    :raises ImageError: not an image of :data:`DECODED_FORMATS`, truncated or corrupt;
        the message names the file and the problem.

    For big animations, :func:`iter_frames` yields one frame at a time, so each can be
    scaled down before the next is decoded.

    .. versionadded:: 0.1
    """
    return list(iter_frames(source, max_frames=max_frames, max_pixels=max_pixels))


def iter_frames(
    source: bytes | Path,
    *,
    max_frames: int = 500,
    max_pixels: int = 4_000_000,
    draft_size: tuple[int, int] | None = None,
) -> Iterator[tuple[Image.Image, float]]:
    """Like :func:`load_frames`, one frame at a time.

    Memory then holds one decoded frame (plus what the caller keeps) instead of every
    frame of an animation at full size.

    :param draft_size: the smallest ``(width, height)`` the caller needs; a JPEG is then
        decoded at 1/2, 1/4 or 1/8 of its size where that still covers it (the decoder
        does this almost for free), and ``max_pixels`` applies to that reduced size. A
        12-megapixel phone photo bound for a 128x64 panel decodes as 0.2 megapixels.
    :raises ImageTooLargeError, ImageError: as :func:`load_frames` (while iterating).

    .. versionadded:: 0.1
    """
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a positive integer, got {max_frames!r}")
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    if draft_size is not None:
        _check_size(*draft_size)
    # Arguments are checked above, now; the generator below runs on the first next().
    return _frames(source, max_frames, max_pixels, draft_size)


def _frames(
    source: bytes | Path, max_frames: int, max_pixels: int, draft_size: tuple[int, int] | None
) -> Iterator[tuple[Image.Image, float]]:
    name = str(source) if isinstance(source, Path) else f"image data ({len(source)} bytes)"
    try:
        image = _open(source, name)
    except OSError as exc:
        raise ImageError(f"{name}: cannot be read: {exc}") from exc
    with image:
        if draft_size is not None and image.format == "JPEG":
            # A rotated photo swaps its sides, so ask for the longer side both ways.
            side = max(draft_size)
            image.draft("RGB", (side, side))
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"{name}: {width}x{height} is {width * height:,} pixels, more than the "
                f"limit of {max_pixels:,}; make the image smaller"
            )
        animated = bool(getattr(image, "is_animated", False))
        try:
            if not animated:
                image.load()
                if image.format == "JPEG":
                    transposed = ImageOps.exif_transpose(image)
                    yield (transposed if transposed is not None else image).convert("RGBA"), 0.0
                else:
                    yield image.convert("RGBA"), 0.0
                return
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                if index >= max_frames:
                    return
                if frame.size != (width, height):
                    raise ImageError(f"{name}: frame {index} changes the image's size")
                # convert() copies: the iterator reuses one image object for every frame.
                yield frame.convert("RGBA"), frame_seconds(frame.info.get("duration"))
        except ImageError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise ImageError(f"{name}: the image is truncated or corrupt ({exc})") from exc


def frame_seconds(duration_ms: object) -> float:
    """An animation frame's duration in seconds from Pillow's ``info["duration"]`` (ms).

    Missing, zero or under :data:`MIN_FRAME_SECONDS` means :data:`DEFAULT_FRAME_SECONDS`,
    the browsers' convention, which is what the GIF's author saw.

    .. versionadded:: 0.1
    """
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int | float):
        return DEFAULT_FRAME_SECONDS
    seconds = float(duration_ms) / 1000.0
    if not math.isfinite(seconds) or seconds < MIN_FRAME_SECONDS:
        return DEFAULT_FRAME_SECONDS
    return seconds


def _open(source: bytes | Path, name: str) -> Image.Image:
    """Open ``source`` (reading only its header); turn Pillow's refusals into ours."""
    stream: io.BytesIO | Path = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return Image.open(stream, formats=DECODED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: refused as a decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{name}: not an image ledhost reads; use PNG, JPEG, GIF, WebP or BMP"
        ) from exc
    except (SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{name}: the image header is corrupt ({exc})") from exc


def _as_rgb_or_rgba(image: Image.Image) -> Image.Image:
    """``image`` itself if RGB or RGBA, else converted: RGBA when it has transparency."""
    if image.mode in ("RGB", "RGBA"):
        return image
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _fit_size(source_w: int, source_h: int, width: int, height: int) -> tuple[int, int]:
    """The largest size of the source's aspect ratio inside ``width`` x ``height``."""
    if width * source_h <= height * source_w:
        return (width, max(1, min(height, round(source_h * width / source_w))))
    return (max(1, min(width, round(source_w * height / source_h))), height)


def _check_size(width: object, height: object) -> None:
    for label, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer of pixels, got {value!r}")
