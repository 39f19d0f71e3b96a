"""What every display backend shares: the interface, its errors and the option names.

Kept apart from the package's ``__init__`` so the backends import it without importing
the package that opens them (no import cycle).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from host.errors import HostError

BACKEND_NAMES = ("auto", "headless", "emulator", "hardware", "piomatter")
"""Names :func:`open_backend` accepts; ``auto`` picks one (see :func:`open_backend`)."""

MATRIX_OPTIONS = frozenset(
    {
        "rows", "cols", "chain_length", "parallel", "hardware_mapping", "gpio_slowdown",
        "pwm_bits", "pwm_lsb_nanoseconds", "pwm_dither_bits", "brightness", "scan_mode",
        "multiplexing", "row_address_type", "disable_hardware_pulsing", "show_refresh_rate",
        "inverse_colors", "led_rgb_sequence", "pixel_mapper_config", "panel_type",
        "limit_refresh_rate_hz", "drop_privileges", "drop_priv_user", "drop_priv_group",
        "rp1_rio",
    }
)  # fmt: skip
"""``RGBMatrixOptions`` attributes an option of the same name is set on (the real class's
attributes, less ``daemon``; ``tests/fixtures/rgbmatrix_options.json`` records them)."""

ALIASES = {"rgb_sequence": "led_rgb_sequence"}
"""Friendlier option names -> the attribute they set."""

REFUSED = {"daemon": "it forks the host into the background; run ledhost under systemd"}
"""Binding options that would break the host, with the reason given to the user."""

EMULATOR_OPTIONS = frozenset(
    {"display_adapter", "pixel_size", "pixel_style", "pixel_glow", "pixel_outline",
     "emulator_title", "browser", "browser_bind"}
)  # fmt: skip
"""Emulator-only keys; they go into its config file, not onto ``RGBMatrixOptions``."""

PIOMATTER_OPTIONS = frozenset({"piomatter_pinout"})
"""Keys only the ``piomatter`` backend reads; the others ignore them."""

GEOMETRY = ("rows", "cols", "chain_length", "parallel")


class BackendError(HostError, ValueError):
    """A backend cannot be opened as configured; the message is one line naming the fix.

    A ``ValueError`` because it is always bad input (a name, an option, a path) or a
    missing optional dependency, and a :class:`~host.errors.HostError` so the CLI reports
    it as one line instead of a traceback.
    """


class Backend(Protocol):
    """What the compositor pushes frames to.

    ``name`` is ``"headless"``, ``"emulator"`` or ``"hardware"``; ``width`` and ``height``
    are the display size in LEDs.
    """

    name: str
    width: int
    height: int

    def push(self, frame: np.ndarray, at: float) -> None:
        """Show ``frame`` from now on.

        :param frame: ``(height, width, 3)`` uint8, C-contiguous. The host reuses this
            buffer for the next frame, so a backend that keeps the pixels copies them.
        :param at: ``time.monotonic()`` of the push; snapshots are timed from it.
        """
        ...

    def close(self) -> None:
        """Release the panel and write the snapshot, if any. Idempotent."""
        ...


def normalize_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check option keys and return them under their attribute names.

    An unknown key is an error (with the closest known key as a hint) rather than silently
    ignored, since a misspelt ``gpio_slowdwn`` would otherwise only show as a flickering
    panel.
    """
    known = sorted(MATRIX_OPTIONS | EMULATOR_OPTIONS | PIOMATTER_OPTIONS | ALIASES.keys())
    result: dict[str, Any] = {}
    for key, value in options.items():
        if key in REFUSED:
            raise BackendError(f"display option {key!r} is not supported: {REFUSED[key]}")
        attr = ALIASES.get(key, key)
        if attr not in MATRIX_OPTIONS | EMULATOR_OPTIONS | PIOMATTER_OPTIONS:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            raise BackendError(f"unknown display option {key!r}; {hint}")
        if attr in result:
            raise BackendError(f"display option {attr!r} is given twice (as {key!r})")
        if attr in GEOMETRY and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise BackendError(f"display option {key!r} must be a positive integer, got {value!r}")
        result[attr] = value
    return result
