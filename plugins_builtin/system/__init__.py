"""System: what the user of a headless Pi needs to find its admin page.

Host name, the web UI's URL (which holds the IP address), other addresses, and the CPU
temperature, uptime and load. Everything is read locally (:mod:`.readings`): no packet
leaves the Pi, so the mode works, and says "no network", when the network is down.

Data is gathered in ``refresh_data`` every ``refresh_interval`` seconds into one frozen
:class:`~plugins_builtin.system.readings.SystemInfo`; rendering only lays it out
(:mod:`.pages`) and draws. When the content needs more than one page (a 64x32 panel), the
pages take turns, timed by the delays ``render_frame`` returns.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from plugins_builtin.system.pages import Page, draw_page, paginate, web_url
from plugins_builtin.system.readings import THERMAL_PATH, SystemInfo, gather
from sdk import Canvas, PluginConfigError, PluginContext, hookimpl

__all__ = ["CONFIG_SCHEMA", "MODE", "SystemInfo", "gather", "paginate", "show", "web_url"]

MODE = "info"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "web_port": {
            "type": "integer",
            "minimum": 0,
            "maximum": 65535,
            "default": 8080,
            "title": "Web UI port",
            "description": "The port of the admin page to advertise as "
            "http://<address>:<port>/ ([web] port; 8080 by default). It is shown only "
            "while something listens on that port for the network (ledhost's web process "
            "with [web] enabled), so the sign never points at a page where nothing "
            "listens; until then the addresses are listed instead. 0 never shows one.",
        },
        "web_url": {
            "type": "string",
            "maxLength": 200,
            "pattern": r"^(https?://\S+)?$",
            "default": "",
            "title": "Web UI address",
            "description": "Shown instead of the URL built from the address and port, "
            "e.g. https://ledpi.local/ behind a reverse proxy. Empty: built.",
        },
        "thermal_path": {
            "type": "string",
            "maxLength": 4096,
            "default": THERMAL_PATH,
            "title": "Temperature file",
            "description": "The sysfs file holding the CPU temperature in millidegrees. "
            "Empty, or a file that does not exist: no temperature is shown.",
        },
        "warm_at": {
            "type": "number",
            "minimum": 0,
            "maximum": 150,
            "default": 60,
            "title": "Warm from (°C)",
            "description": "The temperature turns amber from here (green below).",
        },
        "hot_at": {
            "type": "number",
            "minimum": 0,
            "maximum": 150,
            "default": 75,
            "title": "Hot from (°C)",
            "description": "The temperature turns red from here; a Pi throttles at 80-85.",
        },
        "show_uptime": {
            "type": "boolean",
            "default": True,
            "title": "Show uptime",
            "description": "How long the Pi has been running, e.g. up 3d 4h.",
        },
        "show_load": {
            "type": "boolean",
            "default": False,
            "title": "Show load",
            "description": "The one-minute load average.",
        },
        "refresh_interval": {
            "type": "number",
            "minimum": 5,
            "maximum": 3600,
            "default": 30,
            "title": "Refresh every (seconds)",
            "description": "How often the values are read again.",
        },
        "seconds_per_page": {
            "type": "number",
            "minimum": 1,
            "maximum": 60,
            "default": 5,
            "title": "Seconds per page",
            "description": "How long each page stays when everything does not fit at once.",
        },
    },
}

#: Frames are asked for this long after a page's time is up, never a rounding before.
_LATE = 0.001


@dataclass
class _Instance:
    """One instance's state. ``info`` is replaced whole (one reference swap) by the
    refresh thread and only read by the render thread."""

    info: SystemInfo | None = None
    started: float = 0.0


_instances: weakref.WeakKeyDictionary[PluginContext, _Instance] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _instance(context: PluginContext) -> _Instance:
    with _lock:
        found = _instances.get(context)
        if found is None:
            found = _instances[context] = _Instance()
        return found


def _gather(config: Mapping[str, Any]) -> SystemInfo:
    """A snapshot of what the instance shows: a reading it hides (the load average moves
    all the time) must not make a refresh redraw an unchanged page."""
    kwargs: dict[str, Any] = {}
    if not config.get("show_uptime", True):
        kwargs["uptime_path"] = None
    if not config.get("show_load", False):
        kwargs["loadavg"] = None
    return gather(
        thermal_path=str(config.get("thermal_path", THERMAL_PATH)) or None,
        web_port=0 if config.get("web_url") else int(config.get("web_port", 0)),
        **kwargs,
    )


def _check_config(config: Mapping[str, Any]) -> None:
    """Fail early, with a message for the user, on values the schema cannot rule out."""
    warm, hot = float(config.get("warm_at", 60)), float(config.get("hot_at", 75))
    if warm >= hot:
        raise PluginConfigError(
            f"warm_at ({warm:g}) must be below hot_at ({hot:g}): raise hot_at or lower warm_at"
        )


def page_turn(now: float, started: float, pages: int, seconds: float) -> tuple[int, float]:
    """``(page on screen, seconds until the next)`` for ``pages`` pages shown ``seconds``
    each since ``started``."""
    elapsed = max(0.0, now - started)
    return int(elapsed // seconds) % pages, seconds - elapsed % seconds + _LATE


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(MODE, title="System", duration=15.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    _check_config(context.config)
    # A first snapshot now, so the first frame is never empty; it reads a few local
    # files and asks the kernel for a route, well under a millisecond.
    _instance(context).info = _gather(context.config)


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    _check_config(config)


def show(context: PluginContext, info: SystemInfo) -> None:
    """Make ``info`` what the instance shows, and redraw if it changed.

    ``refresh_data`` calls it with a fresh :func:`gather`; tests call it with made-up
    snapshots. Safe from any thread: the snapshot is swapped as one reference.
    """
    state = _instance(context)
    if info != state.info:
        state.info = info
        context.request_redraw(MODE)


@hookimpl
def refresh_data(context: PluginContext) -> float:
    show(context, _gather(context.config))
    return float(context.config.get("refresh_interval", 30))


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    if mode != MODE:
        return None
    return _instance(context).info is not None


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    if mode != MODE:
        return None
    state = _instance(context)
    info = state.info
    if info is None:
        return None
    pages: list[Page] = paginate(info, context.config, canvas.width, canvas.height)
    if len(pages) == 1:
        draw_page(canvas, pages[0])
        return None
    seconds = float(context.config.get("seconds_per_page", 5))
    if frame == 0:
        state.started = now
        context.request_more_time(MODE, len(pages) * seconds)
    index, delay = page_turn(now, state.started, len(pages), seconds)
    draw_page(canvas, pages[index])
    return delay
