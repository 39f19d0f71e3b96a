"""Transitions between two frames: which kinds exist, and the pixels at a given progress.

Pure core (STYLE rule 17): no I/O and no clock. The host loop measures elapsed time, turns it
into a progress with :func:`progress_at` and asks :meth:`Transitioner.render` for the frame.
Everything is written into buffers allocated once per display size, because the host runs up
to 60 fps on a Raspberry Pi where a frame-sized allocation per tick is measurable garbage.

Geometry. Progress runs from 0 (the old frame, exactly) to 1 (the new frame, exactly). An
*offset* is ``round(progress * W)`` columns (or ``* H`` rows for up/down), rounding half up.
A direction names the way things *move*:

``cut``
    The old frame at progress 0, the new frame at any progress above 0. Its duration is
    ignored: :func:`progress_at` reports a cut complete at once.
``crossfade``
    Every pixel blends ``old * (1 - p) + new * p``, with ``p`` quantised to 1/256.
``slide-left``
    The new frame enters at the right edge and moves left, pushing the old frame out to the
    left: output columns ``[0, W - off)`` are old columns ``[off, W)``, and output columns
    ``[W - off, W)`` are new columns ``[0, off)``.
``slide-right``
    The new frame enters at the left edge and moves right, pushing the old frame out to the
    right: output ``[0, off)`` is new ``[W - off, W)``; output ``[off, W)`` is old ``[0, W - off)``.
``slide-up``
    The new frame enters at the bottom and moves up, pushing the old frame out at the top:
    output rows ``[0, H - off)`` are old rows ``[off, H)``; ``[H - off, H)`` are new ``[0, off)``.
``slide-down``
    The new frame enters at the top and moves down, pushing the old frame out at the bottom:
    output ``[0, off)`` is new ``[H - off, H)``; output ``[off, H)`` is old ``[0, H - off)``.
``wipe-left``
    Neither frame moves. A boundary sweeps from the right edge to the left, revealing the new
    frame behind it: output ``[0, W - off)`` is old, ``[W - off, W)`` is new (same columns).
``wipe-right``
    A boundary sweeps from the left edge to the right: output ``[0, off)`` is new, the rest old.
``wipe-up``
    A boundary sweeps from the bottom edge up: rows ``[H - off, H)`` are new, the rest old.
``wipe-down``
    A boundary sweeps from the top edge down: rows ``[0, off)`` are new, the rest old.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Final, final

import numpy as np
import numpy.typing as npt

# One list for the config's validation and the kernels (config imports nothing of ours).
from config.schema import TRANSITION_KINDS

__all__ = ["TRANSITION_KINDS", "TransitionSpec", "Transitioner", "parse_transition", "progress_at"]

Frame = npt.NDArray[np.uint8]

#: Crossfade weights are integers out of 256 so the blend is a shift, not a division.
_ALPHA_ONE: Final = 256


@final
@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """A validated transition choice: what kind, and how long it lasts in seconds."""

    #: One of :data:`TRANSITION_KINDS`.
    kind: str
    #: Seconds from the first transition frame to the new frame alone; 0 shows it at once.
    duration: float

    def __post_init__(self) -> None:
        if self.kind not in TRANSITION_KINDS:
            hints = difflib.get_close_matches(self.kind, TRANSITION_KINDS, n=1)
            hint = f" (did you mean {hints[0]!r}?)" if hints else ""
            raise ValueError(
                f"unknown transition {self.kind!r}{hint}. Allowed: {', '.join(TRANSITION_KINDS)}"
            )
        if not math.isfinite(self.duration) or self.duration < 0:
            raise ValueError(
                f"transition duration {self.duration!r} for {self.kind!r} must be a finite "
                "number of seconds >= 0"
            )


def parse_transition(text: str, duration: float) -> TransitionSpec:
    """A :class:`TransitionSpec` from config text such as ``"Slide-Left"``.

    :param text: the kind, case and surrounding spaces ignored.
    :param duration: seconds, finite and >= 0.
    :returns: the validated spec.
    :raises ValueError: naming the bad kind (with a did-you-mean hint and the allowed
        kinds) or the bad duration; the caller adds the config key.
    """
    return TransitionSpec(text.strip().lower(), float(duration))


def progress_at(spec: TransitionSpec, elapsed: float) -> float:
    """How far ``spec`` has got after ``elapsed`` seconds, in [0, 1].

    A cut, or any zero duration, is complete at once: a cut has nothing to show between its
    two frames, and callers never divide by zero.

    :param spec: the running transition.
    :param elapsed: seconds since it started (the caller's monotonic clock).
    :returns: the progress to pass to :meth:`Transitioner.render`.
    """
    if spec.kind == "cut" or spec.duration <= 0:
        return 1.0
    return min(1.0, max(0.0, elapsed / spec.duration))


def _round_half_up(value: float) -> int:
    # Python's round() rounds half to even, which would make offsets at exact halves
    # depend on parity; half up keeps every step the same size.
    return math.floor(value + 0.5)


class Transitioner:
    """Renders transitions for one display size into buffers it owns."""

    def __init__(self, width: int, height: int) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"display size {width}x{height} must be at least 1x1")
        #: Display width in pixels.
        self.width: Final = width
        #: Display height in pixels.
        self.height: Final = height
        #: The buffer every :meth:`render` returns; overwritten by the next call.
        self.out: Final[Frame] = np.zeros((height, width, 3), dtype=np.uint8)
        # Two uint16 scratch frames for the crossfade: 255 * 256 + 128 = 65408 fits, and
        # widening with copyto first keeps every ufunc on one dtype, which NumPy runs
        # without its casting buffer. Measured at 128x64 (NumPy 2.4, median of 5000): 15.7 us
        # against 1.3 us for a plain copyto; the mixed uint8 * uint16 form is no faster and
        # allocates a 16 KiB casting buffer per call.
        self._old16: Final = np.zeros((height, width, 3), dtype=np.uint16)
        self._new16: Final = np.zeros((height, width, 3), dtype=np.uint16)

    def render(self, spec: TransitionSpec, old: Frame, new: Frame, progress: float) -> Frame:
        """The frame ``progress`` of the way from ``old`` to ``new``.

        :param spec: the transition (its duration is not used here).
        :param old: the outgoing frame, ``(height, width, 3)`` uint8. It may be :attr:`out`
            itself, so a transition interrupted by another can restart from the frame on
            screen without a copy (every kind reads the old frame before writing the new).
        :param new: the incoming frame, same shape; it must not share memory with :attr:`out`.
        :param progress: clamped to [0, 1]; 0 is ``old`` exactly, 1 is ``new`` exactly.
        :returns: :attr:`out`, always (never a view of ``old`` or ``new``); copy it to keep it.
        :raises ValueError: if a frame has the wrong shape or dtype, ``new`` overlaps
            :attr:`out`, or progress is NaN.
        """
        self._check(old, "old")
        self._check(new, "new")
        if np.may_share_memory(new, self.out):
            raise ValueError(
                "the new frame of a transition must not be Transitioner.out; copy it first"
            )
        if math.isnan(progress):
            raise ValueError(f"transition progress is NaN for {spec.kind!r}; expected 0..1")
        p = min(1.0, max(0.0, float(progress)))
        kind = spec.kind
        out = self.out
        if kind == "cut":
            np.copyto(out, new if p > 0 else old)
        elif kind == "crossfade":
            self._crossfade(old, new, _round_half_up(p * _ALPHA_ONE))
        elif kind.startswith("slide-"):
            self._slide(kind, old, new, p)
        else:
            self._wipe(kind, old, new, p)
        return out

    def _check(self, frame: Frame, name: str) -> None:
        shape = (self.height, self.width, 3)
        if frame.shape != shape or frame.dtype != np.uint8:
            raise ValueError(
                f"transition {name} frame is {frame.dtype}{list(frame.shape)}; "
                f"expected uint8{list(shape)}"
            )

    def _crossfade(self, old: Frame, new: Frame, alpha: int) -> None:
        out = self.out
        if alpha <= 0:
            np.copyto(out, old)
            return
        if alpha >= _ALPHA_ONE:
            np.copyto(out, new)
            return
        a16, b16 = self._old16, self._new16
        # out = (old * (256 - a) + new * a + 128) >> 8, all in uint16. The scalars are
        # np.uint16 on purpose: under NumPy 2 a Python int is "weak" and uint8 * 256 would
        # either overflow in uint8 or raise, which is the trap the benchmark issue names.
        np.copyto(a16, old)
        np.copyto(b16, new)
        np.multiply(a16, np.uint16(_ALPHA_ONE - alpha), out=a16)
        np.multiply(b16, np.uint16(alpha), out=b16)
        np.add(a16, b16, out=a16)
        np.add(a16, np.uint16(_ALPHA_ONE // 2), out=a16)
        np.right_shift(a16, np.uint16(8), out=a16)
        np.copyto(out, a16, casting="unsafe")  # values are <= 255 after the shift

    def _slide(self, kind: str, old: Frame, new: Frame, p: float) -> None:
        out, w, h = self.out, self.width, self.height
        if kind in ("slide-left", "slide-right"):
            off = _round_half_up(p * w)
            if kind == "slide-left":
                out[:, : w - off] = old[:, off:]
                out[:, w - off :] = new[:, :off]
            else:
                out[:, off:] = old[:, : w - off]
                out[:, :off] = new[:, w - off :]
        else:
            off = _round_half_up(p * h)
            if kind == "slide-up":
                out[: h - off] = old[off:]
                out[h - off :] = new[:off]
            else:
                out[off:] = old[: h - off]
                out[:off] = new[h - off :]

    def _wipe(self, kind: str, old: Frame, new: Frame, p: float) -> None:
        out, w, h = self.out, self.width, self.height
        if kind in ("wipe-left", "wipe-right"):
            off = _round_half_up(p * w)
            edge = w - off if kind == "wipe-left" else off
            if kind == "wipe-left":
                out[:, :edge] = old[:, :edge]
                out[:, edge:] = new[:, edge:]
            else:
                out[:, edge:] = old[:, edge:]
                out[:, :edge] = new[:, :edge]
        else:
            off = _round_half_up(p * h)
            edge = h - off if kind == "wipe-up" else off
            if kind == "wipe-up":
                out[:edge] = old[:edge]
                out[edge:] = new[edge:]
            else:
                out[edge:] = old[edge:]
                out[:edge] = new[:edge]
