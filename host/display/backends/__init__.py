"""Display backends: where the compositor's frames go.

Three backends share one small interface, :class:`Backend`:

- ``hardware``: the hzeller ``rgbmatrix`` binding driving HUB75 panels on a Pi;
- ``emulator``: RGBMatrixEmulator, the same API in pure Python, opened by default with its
  ``raw`` adapter (no window, no socket), which is how the hardware adapter is tested here;
- ``headless``: no panel at all; frames only feed snapshots (and the live preview).

``hardware`` and ``emulator`` are one adapter class, :class:`~host.display.backends.matrix.
MatrixBackend`, given a different module, so the code that runs on the Pi is the code the
tests run. Submodules are imported only when a backend is opened: importing this package
costs nothing and never touches a panel, a window or a socket.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from host.errors import HostError

__all__ = ["BACKEND_NAMES", "Backend", "BackendError", "open_backend"]

BACKEND_NAMES = ("auto", "headless", "emulator", "hardware")
"""Names :func:`open_backend` accepts; ``auto`` is hardware where ``rgbmatrix`` imports."""

MATRIX_OPTIONS = frozenset(
    {
        "rows", "cols", "chain_length", "parallel", "hardware_mapping", "gpio_slowdown",
        "pwm_bits", "pwm_lsb_nanoseconds", "pwm_dither_bits", "brightness", "scan_mode",
        "multiplexing", "row_address_type", "disable_hardware_pulsing", "show_refresh_rate",
        "inverse_colors", "led_rgb_sequence", "pixel_mapper_config", "panel_type",
        "limit_refresh_rate_hz", "drop_privileges", "drop_priv_user", "drop_priv_group",
        "do_gpio_init",
    }
)  # fmt: skip
"""``RGBMatrixOptions`` attributes an option of the same name is set on."""

ALIASES = {"rgb_sequence": "led_rgb_sequence"}
"""Friendlier option names -> the attribute they set."""

REFUSED = {"daemon": "it forks the host into the background; run ledhost under systemd"}
"""Binding options that would break the host, with the reason given to the user."""

EMULATOR_OPTIONS = frozenset(
    {"display_adapter", "pixel_size", "pixel_style", "pixel_glow", "pixel_outline",
     "emulator_title", "browser"}
)  # fmt: skip
"""Emulator-only keys; they go into its config file, not onto ``RGBMatrixOptions``."""

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
    known = sorted(MATRIX_OPTIONS | EMULATOR_OPTIONS | ALIASES.keys())
    result: dict[str, Any] = {}
    for key, value in options.items():
        if key in REFUSED:
            raise BackendError(f"display option {key!r} is not supported: {REFUSED[key]}")
        attr = ALIASES.get(key, key)
        if attr not in MATRIX_OPTIONS and attr not in EMULATOR_OPTIONS:
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


def _hardware_importable() -> bool:
    """Return whether ``import rgbmatrix`` works (importing it touches no hardware)."""
    try:
        importlib.import_module("rgbmatrix")
    except (ImportError, OSError):
        return False
    return True


def open_backend(
    name: str,
    *,
    width: int,
    height: int,
    options: Mapping[str, Any] | None = None,
    snapshot: Path | None = None,
) -> Backend:
    """Open the backend called ``name`` for a ``width`` x ``height`` display.

    Everything that can be checked is checked here, before anything is opened: the name,
    the option keys, the snapshot's extension and folder, whether the backend's module
    imports. A mistake is a :class:`BackendError` at start, never at close.

    :param name: ``auto``, ``headless``, ``emulator`` or ``hardware``.
    :param options: ``RGBMatrixOptions`` settings (``rows``, ``cols``, ``chain_length``,
        ``parallel``, ``hardware_mapping``, ``gpio_slowdown``, ``brightness``,
        ``rgb_sequence``, ``drop_privileges``...) plus, for the emulator only,
        ``display_adapter`` and its look (``pixel_size``...). The headless backend checks
        but ignores them, so one config works on the Pi and on a laptop.
    :param snapshot: a ``.gif`` (everything shown, timed) or ``.png`` (the last frame),
        written in LED look when the backend closes.
    """
    if name not in BACKEND_NAMES:
        raise BackendError(f"unknown backend {name!r}: use one of {', '.join(BACKEND_NAMES)}")
    for label, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BackendError(f"display {label} must be a positive integer, got {value!r}")

    from host.display.backends import matrix
    from host.display.backends.snapshot import SnapshotRecorder

    settings = normalize_options(options or {})
    recorder = None
    if snapshot is not None:
        recorder = SnapshotRecorder(Path(snapshot), width=width, height=height)

    if name == "auto":
        name = "hardware" if _hardware_importable() else "headless"
    if name == "hardware":
        return matrix.open_hardware(width=width, height=height, options=settings, recorder=recorder)
    if name == "emulator":
        return matrix.open_emulator(width=width, height=height, options=settings, recorder=recorder)
    from host.display.backends.headless import HeadlessBackend

    return HeadlessBackend(width=width, height=height, recorder=recorder)
