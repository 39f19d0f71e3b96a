"""Frame math: from the content on screen to the pixels pushed to the panel.

Pure numpy on preallocated buffers; no I/O, and time only as the ``now`` the host passes
in. The host loop decides *when* to compose (only when something changed, up to the
frame-rate ceiling) and calls these. Each push goes through three steps:

1. the content: a worker's frame as it is (a read-only view into its shared-memory
   slot), or a strip's current position, a plain slice of a band built once;
2. the transition from the previous mode, while one runs (:mod:`host.display.transitions`);
3. the colour transform, last: brightness, gamma and tint as lookup tables
   (:mod:`host.display.color`), exact integers with no ``uint8 * int`` overflow traps.

A copy of step 2's result (before colour) is kept as what is on screen, so the next
transition starts from exactly that, whatever the previous worker does meanwhile.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from host.display.color import ColorSettings, ColorTransform
from host.display.transitions import Transitioner, TransitionSpec, progress_at
from host.ipc.strip import StripImage

Pixels = npt.NDArray[np.uint8]


class Compositor:
    """Owns the output buffer the backend is pushed from."""

    def __init__(self, width: int, height: int, brightness: int = 100, gamma: float = 1.0) -> None:
        self.width = width
        self.height = height
        self.out: Pixels = np.zeros((height, width, 3), dtype=np.uint8)
        #: Where the next output goes instead of :attr:`out` (it is :attr:`out` from then
        #: on): the preview bus's next slot while a preview is open, so the frame is
        #: composed where the web process reads it, with no copy (host.control.preview_bus).
        self.next_out: Pixels | None = None
        self.color = ColorTransform(width, height, ColorSettings(brightness, gamma))
        self.transitioner = Transitioner(width, height)
        #: What is on screen before colour: where the next transition starts from.
        self.shown: Pixels = np.zeros((height, width, 3), dtype=np.uint8)
        self._old: Pixels = np.zeros((height, width, 3), dtype=np.uint8)
        self._blank: Pixels = np.zeros((height, width, 3), dtype=np.uint8)
        self._transition: tuple[TransitionSpec, float] | None = None
        self._band: Pixels | None = None
        # The strip the band was built from, held so its id can never be reused by a
        # newer strip (an id-keyed cache showed a freed strip's pixels for a new one).
        self._band_strip: StripImage | None = None

    # -- colour -----------------------------------------------------------------------------

    @property
    def brightness(self) -> int:
        return self.color.settings.brightness

    def set_brightness(self, percent: int) -> None:
        """Scale every channel by ``percent`` (0-100), rounding to nearest."""
        settings = self.color.settings
        self.set_color(ColorSettings(max(0, min(100, int(percent))), settings.gamma, settings.tint))

    def set_color(self, settings: ColorSettings) -> None:
        """Brightness, gamma and tint from now on (cheap when unchanged)."""
        self.color.configure(settings)

    # -- transitions ------------------------------------------------------------------------

    def begin_transition(self, spec: TransitionSpec, now: float) -> None:
        """Start moving from what is on screen to whatever is composed next."""
        if spec.kind == "cut" or spec.duration <= 0:
            self._transition = None
            return
        np.copyto(self._old, self.shown)
        self._transition = (spec, now)

    def transitioning(self, now: float) -> bool:
        """Whether a transition still runs at ``now`` (the host then pushes every frame)."""
        if self._transition is None:
            return False
        spec, started = self._transition
        if progress_at(spec, now - started) >= 1.0:
            self._transition = None
            return False
        return True

    # -- composing --------------------------------------------------------------------------

    def compose(self, image: Pixels | None, now: float = 0.0) -> Pixels:
        """The output for ``image`` (``None``: blank) at ``now``, transition and colour applied.

        :returns: :attr:`out`, overwritten by the next call.
        """
        content = self._blank if image is None else image
        if self.transitioning(now):
            assert self._transition is not None
            spec, started = self._transition
            content = self.transitioner.render(
                spec, self._old, content, progress_at(spec, now - started)
            )
        np.copyto(self.shown, content)
        return self.color.apply(content, self.fresh_out())

    def fresh_out(self) -> Pixels:
        """The buffer for a new output, :attr:`out` from now on: :attr:`next_out` if one
        is given (a slot no reader may be copying), else :attr:`out` itself."""
        if self.next_out is not None:
            self.out, self.next_out = self.next_out, None
        return self.out

    def compose_frame(self, pixels: Pixels, now: float = 0.0) -> Pixels:
        """The output for a worker frame (the caller checked its shape)."""
        return self.compose(pixels, now)

    # -- strips -----------------------------------------------------------------------------

    def strip_period(self, strip: StripImage) -> int:
        """Pixels of motion before the strip repeats: its width plus the gap."""
        gap = self.width if strip.gap is None else strip.gap
        return int(strip.pixels.shape[1]) + gap

    def strip_view(self, strip: StripImage, offset: int) -> Pixels:
        """``strip`` moved ``offset`` pixels left from just off the right edge, uncoloured.

        The strip plus its gap is laid out once as a band one panel longer than a period,
        so every position is a plain slice (a view) of it: no per-frame allocation.
        """
        if self._band is None or self._band_strip is not strip:
            self._band = self._build_band(strip)
            self._band_strip = strip
        # Offset 0 shows blank (the strip's start sits at the right edge); the start of the
        # band is the gap, so the strip enters from the right.
        start = offset % self.strip_period(strip)
        return self._band[:, start : start + self.width]

    def compose_strip(self, strip: StripImage, offset: int, now: float = 0.0) -> Pixels:
        """The output with ``strip`` at ``offset`` (see :meth:`strip_view`)."""
        return self.compose(self.strip_view(strip, offset), now)

    def _build_band(self, strip: StripImage) -> Pixels:
        gap = self.width if strip.gap is None else strip.gap
        period = self.strip_period(strip)
        # Layout: [gap blank][strip] repeated; with the gap first, offset 0 is a blank
        # panel (for the default gap) with the strip about to enter from the right.
        cycle = np.zeros((self.height, period, 3), dtype=np.uint8)
        cycle[:, gap : gap + strip.pixels.shape[1]] = strip.pixels
        reps = (period + self.width) // period + 1
        band: Pixels = np.ascontiguousarray(np.tile(cycle, (1, reps, 1))[:, : period + self.width])
        return band
