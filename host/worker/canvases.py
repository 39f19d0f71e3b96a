"""One canvas per worker, cleared for each frame instead of made anew (issue 15).

A worker that draws once a second runs its render path with cold caches, where making a
Pillow image and its ``ImageDraw`` cost ~80 us and turning the image into an array
through ``__array_interface__`` ~90 us: as much again as the clock plugin's own drawing
(measured in the worker of ``benchmarks/idle.py``). :class:`CanvasKeeper` hands out the
same :class:`~sdk.canvas.Canvas` every frame, cleared to black as
:func:`sdk.hookspecs.render_frame` promises, and reads its pixels with Pillow's raw
encoder called directly: what ``Image.tobytes`` does, less its Python (the encoder
lookup, ``load``, the output list and join), ~110 -> ~60 us a frame at a frame a second
(issue 15, second round).

The plugin may do anything to the canvas it was given: replace its image or its draw,
change its size attributes, change the image's mode or size in place, set the draw's
font or ink. The canvas is reused only while it is as it was made (the same image, RGB,
of the size asked for); its attributes and the draw's are put back as they were made
before every frame, so nothing a plugin set on one frame is there on the next. Anything
else gets a new canvas, exactly as before. Nothing here is a boundary: a plugin only ever
sees its own canvas, in its own process.

Interface: ``CanvasKeeper().blank(size)`` before ``render_frame``, then
``CanvasKeeper.frame(canvas, size)`` for the frame bus (bytes, copied into its slot as
they are: an array made around them cost ~10 us a frame, cold).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, _imaging

from sdk.canvas import Canvas

__all__ = ["CanvasKeeper"]


class CanvasKeeper:
    """The worker's one canvas, kept between frames while the plugin left it reusable."""

    def __init__(self) -> None:
        self._canvas: Canvas | None = None
        self._image: Image.Image | None = None
        #: The canvas's and its draw's attributes as made, put back before each frame.
        self._attrs: dict[str, Any] = {}
        self._draw_attrs: dict[str, Any] = {}
        #: Canvases made (a test counts them: one per size while the plugin behaves).
        self.made = 0

    def blank(self, size: tuple[int, int]) -> Canvas:
        """A black canvas of ``size``: the kept one, cleared, where it can be."""
        canvas, image = self._canvas, self._image
        if canvas is not None and image is not None and _intact(image, size):
            canvas.__dict__.clear()
            canvas.__dict__.update(self._attrs)
            canvas.draw.__dict__.clear()
            canvas.draw.__dict__.update(self._draw_attrs)
            image.im.paste((0, 0, 0), (0, 0, *size))  # Image.paste's checks, skipped
            return canvas
        canvas = Canvas(*size)
        self.made += 1
        self._canvas, self._image = canvas, canvas.image
        self._attrs = dict(canvas.__dict__)
        self._draw_attrs = dict(canvas.draw.__dict__)
        return canvas

    def frame(self, canvas: Canvas, size: tuple[int, int]) -> npt.NDArray[np.uint8] | bytes:
        """The frame drawn on ``canvas``, as :meth:`~host.ipc.framebus.FrameWriter.publish`
        takes it: the kept image's RGB bytes, row by row, when the plugin left it intact
        (one ``tobytes``, copied into the bus slot as it is, with no array made around
        it); otherwise whatever :meth:`sdk.canvas.Canvas.to_array` makes of what it did
        (the frame bus checks the shape). The canvas is then not reused: the next frame
        gets a new one.
        """
        image = canvas.image
        if canvas is self._canvas and image is self._image and _intact(image, size):
            return _rgb_bytes(image, size)
        self._canvas = self._image = None
        return canvas.to_array()


def _rgb_bytes(image: Image.Image, size: tuple[int, int]) -> bytes:
    """``image.tobytes()`` of an intact RGB ``image`` of ``size``, in one encoder call
    with a buffer the size of the frame (Pillow's own loop, for a frame it ends at once).

    An encoder serves one image once (Pillow's ``tobytes`` makes one per call too: used
    again it crashes the process), so each frame gets its own.
    """
    bufsize = max(size[0] * size[1] * 3, size[0] * 4)
    encoder = _imaging.raw_encoder("RGB", "RGB")
    data: bytes
    try:
        encoder.setimage(image.im, (0, 0, *size))
        _, status, data = encoder.encode(bufsize)
        if not status:  # not all of it in one buffer (Pillow's own loop, kept for safety)
            chunks = [data]
            while not status:
                _, status, data = encoder.encode(bufsize)
                chunks.append(data)
            data = b"".join(chunks)
    finally:
        encoder.cleanup()
    if status < 0:
        raise RuntimeError(f"Pillow's raw encoder failed ({status}) on a {size} canvas")
    return data


def _intact(image: Image.Image, size: tuple[int, int]) -> bool:
    """Whether ``image`` is still an RGB image of ``size`` (in-place operations such as
    ``thumbnail`` or ``putalpha`` change that)."""
    return image.mode == "RGB" and image.size == size
