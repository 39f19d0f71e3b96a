"""Countdown: the time left until a date, with a label, in the biggest digits that fit.

An ordinary plugin that uses only :mod:`sdk`. Like the clock it draws still frames and
asks for the next one exactly when the shown text changes, so a countdown costs one frame
per second (one a minute in the days-only format), not one per display refresh.

Time left is real elapsed time: a "day" is 24 hours, so across a daylight-saving change the
last hours tick down evenly instead of jumping by an hour when the clocks change. The
target is a wall-clock time in the configured zone, and only the conversion of that target
to an instant knows about time zones (:func:`target_instant`).

After the target the mode shows ``after.done_text`` (or the zeroed countdown) for
``after.show_done_for`` seconds and then has no content, so the rotation skips it.
``refresh_data`` wakes at each of those moments so the host hears about the change.

A label too long for the display shrinks to a smaller font and otherwise is shortened at
a word (or whole letters) with an ellipsis. It does not scroll: the digits change every
second, so the frame cannot be a strip the host slides, and scrolling it frame by frame
would cost a render per pixel of motion instead of one per second.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from plugins_builtin.countdown.arrange import Piece, draw, place_countdown, place_text
from sdk import (
    Canvas,
    PluginConfigError,
    PluginContext,
    check_colors,
    color_option,
    hookimpl,
    time_zone,
    time_zone_option,
)
from sdk.canvas import parse_color

MODE = "countdown"
#: A local date, optionally with a time: what ``datetime.fromisoformat`` reads without an
#: offset. The schema lets the web form refuse typos; ``setup`` catches impossible dates.
_TARGET_PATTERN = r"^(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?)?$"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "target": {
            "type": "string",
            "maxLength": 19,
            "pattern": _TARGET_PATTERN,
            "default": "",
            "title": "Target",
            "description": "The local date and time to count down to, e.g. "
            "2026-12-24T18:00 (a date alone means midnight). Empty: the mode is skipped.",
        },
        "timezone": time_zone_option(
            "The IANA time zone the target is given in, such as Europe/Berlin; empty for "
            "the Pi's own local time."
        ),
        "label": {
            "type": "string",
            "maxLength": 60,
            "default": "",
            "title": "Label",
            "description": "What the countdown is for, e.g. Christmas; shown above or below "
            "the digits when there is room. Empty: digits only.",
        },
        "label_position": {
            "type": "string",
            "enum": ["above", "below"],
            "default": "above",
            "title": "Label position",
            "description": "Where the label goes relative to the digits.",
        },
        "format": {
            "type": "string",
            "enum": ["auto", "days"],
            "default": "auto",
            "title": "Format",
            "description": "auto: 12d 04:33:10, and 04:33:10 on the last day. "
            "days: 12 days, and 04:33:10 on the last day.",
        },
        "color": color_option("#ffd000", "Digits colour", "Colour of the time left."),
        "label_color": color_option("#4f9dff", "Label colour", "Colour of the label."),
        "done_color": color_option(
            "#ff4060", "Done text colour", "Colour of the text shown once the target has passed."
        ),
        "after": {
            "type": "object",
            "title": "After the target",
            "description": "What the mode shows once the target has passed.",
            "default": {},
            "properties": {
                "done_text": {
                    "type": "string",
                    "maxLength": 60,
                    "default": "",
                    "title": "Done text",
                    "description": "Shown instead of the digits, e.g. Merry Christmas! "
                    "Empty: the zeroed countdown and the label stay.",
                },
                "show_done_for": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 604800,
                    "default": 3600,
                    "title": "Show it for (seconds)",
                    "description": "How long after the target the mode stays in the "
                    "rotation; 0 skips it as soon as the target passes.",
                },
            },
        },
    },
}

#: Frames are asked for this long after the text changes, never a float rounding before.
_LATE = 0.001
#: The longest a frame or a refresh waits. A Pi without a real-time clock boots with an
#: old time and NTP then sets it forward; a wait computed from the old time must not
#: leave a wrong countdown on the panel for hours.
_MAX_WAIT = 60.0
_DAY = 86400

Phase = Literal["unset", "counting", "done", "over"]


@dataclass(frozen=True)
class State:
    """Where the countdown stands at one instant.

    ``seconds`` is the whole seconds left, rounded up, while counting (so ``00:00:01`` is
    the last second shown and the target itself is already "done"), else 0. ``until`` is
    the instant of the next change of phase, or ``None`` when nothing will change.
    """

    phase: Phase
    seconds: int
    until: float | None


# --- time ---------------------------------------------------------------------------------


@functools.cache
def target_instant(target: str, timezone: str) -> float | None:
    """The target as epoch seconds, or ``None`` when no target is set.

    The wall-clock time is read in ``timezone``. An ambiguous time (the hour that repeats
    when clocks go back) means its first occurrence.

    :raises PluginConfigError: naming the key, for a date that does not exist, a time zone
        that is unknown, or a wall-clock time the time zone skips.
    """
    text = target.strip()
    if not text:
        return None
    zone = time_zone(timezone)
    try:
        wall = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PluginConfigError(
            f"target: {target!r} is not a date and time; write it like 2026-12-24T18:00 "
            "(year-month-day, T, hours:minutes in 24-hour time)"
        ) from exc
    if wall.tzinfo is not None:
        raise PluginConfigError(
            f"target: {target!r} has a UTC offset; give the local time (2026-12-24T18:00) "
            "and set timezone instead"
        )
    instant = (wall.replace(tzinfo=zone) if zone else wall.astimezone()).timestamp()
    if datetime.fromtimestamp(instant, zone).replace(tzinfo=None) != wall:
        where = timezone or "the Pi's local time"
        raise PluginConfigError(
            f"target: {text} does not exist in {where} (the clocks skip it when daylight "
            "saving time starts); pick a time outside that hour"
        )
    return instant


def state(now: float, config: Mapping[str, Any]) -> State:
    """Where the countdown stands at ``now`` (epoch seconds)."""
    instant = target_instant(str(config.get("target", "")), str(config.get("timezone", "")))
    if instant is None:
        return State("unset", 0, None)
    left = instant - now
    if left > 0:
        return State("counting", math.ceil(left), instant)
    done_until = instant + _show_done_for(config)
    if now < done_until:
        return State("done", 0, done_until)
    return State("over", 0, None)


def _show_done_for(config: Mapping[str, Any]) -> float:
    after = config.get("after") or {}
    return float(after.get("show_done_for", 3600))


def _done_text(config: Mapping[str, Any]) -> str:
    after = config.get("after") or {}
    return " ".join(str(after.get("done_text", "")).split())


def remaining_text(seconds: int, fmt: str = "auto") -> str:
    """The time left as shown on one line: ``"12d 04:33:10"``, ``"12 days"`` or
    ``"04:33:10"`` (from the last day on, in either format)."""
    days, rest = divmod(max(seconds, 0), _DAY)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    if days == 0:
        return clock
    if fmt == "days":
        return f"{days} day" if days == 1 else f"{days} days"
    return f"{days}d {clock}"


def display_text(now: float, config: Mapping[str, Any]) -> str:
    """What the mode shows at ``now``, as one line without the label: the time left, the
    done text, or ``""`` when the mode has no content."""
    current = state(now, config)
    if current.phase in ("unset", "over"):
        return ""
    if current.phase == "done" and _done_text(config):
        return _done_text(config)
    return remaining_text(current.seconds, str(config.get("format", "auto")))


def next_delay(now: float, config: Mapping[str, Any]) -> float | None:
    """Seconds from ``now`` until the shown text changes; ``None`` once nothing will.

    The shown number of seconds is the time left rounded up, so it changes when the time
    left reaches a whole second; in the days format, when it reaches a whole day.
    """
    current = state(now, config)
    if current.until is None:
        return None
    wait = current.until - now
    if current.phase == "counting":
        # A value s is shown while the time left is in (s - 1, s]; the next value shown
        # is the current one minus a second, or, while whole days are shown, the last
        # second of the day before.
        shown = current.seconds
        if config.get("format", "auto") == "days" and shown >= _DAY:
            following = shown // _DAY * _DAY - 1
        else:
            following = shown - 1
        wait -= following
    return min(wait, _MAX_WAIT) + _LATE


# --- layout -------------------------------------------------------------------------------


def layout(width: int, height: int, now: float, config: Mapping[str, Any]) -> list[Piece]:
    """Place what the countdown shows at ``now`` on a ``width`` x ``height`` display."""
    current = state(now, config)
    if current.phase in ("unset", "over"):
        return []
    done = _done_text(config)
    if current.phase == "done" and done:
        return place_text(done, width, height, parse_color(config.get("done_color", "#ff4060")))
    days = current.seconds // _DAY
    fmt = str(config.get("format", "auto"))
    # The auto format with days may also set the days on a line of their own.
    split = None
    if fmt == "auto" and days:
        split = (remaining_text(current.seconds, "days"), remaining_text(current.seconds % _DAY))
    return place_countdown(
        width,
        height,
        main=remaining_text(current.seconds, fmt),
        split=split,
        label=" ".join(str(config.get("label", "")).split()),
        below=config.get("label_position", "above") == "below",
        color=parse_color(config.get("color", "#ffd000")),
        label_color=parse_color(config.get("label_color", "#4f9dff")),
    )


# --- hooks --------------------------------------------------------------------------------


def _check_config(config: Mapping[str, Any]) -> None:
    """Fail early, with a message for the user, on values the schema cannot rule out."""
    time_zone(str(config.get("timezone", "")))
    target_instant(str(config.get("target", "")), str(config.get("timezone", "")))
    check_colors(config, "color", "label_color", "done_color")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(MODE, title="Countdown", duration=10.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    _check_config(context.config)


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    _check_config(config)


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    """Nothing to fetch: wake at the target and at the end of the done period, so the
    host asks ``has_content`` again right when the answer changes."""
    now = time.time()
    until = state(now, context.config).until
    if until is None:
        return None
    return min(until - now, _MAX_WAIT) + _LATE


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    if mode != MODE:
        return None
    return state(time.time(), context.config).phase in ("counting", "done")


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas, mode: str, now: float) -> float | None:
    if mode != MODE:
        return None
    draw(canvas, layout(canvas.width, canvas.height, now, context.config))
    return next_delay(now, context.config)
