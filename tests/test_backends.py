"""Backends with real parts: real GIF/PNG files read back with Pillow, the real
RGBMatrixEmulator (raw adapter), real sockets and a fresh interpreter for the import."""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from host.display.backends import BackendError, open_backend
from host.display.backends.headless import HeadlessBackend
from host.display.backends.ledlook import BACKGROUND, UNLIT, dot_mask, led_look
from host.display.backends.snapshot import SnapshotRecorder

REPO = Path(__file__).resolve().parents[1]
W, H, S = 8, 4, 8  # a small display keeps the GIFs small; S is the snapshot scale

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)

needs_emulator = pytest.mark.skipif(
    importlib.util.find_spec("RGBMatrixEmulator") is None,
    reason="RGBMatrixEmulator is not installed",
)


def solid(colour: tuple[int, int, int], width: int = W, height: int = H) -> np.ndarray:
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[:] = colour
    return frame


def centre(image: np.ndarray, x: int, y: int, scale: int = S) -> tuple[int, ...]:
    """Colour at the centre of LED (x, y) in an LED-look image."""
    return tuple(int(v) for v in image[y * scale + scale // 2, x * scale + scale // 2])


def read_gif(path: Path) -> tuple[list[np.ndarray], list[int], dict[str | tuple[int, int], Any]]:
    """Every frame of the GIF as RGB, each frame's duration in ms, and the first info."""
    frames: list[np.ndarray] = []
    durations: list[int] = []
    with Image.open(path) as im:
        info = dict(im.info)
        for index in range(getattr(im, "n_frames", 1)):
            im.seek(index)
            durations.append(im.info["duration"])
            frames.append(np.asarray(im.convert("RGB")))
    return frames, durations, info


def recording_backend(
    path: Path, end: float, max_seconds: float = 600.0, max_bytes: int = 2**30
) -> HeadlessBackend:
    """A headless backend whose recorder ends the last frame at synthetic time ``end``."""
    recorder = SnapshotRecorder(
        path, width=W, height=H, clock=lambda: end, max_seconds=max_seconds, max_bytes=max_bytes
    )
    return HeadlessBackend(width=W, height=H, recorder=recorder)


def listening_sockets_of_this_process() -> set[str]:
    """Inodes of TCP/UDP sockets this process holds in LISTEN state (or bound UDP)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    listening = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            state, inode = fields[3], fields[9]
            if state == "0A" or table.startswith("udp"):  # 0A = LISTEN; UDP has no state
                listening.add(inode)
    return mine & listening


# open_backend: everything checked before anything opens


def test_open_backend_rejects_unknown_name() -> None:
    with pytest.raises(BackendError, match="unknown backend 'panel'.*auto, headless"):
        open_backend("panel", width=W, height=H)


def test_backend_error_is_a_value_error() -> None:
    assert issubclass(BackendError, ValueError)


@pytest.mark.parametrize(("width", "height"), [(0, H), (W, 2.5), (True, H)])
def test_open_backend_rejects_bad_display_size(width: Any, height: Any) -> None:
    with pytest.raises(BackendError, match="must be a positive integer"):
        open_backend("headless", width=width, height=height)


def test_bad_snapshot_extension_fails_at_open_not_close(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"unsupported extension '\.jpg'; use \.gif or \.png"):
        open_backend("headless", width=W, height=H, snapshot=tmp_path / "shot.jpg")
    assert list(tmp_path.iterdir()) == []


def test_snapshot_in_missing_folder_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        open_backend("headless", width=W, height=H, snapshot=tmp_path / "no" / "shot.gif")


def test_unknown_option_is_rejected_with_a_hint() -> None:
    with pytest.raises(BackendError, match="unknown display option 'gpio_slowdwn'.*gpio_slowdown"):
        open_backend("headless", width=W, height=H, options={"gpio_slowdwn": 2})


def test_daemon_option_is_refused() -> None:
    with pytest.raises(BackendError, match="'daemon' is not supported"):
        open_backend("headless", width=W, height=H, options={"daemon": 1})


def test_option_given_under_both_names_is_rejected() -> None:
    options = {"rgb_sequence": "RBG", "led_rgb_sequence": "RGB"}
    with pytest.raises(BackendError, match="given twice"):
        open_backend("headless", width=W, height=H, options=options)


def test_geometry_option_must_be_a_positive_integer() -> None:
    with pytest.raises(BackendError, match="'rows' must be a positive integer"):
        open_backend("headless", width=W, height=H, options={"rows": "32"})


def test_headless_accepts_hardware_options_so_one_config_fits_pi_and_laptop() -> None:
    options = {"rows": 32, "cols": 64, "hardware_mapping": "adafruit-hat", "gpio_slowdown": 4}
    backend = open_backend("headless", width=W, height=H, options=options)
    assert backend.name == "headless"
    backend.close()


@pytest.mark.skipif(importlib.util.find_spec("rgbmatrix") is not None, reason="rgbmatrix here")
def test_auto_selects_headless_without_rgbmatrix() -> None:
    backend = open_backend("auto", width=W, height=H)
    assert backend.name == "headless"
    backend.close()


@pytest.mark.skipif(importlib.util.find_spec("rgbmatrix") is not None, reason="rgbmatrix here")
def test_hardware_without_rgbmatrix_names_the_fix() -> None:
    with pytest.raises(BackendError, match="hardware: cannot import rgbmatrix.*'headless'"):
        open_backend("hardware", width=W, height=H)


def test_emulator_only_option_is_rejected_for_hardware() -> None:
    with pytest.raises(BackendError, match="display_adapter only apply to the emulator"):
        open_backend("hardware", width=W, height=H, options={"display_adapter": "raw"})


# headless: frames and snapshots


def test_headless_counts_frames_and_keeps_a_copy_of_the_last() -> None:
    backend = open_backend("headless", width=W, height=H)
    buffer = solid(RED)
    backend.push(buffer, 1.0)
    buffer[:] = GREEN  # the host reuses its buffer
    assert isinstance(backend, HeadlessBackend)
    assert backend.frames_pushed == 1
    assert tuple(backend.last_frame[0, 0]) == RED
    backend.close()


@pytest.mark.parametrize(
    "frame",
    [np.zeros((W, H, 3), np.uint8), np.zeros((H, W, 3), np.float32), np.zeros((H, W), np.uint8)],
)
def test_push_rejects_a_frame_of_the_wrong_shape_or_type(frame: np.ndarray) -> None:
    backend = open_backend("headless", width=W, height=H)
    with pytest.raises(ValueError, match=r"frame must be \(4, 8, 3\) uint8"):
        backend.push(frame, 0.0)


def test_close_is_idempotent_and_push_after_close_fails(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    backend = open_backend("headless", width=W, height=H, snapshot=path)
    backend.close()
    path.unlink()
    backend.close()
    assert not path.exists()  # the second close wrote nothing
    with pytest.raises(RuntimeError, match="closed"):
        backend.push(solid(RED), 0.0)


def test_gif_plays_each_frame_until_the_next_push(tmp_path: Path) -> None:
    """Verify that frame count, durations and LED colours match the pushes."""
    path = tmp_path / "run.gif"
    backend = recording_backend(path, end=12.5)
    for colour, at in ((RED, 10.0), (GREEN, 10.5), (BLUE, 11.5)):
        backend.push(solid(colour), at)
    backend.close()
    frames, durations, info = read_gif(path)
    assert durations == [500, 1000, 1000]
    assert info["loop"] == 0
    assert [centre(f, 3, 2) for f in frames] == [RED, GREEN, BLUE]
    assert frames[0].shape == (H * S, W * S, 3)
    assert tuple(frames[0][0, 0]) == BACKGROUND  # the corner between dots is the board


def test_gif_merges_pushes_within_20ms_keeping_the_latest(tmp_path: Path) -> None:
    path = tmp_path / "fast.gif"
    backend = recording_backend(path, end=0.2)
    pushes = ((RED, 0.0), (GREEN, 0.005), (BLUE, 0.012), (WHITE, 0.030), (RED, 0.100))
    for colour, at in pushes:
        backend.push(solid(colour), at)
    backend.close()
    frames, durations, _ = read_gif(path)
    assert [centre(f, 0, 0) for f in frames] == [BLUE, WHITE, RED]
    assert durations == [30, 70, 100]


def test_gif_of_120fps_has_no_frame_under_20ms_and_keeps_total_time(tmp_path: Path) -> None:
    path = tmp_path / "120fps.gif"
    backend = recording_backend(path, end=1.0)
    for i in range(120):
        backend.push(solid((i * 2, 255 - i * 2, 7)), i / 120)
    backend.close()
    _, durations, _ = read_gif(path)
    assert min(durations) >= 20
    assert sum(durations) == 1000
    assert len(durations) >= 40  # merged to at most 50 fps, not down to a handful


def test_gif_records_a_copy_not_the_reused_buffer(tmp_path: Path) -> None:
    path = tmp_path / "copy.gif"
    backend = recording_backend(path, end=1.0)
    buffer = solid(RED)
    backend.push(buffer, 0.0)
    buffer[:] = GREEN  # mutated after the push, never pushed
    backend.close()
    frames, _, _ = read_gif(path)
    assert [centre(f, 0, 0) for f in frames] == [RED]


def test_gif_recording_stops_at_the_time_cap_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "capped.gif"
    backend = recording_backend(path, end=9.0, max_seconds=1.0)
    with caplog.at_level(logging.WARNING, logger="host.display.backends.snapshot"):
        for colour, at in ((RED, 0.0), (GREEN, 0.5), (BLUE, 1.0), (WHITE, 1.5), (RED, 2.0)):
            backend.push(solid(colour), at)
        backend.close()
    frames, durations, _ = read_gif(path)
    assert [centre(f, 0, 0) for f in frames] == [RED, GREEN, BLUE]
    assert durations == [500, 500, 500]  # the last frame ends where recording stopped
    assert [r.message for r in caplog.records if "stopped recording" in r.message] == [
        f"snapshot {path}: stopped recording after 3 frames (1 s of recording); "
        "the snapshot ends there"
    ]


def test_gif_recording_stops_at_the_memory_cap(tmp_path: Path) -> None:
    per_frame = W * H * 3 + W * H * S * S
    backend = recording_backend(tmp_path / "mem.gif", end=9.0, max_bytes=2 * per_frame)
    for colour, at in ((RED, 0.0), (GREEN, 1.0), (BLUE, 2.0), (WHITE, 3.0)):
        backend.push(solid(colour), at)
    assert backend.recorder is not None
    assert backend.recorder.frame_count == 2
    backend.close()
    _, durations, _ = read_gif(tmp_path / "mem.gif")
    assert durations == [1000, 1000]


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_empty_recording_writes_one_black_frame(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    open_backend("headless", width=W, height=H, snapshot=path).close()
    with Image.open(path) as im:
        assert getattr(im, "n_frames", 1) == 1
        assert np.array_equal(np.asarray(im.convert("RGB")), led_look(solid((0, 0, 0))))


def test_png_snapshot_is_the_last_frame_in_led_look(tmp_path: Path) -> None:
    path = tmp_path / "last.png"
    backend = open_backend("headless", width=W, height=H, snapshot=path)
    backend.push(solid(RED), 0.0)
    frame = solid(GREEN)
    frame[1, 2] = BLUE
    backend.push(frame, 1.0)
    backend.close()
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (H * S, W * S, 3)
    assert centre(image, 0, 0) == GREEN
    assert centre(image, 2, 1) == BLUE


def test_snapshot_replaces_an_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "shot.gif"
    path.write_bytes(b"old")
    backend = open_backend("headless", width=W, height=H, snapshot=path)
    backend.push(solid(RED), 0.0)
    backend.close()
    assert [p.name for p in tmp_path.iterdir()] == ["shot.gif"]
    assert path.read_bytes().startswith(b"GIF89a")


# ledlook


def test_led_look_shape_centre_gap_and_unlit_leds() -> None:
    frame = np.zeros((2, 3, 3), dtype=np.uint8)
    frame[0, 1] = (200, 100, 50)
    image = led_look(frame, scale=10)
    assert image.shape == (20, 30, 3) and image.dtype == np.uint8
    assert centre(image, 1, 0, scale=10) == (200, 100, 50)
    assert centre(image, 0, 1, scale=10) == UNLIT  # off, but visible
    assert tuple(image[0, 10]) == BACKGROUND  # corner of the lit LED's cell: the gap
    assert UNLIT != BACKGROUND and max(BACKGROUND) < max(UNLIT) < 64


def test_led_look_keeps_a_dim_led_at_least_as_bright_as_an_unlit_one() -> None:
    frame = np.zeros((1, 3, 3), dtype=np.uint8)
    frame[0, 0], frame[0, 1], frame[0, 2] = (10, 0, 0), (30, 0, 0), (40, 5, 0)
    image = led_look(frame, scale=8)
    dim = centre(image, 0, 0)
    assert max(dim) >= max(UNLIT) and dim[0] > dim[1] == dim[2]  # still reddish
    assert centre(image, 1, 0) == (30, 0, 0) and centre(image, 2, 0) == (40, 5, 0)


def test_dot_mask_is_round_cached_and_read_only() -> None:
    mask = dot_mask(8)
    assert mask is dot_mask(8)
    assert not mask.flags.writeable
    assert mask[4, 4] == 1.0 and mask[0, 0] == 0.0
    assert np.array_equal(mask, mask.T) and np.array_equal(mask, mask[::-1])


def test_led_look_at_scale_1_is_the_frame() -> None:
    frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) + 40
    assert np.array_equal(led_look(frame, scale=1), frame)


# emulator: the MatrixBackend adapter on RGBMatrixEmulator's raw adapter


@needs_emulator
def test_emulator_shows_the_pushed_pixels_without_files_sockets_or_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sockets_before = listening_sockets_of_this_process()
    threads_before = threading.active_count()
    backend = open_backend("emulator", width=64, height=32)
    frame = np.zeros((32, 64, 3), dtype=np.uint8)
    frame[3, 5] = (10, 200, 30)
    frame[31, 63] = WHITE
    backend.push(frame, 0.0)
    frame[:] = 0  # the host reuses its buffer; the panel must not change
    adapter = backend.canvas.display_adapter  # type: ignore[attr-defined]
    shown = adapter.frames[adapter.frame - 1]
    assert type(adapter).__name__ == "RawAdapter"
    assert tuple(shown[3, 5]) == (10, 200, 30) and tuple(shown[31, 63]) == WHITE
    assert int(shown.sum()) == 10 + 200 + 30 + 3 * 255
    assert listening_sockets_of_this_process() == sockets_before
    assert threading.active_count() == threads_before
    backend.close()
    assert not adapter.frames[adapter.frame - 1].any()  # closing blanks the display
    assert list(tmp_path.iterdir()) == []  # no emulator_config.json in the cwd

    # The socket check itself works: a real listening socket is seen.
    with socket.socket() as control:
        control.bind(("127.0.0.1", 0))
        control.listen()
        assert listening_sockets_of_this_process() - sockets_before


@needs_emulator
def test_emulator_import_in_a_fresh_interpreter_writes_nothing_and_prints_nothing(
    tmp_path: Path,
) -> None:
    """Verify the first import of RGBMatrixEmulator (which builds options) is sandboxed."""
    code = (
        "import numpy as np\n"
        "from host.display.backends import open_backend\n"
        "b = open_backend('emulator', width=32, height=16)\n"
        "b.push(np.full((16, 32, 3), 9, np.uint8), 0.0)\n"
        "b.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@needs_emulator
def test_emulator_maps_options_onto_rgbmatrixoptions() -> None:
    options = {"chain_length": 2, "rgb_sequence": "RBG", "brightness": 50}
    backend = open_backend("emulator", width=128, height=32, options=options)
    matrix_options = backend.matrix.options  # type: ignore[attr-defined]
    assert (matrix_options.rows, matrix_options.cols, matrix_options.chain_length) == (32, 64, 2)
    assert matrix_options.led_rgb_sequence == "RBG"
    backend.push(solid((200, 100, 0), 128, 32), 0.0)
    adapter = backend.canvas.display_adapter  # type: ignore[attr-defined]
    assert tuple(adapter.frames[adapter.frame - 1][0, 127]) == (100, 50, 0)  # brightness 50%
    backend.close()


@needs_emulator
def test_emulator_geometry_that_contradicts_the_display_size_is_an_error() -> None:
    with pytest.raises(BackendError, match="give a 64x16 display but the display is 64x32"):
        open_backend("emulator", width=64, height=32, options={"rows": 16})


@needs_emulator
def test_emulator_unknown_adapter_is_an_error_listing_the_adapters() -> None:
    with pytest.raises(BackendError, match="unknown display_adapter 'vga'.*raw"):
        open_backend("emulator", width=64, height=32, options={"display_adapter": "vga"})


@needs_emulator
@pytest.mark.skipif(importlib.util.find_spec("pygame") is not None, reason="pygame here")
def test_emulator_adapter_that_fails_to_load_is_an_error_not_an_exit() -> None:
    with pytest.raises(BackendError, match="could not load display adapter 'pygame'"):
        open_backend("emulator", width=64, height=32, options={"display_adapter": "pygame"})


@needs_emulator
def test_emulator_writes_a_snapshot_too(tmp_path: Path) -> None:
    path = tmp_path / "emu.png"
    backend = open_backend("emulator", width=W, height=H, snapshot=path)
    backend.push(solid(BLUE), 0.0)
    backend.close()
    assert centre(np.asarray(Image.open(path).convert("RGB")), 7, 3) == BLUE
