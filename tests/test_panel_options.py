"""Every ``[display]`` panel setting against the rgbmatrix binding's real options class.

The table is :data:`host.display.backends.panel.OPTION_TABLE`. Each row is checked three
ways: against ``fixtures/rgbmatrix_options.json`` (the real ``RGBMatrixOptions`` as built
from hzeller's source; CI cannot fetch it), live against the real class where the binding
imports, and against RGBMatrixEmulator's options class (the same mapping, and a frame
shown through it with non-default options).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config import DisplayConfig, load_config
from config.panel import HARDWARE_MAPPINGS, MULTIPLEXING
from config.settings import SETTINGS
from host.display.backends import MATRIX_OPTIONS, REFUSED, BackendError, open_backend
from host.display.backends.panel import (
    OPTION_TABLE,
    binding_options,
    check_binding_limits,
    is_pi5,
    pi_model,
)
from host.planning import matrix_options

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "rgbmatrix_options.json").read_text())
REAL = FIXTURE["options"]
LIVE = importlib.util.find_spec("rgbmatrix") is not None
needs_binding = pytest.mark.skipif(not LIVE, reason="the real rgbmatrix binding is not installed")
needs_emulator = pytest.mark.skipif(
    importlib.util.find_spec("RGBMatrixEmulator") is None, reason="RGBMatrixEmulator not installed"
)
DISPLAY_SETTINGS = {s.name: s for s in SETTINGS if s.section == "display"}
NOT_BINDING = {
    "backend", "brightness", "gamma", "fps", "emulator_adapter", "emulator_bind",
    "emulator_port", "piomatter_pinout",
}  # fmt: skip
"""Display settings that are not rgbmatrix options (brightness: the compositor's)."""
C_RANGES = {"uint8_t": (0, 255), "uint32_t": (0, 2**32 - 1)}
PI4 = "Raspberry Pi 4 Model B Rev 1.4"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"


def values_of(setting: str) -> list[Any]:
    """The default, the extremes and every choice of a display setting that reach the
    binding: a value :func:`check_binding_limits` refuses (``rows = 512`` is fine for the
    emulator, not for a panel) never gets to it, and a test below covers those."""
    s = DISPLAY_SETTINGS[setting]
    values = [s.default, *(s.choices or ())]
    if s.type is bool:
        values += [True, False]
    values += [v for v in (s.min, s.max) if v is not None]
    row = next(row for row in OPTION_TABLE if row.setting == setting)
    return [v for v in values if passes_limits({row.attr: row.convert(v)})]


def passes_limits(options: dict[str, Any]) -> bool:
    try:
        check_binding_limits(options, model=PI4)
    except BackendError:
        return False
    return True


def display(**changes: Any) -> DisplayConfig:
    return load_config(env={}, overrides={"display": changes}).display


def test_every_display_setting_is_a_binding_option_or_named_as_not_one() -> None:
    in_table = {row.setting for row in OPTION_TABLE}
    assert in_table.isdisjoint(NOT_BINDING)
    assert set(DISPLAY_SETTINGS) == in_table | NOT_BINDING


def test_the_fixture_is_the_real_class_from_a_known_commit() -> None:
    assert len(FIXTURE["source"]["commit"]) == 40
    assert {"RGBMatrix", "RGBMatrixOptions"} <= set(FIXTURE["classes"])
    # What the adapter may set is exactly the real class's attributes, less the refused.
    assert set(REAL) - set(REFUSED) == MATRIX_OPTIONS


@pytest.mark.parametrize("row", OPTION_TABLE, ids=lambda row: row.setting)
def test_each_row_sets_a_real_attribute_with_values_its_setter_takes(row: Any) -> None:
    real = REAL[row.attr]
    for value in values_of(row.setting):
        converted = row.convert(value)
        if real["setter_c_type"] in C_RANGES:
            low, high = C_RANGES[real["setter_c_type"]]
            assert isinstance(converted, int) and low <= converted <= high, (value, converted)
        elif real["type"] == "bytes":
            assert isinstance(converted, str)  # the setter calls value.encode()
        else:
            assert type(converted).__name__ == real["type"], (value, converted)
    # The setting's default is the binding's own default, except where ledhost differs on
    # purpose: the panel size (64x32 is the common panel) and the privilege drop (off).
    default = row.convert(DISPLAY_SETTINGS[row.setting].default)
    if row.attr not in {"cols", "drop_privileges", "panel_type", "pixel_mapper_config"}:
        assert default == real["default"], row.attr


def test_binding_options_follow_the_table() -> None:
    changes = {"scan_mode": "interlaced", "multiplexing": "Checkered", "chain": 2}
    options = binding_options(display(**changes, refresh_limit=120, panel_type="FM6126A"))
    assert options["scan_mode"] == 1 and options["multiplexing"] == MULTIPLEXING.index("Checkered")
    assert options["chain_length"] == 2 and options["limit_refresh_rate_hz"] == 120
    assert options["panel_type"] == "FM6126A" and options["drop_privileges"] == 0
    # Empty strings are left at the binding's default (a null string) instead of set.
    assert "pixel_mapper_config" not in binding_options(display())
    assert "panel_type" not in binding_options(display())
    assert "rp1_rio" not in binding_options(display())  # older bindings lack it
    assert binding_options(display(rp1_rio=True))["rp1_rio"] == 1


def test_emulator_keys_go_only_to_the_emulator() -> None:
    cfg = load_config(env={})
    assert "display_adapter" in matrix_options(cfg, "emulator")
    for name in ("hardware", "auto", "piomatter", "headless"):
        options = matrix_options(cfg, name)
        assert "display_adapter" not in options and "browser" not in options


# live: the real binding, where it is installed


@needs_binding
def test_live_class_has_the_fixture_attributes_and_defaults() -> None:
    """Recording it again would give the same fixture (reads that crash are skipped)."""
    import rgbmatrix

    names = {n for n in dir(rgbmatrix.RGBMatrixOptions) if not n.startswith("_")}
    assert names == set(REAL)
    options = rgbmatrix.RGBMatrixOptions()
    for name, real in REAL.items():
        if real.get("read_unset"):
            continue
        value = getattr(options, name)
        assert type(value).__name__ == real["type"]
        assert (value.decode() if isinstance(value, bytes) else value) == real["default"]


@needs_binding
@pytest.mark.parametrize("row", OPTION_TABLE, ids=lambda row: row.setting)
def test_live_each_row_sets_the_real_attribute(row: Any) -> None:
    import rgbmatrix

    for value in values_of(row.setting):
        options = rgbmatrix.RGBMatrixOptions()
        converted = row.convert(value)
        setattr(options, row.attr, converted)
        got = getattr(options, row.attr)
        assert (got.decode() if isinstance(got, bytes) else got) == converted


def device_free() -> bool:
    """Constructing RGBMatrix is safe here: it cannot map /dev/mem (off a Pi it would
    guess "Pi 3" and map that board's peripheral address)."""
    return not any(Path(p).exists() for p in ("/dev/mem", "/dev/gpiomem"))


@needs_binding
@pytest.mark.skipif(not device_free(), reason="/dev/mem exists: RGBMatrix would map it")
@pytest.mark.parametrize(
    ("rows", "printed"),
    [(32, "Must run as root to be able to access /dev/mem"), (7, "Invalid number or rows")],
)
def test_live_rgbmatrix_that_fails_to_open_crashes_the_process(rows: int, printed: str) -> None:
    """Why the options are checked before the binding sees them: a matrix that failed to
    open is a Python object around a null pointer, and its first use or its garbage
    collection kills the process (recorded in docs/panel.md)."""
    code = (
        "import rgbmatrix\n"
        "o = rgbmatrix.RGBMatrixOptions(); o.drop_privileges = 0\n"
        f"o.rows = {rows}\n"
        "m = rgbmatrix.RGBMatrix(options=o)\n"
        "print('constructed', flush=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "constructed" in run.stdout  # no Python error at construction...
    assert printed in run.stderr
    assert run.returncode == -signal.SIGSEGV  # ...and a crash when it is released


# the binding's limits, checked before it sees them


def test_default_settings_pass_the_binding_limits_on_a_pi4_and_a_pi5() -> None:
    for model in (PI4, PI5):
        check_binding_limits(binding_options(display()), model=model)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rows": 7}, "display.rows must be an even number from 8 to 64"),
        ({"rows": 128}, "display.rows must be an even number from 8 to 64"),
        ({"cols": 8}, "display.cols must be at least 16"),
        ({"hardware_mapping": "my-hat"}, "'my-hat' is not one of rgbmatrix's mappings: regular"),
        ({"hardware_mapping": "adafruit-hat", "parallel": 2}, "parallel must be 1 to 1"),
        ({"parallel": 4}, "parallel must be 1 to 3 with hardware_mapping 'regular'"),
    ],
)
def test_values_the_binding_would_crash_on_are_errors_naming_the_setting(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(BackendError, match=message):
        check_binding_limits(binding_options(display(**changes)), model=PI4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pwm_lsb_nanoseconds": 20}, "pwm_lsb_nanoseconds must be an integer from 50 to 3000"),
        ({"gpio_slowdown": 11}, "gpio_slowdown must be an integer from 0 to 10"),
        ({"multiplexing": len(MULTIPLEXING)}, "multiplexing must be an integer from 0 to"),
        ({"led_rgb_sequence": "RRG"}, "rgb_sequence must be three letters"),
        ({"brightness": 0}, "brightness must be an integer from 1 to 100"),
        ({"scan_mode": True}, "scan_mode must be an integer"),
    ],
)
def test_raw_options_outside_the_binding_ranges_are_errors(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(BackendError, match=message):
        check_binding_limits(options, model=PI4)


def test_a_pi5_allows_only_what_the_binding_rp1_backend_drives() -> None:
    options = binding_options(display(hardware_mapping="compute-module"))
    check_binding_limits(options, model=PI4)
    with pytest.raises(BackendError, match="not supported by rgbmatrix on a Pi 5.*'piomatter'"):
        check_binding_limits(options, model=PI5)
    with pytest.raises(BackendError, match="row_address_type 1 is not supported"):
        check_binding_limits(binding_options(display(row_address_type=1)), model=PI5)


def test_every_mapping_in_the_list_passes_with_its_own_parallel_limit() -> None:
    for mapping, most in HARDWARE_MAPPINGS.items():
        check_binding_limits({"hardware_mapping": mapping, "parallel": min(most, 3)}, model=PI4)


def test_pi_model_reads_the_device_tree_through_a_root(tmp_path: Path) -> None:
    assert pi_model(tmp_path) is None
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/model").write_bytes(PI5.encode() + b"\0")
    assert pi_model(tmp_path) == PI5 and is_pi5(PI5) and not is_pi5(PI4)
    assert not is_pi5("Not a Pi 5 clone") and not is_pi5(None)


def test_hardware_is_refused_off_a_pi_even_where_the_binding_imports(tmp_path: Path) -> None:
    if LIVE:
        with pytest.raises(BackendError, match="not a Raspberry Pi"):
            open_backend("hardware", width=64, height=32, system_root=tmp_path)
    backend = open_backend("auto", width=64, height=32, system_root=tmp_path)
    assert backend.name == "headless"
    backend.close()


# the emulator: same mapping, and a frame with non-default options


EMULATOR_LACKS = {
    "scan_mode", "pwm_dither_bits", "panel_type", "limit_refresh_rate_hz", "inverse_colors",
    "drop_privileges", "rp1_rio",
}  # fmt: skip
"""Table attributes RGBMatrixEmulator 0.20's options class does not have (setting them
adds an attribute it never reads): options that only change timing or the chip."""


@needs_emulator
def test_emulator_options_class_takes_the_same_mapping() -> None:
    from host.display.backends.matrix import emulator_config, emulator_sandbox

    with emulator_sandbox(emulator_config({})):
        import RGBMatrixEmulator

        options = RGBMatrixEmulator.RGBMatrixOptions()
    has = set(vars(options))
    assert {row.attr for row in OPTION_TABLE} - has == EMULATOR_LACKS
    for row in OPTION_TABLE:
        for value in values_of(row.setting):
            setattr(options, row.attr, row.convert(value))
            assert getattr(options, row.attr) == row.convert(value)


@needs_emulator
def test_emulator_shows_a_frame_with_non_default_options(tmp_path: Path) -> None:
    changes = {
        "rows": 16, "cols": 32, "chain": 2, "pwm_bits": 7, "pwm_lsb_nanoseconds": 200,
        "pwm_dither_bits": 1, "scan_mode": "interlaced", "refresh_limit": 120,
        "disable_hardware_pulsing": True, "gpio_slowdown": 3, "rgb_sequence": "RBG",
        "hardware_mapping": "adafruit-hat", "pixel_mapper": "Rotate:180",
    }  # fmt: skip
    cfg = load_config(env={}, overrides={"display": changes})
    backend = open_backend("emulator", width=64, height=16, options=matrix_options(cfg, "emulator"))
    try:
        real = backend.matrix.options  # type: ignore[attr-defined]
        assert (real.rows, real.cols, real.chain_length, real.pwm_bits) == (16, 32, 2, 7)
        assert real.pixel_mapper_config == "Rotate:180" and real.gpio_slowdown == 3
        frame = np.zeros((16, 64, 3), dtype=np.uint8)
        frame[0, 0] = (200, 10, 30)
        backend.push(frame, 0.0)
        adapter = backend.canvas.display_adapter  # type: ignore[attr-defined]
        shown = adapter.frames[adapter.frame - 1]
        # The pixel mapper reached the emulator: Rotate:180 puts (0, 0) in the far corner.
        # (RGBMatrixEmulator 0.20 ignores led_rgb_sequence: the colour stays as drawn.)
        assert np.argwhere(shown.any(axis=2)).tolist() == [[15, 63]]
        assert tuple(shown[15, 63]) == (200, 10, 30)
    finally:
        backend.close()
    assert not os.listdir(tmp_path)


# the hardware adapter end to end, on a fake Pi, with a binding shaped like the fixture


class FakeCanvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height, self.pixels = width, height, np.zeros((height, width, 3))

    def SetImage(self, image: Any, x: int = 0, y: int = 0, unsafe: bool = True) -> None:  # noqa: N802
        self.pixels = np.asarray(image).copy()


def fake_binding(attributes: tuple[str, ...] = tuple(REAL)) -> Any:
    """A module with the real ``RGBMatrixOptions``'s attributes only (from the fixture:
    setting any other raises ``AttributeError``, as on the real class) and an
    ``RGBMatrix`` that keeps what it was given."""
    import types

    module = types.ModuleType("rgbmatrix")

    class RGBMatrixOptions:
        __slots__ = attributes

    class RGBMatrix:
        def __init__(self, options: Any) -> None:
            self.options = options
            self.width = options.cols * options.chain_length
            self.height = options.rows * options.parallel
            self.shown: list[FakeCanvas] = []

        def CreateFrameCanvas(self) -> FakeCanvas:  # noqa: N802
            return FakeCanvas(self.width, self.height)

        def SwapOnVSync(self, canvas: FakeCanvas) -> FakeCanvas:  # noqa: N802
            self.shown.append(canvas)
            return FakeCanvas(self.width, self.height)

        def Clear(self) -> None:  # noqa: N802
            pass

    module.RGBMatrixOptions = RGBMatrixOptions  # type: ignore[attr-defined]
    module.RGBMatrix = RGBMatrix  # type: ignore[attr-defined]
    return module


def pi_root(tmp_path: Path, model: str, devices: tuple[str, ...]) -> Path:
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    (tmp_path / "dev").mkdir()
    for name in devices:
        (tmp_path / "dev" / name).write_text("")
    return tmp_path


@pytest.mark.parametrize(
    ("model", "devices", "rp1_rio", "error"),
    [
        (PI4, (), False, r"cannot open /dev/mem or /dev/gpiomem"),
        (PI4, ("gpiomem",), False, None),
        (PI5, ("mem",), False, r"cannot open /dev/pio0"),
        (PI5, ("pio0",), False, None),
        (PI5, ("pio0",), True, r"cannot open /dev/gpiomem0 or /dev/mem"),
    ],
)
def test_hardware_checks_the_gpio_device_before_the_binding_sees_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    devices: tuple[str, ...],
    rp1_rio: bool,
    error: str | None,
) -> None:
    monkeypatch.setitem(sys.modules, "rgbmatrix", fake_binding())
    cfg = load_config(env={}, overrides={"display": {"rp1_rio": rp1_rio}})
    root = pi_root(tmp_path, model, devices)
    options = matrix_options(cfg, "hardware")
    if error is not None:
        with pytest.raises(BackendError, match=error):
            open_backend("hardware", width=64, height=32, options=options, system_root=root)
        return
    backend = open_backend("hardware", width=64, height=32, options=options, system_root=root)
    backend.close()


