"""The rgbmatrix binding's own lists, as data the ``[display]`` settings choose from.

Read from hzeller's rpi-rgb-led-matrix source (commit recorded in
``tests/fixtures/rgbmatrix_options.json``): ``lib/hardware-mapping.c``,
``lib/multiplex-mappers.cc``, ``lib/framebuffer.cc`` and ``RGBMatrix::Options::Validate``
in ``lib/options-initialize.cc``. They live in :mod:`config` (which imports nothing of
ledhost's) so the settings table and the hardware backend's checks share one copy.

Why check at all: the binding reports a bad value on stderr and then either hands back
an ``RGBMatrix`` wrapping a null pointer (the first use, or garbage collection, crashes
the process with SIGSEGV) or calls ``abort()`` (an unknown hardware mapping, too many
parallel chains). Either way the host would die without a word in its log.

Pure data: no I/O.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "HARDWARE_MAPPINGS",
    "MULTIPLEXING",
    "PANEL_TYPES",
    "RP1_MAPPINGS",
    "SCAN_MODES",
]

#: Every hardware mapping compiled into the binding -> the most parallel chains it
#: drives. ``compute-module`` reaches 6 only in a build with
#: ``ENABLE_WIDE_GPIO_COMPUTE_MODULE``; otherwise ``Validate`` allows 3.
HARDWARE_MAPPINGS: Final[dict[str, int]] = {
    "regular": 3,
    "adafruit-hat": 1,
    "adafruit-hat-pwm": 1,
    "regular-pi1": 1,
    "classic": 3,
    "classic-pi1": 1,
    "compute-module": 6,
}

#: Mappings the binding's Pi 5 (RP1 PIO/RIO) backend supports, with row address types
#: 0 and 2 and up to 3 parallel chains; anything else fails to open on a Pi 5.
RP1_MAPPINGS: Final[tuple[str, ...]] = (
    "regular", "regular-pi1", "classic", "adafruit-hat", "adafruit-hat-pwm",
)  # fmt: skip

#: ``multiplexing`` names in the binding's registration order; the option takes the
#: index (``none`` is 0, the first mapper 1).
MULTIPLEXING: Final[tuple[str, ...]] = (
    "none", "Stripe", "Checkered", "Spiral", "ZStripe", "ZnMirrorZStripe", "coreman",
    "Kaler2Scan", "ZStripeUneven", "P10-128x4-Z", "QiangLiQ8", "InversedZStripe",
    "P10Outdoor1R1G1-1", "P10Outdoor1R1G1-2", "P10Outdoor1R1G1-3", "P10CoremanMapper",
    "P8Outdoor1R1G1", "FlippedStripe", "P10Outdoor32x16HalfScan",
    "P10Outdoor32x16QuarterScanMapper", "P3Outdoor64x64MultiplexMapper", "DoubleZ",
    "P4Outdoor80x40Mapper",
)  # fmt: skip

#: ``scan_mode`` names; the option takes the index.
SCAN_MODES: Final[tuple[str, ...]] = ("progressive", "interlaced")

#: Panel chips that need an init sequence (``--led-panel-type``); "" for none.
PANEL_TYPES: Final[tuple[str, ...]] = ("", "FM6126A", "FM6127")
