"""The text builtin's messages in turn, shrinking, alignment and strips, at every panel size.

The single-message basics are in ``tests/test_builtin_plugins.py``. Regenerate the golden
images after an intended change of the look with
``LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_text.py`` and review
them (``tests/golden/text/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.cli.probe import render_mode
from host.discovery import PluginSpec
from host.supervise.rules import WorkerRules
from plugins_builtin import text
from sdk import Canvas, PluginConfigError, font_names, load_font
from sdk.testing import PluginRunner, default_config
from tests.golden import PANEL_SIZES, assert_golden, size_id

T = 1_700_000_000.0
AMBER = (0xFF, 0xB0, 0x00)
SEPARATOR_LINE = (60, 60, 60)


def lit(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels.any(axis=2))


def colours(pixels: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(c) for c in px) for px in pixels.reshape(-1, 3)}


def config(**overrides: Any) -> dict[str, Any]:
    return default_config(text.CONFIG_SCHEMA, overrides)


HOURS = [
    {"text": "Open", "color": "#00ff60"},
    {"text": "Mon-Fri 9-18"},
    {"text": "Sat 10-14", "color": "#4fc3ff"},
]
NEWS = [
    {
        "text": "Breaking: ledhost now ships eight builtin plugins, from clocks to scoreboards",
        "color": "#ff4040",
    },
    {"text": "Weather: sunny, 21°C", "color": "#4fc3ff"},
    {"text": "Have a nice day"},
]
#: Per width, a message one step too wide for "xlarge" that fits a smaller font.
SHRUNK = {64: "Lunch time", 128: "Back in 5 minutes", 256: "Back in five minutes, sorry!"}


# --- which messages ----------------------------------------------------------------------


def test_text_messages_replace_the_message_and_empty_ones_are_skipped() -> None:
    cfg = config(message="ignored", messages=[{"text": " One "}, {"text": ""}, *HOURS[2:]])
    assert text.entries(cfg) == [
        text.Entry("One", AMBER),
        text.Entry("Sat 10-14", (0x4F, 0xC3, 0xFF)),
    ]
    # Only empty rows (left in the web form): the message still shows.
    assert text.entries(config(message="Hi", messages=[{"text": "  "}])) == [
        text.Entry("Hi", AMBER)
    ]
    assert text.entries(config(message="", messages=[])) == []


def test_text_bad_message_colour_is_refused() -> None:
    with pytest.raises(ValueError, match=r"plugins\.text\.messages\[0\]\.color: "):
        PluginRunner(text, config={"messages": [{"text": "x", "color": "red"}]})
    with pytest.raises(ValueError, match="messages"):
        PluginRunner(text, config={"messages": ["just a string"]})
    with pytest.raises(PluginConfigError, match=r"^messages\[0\]\.color: "):
        text._check_config({"messages": [{"text": "x", "color": "#12"}]})


# --- still messages in turn --------------------------------------------------------------


def test_text_still_messages_take_turns_at_the_configured_pace() -> None:
    cfg = {"messages": HOURS, "font": "small", "seconds_per_message": 4}
    with PluginRunner(text, size=(64, 32), config=cfg) as runner:
        assert runner.render_strip("message") is None
        first = runner.render_frame("message", now=T, frame=0)
        assert first.delay == pytest.approx(4.0, abs=0.01)
        assert runner.requests.more_time == [("message", 12.0)]
        shown = [first.pixels]
        now = T
        for index in range(1, 4):
            assert first.delay is not None
            now += first.delay
            frame = runner.render_frame("message", now=now, frame=index)
            assert frame.delay == pytest.approx(4.0, abs=0.01)
            shown.append(frame.pixels)
        # Three different messages, then the first again.
        assert not np.array_equal(shown[0], shown[1])
        assert not np.array_equal(shown[1], shown[2])
        assert np.array_equal(shown[3], shown[0])
        assert (0x00, 0xFF, 0x60) in colours(shown[0])
        assert AMBER in colours(shown[1])


def test_text_redraw_in_the_middle_of_a_turn_keeps_the_message_and_its_end() -> None:
    cfg = {"messages": HOURS, "seconds_per_message": 10}
    with PluginRunner(text, config=cfg) as runner:
        runner.render_frame("message", now=T, frame=0)
        second = runner.render_frame("message", now=T + 10.001, frame=1)
        # A redraw 3 s into the second message (new data, a config change) is frame 2.
        again = runner.render_frame("message", now=T + 13, frame=2)
        assert np.array_equal(again.pixels, second.pixels)
        assert again.delay == pytest.approx(7.0, abs=0.01)
        # A new activation starts from the first message.
        restart = runner.render_frame("message", now=T + 13, frame=0)
        assert (0x00, 0xFF, 0x60) in colours(restart.pixels)


def test_text_a_single_message_is_a_still_frame() -> None:
    with PluginRunner(text, config={"messages": [{"text": "Hi"}]}) as runner:
        frame = runner.render_frame("message", now=T, frame=0)
    assert frame.delay is None
    assert runner.requests.more_time == []


# --- shrinking, alignment, never clipped -------------------------------------------------


@pytest.mark.parametrize("width", [64, 128, 256])
def test_text_shrinks_to_the_biggest_smaller_font_that_fits(width: int) -> None:
    cfg = config(font="xlarge", message=SHRUNK[width])
    font = text.still_font(SHRUNK[width], cfg, width, 32)
    assert font is not None and font.name != "xlarge"
    bigger = font_names()[font_names().index(font.name) + 1]
    assert load_font(bigger).measure(SHRUNK[width])[0] > width
    assert text.still_font(SHRUNK[width], {**cfg, "shrink": False}, width, 32) is None


def test_text_never_shrinks_to_a_font_bigger_than_the_configured_one() -> None:
    cfg = config(font="small", message="Short")
    assert text.still_font("Short", cfg, 256, 64) is load_font("small")
    cfg = config(font="small", message="x" * 20)
    assert text.scrolls(cfg, 64, 32)


def test_text_a_font_taller_than_the_display_is_not_used() -> None:
    cfg = config(font="xlarge", message="Hi")
    assert text.configured_font(cfg, 16).name == "large"
    assert text.configured_font(cfg, 4).name == "small"  # nothing fits: the smallest
    with PluginRunner(text, size=(64, 16), config=cfg) as runner:
        frame = runner.render_frame("message", now=T)
    expected = Canvas(64, 16)
    expected.text_centered("Hi", "large", AMBER)
    assert np.array_equal(frame.pixels, expected.to_array())


def test_text_align_left_puts_a_still_message_at_the_left_edge() -> None:
    with PluginRunner(text, config={"message": "Hello", "align": "left"}) as runner:
        frame = runner.render_frame("message", now=T)
    expected = Canvas(64, 32)
    expected.text(0, (32 - 10) // 2, "Hello", "medium", AMBER)
    assert np.array_equal(frame.pixels, expected.to_array())


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("scroll", ["auto", "never"])
def test_text_still_frames_never_cut_a_glyph(size: tuple[int, int], scroll: str) -> None:
    """Every message drawn still lights exactly the pixels it lights with room to spare."""
    if scroll == "never":  # too long for any font: shortened on purpose
        messages = [*HOURS, *NEWS, {"text": "W" * 80}]
    else:  # messages that all fit whole, some only shrunk (at 64x32): no strip
        messages = [*HOURS, NEWS[2]]
    cfg = config(messages=messages, scroll=scroll, font="large")
    with PluginRunner(text, size=size, config=cfg) as runner:
        assert runner.render_strip("message") is None
        for index, entry in enumerate(text.entries(runner.config)):
            frame = runner.render_frame("message", now=T + 5 * index, frame=index or 0)
            font = text.still_font(entry.text, runner.config, *size)
            shown = entry.text
            if font is None:
                font = text.configured_font(runner.config, size[1])
                shown = text.shorten(entry.text, font, size[0])
                assert shown.endswith("\u2026")
            roomy = Canvas(size[0] * 8, size[1] + 40)
            roomy.text(0, 20, shown, font, entry.color)
            assert int(lit(frame.pixels).sum()) == int(lit(roomy.to_array()).sum()), entry


# --- strips ------------------------------------------------------------------------------


def test_text_if_one_message_must_scroll_all_scroll_as_one_strip_in_their_colours() -> None:
    with PluginRunner(text, config={"messages": NEWS}) as runner:
        strip = runner.render_strip("message")
    assert strip is not None
    font = load_font("medium")
    separator = text.CONFIG_SCHEMA["properties"]["separator"]["default"]
    expected_width = sum(font.measure(m["text"])[0] for m in NEWS)
    expected_width += 2 * font.measure(separator)[0]
    assert strip.canvas.width == expected_width
    assert colours(strip.canvas.to_array()) == {
        (0, 0, 0),
        (0xFF, 0x40, 0x40),
        (0x4F, 0xC3, 0xFF),
        AMBER,
    }
    # The first message starts the strip, in its colour.
    first = strip.canvas.to_array()[:, : font.measure(NEWS[0]["text"])[0]]
    assert colours(first) == {(0, 0, 0), (0xFF, 0x40, 0x40)}


def test_text_a_strip_is_never_wider_than_the_host_accepts() -> None:
    messages = [{"text": f"{i:02d} " + "x" * 900} for i in range(50)]
    with PluginRunner(text, config={"messages": messages, "font": "xlarge"}) as runner:
        strip = runner.render_strip("message")  # the runner checks the host's limit
    assert strip is not None
    assert text.MAX_STRIP_WIDTH - 10 < strip.canvas.width <= text.MAX_STRIP_WIDTH


def test_text_always_scrolling_keeps_every_message_whole_in_one_strip() -> None:
    with PluginRunner(text, config={"messages": HOURS, "scroll": "always"}) as runner:
        strip = runner.render_strip("message")
        assert strip is not None
        assert strip.canvas.width > sum(load_font("medium").measure(m["text"])[0] for m in HOURS)


# --- golden images -----------------------------------------------------------------------


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_text_golden_still_centred(size: tuple[int, int]) -> None:
    with PluginRunner(text, size=size, config={"message": "Hello!"}) as runner:
        frame = runner.render_frame("message", now=T)
    assert_golden(f"text/still_{size_id(size)}", frame.pixels)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_text_golden_shrunk(size: tuple[int, int]) -> None:
    cfg = {"message": SHRUNK[size[0]], "font": "xlarge", "color": "#80ff80"}
    with PluginRunner(text, size=size, config=cfg) as runner:
        assert runner.render_strip("message") is None
        frame = runner.render_frame("message", now=T)
    assert_golden(f"text/shrunk_{size_id(size)}", frame.pixels)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_text_golden_strip_of_several_messages(size: tuple[int, int]) -> None:
    with PluginRunner(text, size=size, config={"messages": NEWS, "font": "large"}) as runner:
        strip = runner.render_strip("message")
    assert strip is not None
    assert_golden(f"text/strip_{size_id(size)}", strip.canvas.to_array())


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
def test_text_golden_messages_in_turn(size: tuple[int, int]) -> None:
    """The three frames one after another, stacked with a grey line between them."""
    cfg = {"messages": HOURS, "font": "large", "seconds_per_message": 3}
    rows: list[np.ndarray] = []
    with PluginRunner(text, size=size, config=cfg) as runner:
        now = T
        for index in range(3):
            frame = runner.render_frame("message", now=now, frame=index)
            assert frame.delay is not None
            now += frame.delay
            if rows:
                rows.append(np.full((1, size[0], 3), SEPARATOR_LINE, dtype=np.uint8))
            rows.append(frame.pixels)
    assert_golden(f"text/in_turn_{size_id(size)}", np.concatenate(rows))


# --- through a real worker ---------------------------------------------------------------


def test_text_messages_scroll_through_a_real_worker(
    test_specs: dict[str, PluginSpec], tmp_path: Path
) -> None:
    frames, _ = render_mode(
        test_specs["text"],
        "message",
        width=64,
        height=32,
        frames=1,
        options={"messages": NEWS},
        data_dir=tmp_path,
        rules=WorkerRules(uid=None),
    )
    (strip,) = frames
    with PluginRunner(text, config={"messages": NEWS}) as runner:
        expected = runner.render_strip("message")
    assert expected is not None
    assert np.array_equal(strip, expected.canvas.to_array())


def test_text_that_fits_is_still_a_strip_for_the_ticker() -> None:
    """Verify a short message joins the ticker: the ticker carries only strips."""
    from plugins_builtin import text
    from sdk.testing import PluginRunner

    with PluginRunner(text, size=(64, 32), config={"message": "Hi"}) as runner:
        assert runner.render_strip("message") is None  # on its own: a still frame
        strip = runner.render_strip("message", ticker=True)
        assert strip is not None and strip.canvas.height == 32
        assert strip.canvas.to_array().any()
    with PluginRunner(text, config={"message": ""}) as runner:
        assert runner.render_strip("message", ticker=True) is None  # nothing to say
