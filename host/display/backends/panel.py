"""From ``[display]`` settings to rgbmatrix options, and the binding's limits checked first.

:data:`OPTION_TABLE` is the one place that says which setting sets which
``RGBMatrixOptions`` attribute and how its value is converted; ``docs/panel.md`` shows it
as a table and ``tests/test_panel_options.py`` checks every row against the real class
(recorded in ``tests/fixtures/rgbmatrix_options.json``, and live where the binding
imports) and against RGBMatrixEmulator's options class.

:func:`check_binding_limits` repeats the checks of the binding's C++ code that do not
raise a Python error: ``RGBMatrix::Options::Validate`` and ``CreateFromOptions`` print to
stderr and hand back an ``RGBMatrix`` wrapping a null pointer, which crashes the process
with SIGSEGV at its first use or when it is garbage collected; an unknown hardware mapping
or too many parallel chains ``abort()``. Checked here, each is a one-line
:class:`BackendError` naming the setting.

:func:`pi_model` reads the board model through a root path, so it is tested with a fake
``/proc`` and shared with ``ledhost doctor`` (:mod:`host.system.doctor`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import DisplayConfig
from config.panel import HARDWARE_MAPPINGS, MULTIPLEXING, RP1_MAPPINGS, SCAN_MODES
from host.display.backends.base import BackendError

__all__ = [
    "OPTION_TABLE",
    "PanelOption",
    "binding_options",
    "check_binding_limits",
    "check_devices",
    "is_pi5",
    "pi_model",
]

MODEL_PATH = "proc/device-tree/model"


def _same(value: Any) -> Any:
    return value


def _flag(value: Any) -> int:
    """The binding's ``uint8_t`` runtime flags take 0/1, not ``True``/``False``."""
    return int(bool(value))


@dataclass(frozen=True, slots=True)
class PanelOption:
    """One ``[display]`` setting and the ``RGBMatrixOptions`` attribute it sets.

    ``skip_if`` names a setting value that means "leave the binding's default": an empty
    pixel mapper or panel type is not set at all (the binding's default is a null string,
    and the emulator treats an empty mapper config differently from none), nor is
    ``rp1_rio`` when off, so bindings built before it existed (2026) still open.
    """

    setting: str
    attr: str
    convert: Callable[[Any], Any]
    how: str
    skip_if: object = None


OPTION_TABLE: tuple[PanelOption, ...] = (
    PanelOption("rows", "rows", _same, "as is"),
    PanelOption("cols", "cols", _same, "as is"),
    PanelOption("chain", "chain_length", _same, "as is"),
    PanelOption("parallel", "parallel", _same, "as is"),
    PanelOption("hardware_mapping", "hardware_mapping", _same, "as is (one of its list)"),
    PanelOption("gpio_slowdown", "gpio_slowdown", _same, "as is"),
    PanelOption("pwm_bits", "pwm_bits", _same, "as is"),
    PanelOption("pwm_lsb_nanoseconds", "pwm_lsb_nanoseconds", _same, "as is"),
    PanelOption("pwm_dither_bits", "pwm_dither_bits", _same, "as is"),
    PanelOption("scan_mode", "scan_mode", SCAN_MODES.index, "name -> index (0, 1)"),
    PanelOption("row_address_type", "row_address_type", _same, "as is"),
    PanelOption("multiplexing", "multiplexing", MULTIPLEXING.index, "name -> index (none 0)"),
    PanelOption("panel_type", "panel_type", _same, "as is; empty: not set", skip_if=""),
    PanelOption("refresh_limit", "limit_refresh_rate_hz", _same, "as is"),
    PanelOption("disable_hardware_pulsing", "disable_hardware_pulsing", bool, "as is"),
    PanelOption("inverse_colors", "inverse_colors", bool, "as is"),
    PanelOption("rgb_sequence", "led_rgb_sequence", _same, "as is"),
    PanelOption("pixel_mapper", "pixel_mapper_config", _same, "as is; empty: not set", skip_if=""),
    PanelOption("drop_privileges", "drop_privileges", _flag, "false/true -> 0/1"),
    PanelOption("rp1_rio", "rp1_rio", _flag, "true -> 1; false: not set", skip_if=False),
)  # fmt: skip
"""Every ``[display]`` setting that becomes an ``RGBMatrixOptions`` attribute.

Left out on purpose: ``brightness`` (the compositor applies it, so snapshots, the live
preview and every backend agree; the binding's stays 100), ``show_refresh_rate`` (the
binding then writes to stdout on every refresh, which under systemd floods the journal
and the SD card), ``daemon`` (forks the host away from systemd), ``drop_priv_user`` and
``drop_priv_group`` (ledhost runs workers unprivileged itself and keeps the binding's
privilege drop off by default).
"""


def binding_options(display: DisplayConfig) -> dict[str, Any]:
    """The ``RGBMatrixOptions`` attributes and values ``display`` asks for."""
    options: dict[str, Any] = {}
    for row in OPTION_TABLE:
        value = getattr(display, row.setting)
        if row.skip_if is not None and value == row.skip_if:
            continue
        options[row.attr] = row.convert(value)
    return options


def pi_model(root: Path = Path("/")) -> str | None:
    """The board model from the device tree (``"Raspberry Pi 5 Model B Rev 1.0"``), or
    ``None`` where there is no device tree model (not a Pi, or not readable)."""
    try:
        raw = (root / MODEL_PATH).read_bytes()
    except OSError:
        return None
    model = raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    return model or None


def is_raspberry_pi(model: str | None) -> bool:
    return model is not None and model.startswith("Raspberry Pi")


