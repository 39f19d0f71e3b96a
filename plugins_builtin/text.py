"""Text: a message, still when it fits the display, scrolling when it does not.

An ordinary plugin that uses only :mod:`sdk`. A message too wide for the display is drawn
once as a strip (``render_strip``) and the host slides it across the panel, so scrolling
costs the worker one render, not one per pixel of motion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sdk import Canvas, PluginConfigError, PluginContext, Strip, font_names, hookimpl, load_font
from sdk.canvas import parse_color

MODE = "message"
DEFAULT_MESSAGE = "ledhost: every plugin in its own process — nothing can freeze the panel"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {
            "type": "string",
            "maxLength": 1000,
            "default": DEFAULT_MESSAGE,
            "title": "Message",
            "description": "The text to show, on one line. Empty: the mode is skipped.",
        },
        "color": {
            "type": "string",
            "pattern": "^#([0-9a-fA-F]{3}){1,2}$",
            "format": "color",
            "default": "#ffb000",
            "title": "Colour",
        },
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
            "description": "small 4x6, medium 6x10, large 7x13, xlarge 10x20 pixels.",
        },
        "scroll": {
            "type": "string",
            "enum": ["auto", "always", "never"],
            "default": "auto",
            "title": "Scrolling",
            "description": "auto: scroll only a message wider than the display; "
            "never: show the start of a long message still.",
        },
    },
}


def message(config: Mapping[str, Any]) -> str:
    """The message to show: the configured one without surrounding whitespace."""
    return str(config.get("message", "")).strip()


def scrolls(config: Mapping[str, Any], width: int) -> bool:
    """Whether the message scrolls on a display ``width`` pixels wide."""
    text = message(config)
    if not text:
        return False
    mode = config.get("scroll", "auto")
    if mode == "never":
        return False
    text_width, _ = load_font(config.get("font", "medium")).measure(text)
    return mode == "always" or text_width > width


def _check_config(config: Mapping[str, Any]) -> None:
    """Fail early, with a message for the user, on values the schema cannot rule out."""
    try:
        load_font(config.get("font", "medium"))
        parse_color(config.get("color", "#ffb000"))
    except ValueError as exc:
        raise PluginConfigError(str(exc)) from exc
    speed = config.get("speed", 24)
    if not isinstance(speed, int | float) or isinstance(speed, bool) or speed <= 0:
        raise PluginConfigError(f"speed must be a positive number of pixels per second: {speed!r}")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(MODE, title="Message", duration=15.0)


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
    if mode != MODE:
        return None
    return bool(message(context.config))


@hookimpl
def render_strip(context: PluginContext, mode: str, height: int) -> Strip | None:
    config = context.config
    if mode != MODE or not scrolls(config, context.width):
        return None
    font = load_font(config.get("font", "medium"))
    text = message(config)
    width, line_height = font.measure(text)
    strip = Canvas(width, height)
    strip.text(0, (height - line_height) // 2, text, font, config.get("color", "#ffb000"))
    return Strip(canvas=strip, speed=float(config.get("speed", 24)))


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas, mode: str) -> float | None:
    if mode != MODE:
        return None
    config = context.config
    text = message(config)
    font = load_font(config.get("font", "medium"))
    color = config.get("color", "#ffb000")
    width, line_height = font.measure(text)
    if width <= canvas.width:
        canvas.text_centered(text, font, color)
    else:
        # scroll "never": the start of the message is the part worth reading.
        canvas.text(0, (canvas.height - line_height) // 2, text, font, color)
    return None
