"""The ``piomatter`` backend (Pi 5) against a stand-in with exactly piomatter's API.

Adafruit's driver only imports on a Pi 5 (it drives the RP1's PIO through /dev/pio0), so
these tests put ``fixtures/piomatter_fake`` first on ``sys.path``: the same module name,
classes, keywords and constructor checks as the real one (its source, ``src/pymain.cpp``),
recording each ``show()``. Not exercised here: the real PIO timing, that a panel lights,
and piomatter's own brightness and frame pacing (see docs/panel.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config import load_config
from host.display.backends import BackendError, open_backend, pick_auto
from host.display.backends.piomatter import MODULE, PiomatterBackend
from host.planning import matrix_options

FAKE = Path(__file__).parent / "fixtures" / "piomatter_fake"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"


@pytest.fixture
def fake_piomatter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(FAKE))
    for name in [n for n in sys.modules if n.startswith(MODULE)]:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name in [n for n in sys.modules if n.startswith(MODULE)]:
        del sys.modules[name]


def fake_root(tmp_path: Path, model: str) -> Path:
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    return tmp_path


def open_with(**changes: Any) -> PiomatterBackend:
    cfg = load_config(env={}, overrides={"display": {"backend": "piomatter", **changes}})
    backend = open_backend(
        "piomatter",
        width=cfg.display.width,
        height=cfg.display.height,
        options=matrix_options(cfg, "piomatter"),
    )
    assert isinstance(backend, PiomatterBackend)
    return backend


@pytest.mark.usefixtures("fake_piomatter")
def test_pushes_the_frame_into_the_framebuffer_and_shows_it() -> None:
    backend = open_with(rows=32, cols=64, chain=2)
    matrix = backend.matrix
    geometry = matrix.geometry
    assert (geometry.width, geometry.height, geometry.n_addr_lines) == (128, 32, 4)
    assert matrix.pinout.name == "Active3"  # hardware_mapping "regular"
    assert matrix.colorspace.name == "RGB888Packed" and geometry.n_planes == 10
    frame = np.zeros((32, 128, 3), dtype=np.uint8)
    frame[5, 100] = (1, 2, 3)
    backend.push(frame, 0.0)
    frame[:] = 0  # the host reuses its buffer
    assert tuple(matrix.shown[-1][5, 100]) == (1, 2, 3) and int(matrix.shown[-1].sum()) == 6
    backend.close()
    assert not matrix.shown[-1].any()  # closing blanks the panel
    backend.close()
    with pytest.raises(RuntimeError, match="closed"):
        backend.push(frame, 1.0)


@pytest.mark.usefixtures("fake_piomatter")
@pytest.mark.parametrize(
    ("changes", "pinout"),
    [
        ({"hardware_mapping": "adafruit-hat"}, "AdafruitMatrixBonnet"),
        ({"hardware_mapping": "adafruit-hat-pwm"}, "AdafruitMatrixBonnet"),
        ({"hardware_mapping": "regular"}, "Active3"),
        ({"piomatter_pinout": "bonnet", "hardware_mapping": "regular"}, "AdafruitMatrixBonnet"),
        ({"piomatter_pinout": "active3", "hardware_mapping": "adafruit-hat"}, "Active3"),
    ],
)
def test_pinout_follows_the_setting_or_the_hardware_mapping(
    changes: dict[str, Any], pinout: str
) -> None:
    backend = open_with(**changes)
    assert backend.matrix.pinout.value == getattr(backend.matrix.pinout, pinout).value
    backend.close()


@pytest.mark.usefixtures("fake_piomatter")
def test_parallel_chains_become_lanes_on_the_active3_pinout() -> None:
    backend = open_with(rows=64, cols=64, parallel=3, pwm_bits=8)
    geometry = backend.matrix.geometry
    assert (geometry.width, geometry.height, geometry.n_lanes, geometry.n_addr_lines) == (
        64, 192, 6, 5,
    )  # fmt: skip
    assert geometry.n_planes == 8 and sorted(geometry.map) == list(range(64 * 192))
    frame = np.zeros((192, 64, 3), dtype=np.uint8)
    frame[150, 3] = (9, 9, 9)
    backend.push(frame, 0.0)
    assert tuple(backend.matrix.shown[-1][150, 3]) == (9, 9, 9)
    backend.close()


@pytest.mark.usefixtures("fake_piomatter")
def test_rgb_sequence_and_inverse_colors_are_applied_to_the_pixels() -> None:
    backend = open_with(rows=16, cols=32, rgb_sequence="BGR", inverse_colors=True)
    frame = np.zeros((16, 32, 3), dtype=np.uint8)
    frame[0, 0] = (10, 20, 30)
    backend.push(frame, 0.0)
    shown = backend.matrix.shown[-1]
    assert tuple(shown[0, 0]) == (225, 235, 245) and tuple(shown[1, 1]) == (255, 255, 255)
    backend.close()


@pytest.mark.usefixtures("fake_piomatter")
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pixel_mapper": "Rotate:90"}, "display.pixel_mapper = 'Rotate:90' is not supported"),
        ({"multiplexing": "Stripe"}, "display.multiplexing = 1 is not supported"),
        ({"row_address_type": 1}, "display.row_address_type = 1 is not supported"),
        ({"panel_type": "FM6126A"}, "display.panel_type = 'FM6126A' is not supported"),
        ({"scan_mode": "interlaced"}, "display.scan_mode = 1 is not supported"),
        ({"rows": 24}, "display.rows must be 8, 16, 32 or 64"),
        ({"parallel": 2, "hardware_mapping": "adafruit-hat"}, "parallel must be 1 to 1"),
        ({"parallel": 4}, "parallel must be 1 to 3 on pinout Active3"),
    ],
)
def test_options_piomatter_cannot_honour_are_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BackendError, match=message):
        open_with(**changes)


@pytest.mark.usefixtures("fake_piomatter")
def test_emulator_keys_are_refused_and_the_fakes_own_checks_become_backend_errors() -> None:
    with pytest.raises(BackendError, match="display_adapter only apply to the emulator"):
        open_backend("piomatter", width=64, height=32, options={"display_adapter": "raw"})
    with pytest.raises(BackendError, match="rows/cols/chain/parallel give a 64x32 display"):
        open_backend("piomatter", width=64, height=64, options={"rows": 32, "cols": 64})


def test_without_piomatter_the_error_names_the_package() -> None:
    with pytest.raises(BackendError, match="pip install Adafruit-Blinka-Raspberry-Pi5-Piomatter"):
        open_backend("piomatter", width=64, height=32)


@pytest.mark.usefixtures("fake_piomatter")
def test_auto_picks_piomatter_on_a_pi5_where_it_imports(tmp_path: Path) -> None:
    assert pick_auto(PI5) == "piomatter"
    backend = open_backend("auto", width=64, height=32, system_root=fake_root(tmp_path, PI5))
    assert backend.name == "piomatter"
    backend.close()
    assert pick_auto(None) == "headless"  # not a Pi: never a panel backend


def test_auto_on_a_pi5_without_piomatter_falls_back() -> None:
    assert pick_auto(PI5) in {"hardware", "headless"}
