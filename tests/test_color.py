"""The colour transform: tables against wide-integer and float64 references, plain values."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

from host.display.color import TINTS, ColorSettings, ColorTransform, build_luts, parse_tint

W, H = 8, 4
V = np.arange(256, dtype=np.int64)


def _frame(seed: int, width: int = W, height: int = H) -> np.ndarray:
    frame = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame[0, :3] = [[0, 0, 0], [255, 255, 255], [0, 128, 255]]
    return frame


def _apply(settings: ColorSettings, src: np.ndarray) -> np.ndarray:
    out = np.empty_like(src)
    ColorTransform(src.shape[1], src.shape[0], settings).apply(src, out)
    return out


def test_identity_is_an_exact_copy_into_the_given_buffer() -> None:
    src = _frame(1)
    out = np.zeros_like(src)
    assert ColorSettings().is_identity
    assert ColorTransform(W, H).apply(src, out) is out
    np.testing.assert_array_equal(out, src)
    assert not np.shares_memory(out, src)


@pytest.mark.parametrize("percent", [0, 1, 33, 50, 67, 99, 100])
def test_brightness_alone_matches_the_compositor_formula(percent: int) -> None:
    luts = build_luts(ColorSettings(brightness=percent))
    want = (V * percent + 50) // 100
    for channel in range(3):
        assert luts[channel].tolist() == want.tolist()
    src = _frame(2)
    np.testing.assert_array_equal(_apply(ColorSettings(brightness=percent), src), want[src])


def test_gamma_2_2_is_monotonic_with_fixed_endpoints() -> None:
    lut = build_luts(ColorSettings(gamma=2.2))[0]
    assert lut[0] == 0 and lut[255] == 255
    assert (np.diff(lut.astype(np.int64)) >= 0).all()
    assert lut[128] == 56  # 255 * (128 / 255) ** 2.2 = 55.98


@pytest.mark.parametrize("tint", [TINTS["warm"], TINTS["red"], (0, 1, 254), (128, 64, 255)])
def test_tint_alone_multiplies_each_channel_rounding_half_up(tint: tuple[int, int, int]) -> None:
    luts = build_luts(ColorSettings(tint=tint))
    for channel, t in enumerate(tint):
        assert luts[channel].tolist() == ((V * t + 127) // 255).tolist()
    src = _frame(3)
    want = np.stack([(src[..., c] * np.int64(t) + 127) // 255 for c, t in enumerate(tint)], -1)
    np.testing.assert_array_equal(_apply(ColorSettings(tint=tint), src), want)


COMBINATIONS = list(
    itertools.product([0, 1, 50, 73, 100], [1.0, 0.45, 1.8, 2.2, 2.8], TINTS.values())
)


@pytest.mark.parametrize(("brightness", "gamma", "tint"), COMBINATIONS)
def test_every_combination_is_within_rounding_of_a_float64_reference(
    brightness: int, gamma: float, tint: tuple[int, int, int]
) -> None:
    """Verify one rounding of gamma, then brightness, then tint: never more than 0.5 off."""
    settings = ColorSettings(brightness=brightness, gamma=gamma, tint=tint)
    luts = build_luts(settings)
    for channel, t in enumerate(tint):
        light = 255.0 * (V / 255.0) ** gamma
        exact = light * (brightness / 100.0) * (t / 255.0)
        assert np.abs(luts[channel] - exact).max() <= 0.5 + 1e-9
    src = _frame(4)
    want = np.stack([luts[c][src[..., c]] for c in range(3)], axis=-1)
    np.testing.assert_array_equal(_apply(settings, src), want)


@pytest.mark.parametrize(
    "settings",
    [
        ColorSettings(brightness=40),  # one shared table
        ColorSettings(gamma=2.2),  # one shared table
        ColorSettings(brightness=40, tint=TINTS["warm"]),  # three tables
    ],
)
def test_apply_writes_into_out_and_may_run_in_place(settings: ColorSettings) -> None:
    src = _frame(5)
    want = np.stack(
        [settings_lut[src[..., c]] for c, settings_lut in enumerate(build_luts(settings))], -1
    )
    t = ColorTransform(W, H, settings)
    out = np.zeros_like(src)
    assert t.apply(src, out) is out
    np.testing.assert_array_equal(out, want)
    in_place = src.copy()
    assert t.apply(in_place, in_place) is in_place
    np.testing.assert_array_equal(in_place, want)


def test_configure_switches_tables_between_frames() -> None:
    src = _frame(6)
    t = ColorTransform(W, H)
    out = np.empty_like(src)
    night = ColorSettings(brightness=20, tint=TINTS["red"])
    t.configure(night)
    assert t.settings == night
    np.testing.assert_array_equal(t.apply(src, out), _apply(night, src))
    t.configure(ColorSettings())
    np.testing.assert_array_equal(t.apply(src, out), src)


@pytest.mark.parametrize(
    "settings",
    [ColorSettings(), ColorSettings(brightness=40), ColorSettings(tint=TINTS["warm"])],
)
def test_apply_allocates_no_frame_sized_memory(settings: ColorSettings) -> None:
    """Verify no per-frame allocation: a 128x64 frame is 24 KiB, the limit is 2 KiB."""
    src = _frame(7, 128, 64)
    out = np.empty_like(src)
    t = ColorTransform(128, 64, settings)
    t.apply(src, out)
    tracemalloc.start()
    try:
        for _ in range(3):
            t.apply(src, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2048


def test_frames_of_the_wrong_shape_are_refused() -> None:
    t = ColorTransform(W, H, ColorSettings(brightness=50))
    with pytest.raises(ValueError, match=r"out is uint8\[1, 8, 3\]; expected uint8\[4, 8, 3\]"):
        t.apply(_frame(8), np.zeros((1, W, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"src is float64"):
        t.apply(np.zeros((H, W, 3)), np.zeros((H, W, 3), dtype=np.uint8))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "tint"),
    [
        ("warm", TINTS["warm"]),
        (" Red ", TINTS["red"]),
        ("none", (255, 255, 255)),
        ("#FFB46E", (255, 180, 110)),
        ([1, 2, 3], (1, 2, 3)),
        ((0, 0, 255), (0, 0, 255)),
    ],
)
def test_parse_tint_accepts_names_hex_and_triples(
    value: str | list[int] | tuple[int, ...], tint: tuple[int, int, int]
) -> None:
    assert parse_tint(value) == tint


def test_parse_tint_error_names_value_suggests_and_lists_names() -> None:
    with pytest.raises(ValueError) as info:
        parse_tint("wram")
    message = str(info.value)
    assert "'wram'" in message and "(did you mean 'warm'?). Use one of" in message
    assert "none, warm, red or '#rrggbb'" in message


@pytest.mark.parametrize(
    "value", ["#fff", "#12345g", [1, 2], [0, 0, 256], [1.0, 2, 3], [True, 0, 0]]
)
def test_parse_tint_refuses_malformed_values(value: str | list[object]) -> None:
    with pytest.raises(ValueError, match="tint"):
        parse_tint(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"brightness": 101}, "brightness 101 must be an integer 0-100"),
        ({"brightness": -1}, "brightness -1"),
        ({"brightness": 50.5}, "brightness 50.5"),
        ({"brightness": True}, "brightness True"),
        ({"gamma": 0.0}, "gamma 0.0 must be a finite number > 0"),
        ({"gamma": float("inf")}, "gamma inf"),
        ({"tint": [255, 255, 255]}, "must be a tuple"),
        ({"tint": (255, 255)}, r"tint \(255, 255\)"),
    ],
)
def test_settings_refuse_out_of_range_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ColorSettings(**kwargs)  # type: ignore[arg-type]
