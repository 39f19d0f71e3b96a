"""The colour transform applied last: gamma, global brightness and a night tint, as lookup tables.

Pure core (STYLE rule 17): no I/O and no clock; the scheduler decides *which* settings apply
(a dim schedule, a night tint) and the compositor calls :meth:`ColorTransform.apply` once per
pushed frame, into a buffer it owns.

Order: gamma, then brightness, then tint. Gamma maps content code values to light; brightness
and tint are scalings of light, and only in linear light do they keep hue and the ratios
between channels (scaling *before* a 2.2 gamma would turn 50 % brightness into 22 % light and
bend colours). Brightness and tint are both multiplications, so the three are fused into one
float (or integer) expression per entry and rounded once, half up: one rounding instead of
three, and never more than 0.5 from the exact value.

Gamma defaults to 1.0 (none) because hzeller's ``rgbmatrix`` already applies CIE1931
luminance correction unless ``matrix.luminanceCorrect`` is turned off; gamma here is for
backends that do not (the emulator, or a panel with the driver's correction disabled).

The per-frame kernel is ``np.take`` on ``intp`` indices held in a scratch buffer: ``np.take``
converts any other index dtype into a fresh ``intp`` array (tracemalloc: 197 KB per
128x64 frame) and, with the default ``mode="raise"``, also buffers ``out``; uint8 indices
cannot be out of range, so ``mode="clip"`` costs nothing. Measured on the dev box, NumPy 2.4,
median of >= 2000 runs (copyto of the same frame = 1.3 us at 128x64, 1.8 us at 256x64):

====================================  ==========  ==========
kernel                                128x64      256x64
====================================  ==========  ==========
one LUT, ``np.take(lut, src, out=)``     36.9 us     52.0 us   (allocates 222/443 KB)
one LUT, same with ``mode="clip"``       25.5 us     49.5 us   (allocates 197/394 KB)
one LUT, intp scratch + take clip        25.7 us     49.5 us   (no allocation: chosen)
3 LUTs, per-channel take on views        77.2 us     96.5 us   (allocates 75/149 KB)
3 LUTs, 768-entry LUT + offset frame     30.8 us     62.8 us   (no allocation: chosen)
3 LUTs, ``lut3[arange(3), src]``        135.6 us    268.8 us
====================================  ==========  ==========
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, final

import numpy as np
import numpy.typing as npt

from config.windows import TINTS as CONFIG_TINTS

__all__ = ["TINTS", "ColorSettings", "ColorTransform", "Tint", "build_luts", "parse_tint"]

Frame = npt.NDArray[np.uint8]
#: Per-channel multipliers out of 255: ``(255, 255, 255)`` leaves colours alone.
Tint = tuple[int, int, int]

#: Named tints, as the config declares them (``config.windows.TINTS``, where ``None`` is
#: no tint): one list for validation and for the lookup tables.
TINTS: Final[Mapping[str, Tint]] = MappingProxyType(
    {name: rgb or (255, 255, 255) for name, rgb in CONFIG_TINTS.items()}
)

_HEX: Final = re.compile(r"#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})")
_CHANNEL_OFFSETS: Final = (0, 256, 512)


def parse_tint(value: str | Sequence[int]) -> Tint:
    """A tint from config: a name from :data:`TINTS`, ``"#rrggbb"``, or three integers.

    :param value: e.g. ``"warm"``, ``"#ffb46e"`` or ``[255, 180, 110]``.
    :returns: the ``(r, g, b)`` multipliers, each 0-255.
    :raises ValueError: naming the value and the accepted names; the caller adds the key.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TINTS:
            return TINTS[text]
        match = _HEX.fullmatch(text)
        if match:
            r, g, b = (int(part, 16) for part in match.groups())
            return (r, g, b)
        hints = difflib.get_close_matches(text, list(TINTS), n=1)
        hint = f" (did you mean {hints[0]!r}?)" if hints else ""
        raise ValueError(
            f"unknown tint {value!r}{hint}. Use one of {', '.join(TINTS)} or '#rrggbb'"
        )
    channels = tuple(value)
    if len(channels) != 3 or not all(_is_int_in(c, 0, 255) for c in channels):
        raise ValueError(f"tint {value!r} must be three integers 0-255, a name or '#rrggbb'")
    return (int(channels[0]), int(channels[1]), int(channels[2]))


