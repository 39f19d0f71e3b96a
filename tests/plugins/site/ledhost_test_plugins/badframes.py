"""Replaces the canvas image with one of the wrong size or pixel format, most frames.

The bad behaviour: ``render_frame`` swaps ``canvas.image`` for a Pillow image that is,
call by call in a cycle of five: RGB but 3 pixels too wide, mode ``"L"`` (grey, one
channel), mode ``"RGBA"`` (four channels), mode ``"F"`` (32-bit float pixels, out of the
0-255 range) and, every fifth call, a correct RGB image of the display size. The cycle
follows the number of calls, not the ``frame`` argument, which only counts good frames.
The host must reject each bad frame with an error naming its shape or dtype, never put
it on the panel nor crash on it, and show the correct ones.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from sdk import Canvas, hookimpl

#: ``render_frame`` calls so far in this process.
_calls = [0]


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: bad frames")


@hookimpl
def render_frame(canvas: Canvas) -> float:
    kind = _calls[0] % 5
    _calls[0] += 1
    size = (canvas.width, canvas.height)
    if kind == 0:
        canvas.image = Image.new("RGB", (canvas.width + 3, canvas.height), (255, 0, 0))
    elif kind == 1:
        canvas.image = Image.new("L", size, 200)
    elif kind == 2:
        canvas.image = Image.new("RGBA", size, (0, 255, 0, 128))
    elif kind == 3:
        canvas.image = Image.new("F", size, 1000.5)
    else:
        canvas.clear((0, 255, 255))
    return 0.05
