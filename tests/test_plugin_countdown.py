"""The countdown builtin: time left, frame timing, layout at every panel size, config errors.

Regenerate the golden images after an intended change of the look with
``LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_countdown.py`` and
review them (``tests/golden/countdown/``).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from host.cli.probe import render_mode
from host.discovery import PluginSpec
from host.supervise.rules import WorkerRules
from plugins_builtin import countdown
from plugins_builtin.countdown import arrange
from sdk import PluginConfigError, shorten
from sdk.testing import PluginRunner, default_config
from tests.golden import PANEL_SIZES, assert_golden, size_id

BERLIN = "Europe/Berlin"
CHRISTMAS = {"target": "2026-12-24T18:00", "timezone": BERLIN, "label": "Christmas"}


def at(iso: str, tz: str = BERLIN) -> float:
    """Epoch seconds of a wall-clock time in ``tz``."""
    return datetime.fromisoformat(iso).replace(tzinfo=ZoneInfo(tz)).timestamp()


def config(**overrides: Any) -> dict[str, Any]:
    return default_config(countdown.CONFIG_SCHEMA, {**CHRISTMAS, **overrides})


def lit(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels.any(axis=2))


# --- what is shown -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "now", "fmt", "expected"),
    [
        ("2026-12-24T18:00", "2026-12-12T13:26:50", "auto", "12d 04:33:10"),
        ("2026-12-24T18:00", "2026-12-12T13:26:50", "days", "12 days"),
        ("2026-12-24T18:00", "2026-12-23T17:59:59", "days", "1 day"),
        ("2026-12-24T18:00", "2026-12-23T18:00:01", "auto", "23:59:59"),
        ("2026-12-24T18:00", "2026-12-23T18:00:01", "days", "23:59:59"),
        ("2026-12-24T18:00", "2026-12-23T18:00:00", "auto", "1d 00:00:00"),
        ("2026-12-24T18:00", "2026-12-24T17:26:50", "auto", "00:33:10"),
        ("2026-12-24T18:00", "2026-12-24T17:59:10", "auto", "00:00:50"),
        ("2026-12-24T18:00", "2025-12-24T18:00:00", "auto", "365d 00:00:00"),
        # Spring forward: the wall-clock day from Saturday to Sunday noon is 23 hours.
        ("2026-03-29T12:00", "2026-03-28T12:00:00", "auto", "23:00:00"),
        ("2026-03-29T12:00", "2026-03-28T12:00:00", "days", "23:00:00"),
        # Fall back: that day is 25 hours.
        ("2026-10-25T12:00", "2026-10-24T12:00:00", "auto", "1d 01:00:00"),
        # A date alone is midnight.
        ("2026-12-24", "2026-12-23T23:00:00", "auto", "01:00:00"),
    ],
)
def test_countdown_remaining_time_text(target: str, now: str, fmt: str, expected: str) -> None:
    cfg = config(target=target, format=fmt)
    assert countdown.display_text(at(now), cfg) == expected


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.5, 0.999])
def test_countdown_rounds_the_time_left_up_so_the_target_itself_is_done(fraction: float) -> None:
    cfg = config(after={"done_text": "Merry Christmas!"})
    target = at("2026-12-24T18:00")
    assert countdown.display_text(target - 1 + fraction, cfg) == "00:00:01"
    assert countdown.display_text(target, cfg) == "Merry Christmas!"
    assert countdown.state(target, cfg).phase == "done"


def test_countdown_after_the_target_shows_the_done_text_then_nothing() -> None:
    cfg = config(after={"done_text": "Merry Christmas!", "show_done_for": 600})
    target = at("2026-12-24T18:00")
    assert countdown.display_text(target + 599.9, cfg) == "Merry Christmas!"
    assert countdown.display_text(target + 600, cfg) == ""
    assert countdown.state(target + 86400, cfg).phase == "over"
    # No done text: the zeroed countdown stays, with the label.
    zero = config(after={"show_done_for": 600})
    assert countdown.display_text(target + 10, zero) == "00:00:00"
    assert [p.text for p in countdown.layout(128, 32, target + 10, zero)] == [
        "Christmas",
        "00:00:00",
    ]
    # show_done_for 0: nothing as soon as the target passes.
    assert countdown.state(target, config(after={"show_done_for": 0})).phase == "over"


def test_countdown_without_a_target_is_unset() -> None:
    cfg = config(target="")
    assert countdown.state(at("2026-01-01T00:00"), cfg).phase == "unset"
    assert countdown.display_text(at("2026-01-01T00:00"), cfg) == ""


# --- timing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "fmt"),
    [
        ("2026-12-12T13:26:50.000", "auto"),
        ("2026-12-12T13:26:50.250", "auto"),
        ("2026-12-12T13:26:50.999", "auto"),
        ("2026-12-24T17:59:59.500", "auto"),  # the next change is the target itself
        ("2026-12-23T18:00:00.000", "auto"),  # the last second with days
        ("2026-12-23T18:00:00.000", "days"),
        ("2026-12-23T18:00:00.500", "days"),  # 23:59:59.5 left: the clock ticks
        ("2026-12-22T18:00:00.500", "days"),  # "2 days" -> "1 day" in a day: capped
    ],
)
def test_countdown_next_frame_is_due_when_the_text_changes(now: str, fmt: str) -> None:
    cfg = config(format=fmt, after={"done_text": "Merry Christmas!"})
    start = datetime.fromisoformat(now).replace(tzinfo=ZoneInfo(BERLIN)).timestamp()
    delay = countdown.next_delay(start, cfg)
    assert delay is not None and 0 < delay <= 60.01
    before = countdown.display_text(start, cfg)
    assert countdown.display_text(start + delay - 0.01, cfg) == before
    if delay < 60:
        assert countdown.display_text(start + delay, cfg) != before


def test_countdown_days_format_waits_a_minute_at_most() -> None:
    """The days format changes once a day, but a Pi's clock may be set at boot (NTP),
    so frames come at least once a minute."""
    cfg = config(format="days")
    assert countdown.next_delay(at("2026-12-12T13:26:50"), cfg) == pytest.approx(60.001)


def test_countdown_done_frame_lasts_until_the_done_period_ends_then_is_still() -> None:
    cfg = config(after={"done_text": "Merry Christmas!", "show_done_for": 30})
    target = at("2026-12-24T18:00")
    assert countdown.next_delay(target + 10, cfg) == pytest.approx(20.001)
    assert countdown.next_delay(target + 30, cfg) is None


def test_countdown_render_frame_returns_the_delay_and_draws_nothing_when_over() -> None:
    target = at("2026-12-24T18:00")
    with PluginRunner(countdown, config=config(after={"show_done_for": 5})) as runner:
        frame = runner.render_frame("countdown", now=target - 10.25)
        assert frame.delay == pytest.approx(0.251)
        assert lit(frame.pixels).any()
        over = runner.render_frame("countdown", now=target + 5)
        assert over.delay is None
        assert not lit(over.pixels).any()


# --- content -----------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(BERLIN)).strftime("%Y-%m-%dT%H:%M:%S")


def test_countdown_has_content_until_the_done_period_ends() -> None:
    """Real time: has_content has no ``now``; the targets are hours from any edge."""
    now = time.time()
    cases = [
        (now + 7200, 3600, True),  # counting
        (now - 7200, 3 * 3600, True),  # in the done period
        (now - 7200, 3600, False),  # after it
        (now - 7200, 0, False),
    ]
    for target, show_for, expected in cases:
        cfg = {"target": _iso(target), "timezone": BERLIN, "after": {"show_done_for": show_for}}
        with PluginRunner(countdown, config=cfg) as runner:
            assert runner.has_content("countdown") is expected, (target - now, show_for)
    with PluginRunner(countdown, config={"target": ""}) as runner:
        assert runner.has_content("countdown") is False


def test_countdown_refresh_wakes_at_the_next_change_of_content() -> None:
    now = time.time()
    cfg = {"target": _iso(now + 20), "timezone": BERLIN, "after": {"show_done_for": 3600}}
    with PluginRunner(countdown, config=cfg) as runner:
        delay = runner.refresh()
        assert delay is not None and 17 < delay <= 21
    cfg = {"target": _iso(now - 7200), "timezone": BERLIN, "after": {"show_done_for": 60}}
    with PluginRunner(countdown, config=cfg) as runner:
        assert runner.refresh() is None


# --- config errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"target": "2026-02-30T18:00"}, r"^target: '2026-02-30T18:00' is not a date"),
        ({"target": "2026-12-24T25:00"}, r"^target: .*is not a date and time"),
        ({"target": "2026-03-29T02:30"}, r"^target: .*does not exist in Europe/Berlin"),
        ({"timezone": "Mars/Olympus_Mons"}, r"^timezone: unknown time zone 'Mars/Olympus_Mons'"),
        ({"timezone": "../../etc/passwd"}, r"^timezone: unknown time zone"),
    ],
)
def test_countdown_bad_target_or_timezone_is_a_config_error_at_setup(
    overrides: dict[str, Any], match: str
) -> None:
    runner = PluginRunner(countdown, config={**CHRISTMAS, **overrides})
    with pytest.raises(PluginConfigError, match=match):
        runner.start()
    runner.close()


def test_countdown_bad_target_is_a_config_error_on_configure() -> None:
    with PluginRunner(countdown, config=CHRISTMAS) as runner:
        with pytest.raises(PluginConfigError, match="^target: "):
            runner.configure({**CHRISTMAS, "target": "2026-04-31"})


@pytest.mark.parametrize("target", ["24.12.2026", "2026-12-24T18:00+01:00", "tomorrow"])
def test_countdown_target_not_shaped_like_a_local_date_time_is_refused_by_the_schema(
    target: str,
) -> None:
    with pytest.raises(ValueError, match="target"):
        PluginRunner(countdown, config={"target": target})
    with pytest.raises(PluginConfigError, match="^target: "):
        countdown.target_instant(target, "")


def test_countdown_empty_time_zone_is_the_pis_local_time() -> None:
    local = datetime.fromisoformat("2026-12-24T18:00").timestamp()  # naive: local time
    assert countdown.target_instant("2026-12-24T18:00", "") == local


def test_countdown_ambiguous_time_means_the_first_occurrence() -> None:
    first = at("2026-10-25T02:30")  # fold=0: still summer time
    assert countdown.target_instant("2026-10-25T02:30", BERLIN) == first
    assert datetime.fromtimestamp(first, ZoneInfo(BERLIN)).utcoffset().total_seconds() == 7200  # type: ignore[union-attr]


# --- layout ------------------------------------------------------------------------------

NOW = at("2026-12-12T13:26:50")
LAST_DAY = at("2026-12-24T13:26:50")
VARIANTS: dict[str, tuple[dict[str, Any], float]] = {
    "days": (config(), NOW),
    "last_day": (config(), LAST_DAY),
    "days_only": (config(format="days"), NOW),
    "label_below_long": (
        config(label="Summer holidays in Portugal", label_position="below"),
        NOW,
    ),
    "no_label": (config(label=""), NOW),
    "done": (config(after={"done_text": "Merry Christmas!"}), at("2026-12-24T18:00:05")),
}


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_countdown_golden(variant: str, size: tuple[int, int]) -> None:
    cfg, now = VARIANTS[variant]
    with PluginRunner(countdown, size=size, config=cfg) as runner:
        frame = runner.render_frame("countdown", now=now)
    assert_golden(f"countdown/{variant}_{size_id(size)}", frame.pixels)


@pytest.mark.parametrize("size", [*PANEL_SIZES, (32, 16), (64, 16)], ids=size_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_countdown_nothing_is_clipped(variant: str, size: tuple[int, int]) -> None:
    width, height = size
    cfg, now = VARIANTS[variant]
    pieces = countdown.layout(width, height, now, cfg)
    assert pieces
    for piece in pieces:
        box = piece.face.font.ink_box(piece.text)
        assert box is not None
        x0, y0, x1, y1 = (v * piece.face.scale for v in box)
        assert 0 <= piece.x + x0 and piece.x + x1 <= width, piece
        assert 0 <= piece.y + y0 and piece.y + y1 <= height, piece


def test_countdown_label_shrinks_then_is_shortened_at_a_word() -> None:
    long = "Summer holidays in Portugal"
    pieces = countdown.layout(64, 32, NOW, config(label=long))
    label = [p for p in pieces if p.text not in ("12 days", "04:33:10")]
    assert [p.text for p in label] == ["Summer holidays\u2026"]
    assert label[0].face.name == "small"
    pieces = countdown.layout(256, 64, NOW, config(label=long))
    assert long in [p.text for p in pieces]


def test_countdown_label_gives_way_to_legible_digits_on_a_tiny_display() -> None:
    pieces = countdown.layout(64, 16, NOW, config(format="days"))
    assert [(p.text, p.face.name) for p in pieces] == [
        ("Christmas", "small"),
        ("12 days", "medium"),
    ]
    pieces = countdown.layout(64, 12, NOW, config(format="days"))
    assert [(p.text, p.face.name) for p in pieces] == [("12 days", "large")]


def test_countdown_lines_keep_still_as_the_digits_tick() -> None:
    cfg = config()
    for size in PANEL_SIZES:
        shapes = {
            tuple((p.x, p.y, p.face) for p in countdown.layout(*size, NOW + s, cfg))
            for s in (0, 1, 7, 3600 + 11)
        }
        assert len(shapes) == 1, size


def test_countdown_shortens_at_a_word_and_never_cuts_a_glyph() -> None:
    """Labels and done texts are cut by ``sdk.shorten(..., at_words=True)``: the examples
    of the rule the countdown had before the SDK took it over."""
    face = arrange.Face("medium")

    def cut(text: str, width: int) -> str:
        return shorten(text, face.font, width, at_words=True, scale=face.scale)

    assert cut("Hello", 64) == "Hello"
    assert cut("Supercalifragilistic", 64) == "Supercali\u2026"
    assert cut("Go to the big city", 64) == "Go to the\u2026"
    assert cut("Go to a big city", 64) == "Go to a\u2026"  # not "Go to a b…"
    for width in range(0, 80):
        assert face.width(cut("Supercalifragilistic", width)) <= width


# --- through a real worker ---------------------------------------------------------------


def test_countdown_renders_through_a_real_worker(
    test_specs: dict[str, PluginSpec], tmp_path: Path
) -> None:
    options = {"target": "2099-12-24T18:00", "timezone": BERLIN, "label": "Christmas"}
    frames, _ = render_mode(
        test_specs["countdown"],
        "countdown",
        width=128,
        height=32,
        frames=1,
        options=options,
        data_dir=tmp_path,
        rules=WorkerRules(uid=None),
    )
    (frame,) = frames
    colours = {tuple(int(c) for c in px) for px in frame.reshape(-1, 3)}
    assert colours == {(0, 0, 0), (0xFF, 0xD0, 0x00), (0x4F, 0x9D, 0xFF)}