def test_hardware_sets_exactly_the_table_on_the_binding_and_shows_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rgbmatrix", fake_binding())
    changes = {"rows": 16, "cols": 32, "chain": 2, "multiplexing": "Stripe",
               "scan_mode": "interlaced", "panel_type": "FM6127", "refresh_limit": 90}  # fmt: skip
    cfg = load_config(env={}, overrides={"display": changes})
    root = pi_root(tmp_path, PI4, ("gpiomem",))
    backend = open_backend(
        "hardware", width=64, height=16, options=matrix_options(cfg, "hardware"), system_root=root
    )
    matrix = backend.matrix  # type: ignore[attr-defined]
    expected = binding_options(cfg.display)
    assert {k: getattr(matrix.options, k) for k in expected} == expected
    frame = np.zeros((16, 64, 3), dtype=np.uint8)
    frame[15, 63] = (1, 2, 3)
    backend.push(frame, 0.0)
    assert tuple(matrix.shown[-1].pixels[15, 63]) == (1, 2, 3)
    backend.close()


def test_docs_panel_table_is_the_option_table() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "panel.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", text, re.MULTILINE)
    assert rows == [(row.setting, row.attr) for row in OPTION_TABLE]


def test_a_binding_from_before_pi5_support_is_refused_on_a_pi5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = tuple(name for name in REAL if name != "rp1_rio")
    monkeypatch.setitem(sys.modules, "rgbmatrix", fake_binding(older))
    options = matrix_options(load_config(env={}), "hardware")
    root = pi_root(tmp_path, PI5, ("pio0",))
    with pytest.raises(BackendError, match="predates Pi 5 support.*'piomatter'"):
        open_backend("hardware", width=64, height=32, options=options, system_root=root)
    # The same binding still drives a Pi 4, since rp1_rio is only set when on.
    root4 = pi_root(tmp_path / "pi4", PI4, ("gpiomem",))
    open_backend("hardware", width=64, height=32, options=options, system_root=root4).close()
