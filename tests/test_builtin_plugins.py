"""The builtin clock and text plugins, run in-process through sdk.testing with real drawing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from plugins_builtin import clock, text
from sdk import Canvas, PluginConfigError, PluginContext, Strip, hookimpl, load_font
from sdk.testing import PluginRunner, RecordingRequests, default_config, render
from tests.golden import PANEL_SIZES, assert_golden, size_id

# 2023-11-14 22:13:20 UTC, a Tuesday.
T = 1_700_000_000.0


def at(iso: str, tz: str = "UTC") -> float:
    """Epoch seconds of a wall-clock time in ``tz``."""
    return datetime.fromisoformat(iso).replace(tzinfo=ZoneInfo(tz)).timestamp()


def lit(pixels: np.ndarray) -> np.ndarray:
    return pixels.any(axis=2)


def clock_config(**overrides: Any) -> dict[str, Any]:
    return default_config(clock.CONFIG_SCHEMA, {"timezone": "UTC", **overrides})


# --- entry points ------------------------------------------------------------------------


def test_builtins_are_declared_in_the_plugin_entry_point_group() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="ledhost.plugins")}
    assert found.get("clock") == "plugins_builtin.clock"
    assert found.get("text") == "plugins_builtin.text"


@pytest.mark.parametrize(
    ("plugin", "mode", "duration"), [(clock, "time", 10.0), (text, "message", 15.0)]
)
def test_builtins_register_one_mode_and_a_schema_with_defaults(
    plugin: object, mode: str, duration: float
) -> None:
    with PluginRunner(plugin) as runner:
        # text also has its "notification" mode, shown only through the control socket.
        assert list(runner.modes) == [mode, *(["notification"] if plugin is text else [])]
        assert runner.modes[mode].duration == duration
        assert runner.schema is not None
        for key, prop in runner.schema["properties"].items():
            assert "default" in prop, key
            assert "description" in prop or "title" in prop, key


# --- clock text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "config", "expected"),
    [
        (T, {}, "22:13:20"),
        (T, {"format": "12h"}, "10:13:20 PM"),
        (T, {"show_seconds": False}, "22:13"),
        (T, {"timezone": "Europe/Berlin"}, "23:13:20"),
        (T, {"timezone": "America/New_York", "format": "12h", "show_seconds": False}, "5:13 PM"),
        (T, {"timezone": "Asia/Kolkata"}, "03:43:20"),
        (at("2024-03-05T00:07:09"), {"format": "12h"}, "12:07:09 AM"),
        (at("2024-03-05T12:00:00"), {"format": "12h"}, "12:00:00 PM"),
        (at("2024-03-05T09:05:00"), {}, "09:05:00"),
        (at("2024-03-05T09:05:00.999"), {"format": "12h"}, "9:05:00 AM"),
    ],
)
def test_clock_time_text(now: float, config: dict[str, Any], expected: str) -> None:
    assert clock.time_text(now, clock_config(**config)) == expected


def test_clock_time_follows_daylight_saving_in_its_zone() -> None:
    # Europe/Berlin leaves summer time on 2023-10-29 at 01:00 UTC.
    config = clock_config(timezone="Europe/Berlin")
    assert clock.time_text(at("2023-10-29T00:59:59"), config) == "02:59:59"
    assert clock.time_text(at("2023-10-29T01:00:00"), config) == "02:00:00"


def test_clock_local_time_zone_is_the_system_one() -> None:
    config = clock_config(timezone="")
    assert clock.time_text(T, config) == datetime.fromtimestamp(T).strftime("%H:%M:%S")


def test_clock_date_options_in_the_zone() -> None:
    assert clock.date_options(T, clock_config()) == [
        ["Tuesday", "14 November"],
        ["Tue 14 Nov"],
        ["14 Nov"],
    ]
    # Already Wednesday in India.
    assert clock.date_options(T, clock_config(timezone="Asia/Kolkata"))[1] == ["Wed 15 Nov"]


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "../../etc/passwd", "utc+2"])
def test_clock_unknown_time_zone_is_a_config_error_at_setup(name: str) -> None:
    runner = PluginRunner(clock, config={"timezone": name})
    with pytest.raises(PluginConfigError, match=r"unknown time zone .*IANA"):
        runner.start()
    runner.close()


def test_clock_unknown_time_zone_is_a_config_error_on_configure() -> None:
    with PluginRunner(clock, config={"timezone": "UTC"}) as runner:
        with pytest.raises(PluginConfigError, match="'Nowhere/Town'"):
            runner.configure({"timezone": "Nowhere/Town"})


# --- clock timing ------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.999, 0.5])
@pytest.mark.parametrize("show_seconds", [True, False])
def test_clock_next_frame_is_due_exactly_when_the_text_changes(
    fraction: float, show_seconds: bool
) -> None:
    config = clock_config(show_seconds=show_seconds)
    now = T + 17 + fraction
    delay = clock.next_delay(now, config)
    period = 1.0 if show_seconds else 60.0
    expected = period - now % period
    assert delay == pytest.approx(expected, abs=0.002)
    assert delay > 0
    assert clock.time_text(now + delay, config) != clock.time_text(now, config)
    assert clock.time_text(now + delay - 0.01, config) == clock.time_text(now, config)


def test_clock_render_frame_returns_the_delay_and_frames_tick_over() -> None:
    with PluginRunner(clock, config={"timezone": "UTC"}) as runner:
        first = runner.render_frame("time", now=T + 0.25)
        assert first.delay == pytest.approx(0.75, abs=0.002)
        same = runner.render_frame("time", now=T + 0.9)
        assert np.array_equal(first.pixels, same.pixels)
        assert first.delay is not None
        nxt = runner.render_frame("time", now=T + 0.25 + first.delay)
        assert not np.array_equal(first.pixels, nxt.pixels)


def test_render_follows_the_delays_the_plugin_returns() -> None:
    frames = render(clock, "time", config={"timezone": "UTC"}, now=T + 0.5, frames=3)
    assert len(frames) == 3
    assert not np.array_equal(frames[0], frames[1])
    assert not np.array_equal(frames[1], frames[2])
    expected = render(clock, "time", config={"timezone": "UTC"}, now=T + 2.0)[0]
    assert np.array_equal(frames[2], expected)


# --- clock layout ------------------------------------------------------------------------

SIZES = [(64, 32), (128, 32), (128, 64), (256, 64)]
CONFIGS = [
    {},
    {"format": "12h"},
    {"show_seconds": False},
    {"format": "12h", "show_seconds": False},
    {"show_date": False},
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("overrides", CONFIGS)
def test_clock_is_legible_and_nothing_is_clipped(
    size: tuple[int, int], overrides: dict[str, Any]
) -> None:
    width, height = size
    config = clock_config(**overrides)
    now = at("2023-09-27T12:58:57")  # "September" and "Wednesday": the widest date
    (frame,) = render(clock, "time", size=size, config=config, now=now)
    pieces = clock.layout(width, height, now, config)

    main, suffix = clock.time_parts(now, config)
    assert pieces[0].text == main
    assert pieces[0].font.height >= 10, "the time is set in medium or bigger"
    if suffix:
        assert pieces[1].text == suffix
    dates = [p.text for p in pieces[1 + bool(suffix) :]]
    if overrides.get("show_date", True):
        assert dates in clock.date_options(now, config)
        assert all(p.font.height >= 10 for p in pieces[1 + bool(suffix) :])
    else:
        assert dates == []

    lit_total = 0
    for piece in pieces:
        box = piece.font.ink_box(piece.text)
        assert box is not None
        x0, y0, x1, y1 = (edge * piece.scale for edge in box)
        assert 0 <= piece.x + x0 and piece.x + x1 <= width, piece
        assert 0 <= piece.y + y0 and piece.y + y1 <= height, piece
        alone = Canvas(width + 80, height + 80)
        alone.text(
            piece.x + 40, piece.y + 40, piece.text, piece.font, piece.color, scale=piece.scale
        )
        lit_total += int(lit(alone.to_array()).sum())
    # Every pixel each piece lights on its own is lit in the frame: none clipped or shared.
    assert int(lit(frame).sum()) == lit_total
    assert lit_total > 100

    # Lines (the AM/PM hangs beside the time) are apart and spread over the display.
    lines = [p for p in pieces if p.text != suffix]
    rows = []
    for piece in lines:
        box = piece.font.ink_box(piece.text)
        assert box is not None
        rows.append((piece.y + box[1] * piece.scale, piece.y + box[3] * piece.scale))
    gaps = [below[0] - above[1] for above, below in zip(rows, rows[1:], strict=False)]
    assert all(gap >= 2 for gap in gaps), gaps
    top_margin, bottom_margin = rows[0][0], height - rows[-1][1]
    slack = max(p.font.descent for p in lines) + 1  # no descenders in today's date
    assert abs(top_margin - bottom_margin) <= slack, (top_margin, bottom_margin)


def test_clock_at_64x32_uses_the_biggest_fonts_that_fit() -> None:
    pieces = clock.layout(64, 32, T, clock_config())
    assert [(p.text, p.font.name) for p in pieces] == [
        ("22:13:20", "large"),
        ("Tue 14 Nov", "medium"),
    ]
    pieces = clock.layout(64, 32, T, clock_config(show_seconds=False))
    assert [(p.text, p.font.name) for p in pieces] == [
        ("22:13", "xlarge"),
        ("Tue 14 Nov", "medium"),
    ]
    pieces = clock.layout(128, 64, T, clock_config())
    assert [p.text for p in pieces] == ["22:13:20", "Tuesday", "14 November"]


def test_clock_layout_does_not_move_as_the_time_and_date_change() -> None:
    config = clock_config()
    nows = [at(s) for s in ("2023-05-01T00:00:00", "2023-09-27T23:59:59", "2023-02-11T11:11:11")]
    for size in SIZES:
        shapes = {
            tuple((p.y, p.font.name) for p in clock.layout(*size, now, config)) for now in nows
        }
        assert len(shapes) == 1, size


def test_clock_draws_in_the_configured_colours() -> None:
    config = {"timezone": "UTC", "color": "#ff0000", "date_color": "#00ff00"}
    (frame,) = render(clock, "time", config=config, now=T)
    colours = {tuple(c) for c in frame.reshape(-1, 3)}
    assert colours == {(0, 0, 0), (255, 0, 0), (0, 255, 0)}


def test_clock_still_draws_something_on_a_tiny_display() -> None:
    (frame,) = render(clock, "time", size=(32, 16), config={"timezone": "UTC"}, now=T)
    assert lit(frame).any()


# --- text --------------------------------------------------------------------------------


def test_text_default_message_scrolls_as_a_strip_as_wide_as_the_text() -> None:
    with PluginRunner(text) as runner:
        strip = runner.render_strip("message")
        assert isinstance(strip, Strip)
        width, line = load_font("medium").measure(text.DEFAULT_MESSAGE)
        assert width > 64
        assert strip.canvas.size == (width, 32)
        assert strip.speed == 24.0
        pixels = strip.canvas.to_array()
        rows = np.nonzero(lit(pixels).any(axis=1))[0]
        top = (32 - line) // 2
        assert top <= rows.min() and rows.max() < top + line, "vertically centred"
        assert lit(pixels)[:, -6:].any(), "the end of the message is in the strip"
    (array,) = render(text, "message")
    assert np.array_equal(array, pixels)


def test_text_that_fits_is_a_still_centred_frame() -> None:
    config = {"message": "Hello", "font": "small"}
    with PluginRunner(text, config=config) as runner:
        assert runner.render_strip("message") is None
        frame = runner.render_frame("message", now=T)
    assert frame.delay is None
    cols = np.nonzero(lit(frame.pixels).any(axis=0))[0]
    width = load_font("small").measure("Hello")[0]
    assert cols.min() >= (64 - width) // 2
    assert cols.max() < (64 - width) // 2 + width
    assert abs(cols.min() - (63 - cols.max())) <= 2


@pytest.mark.parametrize(
    ("message", "scroll", "shrink", "size", "strip_expected"),
    [
        ("Hi", "auto", True, (64, 32), False),
        ("Hi", "always", True, (64, 32), True),
        ("A message far too long for the panel", "auto", True, (64, 32), True),
        ("A message far too long for the panel", "never", True, (64, 32), False),
        ("A message far too long for the panel", "auto", True, (256, 32), False),
        ("0123456789", "auto", True, (60, 32), False),  # exactly 60 px in medium: fits
        ("0123456789", "auto", False, (59, 32), True),
        # Changed on purpose: a message that fits a smaller font shrinks before it scrolls.
        ("0123456789", "auto", True, (59, 32), False),
    ],
)
def test_text_strip_or_still_decision(
    message: str, scroll: str, shrink: bool, size: tuple[int, int], strip_expected: bool
) -> None:
    config = {"message": message, "scroll": scroll, "shrink": shrink}
    with PluginRunner(text, size=size, config=config) as runner:
        strip = runner.render_strip("message")
        assert (strip is not None) is strip_expected
        if strip is not None:
            assert strip.canvas.width == load_font("medium").measure(message)[0]
        else:
            assert lit(runner.render_frame("message").pixels).any()


# Changed on purpose: the start of a long message is cut after whole glyphs and ends in an
# ellipsis, instead of running off the edge with a glyph cut in half.
@pytest.mark.parametrize(
    ("message", "shown"), [("Wide " * 20, "Wide Wide\u2026"), ("0123456789AB", "012345678\u2026")]
)
def test_text_never_scrolling_shows_the_start_of_a_long_message(message: str, shown: str) -> None:
    config = {"message": message, "scroll": "never", "shrink": False}
    (frame,) = render(text, "message", config=config)
    expected = Canvas(64, 32)
    expected.text_centered(shown, "medium", text.CONFIG_SCHEMA["properties"]["color"]["default"])
    assert np.array_equal(frame, expected.to_array())


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_text_empty_message_has_no_content(message: str) -> None:
    with PluginRunner(text, config={"message": message}) as runner:
        assert runner.has_content("message") is False
        assert runner.render_strip("message") is None
        assert not lit(runner.render_frame("message").pixels).any()
    with PluginRunner(text) as runner:
        assert runner.has_content("message") is True


def test_text_configure_applies_the_new_message_font_and_speed() -> None:
    with PluginRunner(text, config={"message": "Hi"}) as runner:
        assert runner.render_strip("message") is None
        runner.configure({"message": "Now a much longer message", "font": "xlarge", "speed": 40})
        strip = runner.render_strip("message")
        assert strip is not None
        assert strip.speed == 40.0
        assert strip.canvas.width == load_font("xlarge").measure("Now a much longer message")[0]
        runner.configure({"message": ""})
        assert runner.has_content("message") is False


def test_text_config_outside_the_schema_is_refused() -> None:
    with PluginRunner(text) as runner:
        with pytest.raises(ValueError, match="font"):
            runner.configure({"font": "huge"})
        with pytest.raises(ValueError, match="speed"):
            runner.configure({"speed": 0})


def test_text_draws_characters_outside_the_font_without_failing() -> None:
    (frame,) = render(text, "message", config={"message": "Zürich −3 °C ☂"})
    assert lit(frame).any()


# --- sdk.testing itself ------------------------------------------------------------------


class Recorder:
    """An inline plugin that asks the host for things and tracks its lifecycle."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def register_modes(self, register: Any) -> None:
        register("one", title="One", duration=3)

    @hookimpl
    def register_actions(self, register: Any) -> None:
        register("ping")

    @hookimpl
    def config_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "outer": {"type": "object", "properties": {"inner": {"default": 5}}},
                "flag": {"type": "boolean", "default": False},
            },
        }

    @hookimpl
    def setup(self, context: PluginContext) -> None:
        self.calls.append("setup")

    @hookimpl
    def refresh_data(self, context: PluginContext) -> float:
        self.calls.append("refresh")
        context.request_redraw("one")
        context.request_interrupt("one", priority=70, seconds=5)
        context.release_interrupt("one")
        return 30.0

    @hookimpl
    def handle_action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"pong": params.get("n")}

    @hookimpl
    def render_frame(self, canvas: Canvas, frame: int) -> float:
        canvas.text(0, 0, str(frame))
        return 0.5

    @hookimpl
    def teardown(self, context: PluginContext) -> None:
        self.calls.append("teardown")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield Recorder()


