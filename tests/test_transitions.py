"""Transitions: pixel-exact frames on small synthetic panels, plain values, no clock."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from host.display.transitions import (
    TRANSITION_KINDS,
    Transitioner,
    TransitionSpec,
    parse_transition,
    progress_at,
)

W, H = 8, 4


def _frame(which: int) -> np.ndarray:
    """Pixel (y, x) is (x, y, which): every pixel names its column, row and frame."""
    f = np.zeros((H, W, 3), dtype=np.uint8)
    f[..., 0] = np.arange(W)[None, :]
    f[..., 1] = np.arange(H)[:, None]
    f[..., 2] = which
    return f


OLD_ID, NEW_ID = 10, 20
OLD, NEW = _frame(OLD_ID), _frame(NEW_ID)


def _columns(tokens: str) -> np.ndarray:
    """Expected frame from hand-written columns: "o2 n0" = old column 2, then new column 0."""
    cols = tokens.split()
    assert len(cols) == W
    return np.stack([(OLD if t[0] == "o" else NEW)[:, int(t[1:])] for t in cols], axis=1)


def _rows(tokens: str) -> np.ndarray:
    """Expected frame from hand-written rows, as :func:`_columns`."""
    rows = tokens.split()
    assert len(rows) == H
    return np.stack([(OLD if t[0] == "o" else NEW)[int(t[1:])] for t in rows], axis=0)


def _render(kind: str, progress: float) -> np.ndarray:
    return Transitioner(W, H).render(TransitionSpec(kind, 1.0), OLD, NEW, progress).copy()


ALL_OLD_COLS = "o0 o1 o2 o3 o4 o5 o6 o7"
ALL_NEW_COLS = "n0 n1 n2 n3 n4 n5 n6 n7"

# Offsets: 0.25 * 8 = 2 columns, 0.5 * 8 = 4, 0.3125 * 8 = 2.5 -> 3 (half rounds up).
COLUMN_CASES = [
    ("slide-left", 0.25, "o2 o3 o4 o5 o6 o7 n0 n1"),
    ("slide-left", 0.3125, "o3 o4 o5 o6 o7 n0 n1 n2"),
    ("slide-left", 0.5, "o4 o5 o6 o7 n0 n1 n2 n3"),
    ("slide-right", 0.25, "n6 n7 o0 o1 o2 o3 o4 o5"),
    ("slide-right", 0.5, "n4 n5 n6 n7 o0 o1 o2 o3"),
    ("wipe-left", 0.25, "o0 o1 o2 o3 o4 o5 n6 n7"),
    ("wipe-left", 0.5, "o0 o1 o2 o3 n4 n5 n6 n7"),
    ("wipe-right", 0.25, "n0 n1 o2 o3 o4 o5 o6 o7"),
    ("wipe-right", 0.3125, "n0 n1 n2 o3 o4 o5 o6 o7"),
    ("wipe-right", 0.5, "n0 n1 n2 n3 o4 o5 o6 o7"),
]

# Offsets: 0.25 * 4 = 1 row, 0.5 * 4 = 2, 0.125 * 4 = 0.5 -> 1.
ROW_CASES = [
    ("slide-up", 0.25, "o1 o2 o3 n0"),
    ("slide-up", 0.5, "o2 o3 n0 n1"),
    ("slide-up", 0.125, "o1 o2 o3 n0"),
    ("slide-down", 0.25, "n3 o0 o1 o2"),
    ("slide-down", 0.5, "n2 n3 o0 o1"),
    ("wipe-up", 0.25, "o0 o1 o2 n3"),
    ("wipe-up", 0.5, "o0 o1 n2 n3"),
    ("wipe-down", 0.25, "n0 o1 o2 o3"),
    ("wipe-down", 0.5, "n0 n1 o2 o3"),
]


@pytest.mark.parametrize(("kind", "progress", "columns"), COLUMN_CASES)
def test_horizontal_kind_composes_hand_computed_columns(
    kind: str, progress: float, columns: str
) -> None:
    np.testing.assert_array_equal(_render(kind, progress), _columns(columns))


@pytest.mark.parametrize(("kind", "progress", "rows"), ROW_CASES)
def test_vertical_kind_composes_hand_computed_rows(kind: str, progress: float, rows: str) -> None:
    np.testing.assert_array_equal(_render(kind, progress), _rows(rows))


@pytest.mark.parametrize("kind", TRANSITION_KINDS)
def test_every_kind_is_old_at_progress_0_and_new_at_progress_1(kind: str) -> None:
    np.testing.assert_array_equal(_render(kind, 0.0), OLD)
    np.testing.assert_array_equal(_render(kind, 1.0), NEW)


@pytest.mark.parametrize("progress", [1e-9, 0.25, 0.5, 0.999])
def test_cut_shows_new_frame_for_any_progress_above_0(progress: float) -> None:
    np.testing.assert_array_equal(_render("cut", progress), NEW)


@pytest.mark.parametrize("kind", TRANSITION_KINDS)
def test_progress_outside_0_1_is_clamped(kind: str) -> None:
    np.testing.assert_array_equal(_render(kind, -3.0), OLD)
    np.testing.assert_array_equal(_render(kind, 7.5), NEW)


def test_nan_progress_is_an_error_naming_the_kind() -> None:
    with pytest.raises(ValueError, match="NaN.*crossfade"):
        _render("crossfade", float("nan"))


def _random_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    old = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    new = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    old[0, 0], new[0, 0] = 0, 255  # the extremes, both ways round
    old[0, 1], new[0, 1] = 255, 0
    old[0, 2], new[0, 2] = 255, 255
    return old, new


@pytest.mark.parametrize("progress", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_crossfade_at_dyadic_progress_equals_rounded_float64_blend(progress: float) -> None:
    """Verify that at multiples of 1/256 the integer kernel is the exact rounded blend."""
    old, new = _random_pair(1)
    got = Transitioner(W, H).render(TransitionSpec("crossfade", 1.0), old, new, progress)
    blend = old.astype(np.float64) * (1 - progress) + new.astype(np.float64) * progress
    np.testing.assert_array_equal(got, np.floor(blend + 0.5).astype(np.uint8))


@pytest.mark.parametrize("progress", [0.1, 0.3, 0.6666, 0.9])
def test_crossfade_at_any_progress_is_within_one_of_float64_blend(progress: float) -> None:
    old, new = _random_pair(2)
    got = Transitioner(W, H).render(TransitionSpec("crossfade", 1.0), old, new, progress)
    blend = old.astype(np.float64) * (1 - progress) + new.astype(np.float64) * progress
    assert np.abs(got.astype(np.float64) - blend).max() <= 1.0


def test_crossfade_matches_wide_integer_reference_for_every_alpha_and_value_pair() -> None:
    """Verify the uint8/uint16 kernel against int64 for all 257 alphas and 65536 pairs.

    NumPy 2 computes ``uint8 * int`` in uint8, so a kernel that is right on small values can
    still wrap on large ones; this covers every input the kernel can ever see.
    """
    t = Transitioner(256, 256)
    old = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 256, axis=1)
    old = np.repeat(old, 3, axis=2)
    new = np.ascontiguousarray(old.transpose(1, 0, 2))
    old64, new64 = old[..., 0].astype(np.int64), new[..., 0].astype(np.int64)
    spec = TransitionSpec("crossfade", 1.0)
    for alpha in range(257):
        got = t.render(spec, old, new, alpha / 256)
        want = (old64 * (256 - alpha) + new64 * alpha + 128) >> 8
        assert np.array_equal(got[..., 0], want), f"alpha {alpha}"
        assert (got[..., 0] == got[..., 1]).all() and (got[..., 0] == got[..., 2]).all()


def test_render_returns_the_same_owned_buffer_every_call() -> None:
    t = Transitioner(W, H)
    first = t.render(TransitionSpec("crossfade", 1.0), OLD, NEW, 0.5)
    assert first is t.out
    for kind in TRANSITION_KINDS:
        for progress in (0.0, 0.3, 1.0):
            out = t.render(TransitionSpec(kind, 1.0), OLD, NEW, progress)
            assert out is first
            assert not np.shares_memory(out, NEW) and not np.shares_memory(out, OLD)


@pytest.mark.parametrize("kind", TRANSITION_KINDS)
def test_render_allocates_no_frame_sized_memory(kind: str) -> None:
    """Verify no per-frame allocation: a 128x64 frame is 24 KiB, the limit is 2 KiB."""
    t = Transitioner(128, 64)
    rng = np.random.default_rng(3)
    old = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    new = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    spec = TransitionSpec(kind, 1.0)
    t.render(spec, old, new, 0.4)
    tracemalloc.start()
    try:
        for progress in (0.1, 0.4, 0.7):
            t.render(spec, old, new, progress)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2048


@pytest.mark.parametrize("kind", TRANSITION_KINDS)
def test_old_frame_may_be_the_output_buffer_for_an_interrupted_transition(kind: str) -> None:
    t = Transitioner(W, H)
    t.render(TransitionSpec("crossfade", 1.0), OLD, NEW, 0.5)
    on_screen = t.out.copy()
    other = _frame(30)
    expected = Transitioner(W, H).render(TransitionSpec(kind, 1.0), on_screen, other, 0.25)
    got = t.render(TransitionSpec(kind, 1.0), t.out, other, 0.25)
    np.testing.assert_array_equal(got, expected)


def test_new_frame_sharing_the_output_buffer_is_refused() -> None:
    t = Transitioner(W, H)
    with pytest.raises(ValueError, match="must not be Transitioner.out"):
        t.render(TransitionSpec("slide-left", 1.0), OLD, t.out, 0.5)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((H, W + 1, 3), dtype=np.uint8), r"uint8\[4, 9, 3\]; expected uint8\[4, 8, 3\]"),
        (np.zeros((H, W, 3), dtype=np.uint16), r"uint16\[4, 8, 3\]"),
        (np.zeros((1, W, 3), dtype=np.uint8), r"uint8\[1, 8, 3\]"),
    ],
)
def test_frames_of_the_wrong_shape_or_dtype_are_refused(frame: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=r"new frame is " + message):
        Transitioner(W, H).render(TransitionSpec("cut", 0.0), OLD, frame, 1.0)


def test_parse_transition_normalises_case_and_spaces() -> None:
    assert parse_transition("  Slide-Left ", 0.5) == TransitionSpec("slide-left", 0.5)


def test_parse_transition_error_names_value_suggests_and_lists_kinds() -> None:
    with pytest.raises(ValueError) as info:
        parse_transition("slid-left", 1.0)
    message = str(info.value)
    assert "'slid-left'" in message
    assert "(did you mean 'slide-left'?). Allowed: " in message
    assert all(kind in message for kind in TRANSITION_KINDS)


def test_parse_transition_without_close_match_gives_no_hint() -> None:
    with pytest.raises(ValueError, match="unknown transition 'zzz'. Allowed: cut, crossfade"):
        parse_transition("zzz", 1.0)


@pytest.mark.parametrize("duration", [-0.1, float("nan"), float("inf")])
def test_parse_transition_refuses_bad_durations(duration: float) -> None:
    with pytest.raises(ValueError, match="duration .* must be a finite number"):
        parse_transition("crossfade", duration)


@pytest.mark.parametrize(
    ("duration", "elapsed", "progress"),
    [(0.0, 0.0, 1.0), (0.0, -1.0, 1.0), (2.0, -1.0, 0.0), (2.0, 0.5, 0.25), (2.0, 5.0, 1.0)],
)
def test_progress_at_clamps_and_treats_zero_duration_as_done(
    duration: float, elapsed: float, progress: float
) -> None:
    assert progress_at(TransitionSpec("crossfade", duration), elapsed) == progress


def test_progress_at_reports_a_cut_complete_whatever_its_duration() -> None:
    assert progress_at(parse_transition("cut", 3.0), 0.0) == 1.0
