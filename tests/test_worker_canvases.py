"""The worker's one canvas: black for every frame, as made, whatever the last frame did.

:class:`host.worker.canvases.CanvasKeeper` reuses one canvas between frames (issue 15: a
new Pillow image per frame was a good part of an idle worker's second). What a plugin
sees must not change: a canvas cleared to black, with the attributes a new one has, and
anything a plugin did that a clear cannot undo gets a new canvas.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFont

from host.worker.canvases import CanvasKeeper
from sdk.canvas import Canvas


def _pixels(keeper: CanvasKeeper, canvas: Canvas, size: tuple[int, int]) -> np.ndarray:
    """The frame the keeper hands the bus, as a ``(height, width, 3)`` array to look at."""
    frame = keeper.frame(canvas, size)
    if isinstance(frame, bytes):
        return np.frombuffer(frame, dtype=np.uint8).reshape(size[1], size[0], 3)
    return frame


SIZE = (64, 32)


def _scribble(canvas: Canvas) -> None:
    canvas.draw.rectangle((0, 0, 63, 31), fill=(200, 10, 10))
    canvas.text(2, 2, "12:34", "small", (255, 255, 255))


def test_the_same_canvas_comes_back_black_each_frame() -> None:
    keeper = CanvasKeeper()
    for frame in range(20):
        canvas = keeper.blank(SIZE)
        assert canvas.size == SIZE
        assert not _pixels(keeper, canvas, SIZE).any(), f"frame {frame} did not start black"
        _scribble(canvas)
        drawn = _pixels(keeper, canvas, SIZE)
        assert drawn.shape == (32, 64, 3) and drawn.dtype == np.uint8
        assert np.array_equal(drawn, canvas.to_array())
    assert keeper.made == 1


def test_what_a_plugin_set_is_undone() -> None:
    keeper = CanvasKeeper()
    canvas = keeper.blank(SIZE)
    made = dict(canvas.__dict__), dict(canvas.draw.__dict__)
    canvas.draw.font = ImageFont.load_default()
    canvas.draw.fontmode = "1"
    canvas.width = 3
    canvas.extra = "left over"  # type: ignore[attr-defined]
    again = keeper.blank(SIZE)
    assert again is canvas
    assert (dict(again.__dict__), dict(again.draw.__dict__)) == made


def test_a_canvas_the_plugin_changed_is_replaced() -> None:
    keeper = CanvasKeeper()
    # Its image swapped for another: that image is the frame; the next canvas is new.
    canvas = keeper.blank(SIZE)
    canvas.image = Image.new("RGB", SIZE, (1, 2, 3))
    assert np.array_equal(_pixels(keeper, canvas, SIZE)[0, 0], [1, 2, 3])
    fresh = keeper.blank(SIZE)
    assert fresh is not canvas and not fresh.to_array().any()
    # Its image shrunk or given an alpha channel in place: not reused either.
    fresh.image.thumbnail((16, 8))
    assert _pixels(keeper, fresh, SIZE).shape == (8, 16, 3)
    other = keeper.blank(SIZE)
    assert other is not fresh and other.image.size == SIZE
    other.image.putalpha(255)
    third = keeper.blank(SIZE)
    assert third is not other and third.image.mode == "RGB"
    assert keeper.made == 4


def test_another_size_gets_its_own_canvas() -> None:
    keeper = CanvasKeeper()
    keeper.blank(SIZE)
    region = keeper.blank((20, 10))
    assert region.size == (20, 10) and region.image.size == (20, 10)
    assert _pixels(keeper, region, (20, 10)).shape == (10, 20, 3)
    assert keeper.made == 2


def test_pixels_read_as_pillow_reads_them_at_every_size() -> None:
    """The keeper reads its canvas with Pillow's raw encoder called directly (issue 15):
    byte for byte what ``Image.tobytes`` gives, at panel sizes and odd ones, frame after
    frame (each frame gets its own encoder: one used twice crashes the process)."""
    keeper = CanvasKeeper()
    for size in [(64, 32), (128, 64), (256, 64), (1, 1), (3, 700), (4000, 2)]:
        for frame in range(3):
            canvas = keeper.blank(size)
            canvas.draw.line((0, 0, size[0] - 1, size[1] - 1), fill=(frame, 100, 255))
            canvas.image.putpixel((size[0] - 1, 0), (1, 2, 3 + frame))
            pixels = _pixels(keeper, canvas, size)
            assert pixels.shape == (size[1], size[0], 3)
            assert pixels.tobytes() == canvas.image.tobytes()