def test_runner_fills_defaults_records_requests_and_runs_the_lifecycle(
    recorder: Recorder,
) -> None:
    with PluginRunner(recorder, config={"flag": True}) as runner:
        assert runner.config == {"outer": {"inner": 5}, "flag": True}
        assert runner.modes["one"].title == "One"
        assert isinstance(runner.requests, RecordingRequests)
        assert runner.requests.redraws == ["one"]
        assert runner.requests.interrupts == [("one", 70, 5)]
        assert runner.requests.releases == ["one"]
        assert runner.action("ping", {"n": 3}) == {"pong": 3}
        assert runner.render_frame("one", frame=7).delay == 0.5
        data_dir = runner.context.data_dir
        assert data_dir.is_dir()
        with pytest.raises(ValueError, match=r"no mode 'two'.*\['one'\]"):
            runner.render_frame("two")
        with pytest.raises(ValueError, match="no action 'pong'"):
            runner.action("pong")
    assert recorder.calls == ["setup", "refresh", "teardown"]
    assert not data_dir.exists()


def test_runner_refuses_a_plugin_with_a_misspelled_hook() -> None:
    class Typo:
        __name__ = "typo"

        @hookimpl
        def register_modes(self, register: Any) -> None:
            register("x")

        @hookimpl
        def render_fram(self) -> None: ...

    with pytest.raises(Exception, match="render_fram"):
        PluginRunner(Typo())


def test_default_config_keeps_given_values_and_fills_nested_defaults() -> None:
    schema = {
        "properties": {
            "a": {"default": 1},
            "b": {"properties": {"c": {"default": [1]}, "d": {"default": "x"}}},
            "e": {"type": "string"},
        }
    }
    assert default_config(schema) == {"a": 1, "b": {"c": [1], "d": "x"}}
    assert default_config(schema, {"a": 2, "b": {"d": "y"}}) == {
        "a": 2,
        "b": {"c": [1], "d": "y"},
    }
    assert default_config(None, {"k": 1}) == {"k": 1}


# --- clock golden images -------------------------------------------------------------------


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize(
    ("case", "config"),
    [
        ("24h", {}),
        ("12h", {"format": "12h", "show_seconds": False}),
        ("time_only", {"show_date": False}),
    ],
)
def test_clock_golden(case: str, config: dict[str, Any], size: tuple[int, int]) -> None:
    """Verify each face at each panel size against its reviewed image (regenerate with
    ``LEDHOST_UPDATE_GOLDEN=1``, see tests/golden.py)."""
    (frame,) = render(clock, "time", size=size, config=clock_config(**config), now=T)
    assert_golden(f"clock/{case}_{size_id(size)}", frame)