def is_pi5(model: str | None) -> bool:
    """Whether ``model`` is of the Pi 5 family (Pi 5, Pi 500, CM5): RP1 GPIO."""
    if not is_raspberry_pi(model):
        return False
    assert model is not None
    return any(tag in model for tag in ("Pi 5", "Pi 500", "Compute Module 5"))


def check_binding_limits(options: Mapping[str, Any], *, model: str | None) -> None:
    """Raise :class:`BackendError` for options the binding would crash or abort on.

    :param options: ``RGBMatrixOptions`` attribute -> value (as :func:`binding_options`
        gives, or a user's ``display.options``); attributes left out take the binding's
        defaults.
    :param model: the board (:func:`pi_model`); a Pi 5 allows only what the binding's RP1
        backend supports.
    """
    get = {**_DEFAULTS, **options}.__getitem__

    def fail(setting: str, problem: str) -> None:
        raise BackendError(f"hardware: display.{setting} {problem}")

    rows, mapping, parallel = get("rows"), get("hardware_mapping"), get("parallel")
    if not isinstance(rows, int) or not 8 <= rows <= 64 or rows % 2:
        fail("rows", f"must be an even number from 8 to 64 for rgbmatrix, got {rows!r}")
    if not isinstance(get("cols"), int) or get("cols") < 16:
        fail("cols", f"must be at least 16 for rgbmatrix, got {get('cols')!r}")
    if mapping not in HARDWARE_MAPPINGS:
        fail("hardware_mapping", f"{mapping!r} is not one of rgbmatrix's mappings: "
             f"{', '.join(HARDWARE_MAPPINGS)}")  # fmt: skip
    most = min(HARDWARE_MAPPINGS[mapping], 3 if mapping != "compute-module" else 6)
    if not isinstance(parallel, int) or not 1 <= parallel <= most:
        fail("parallel", f"must be 1 to {most} with hardware_mapping {mapping!r}, got {parallel!r}")
    _check_ranges(get, fail)
    sequence = get("led_rgb_sequence")
    if not isinstance(sequence, str) or sorted(sequence.upper()) != ["B", "G", "R"]:
        fail("rgb_sequence", f"must be three letters R, G and B in some order, got {sequence!r}")
    if is_pi5(model):
        if mapping not in RP1_MAPPINGS or get("row_address_type") not in (0, 2):
            fail("hardware_mapping", f"{mapping!r} with row_address_type "
                 f"{get('row_address_type')} is not supported by rgbmatrix on a Pi 5: use "
                 f"one of {', '.join(RP1_MAPPINGS)} with row_address_type 0 or 2, or "
                 "backend 'piomatter'")  # fmt: skip


def check_devices(root: Path, model: str | None, options: Mapping[str, Any]) -> None:
    """Raise :class:`BackendError` when the binding could not open its GPIO device.

    The binding's own failure here is the same null-pointer matrix (a crash), so the
    devices it tries are checked first: on a Pi 5 ``/dev/pio0`` (RP1 PIO), or with
    ``rp1_rio`` ``/dev/gpiomem0`` or ``/dev/mem``; on older Pis ``/dev/mem`` (root) or
    ``/dev/gpiomem``. Each must be readable and writable by this process.
    """
    if is_pi5(model):
        names = ("dev/gpiomem0", "dev/mem") if options.get("rp1_rio") else ("dev/pio0",)
    else:
        names = ("dev/mem", "dev/gpiomem")
    if any(os.access(root / name, os.R_OK | os.W_OK) for name in names):
        return
    tried = " or ".join(f"/{name}" for name in names)
    raise BackendError(
        f"hardware: cannot open {tried} (missing, or not writable by this user); run "
        "ledhost as root (its service does), or check `ledhost doctor`"
    )


def _check_ranges(get: Callable[[str], Any], fail: Callable[[str, str], None]) -> None:
    for attr, setting, low, high in _RANGES:
        value = get(attr)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            fail(setting, f"must be an integer from {low} to {high}, got {value!r}")


# The binding's defaults (RGBMatrix::Options and RuntimeOptions, as the real class reports
# them; see the fixture), for attributes a caller leaves out.
_DEFAULTS: dict[str, Any] = {
    "rows": 32, "cols": 32, "chain_length": 1, "parallel": 1, "hardware_mapping": "regular",
    "pwm_bits": 11, "pwm_lsb_nanoseconds": 130, "pwm_dither_bits": 0, "scan_mode": 0,
    "row_address_type": 0, "multiplexing": 0, "brightness": 100, "gpio_slowdown": 1,
    "led_rgb_sequence": "RGB", "limit_refresh_rate_hz": 0, "rp1_rio": 0,
}  # fmt: skip

# attribute, setting, lowest, highest: RGBMatrix::Options::Validate and CreateFromOptions.
_RANGES: tuple[tuple[str, str, int, int], ...] = (
    ("chain_length", "chain", 1, 255),
    ("pwm_bits", "pwm_bits", 1, 11),
    ("pwm_lsb_nanoseconds", "pwm_lsb_nanoseconds", 50, 3000),
    ("pwm_dither_bits", "pwm_dither_bits", 0, 2),
    ("scan_mode", "scan_mode", 0, 1),
    ("row_address_type", "row_address_type", 0, 5),
    ("multiplexing", "multiplexing", 0, len(MULTIPLEXING) - 1),
    ("brightness", "brightness", 1, 100),
    ("gpio_slowdown", "gpio_slowdown", 0, 10),
    ("limit_refresh_rate_hz", "refresh_limit", 0, 100_000),
    ("rp1_rio", "rp1_rio", 0, 1),
)
