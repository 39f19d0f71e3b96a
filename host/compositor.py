"""Frame math: from the newest source frame or a strip position to the pixels pushed.

Pure numpy on preallocated buffers; no I/O and no clock. The host loop decides *when* to
compose (only when something changed, up to the frame-rate ceiling) and calls these.
Brightness is a 256-entry lookup table applied with ``np.take``: exact integer results
without the uint8 overflow traps of ``uint8 * int`` arithmetic, and one pass over memory.
"""

from __future__ import annotations

import numpy as np

from host.worker_handle import StripImage


class Compositor:
    """Owns the output buffer the backend is pushed from."""

    def __init__(self, width: int, height: int, brightness: int = 100) -> None:
        self.width = width
        self.height = height
        self.out = np.zeros((height, width, 3), dtype=np.uint8)
        self._lut = np.arange(256, dtype=np.uint8)
        self.brightness = 100
        self.set_brightness(brightness)
        self._band: np.ndarray | None = None
        self._band_key: tuple[int, int | None] | None = None

    def set_brightness(self, percent: int) -> None:
        """Scale every channel by ``percent`` (0-100), rounding to nearest."""
        percent = max(0, min(100, int(percent)))
        self.brightness = percent
        self._lut = ((np.arange(256, dtype=np.uint32) * percent + 50) // 100).astype(np.uint8)

    def _apply(self, source: np.ndarray) -> np.ndarray:
        if self.brightness == 100:
            np.copyto(self.out, source)
        else:
            np.take(self._lut, source, out=self.out)
        return self.out

    def compose_frame(self, pixels: np.ndarray) -> np.ndarray:
        """The output for a worker frame (the caller checked its shape)."""
        return self._apply(pixels)

    def blank(self) -> np.ndarray:
        self.out.fill(0)
        return self.out

    # -- strips ---------------------------------------------------------------------------

    def strip_period(self, strip: StripImage) -> int:
        """Pixels of motion before the strip repeats: its width plus the gap."""
        gap = self.width if strip.gap is None else strip.gap
        return int(strip.pixels.shape[1]) + gap

    def compose_strip(self, strip: StripImage, offset: int) -> np.ndarray:
        """The output with ``strip`` moved ``offset`` pixels left from just off the right edge.

        The strip plus its gap is laid out once as a band twice as long as needed, so every
        position is a plain slice (a view) of it: no per-frame allocation or concatenation.
        """
        key = (id(strip), strip.gap)
        if self._band is None or self._band_key != key:
            self._band = self._build_band(strip)
            self._band_key = key
        period = self.strip_period(strip)
        # Offset 0 shows blank (the strip's start sits at the right edge); the start of the
        # band is the gap, so the strip enters from the right.
        start = offset % period
        return self._apply(self._band[:, start : start + self.width])

    def _build_band(self, strip: StripImage) -> np.ndarray:
        gap = self.width if strip.gap is None else strip.gap
        period = strip.pixels.shape[1] + gap
        band = np.zeros((self.height, period + self.width, 3), dtype=np.uint8)
        # Layout: [W blank][strip][gap blank] repeated; the first W columns make offset 0
        # a blank panel with the strip about to enter from the right.
        cycle = np.zeros((self.height, period, 3), dtype=np.uint8)
        cycle[:, gap : gap + strip.pixels.shape[1]] = strip.pixels
        reps = (period + self.width) // period + 1
        tiled = np.tile(cycle, (1, reps, 1))
        band[:] = tiled[:, : period + self.width]
        return band
