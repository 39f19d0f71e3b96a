"""Display backends: where the compositor's frames go.

Four backends share one small interface, :class:`Backend`:

- ``hardware``: the hzeller ``rgbmatrix`` binding driving HUB75 panels on a Pi;
- ``piomatter``: Adafruit's Pi 5 driver (:mod:`~host.display.backends.piomatter`);
- ``emulator``: RGBMatrixEmulator, the same API in pure Python, opened by default with its
  ``raw`` adapter (no window, no socket), which is how the hardware adapter is tested here;
- ``headless``: no panel at all; frames only feed snapshots (and the live preview).

``hardware`` and ``emulator`` are one adapter class, :class:`~host.display.backends.matrix.
MatrixBackend`, given a different module, so the code that runs on the Pi is the code the
tests run. Submodules are imported only when a backend is opened: importing this package
costs nothing and never touches a panel, a window or a socket.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from host.display.backends.base import (
    ALIASES,
    BACKEND_NAMES,
    EMULATOR_OPTIONS,
    GEOMETRY,
    MATRIX_OPTIONS,
    REFUSED,
    Backend,
    BackendError,
    normalize_options,
)
from host.display.backends.panel import is_pi5, is_raspberry_pi, pi_model

__all__ = [
    "ALIASES",
    "BACKEND_NAMES",
    "EMULATOR_OPTIONS",
    "GEOMETRY",
    "MATRIX_OPTIONS",
    "REFUSED",
    "Backend",
    "BackendError",
    "normalize_options",
    "open_backend",
    "pick_auto",
]


def _hardware_importable() -> bool:
    """Return whether ``import rgbmatrix`` works (importing it touches no hardware)."""
    try:
        importlib.import_module("rgbmatrix")
    except (ImportError, OSError):
        return False
    return True


def pick_auto(model: str | None) -> str:
    """The backend ``auto`` stands for on the board ``model`` (``None``: not a Pi).

    Off a Pi: ``headless``, even where ``rgbmatrix`` imports (it would map ``/dev/mem``
    at a Pi's address). On a Pi 5: ``piomatter`` where it imports (the established Pi 5
    driver; rgbmatrix's RP1 support is new and takes fewer mappings), else ``hardware``
    where rgbmatrix imports. On older Pis: ``hardware`` where rgbmatrix imports.
    ``ledhost doctor`` reports this choice.
    """
    from host.display.backends.piomatter import piomatter_importable

    if not is_raspberry_pi(model):
        return "headless"
    if is_pi5(model) and piomatter_importable():
        return "piomatter"
    return "hardware" if _hardware_importable() else "headless"


def open_backend(
    name: str,
    *,
    width: int,
    height: int,
    options: Mapping[str, Any] | None = None,
    snapshot: Path | None = None,
    system_root: Path = Path("/"),
) -> Backend:
    """Open the backend called ``name`` for a ``width`` x ``height`` display.

    Everything that can be checked is checked here, before anything is opened: the name,
    the option keys, the snapshot's extension and folder, whether the backend's module
    imports, the board, and the binding's limits. A mistake is a :class:`BackendError` at
    start, never at close (nor a crash inside the binding).

    :param name: ``auto``, ``headless``, ``emulator``, ``hardware`` or ``piomatter``.
    :param options: ``RGBMatrixOptions`` attributes (``rows``, ``cols``,
        ``chain_length``, ``parallel``, ``hardware_mapping``, ``gpio_slowdown``...: see
        :data:`~host.display.backends.panel.OPTION_TABLE`, which makes them from the
        settings) plus, for the emulator only, ``display_adapter`` and its look
        (``pixel_size``...), and for piomatter ``piomatter_pinout``. The headless backend
        checks but ignores them, so one config works on the Pi and on a laptop.
    :param snapshot: a ``.gif`` (everything shown, timed) or ``.png`` (the last frame),
        written in LED look when the backend closes.
    :param system_root: where ``/proc`` is read from (the board model); tests pass a fake.
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

    model = pi_model(system_root)
    if name == "auto":
        name = pick_auto(model)
    if name == "hardware":
        return matrix.open_hardware(
            width=width, height=height, options=settings, recorder=recorder, model=model,
            system_root=system_root,
        )  # fmt: skip
    if name == "piomatter":
        from host.display.backends.piomatter import open_piomatter

        return open_piomatter(width=width, height=height, options=settings, recorder=recorder)
    if name == "emulator":
        return matrix.open_emulator(width=width, height=height, options=settings, recorder=recorder)
    from host.display.backends.headless import HeadlessBackend

    return HeadlessBackend(width=width, height=height, recorder=recorder)
