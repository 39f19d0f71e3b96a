"""Text: messages, still when they fit the display, scrolling when they do not.

An ordinary plugin that uses only :mod:`sdk`. A message too wide for the display first
shrinks to a smaller font (never bigger than the configured one) and, when even that does
not fit, is drawn once as a strip (``render_strip``) that the host slides across the
panel, so scrolling costs the worker one render, not one per pixel of motion.

Several messages take turns: still ones one after another, each for
``seconds_per_message``, timed by the delays ``render_frame`` returns. If any of them has
to scroll, all of them scroll together as one strip, each in its own colour, so the
reader never waits through a still message to see the rest of a moving one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sdk import (
    MAX_STRIP_WIDTH,
    Canvas,
    Font,
    PluginConfigError,
    PluginContext,
    Strip,
    check_colors,
    color_option,
    fit_font,
    font_names,
    hookimpl,
    load_font,
    shorten,
)
from sdk.canvas import RGB, parse_color
from sdk.options import COLOR_PATTERN

MODE = "message"
#: A notification sent through the control socket (``ledhost notify TEXT``): the host asks
#: action ``notify`` to hold the text, then interrupts with this mode.
NOTICE = "notification"
DEFAULT_MESSAGE = "ledhost: every plugin in its own process — nothing can freeze the panel"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {
            "type": "string",
            "maxLength": 1000,
            "default": DEFAULT_MESSAGE,
            "title": "Message",
            "description": "The text to show, on one line. Empty: the mode is skipped. "
            "Ignored when Messages has any.",
        },
        "messages": {
            "type": "array",
            "maxItems": 50,
            "default": [],
            "title": "Messages",
            "description": "Several messages shown in turn; when there are any, they "
            "replace Message. Still ones take turns; if one must scroll, all scroll "
            "together, each in its own colour.",
            "items": {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "properties": {
                    "text": {
                        "type": "string",
                        "maxLength": 1000,
                        "title": "Text",
                        "description": "The message, on one line; empty ones are skipped.",
                    },
                    # No default: a message without a colour takes the one below.
                    "color": {
                        "type": "string",
                        "pattern": COLOR_PATTERN,
                        "format": "color",
                        "title": "Colour",
                        "description": "This message's colour; left out, the Colour below.",
                    },
                },
            },
        },
        "color": color_option(
            "#ffb000",
            "Colour",
            "The colour of the message (and of messages without their own, and of the separator).",
        ),
        "speed": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 500,
            "default": 24,
            "title": "Scroll speed",
            "description": "Pixels per second.",
        },
        "font": {
            "type": "string",
            "enum": font_names(),
            "default": "medium",
            "title": "Font",
            "description": "small 4x6, medium 6x10, large 7x13, xlarge 10x20 pixels: "
            "the biggest used. A font taller than the display is never used.",
        },
        "shrink": {
            "type": "boolean",
            "default": True,
            "title": "Shrink to fit",
            "description": "A message wider than the display is set in the biggest smaller "
            "font it fits in before it scrolls (or, with scrolling off, is shortened).",
        },
        "scroll": {
            "type": "string",
            "enum": ["auto", "always", "never"],
            "default": "auto",
            "title": "Scrolling",
            "description": "auto: scroll only what does not fit the display; always: "
            "scroll every message; never: show a long message's start, shortened with …",
        },
        "align": {
            "type": "string",
            "enum": ["center", "left"],
            "default": "center",
            "title": "Alignment",
            "description": "Where a still message sits across the display.",
        },
        "seconds_per_message": {
            "type": "number",
            "minimum": 1,
            "maximum": 3600,
            "default": 5,
            "title": "Seconds per message",
            "description": "How long each still message stays when there are several.",
        },
        "separator": {
            "type": "string",
            "maxLength": 20,
            "default": "  \u2022  ",
            "title": "Separator",
            "description": "What goes between messages that scroll together; "
            "empty: a gap of three spaces.",
        },
    },
}

#: Frames are asked for this long after a turn ends, never a float rounding before.
_LATE = 0.001


@dataclass(frozen=True)
class Entry:
    """One message to show, in its colour."""

    text: str
    color: RGB


#: When each instance's rotation of still messages began (its frame 0), per context: one
#: worker runs one instance, but tests run several in one process.
_started: weakref.WeakKeyDictionary[PluginContext, float] = weakref.WeakKeyDictionary()


#: The notification each instance holds (the last one sent), per context.
_notices: weakref.WeakKeyDictionary[PluginContext, Entry] = weakref.WeakKeyDictionary()


def message(config: Mapping[str, Any]) -> str:
    """The single message: the configured one without surrounding whitespace."""
    return str(config.get("message", "")).strip()


def entries(config: Mapping[str, Any]) -> list[Entry]:
    """The messages to show, in order: those of ``messages`` that have text, else
    ``message`` (so an empty row left in the web form hides nothing)."""
    default = parse_color(config.get("color", "#ffb000"))
    listed = [
        Entry(str(item.get("text", "")).strip(), parse_color(item.get("color") or default))
        for item in config.get("messages") or []
        if isinstance(item, Mapping)
    ]
    listed = [entry for entry in listed if entry.text]
    if listed:
        return listed
    text = message(config)
    return [Entry(text, default)] if text else []


def configured_font(config: Mapping[str, Any], height: int) -> Font:
    """The configured font, or the biggest smaller one no taller than ``height``: a font
    taller than the display could only show glyphs cut in half."""
    name = str(config.get("font", "medium"))
    names = font_names()
    allowed = list(reversed(names[: names.index(name) + 1]))
    fitting = [n for n in allowed if load_font(n).height <= height]
    return load_font(fitting[0] if fitting else names[0])


def still_font(text: str, config: Mapping[str, Any], width: int, height: int) -> Font | None:
    """The font ``text`` is shown still in at ``width`` x ``height``, or ``None`` if it
    does not fit whole: the configured one, or with ``shrink`` the biggest smaller one it
    fits in (:func:`sdk.fit_font`)."""
    font = configured_font(config, height)
    if not config.get("shrink", True):
        return font if font.measure(text)[0] <= width else None
    names = font_names()
    smaller = list(reversed(names[: names.index(font.name) + 1]))
    return fit_font(text, width, height, names=smaller)


def scrolls(config: Mapping[str, Any], width: int, height: int) -> bool:
    """Whether the messages scroll (as one strip) on a ``width`` x ``height`` display."""
    shown = entries(config)
    mode = config.get("scroll", "auto")
    if not shown or mode == "never":
        return False
    return mode == "always" or any(still_font(e.text, config, width, height) is None for e in shown)


def draw_strip(shown: Sequence[Entry], config: Mapping[str, Any], height: int) -> Canvas:
    """All messages on one line in the configured font, separated by ``separator``.

    The host takes strips up to :data:`MAX_STRIP_WIDTH` pixels wide; 50 long messages
    could make a wider one, so what would pass the limit is left out, ending in "…".
    """
    font = configured_font(config, height)
    separator = str(config.get("separator", "  \u2022  ")) or "   "
    separator_color = parse_color(config.get("color", "#ffb000"))
    runs: list[tuple[str, RGB]] = []
    for index, entry in enumerate(shown):
        if index:
            runs.append((separator, separator_color))
        runs.append((entry.text, entry.color))
    kept: list[tuple[str, RGB]] = []
    width = 0
    for text, color in runs:
        room = MAX_STRIP_WIDTH - width
        if font.measure(text)[0] > room:
            kept.append((shorten(text, font, room), color))
            break
        kept.append((text, color))
        width += font.measure(text)[0]
    strip = Canvas(max(1, sum(font.measure(text)[0] for text, _ in kept)), height)
    top = (height - font.height) // 2
    x = 0
    for text, color in kept:
        x = strip.text(x, top, text, font, color)
    return strip


def draw_still(canvas: Canvas, entry: Entry, config: Mapping[str, Any]) -> None:
    """One message, still: in the font it fits in whole, else shortened in the
    configured font; centred (or left) across, centred down."""
    font = still_font(entry.text, config, canvas.width, canvas.height)
    text = entry.text
    if font is None:
        font = configured_font(config, canvas.height)
        text = shorten(text, font, canvas.width)
    width = font.measure(text)[0]
    x = 0 if config.get("align", "center") == "left" else (canvas.width - width) // 2
    canvas.text(x, (canvas.height - font.height) // 2, text, font, entry.color)


def turn(now: float, started: float, count: int, seconds: float) -> tuple[int, float]:
    """``(index of the message on screen, seconds until the next one)`` for ``count``
    still messages shown ``seconds`` each since ``started``."""
    elapsed = max(0.0, now - started)
    index = int(elapsed // seconds) % count
    return index, seconds - elapsed % seconds + _LATE


def _check_config(config: Mapping[str, Any]) -> None:
    """Fail early, with a message for the user, on values the schema cannot rule out."""
    try:
        load_font(config.get("font", "medium"))
    except ValueError as exc:
        raise PluginConfigError(f"font: {exc}") from exc
    check_colors(config, "color")
    for index, item in enumerate(config.get("messages") or []):
        if not isinstance(item, Mapping):
            raise PluginConfigError(
                f"messages[{index}]: expected {{text = ..., color = ...}}, got {item!r}"
            )
        if item.get("color"):
            try:
                parse_color(item["color"])
            except ValueError as exc:
                raise PluginConfigError(f"messages[{index}].color: {exc}") from exc
    speed = config.get("speed", 24)
    if not isinstance(speed, int | float) or isinstance(speed, bool) or speed <= 0:
        raise PluginConfigError(f"speed must be a positive number of pixels per second: {speed!r}")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(MODE, title="Message", duration=15.0)
    register(NOTICE, title="Notification", duration=10.0)


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register(
        "notify",
        title="Hold a notification's text for the notification mode",
        params_schema={
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": 1024},
                "color": {"type": "string", "maxLength": 32},
            },
            "required": ["text"],
        },
    )


@hookimpl
def handle_action(
    context: PluginContext, name: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    if name != "notify":
        return None
    text = str(params.get("text", "")).strip()[:1024]
    if not text:
        raise PluginConfigError("a notification needs some text")
    color = parse_color(params.get("color") or context.config.get("color", "#ffb000"))
    _notices[context] = Entry(text, color)
    return {"text": text}


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    _check_config(context.config)


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    # Everything is read from the config at render time; the worker renders again next.
    _check_config(config)


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    if mode == NOTICE:
        return context in _notices
    if mode != MODE:
        return None
    return bool(entries(context.config))


@hookimpl
def render_strip(
    context: PluginContext, mode: str, height: int, ticker: bool = False
) -> Strip | None:
    config = context.config
    if mode == NOTICE and context in _notices:
        notice = _notices[context]
        if not ticker and still_font(notice.text, config, context.width, height) is not None:
            return None
        return Strip(
            canvas=draw_strip([notice], config, height), speed=float(config.get("speed", 24))
        )
    if mode != MODE or not entries(config):
        return None
    # The ticker carries only strips: a message that would stand still goes in as one.
    if not ticker and not scrolls(config, context.width, height):
        return None
    strip = draw_strip(entries(config), config, height)
    return Strip(canvas=strip, speed=float(config.get("speed", 24)))


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    if mode == NOTICE and context in _notices:
        draw_still(canvas, _notices[context], context.config)
        return None
    if mode != MODE:
        return None
    config = context.config
    shown = entries(config)
    if not shown:
        return None
    if len(shown) == 1:
        draw_still(canvas, shown[0], config)
        return None
    seconds = float(config.get("seconds_per_message", 5))
    if frame == 0 or context not in _started:
        _started[context] = now
        # Ask for a turn long enough to show every message once.
        context.request_more_time(MODE, len(shown) * seconds)
    index, delay = turn(now, _started[context], len(shown), seconds)
    draw_still(canvas, shown[index], config)
    return delay
