"""Draw a frame the way an LED panel looks: round dots on a dark board.

Snapshots and the web UI's live preview use this so that what a user sees on a screen
matches the panel on the wall. A flat nearest-neighbour upscale looks like a smooth
bitmap; a real HUB75 panel shows round LEDs with dark gaps between them, and its unlit LEDs
are still faintly visible. Everything here is whole-array numpy (one broadcast of a
per-scale dot mask), so it is cheap enough to run for every preview frame.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

DEFAULT_SCALE = 8
"""Output pixels per LED; 8 makes a 64x32 panel a 512x256 image."""

BACKGROUND = (8, 8, 8)
"""The board between LEDs: near black, as a panel's black plastic is under room light."""

UNLIT = (30, 30, 30)
"""An LED that is off (pushed as pure black): dark, but visible against the board."""

DOT_DIAMETER = 0.8
"""Diameter of an LED as a fraction of the pixel pitch."""


@functools.lru_cache(maxsize=16)
def dot_mask(scale: int) -> np.ndarray:
    """Return how much of each output pixel of one LED cell the dot covers, in [0, 1].

    The mask is ``(scale, scale)`` float32: 1 inside the dot, 0 in the gap, with a one
    pixel linear edge so the dot is antialiased rather than jagged. Below a scale of 3
    there is no room for a round dot, so the whole cell is lit (a plain upscale). The result
    is cached per scale and read-only, since every frame at that scale shares it.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if scale < 3:
        mask = np.ones((scale, scale), dtype=np.float32)
    else:
        centre = np.arange(scale, dtype=np.float32) + 0.5 - scale / 2
        distance = np.hypot(centre[:, None], centre[None, :])
        radius = DOT_DIAMETER * scale / 2
        mask = np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    mask.setflags(write=False)
    return mask


def led_look(frame: np.ndarray, scale: int = DEFAULT_SCALE) -> np.ndarray:
    """Return ``frame`` drawn as an LED panel, ``(height*scale, width*scale, 3)`` uint8.

    Each LED becomes a round dot on the :data:`BACKGROUND` board. A pure-black pixel is
    drawn as an :data:`UNLIT` LED, since a switched-off LED on a real panel is still
    visible, and a very dim one is lifted towards it so it never looks darker than an
    unlit LED. Any colour whose brightest channel is at least ``max(UNLIT)`` is exact at the
    dot's centre, which the preview and the tests rely on.

    :param frame: ``(height, width, 3)`` uint8 RGB.
    :param scale: output pixels per LED.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (height, width, 3) uint8, got {frame.shape} {frame.dtype}")
    height, width, _ = frame.shape
    mask = dot_mask(scale)
    unlit = np.asarray(UNLIT, dtype=np.float32)
    lift = np.clip(1.0 - frame.max(axis=2, keepdims=True) / unlit.max(), 0.0, 1.0)
    dots = frame + unlit * lift
    board = np.asarray(BACKGROUND, dtype=np.float32)
    # (h, 1, w, 1, 3) against (1, s, 1, s, 1) broadcasts to (h, s, w, s, 3): row-major
    # order of that shape is exactly the (h*s, w*s, 3) image, so the reshape is free.
    cells = board + (dots[:, None, :, None, :] - board) * mask[None, :, None, :, None]
    image: np.ndarray = np.rint(cells).astype(np.uint8)
    return image.reshape(height * scale, width * scale, 3)


def led_image(frame: np.ndarray, scale: int = DEFAULT_SCALE) -> Image.Image:
    """Return :func:`led_look` of ``frame`` as an RGB Pillow image, for saving or encoding."""
    return Image.fromarray(led_look(frame, scale))