def _is_int_in(value: object, low: int, high: int) -> bool:
    # bool is an int subclass; True as a brightness is a config mistake, not 1 %.
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@final
@dataclass(frozen=True, slots=True)
class ColorSettings:
    """What the transform does; equal settings give identical tables."""

    #: Global brightness in percent, 0-100.
    brightness: int = 100
    #: Exponent of ``255 * (v / 255) ** gamma``; 1.0 means none.
    gamma: float = 1.0
    #: Per-channel multipliers out of 255, see :func:`parse_tint`.
    tint: Tint = TINTS["none"]

    def __post_init__(self) -> None:
        if not _is_int_in(self.brightness, 0, 100):
            raise ValueError(f"brightness {self.brightness!r} must be an integer 0-100")
        if not isinstance(self.gamma, int | float) or not (
            math.isfinite(self.gamma) and self.gamma > 0
        ):
            raise ValueError(f"gamma {self.gamma!r} must be a finite number > 0 (1.0 = none)")
        tint = self.tint
        if (
            not isinstance(tint, tuple)
            or len(tint) != 3
            or not all(_is_int_in(c, 0, 255) for c in tint)
        ):
            raise ValueError(
                f"tint {tint!r} must be a tuple of three integers 0-255 (see parse_tint)"
            )

    @property
    def is_identity(self) -> bool:
        """True when the transform changes no value, so a plain copy will do."""
        return self.brightness == 100 and self.gamma == 1 and self.tint == TINTS["none"]


def build_luts(settings: ColorSettings) -> Frame:
    """The ``(3, 256)`` uint8 table: entry ``[c, v]`` is channel ``c``'s output for ``v``.

    Each entry is ``255 * (v / 255) ** gamma * brightness / 100 * tint[c] / 255``, rounded
    half up once. With gamma 1 it is exact integer arithmetic, so brightness alone gives the
    compositor's ``(v * percent + 50) // 100`` and a tint alone ``(v * t + 127) // 255``.

    :param settings: validated settings.
    :returns: a new read-only array.
    """
    v = np.arange(256, dtype=np.int64)
    scale = settings.brightness * np.array(settings.tint, dtype=np.int64)[:, None]
    den = 100 * 255
    if settings.gamma == 1:
        lut = (v * scale + den // 2) // den
    else:
        light = 255.0 * (v / 255.0) ** float(settings.gamma)
        lut = np.floor(light * scale / den + 0.5).astype(np.int64)
    table = lut.astype(np.uint8)
    table.flags.writeable = False
    return table


class ColorTransform:
    """Applies :class:`ColorSettings` to frames of one display size without allocating."""

    def __init__(self, width: int, height: int, settings: ColorSettings | None = None) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"display size {width}x{height} must be at least 1x1")
        #: Display width in pixels.
        self.width: Final = width
        #: Display height in pixels.
        self.height: Final = height
        # intp indices so np.take converts nothing (see the module docstring).
        self._index: Final = np.zeros((height, width, 3), dtype=np.intp)
        # Channel offsets into the 768-entry table; built the first time a tint or other
        # per-channel table needs them, then kept (a change of settings never allocates a
        # frame-sized array again).
        self._offsets: npt.NDArray[np.intp] | None = None
        self._settings = ColorSettings()
        self._luts = build_luts(self._settings)
        self._flat: Frame = self._luts.reshape(-1)
        self._single = True
        self.configure(settings or ColorSettings())

    @property
    def settings(self) -> ColorSettings:
        """The settings in force."""
        return self._settings

    @property
    def luts(self) -> Frame:
        """The read-only ``(3, 256)`` table in force (see :func:`build_luts`)."""
        return self._luts

    def configure(self, settings: ColorSettings) -> None:
        """Use ``settings`` from the next :meth:`apply` on; cheap when nothing changed.

        :param settings: e.g. the night settings when a dim schedule starts.
        """
        if settings == self._settings:
            return
        luts = build_luts(settings)
        single = bool((luts[0] == luts[1]).all() and (luts[0] == luts[2]).all())
        if not single and self._offsets is None:
            offsets = np.empty((self.height, self.width, 3), dtype=np.intp)
            offsets[...] = np.array(_CHANNEL_OFFSETS, dtype=np.intp)
            self._offsets = offsets
        self._settings, self._luts, self._single = settings, luts, single
        self._flat = luts.reshape(-1)

    def apply(self, src: Frame, out: Frame) -> Frame:
        """Write the transformed ``src`` into ``out``.

        :param src: a ``(height, width, 3)`` uint8 frame; it may be ``out`` itself.
        :param out: the caller's preallocated buffer of the same shape and dtype.
        :returns: ``out``.
        :raises ValueError: if either array has the wrong shape or dtype.
        """
        shape = (self.height, self.width, 3)
        for name, frame in (("src", src), ("out", out)):
            if frame.shape != shape or frame.dtype != np.uint8:
                raise ValueError(
                    f"colour transform {name} is {frame.dtype}{list(frame.shape)}; "
                    f"expected uint8{list(shape)}"
                )
        if self._settings.is_identity:
            if src is not out:
                np.copyto(out, src)
            return out
        index = self._index
        np.copyto(index, src)  # widen first: the take below then reads intp as is
        if self._single:
            np.take(self._luts[0], index, out=out, mode="clip")
        else:
            assert self._offsets is not None  # built by configure() for per-channel tables
            np.add(index, self._offsets, out=index)
            np.take(self._flat, index, out=out, mode="clip")
        return out
