"""The continuous ticker: pure stream tests (pixel exact) and one run of the real host."""

from __future__ import annotations

import math

import numpy as np
import pytest

from host.display.ticker import TickerStream, draw_separator, make_spacer
from tests.conftest import RecordingBackend, run_host

H = 2


def _strip(value: int, width: int) -> np.ndarray:
    return np.full((H, width, 3), value, dtype=np.uint8)


def _row(frame: np.ndarray) -> list[int]:
    return frame[0, :, 0].tolist()


def _stream(width: int = 6, spacer: int = 1) -> TickerStream:
    return TickerStream(width, H, ["a:x", "b:x"], make_spacer(H, spacer, None))


def test_members_follow_each_other_with_spacers_and_loop() -> None:
    stream = _stream()
    stream.set_strip("a:x", _strip(1, 3))
    stream.set_strip("b:x", _strip(2, 2))
    # Band: a a a _ b b _ a a a _ b b _ ...
    assert _row(stream.view(0)) == [1, 1, 1, 0, 2, 2]
    assert _row(stream.view(2)) == [1, 0, 2, 2, 0, 1]
    assert _row(stream.view(7)) == [1, 1, 1, 0, 2, 2]


def test_a_member_without_a_strip_is_skipped_not_waited_for() -> None:
    stream = _stream()
    stream.set_strip("b:x", _strip(2, 2))
    assert _row(stream.view(0)) == [2, 2, 0, 2, 2, 0]


def test_nothing_ready_shows_blank_and_the_band_starts_when_a_strip_comes() -> None:
    stream = _stream()
    assert not stream.ready()
    assert _row(stream.view(5)) == [0] * 6
    stream.set_strip("a:x", _strip(1, 2))
    assert _row(stream.view(6)) == [1, 1, 0, 1, 1, 0]


def test_an_updated_strip_never_changes_what_is_already_in_the_band() -> None:
    """Verify the band is seamless: an update shows from the member's next turn on."""
    stream = _stream()
    stream.set_strip("a:x", _strip(1, 3))
    stream.set_strip("b:x", _strip(2, 2))
    stream.view(0)
    before = _row(stream.view(1)).copy()
    stream.set_strip("a:x", _strip(9, 3))
    assert _row(stream.view(1)) == before  # what was appended stays
    assert _row(stream.view(3)) == [0, 2, 2, 0, 9, 9]  # a's next turn is the new strip


def test_negative_positions_slide_the_band_in_from_the_right() -> None:
    stream = _stream()
    stream.set_strip("a:x", _strip(1, 3))
    assert _row(stream.view(-6)) == [0] * 6
    assert _row(stream.view(-2)) == [0, 0, 1, 1, 1, 0]


def test_the_view_is_one_preallocated_buffer() -> None:
    stream = _stream()
    stream.set_strip("a:x", _strip(1, 3))
    assert stream.view(0) is stream.view(1) is stream.out


def test_members_can_change_while_the_band_runs() -> None:
    """Verify set_members keeps the stream, the remaining strips and the band so far."""
    stream = TickerStream(6, H, ["a:x"], make_spacer(H, 1, None))
    stream.set_strip("a:x", _strip(1, 3))
    first = _row(stream.view(0)).copy()
    stream.set_members(["a:x", "b:x"])
    stream.set_strip("b:x", _strip(2, 2))
    assert _row(stream.view(0)) == first
    assert 2 in _row(stream.view(6)) or 2 in _row(stream.view(8))
    stream.set_members(["b:x"])
    assert not stream.ready() or stream.members == ["b:x"]


def test_strips_of_the_wrong_height_are_refused_naming_the_member() -> None:
    with pytest.raises(ValueError, match="a:x"):
        _stream().set_strip("a:x", np.zeros((H + 1, 3, 3), np.uint8))


def test_separator_is_drawn_in_a_font_that_fits() -> None:
    sep = draw_separator(" | ", 32)
    assert sep is not None and sep.shape[0] == 32 and sep.any()
    assert draw_separator("", 32) is None
    spacer = make_spacer(32, 4, sep)
    assert spacer.shape[1] == sep.shape[1] + 8 and not spacer[:, :4].any()


def test_host_scrolls_two_plugins_strips_as_one_band_at_the_configured_speed(
    tmp_path: object,
) -> None:
    """Verify the ticker end to end: both texts in one band (the short one too, drawn as
    a strip because it feeds the ticker), moving at ticker.speed."""
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    long = "0123456789 " * 2
    overrides = {
        "workers": {"user": ""},
        "display": {"fps": 60},
        "plugins": {
            "news": {"plugin": "text", "message": "NEWS " + long, "color": "#ff0000"},
            # Short enough to stand still on the panel: it must still join the ticker.
            "sport": {"plugin": "text", "message": "GOAL!", "color": "#00ff00"},
        },
        "ticker": {"modes": ["news", "sport"], "speed": 60, "separator": " * "},
        "rotation": {"modes": ["@ticker"]},
    }
    seen = {"red": False, "green": False}
    checked = [0]

    def both_passed_by(host: object, backend: RecordingBackend) -> bool:
        """Both strips seen and frames enough: the run is over (a loaded machine makes
        workers boot and pushes come later, so no fixed duration)."""
        pushes = backend.pushes[checked[0] :]
        checked[0] += len(pushes)
        for f, _, _ in pushes:
            seen["red"] = seen["red"] or bool(f[..., 0].any() and not f[..., 1].any())
            seen["green"] = seen["green"] or bool(f[..., 1].any() and not f[..., 0].any())
        return seen["red"] and seen["green"] and checked[0] > 120

    host, backend, stats = run_host(
        overrides, 120.0, tmp_path, until=both_passed_by, only=("news", "sport")
    )
    assert [s["mode"] for s in stats["modes_shown"]] == ["@ticker:band"]
    frames = [(f, at) for f, at, _ in backend.pushes]
    assert len(frames) > 100
    reds = any(f[..., 0].any() and not f[..., 1].any() for f, _ in frames)
    greens = any(f[..., 1].any() and not f[..., 0].any() for f, _ in frames)
    assert reds and greens, "both plugins' strips should pass by"
    # Motion per frame matches the speed: frame i+1 is frame i moved left by the pixels
    # that 60 px/s covers in between (one pixel per push at 60 fps). The offset is
    # floor((t - start) * speed) at each push, so a push late by a fraction of a pixel's
    # time (a loaded machine) moves by the floor or the ceiling of (tb - ta) * speed.
    matched = 0
    for (a, ta), (b, tb) in zip(frames[20:80], frames[21:81], strict=True):
        pixels = (tb - ta) * 60
        steps = {s for s in (math.floor(pixels), math.ceil(pixels)) if 0 < s < a.shape[1]}
        if any(np.array_equal(a[:, step:], b[:, :-step]) for step in steps):
            matched += 1
    assert matched >= 50, matched
