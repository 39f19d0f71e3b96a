"""The ``piomatter`` backend: HUB75 panels on a Raspberry Pi 5 through Adafruit's driver.

The Pi 5 moved its GPIO behind the RP1 chip, where hzeller's classic timing code does
not reach; Adafruit's ``Adafruit-Blinka-Raspberry-Pi5-Piomatter`` (module
``adafruit_blinka_raspberry_pi5_piomatter``) drives the panel from RP1's PIO state
machines. Its whole API (checked against its source, ``src/pymain.cpp``): a ``Geometry``
(``width``, ``height``, ``n_addr_lines``, then either ``serpentine``/``rotation`` or a
pixel ``map`` with ``n_lanes``; both take ``n_planes`` and ``n_temporal_planes``), a
``PioMatter(colorspace=, pinout=, framebuffer=, geometry=)`` reading a numpy framebuffer
on ``show()``, ``Pinout`` (``AdafruitMatrixBonnet``, ``AdafruitMatrixHat``, ``Active3``
and their ``BGR`` twins), ``Colorspace.RGB888Packed`` (``(height, width, 3)`` uint8, the
host's own frame layout, so a push is one copy) and ``pixelmappers.
simple_multilane_mapper`` for several chains on an Active-3 board.

Our settings map onto it like this: the display is ``cols * chain`` by ``rows *
parallel``; ``n_addr_lines`` is ``log2(rows / 2)``; ``n_planes`` is ``pwm_bits`` (at most
10); ``parallel`` chains become ``2 * parallel`` lanes on the ``Active3`` pinout. The
pinout is ``display.piomatter_pinout``, or from ``hardware_mapping`` (``adafruit-hat*``:
the Bonnet/HAT, else ``Active3``). ``rgb_sequence`` and ``inverse_colors`` are applied to
the pixels on their way into the framebuffer. Options piomatter has no equivalent of
(pixel mappers, multiplexing, row address types, panel chips, interlaced scan) are an
error, not silently dropped; rgbmatrix's timing options (``gpio_slowdown``, PWM timing,
refresh limit, hardware pulsing) do not apply to PIO and are ignored.

The module only imports on a Pi 5 (it needs ``/dev/pio0``), so tests drive this adapter
with a fake module that has exactly that documented API.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from host.display.backends.base import EMULATOR_OPTIONS, BackendError
from host.display.backends.headless import check_frame
from host.display.backends.snapshot import SnapshotRecorder

log = logging.getLogger(__name__)

MODULE = "adafruit_blinka_raspberry_pi5_piomatter"
PINOUTS = {"bonnet": "AdafruitMatrixBonnet", "hat": "AdafruitMatrixHat", "active3": "Active3"}
"""``display.piomatter_pinout`` -> the ``Pinout`` member it selects."""
MAX_PLANES = 10

# option -> (its binding default, what to do instead): options piomatter cannot honour.
_UNSUPPORTED: dict[str, tuple[Any, str]] = {
    "pixel_mapper_config": ("", "arrange the panels in one chain"),
    "multiplexing": (0, "use backend 'hardware'"),
    "row_address_type": (0, "use backend 'hardware'"),
    "panel_type": ("", "use backend 'hardware'"),
    "scan_mode": (0, "use scan_mode 'progressive'"),
}
_SETTING = {"pixel_mapper_config": "pixel_mapper"}


def pinout_name(options: Mapping[str, Any]) -> str:
    """The ``Pinout`` member for ``options`` (``piomatter_pinout``, else the mapping)."""
    chosen = options.get("piomatter_pinout", "auto")
    if chosen != "auto":
        if chosen not in PINOUTS:
            raise BackendError(
                f"piomatter: display.piomatter_pinout {chosen!r} is not one of auto, "
                f"{', '.join(PINOUTS)}"
            )
        return PINOUTS[chosen]
    mapping = str(options.get("hardware_mapping", "regular"))
    return PINOUTS["hat"] if mapping.startswith("adafruit-hat") else PINOUTS["active3"]


@dataclass(frozen=True)
class Layout:
    """How the display maps onto piomatter: chains in parallel, address lines, pinout."""

    parallel: int
    n_addr_lines: int
    pinout: str


def plan(width: int, height: int, options: Mapping[str, Any]) -> Layout:
    """Check ``options`` against what piomatter can drive and return the layout.

    Raises :class:`BackendError` naming the setting; ``ledhost doctor`` calls this too, so
    it finds the same mistakes before the host does.
    """
    for key, (default, instead) in _UNSUPPORTED.items():
        if options.get(key, default) != default:
            raise BackendError(
                f"piomatter: display.{_SETTING.get(key, key)} = {options[key]!r} is not "
                f"supported by piomatter; {instead}"
            )
    chain, parallel = options.get("chain_length", 1), options.get("parallel", 1)
    rows, cols = options.get("rows", height // parallel), options.get("cols", width // chain)
    if (cols * chain, rows * parallel) != (width, height):
        raise BackendError(
            f"piomatter: rows/cols/chain/parallel give a {cols * chain}x{rows * parallel} "
            f"display but the display is {width}x{height}; fix one"
        )
    if rows not in (8, 16, 32, 64):
        raise BackendError(f"piomatter: display.rows must be 8, 16, 32 or 64, got {rows}")
    pinout = pinout_name(options)
    most = 3 if pinout == "Active3" else 1
    if not 1 <= parallel <= most:
        raise BackendError(
            f"piomatter: display.parallel must be 1 to {most} on pinout {pinout}, got {parallel}"
        )
    _channel_order(str(options.get("led_rgb_sequence", "RGB")))
    return Layout(parallel, (rows // 2).bit_length() - 1, pinout)


class PiomatterBackend:
    """Push frames to a Pi 5's panel through ``module`` (piomatter or a stand-in)."""

    name = "piomatter"

    def __init__(
        self,
        module: ModuleType,
        *,
        width: int,
        height: int,
        options: Mapping[str, Any],
        recorder: SnapshotRecorder | None = None,
    ) -> None:
        self.width, self.height, self.recorder = width, height, recorder
        self._closed = False
        layout = plan(width, height, options)
        parallel, n_addr_lines, pinout = layout.parallel, layout.n_addr_lines, layout.pinout
        self._order = _channel_order(str(options.get("led_rgb_sequence", "RGB")))
        self._inverse = bool(options.get("inverse_colors", False))
        planes = max(1, min(int(options.get("pwm_bits", MAX_PLANES)), MAX_PLANES))
        try:
            if parallel == 1:
                geometry = module.Geometry(
                    width=width, height=height, n_addr_lines=n_addr_lines, n_planes=planes
                )
            else:
                mapper = importlib.import_module(f"{module.__name__}.pixelmappers")
                lanes = 2 * parallel
                pixel_map = mapper.simple_multilane_mapper(width, height, n_addr_lines, lanes)
                geometry = module.Geometry(
                    width=width, height=height, n_addr_lines=n_addr_lines, map=pixel_map,
                    n_planes=planes, n_lanes=lanes,
                )  # fmt: skip
            self._framebuffer = np.zeros((height, width, 3), dtype=np.uint8)
            self._matrix: Any = module.PioMatter(
                colorspace=module.Colorspace.RGB888Packed,
                pinout=getattr(module.Pinout, pinout),
                framebuffer=self._framebuffer,
                geometry=geometry,
            )
        except (RuntimeError, OSError, ValueError, TypeError) as exc:
            raise BackendError(f"piomatter: could not open the matrix: {exc}") from exc

    @property
    def matrix(self) -> Any:
        """The module's ``PioMatter`` (for diagnostics and tests)."""
        return self._matrix

    def push(self, frame: np.ndarray, at: float) -> None:
        """Copy ``frame`` into the framebuffer and show it (piomatter triple-buffers)."""
        if self._closed:
            raise RuntimeError("push() on a closed piomatter backend")
        check_frame(frame, self.width, self.height)
        source = frame if self._order is None else frame[..., self._order]
        if self._inverse:
            np.subtract(255, source, out=self._framebuffer)
        else:
            self._framebuffer[...] = source
        self._matrix.show()
        if self.recorder is not None:
            self.recorder.add(frame, at)

    def close(self) -> None:
        """Blank the panel, release it and write the snapshot, if any. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._framebuffer[...] = 0
            self._matrix.show()
        finally:
            # Dropping the last reference stops piomatter's refresh thread.
            self._matrix = None
            if self.recorder is not None:
                self.recorder.write()


def _channel_order(sequence: str) -> list[int] | None:
    """Which source channel feeds each of the panel's R, G, B inputs; ``None`` for RGB."""
    sequence = sequence.upper()
    if sorted(sequence) != ["B", "G", "R"]:
        raise BackendError(
            f"piomatter: display.rgb_sequence must be R, G and B in some order, got {sequence!r}"
        )
    return None if sequence == "RGB" else ["RGB".index(letter) for letter in sequence]


def piomatter_importable() -> bool:
    """Whether piomatter imports (it does only on a Pi 5 with its PIO driver)."""
    try:
        importlib.import_module(MODULE)
    except (ImportError, OSError):
        return False
    return True


def open_piomatter(
    *, width: int, height: int, options: Mapping[str, Any], recorder: SnapshotRecorder | None
) -> PiomatterBackend:
    """Open the Pi 5's panel through Adafruit's piomatter."""
    emulator_only = sorted(set(options) & EMULATOR_OPTIONS)
    if emulator_only:
        raise BackendError(
            f"piomatter: option(s) {', '.join(emulator_only)} only apply to the emulator"
        )
    try:
        module = importlib.import_module(MODULE)
    except (ImportError, OSError) as exc:
        raise BackendError(
            f"piomatter: cannot import {MODULE} ({exc}); on a Pi 5: pip install "
            "Adafruit-Blinka-Raspberry-Pi5-Piomatter, or use backend 'hardware' or 'headless'"
        ) from None
    return PiomatterBackend(module, width=width, height=height, options=options, recorder=recorder)
