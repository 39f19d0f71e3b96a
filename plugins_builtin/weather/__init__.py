"""Weather: the conditions now and a few days ahead, from Open-Meteo (no API key).

An ordinary plugin that uses only :mod:`sdk`. ``refresh_data`` fetches one forecast every
``refresh_interval`` seconds on the worker's refresh thread, through ``context.fetch_json``
(timeouts, retries, a size cap, and the last good answer from disk when the network is
down); :func:`~plugins_builtin.weather.model.parse_forecast` rejects an answer of the wrong
shape so it never replaces a good one. The render hooks only read the parsed
:class:`~plugins_builtin.weather.model.Weather`, swapped in as one immutable object, and
draw it with the layouts of :mod:`.current` and :mod:`.forecast`.

Modes: ``current`` (icon, temperature, details as room allows) and ``forecast`` (one
column per day). See ``docs/plugins/weather.md``.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugins_builtin.weather.current import layout_current
from plugins_builtin.weather.drawing import paint
from plugins_builtin.weather.forecast import layout_forecast
from plugins_builtin.weather.model import (
    CURRENT_VARIABLES,
    DAILY_VARIABLES,
    Weather,
    parse_forecast,
)
from sdk import Canvas, FetchError, PluginConfigError, PluginContext, hookimpl
from sdk.http import network_properties

CURRENT = "current"
FORECAST = "forecast"
#: Where the data comes from unless ``base_url`` says otherwise.
BASE_URL = "https://api.open-meteo.com/v1"
#: The most days the forecast mode shows (and asks for).
MAX_DAYS = 7
#: The longest wait before trying again while the weather is missing or old.
RETRY_DELAY = 60.0

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "latitude": {
            "type": "number",
            "minimum": -90,
            "maximum": 90,
            "default": 52.52,
            "title": "Latitude",
            "description": "Where to show the weather for, in decimal degrees north "
            "(south is negative). The default is Berlin: set your own, e.g. 40.71 for "
            "New York; any map shows it when you click a place.",
        },
        "longitude": {
            "type": "number",
            "minimum": -180,
            "maximum": 180,
            "default": 13.41,
            "title": "Longitude",
            "description": "Decimal degrees east (west is negative), e.g. -74.01 for "
            "New York. The default is Berlin.",
        },
        "location_name": {
            "type": "string",
            "maxLength": 40,
            "default": "Berlin",
            "title": "Location name",
            "description": "A label shown above the current weather when the panel has "
            "room; empty for none. It does not change where the weather is for.",
        },
        "units": {
            "type": "string",
            "enum": ["metric", "imperial"],
            "default": "metric",
            "title": "Units",
            "description": "metric: °C and km/h; imperial: °F and mph.",
        },
        "forecast_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_DAYS,
            "default": MAX_DAYS,
            "title": "Forecast days",
            "description": "The most days the forecast shows, today first; fewer are "
            "shown when the panel is too narrow (3 on a 64x32 panel).",
        },
        "timezone": {
            "type": "string",
            "maxLength": 64,
            "default": "auto",
            "title": "Time zone",
            "description": "The time zone the days are counted in: 'auto' for the "
            "location's own, or an IANA name such as Europe/Berlin.",
        },
        **network_properties(base_url=BASE_URL, refresh=900, stale_after=3600),
    },
}


@dataclass(frozen=True)
class _Snapshot:
    """The last good weather and when it came from the network (epoch seconds)."""

    weather: Weather
    fetched_at: float
    #: The request it answers (see :func:`_snapshot`).
    request: tuple[str, tuple[tuple[str, str], ...]]


class _State:
    """One instance's weather. The refresh thread replaces :attr:`snapshot` with one
    assignment of an immutable object; the render thread reads it once per frame."""

    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None


#: Per context, not per module: a test (or a future host) may run several instances in
#: one process. Weak keys: a context that is gone takes its weather with it.
_STATES: weakref.WeakKeyDictionary[PluginContext, _State] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(context: PluginContext) -> _State:
    with _STATES_LOCK:
        state = _STATES.get(context)
        if state is None:
            state = _STATES[context] = _State()
        return state


def _snapshot(context: PluginContext) -> _Snapshot | None:
    """The weather to show: the last good answer to the request the config asks now.

    An answer for another place or other units would be wrong rather than old, so it is
    not shown after such a config change, even when a refresh of the old config finishes
    after it.
    """
    snapshot = _state(context).snapshot
    if snapshot is None or snapshot.request != _request_key(context.config):
        return None
    return snapshot


def request_for(config: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The URL and query parameters of the forecast request ``config`` asks for."""
    url = str(config.get("base_url", BASE_URL)).rstrip("/") + "/forecast"
    params = {
        "latitude": _coordinate(config.get("latitude", 52.52)),
        "longitude": _coordinate(config.get("longitude", 13.41)),
        "current": ",".join(CURRENT_VARIABLES),
        "daily": ",".join(DAILY_VARIABLES),
        "timezone": str(config.get("timezone", "auto")) or "auto",
        "forecast_days": str(int(config.get("forecast_days", MAX_DAYS))),
    }
    if config.get("units", "metric") == "imperial":
        params["temperature_unit"] = "fahrenheit"
        params["wind_speed_unit"] = "mph"
    return url, params


def _coordinate(value: Any) -> str:
    """Degrees with at most 4 decimals (11 m): more would only split the cache."""
    return f"{float(value):.4f}".rstrip("0").rstrip(".")


def _request_key(config: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    url, params = request_for(config)
    return url, tuple(sorted(params.items()))


def _check_config(config: Mapping[str, Any]) -> None:
    """Fail early, with a message for the user, on values the schema cannot rule out."""
    zone = str(config.get("timezone", "auto"))
    if zone not in ("", "auto"):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PluginConfigError(
                f"timezone: unknown time zone {zone!r}; use 'auto' for the location's own, "
                "or an IANA name such as 'Europe/Berlin'"
            ) from None
    for key in ("latitude", "longitude"):
        value = config.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            raise PluginConfigError(f"{key}: {value!r} is not a place; use decimal degrees")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register(CURRENT, title="Weather now", duration=10.0)
    register(FORECAST, title="Weather forecast", duration=10.0)


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def setup(context: PluginContext) -> None:
    _check_config(context.config)
    _state(context)


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    _check_config(config)


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    config = context.config
    interval = float(config["refresh_interval"])
    retry = min(interval, RETRY_DELAY)
    url, params = request_for(config)
    request = _request_key(config)
    try:
        fetched = context.fetch_json(
            url, params=params, parse=parse_forecast, timeout=float(config["timeout"])
        )
    except FetchError as exc:
        had = "keeping the last weather" if _snapshot(context) else "nothing to show yet"
        context.log.warning("weather fetch failed (%s); %s, next try in %.0f s", exc, had, retry)
        return retry
    _state(context).snapshot = _Snapshot(fetched.value, fetched.fetched_at, request)
    context.request_redraw()
    # A stale answer means the network failed just now: look again sooner.
    return retry if fetched.stale else interval


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    if mode not in (CURRENT, FORECAST):
        return None
    snapshot = _snapshot(context)
    if snapshot is None:
        return False
    if mode == FORECAST:
        age = time.time() - snapshot.fetched_at
        return bool(snapshot.weather.days_from(snapshot.weather.local_date(age)))
    return True


@hookimpl
def render_frame(context: PluginContext, canvas: Canvas, mode: str, now: float) -> float | None:
    if mode not in (CURRENT, FORECAST):
        return None
    snapshot = _snapshot(context)
    if snapshot is None:
        return None
    config = context.config
    age = max(0.0, now - snapshot.fetched_at)
    if mode == CURRENT:
        location = str(config.get("location_name", ""))
        pieces = layout_current(
            canvas.width, canvas.height, snapshot.weather, location=location, age=age
        )
    else:
        days = int(config.get("forecast_days", MAX_DAYS))
        pieces = layout_forecast(canvas.width, canvas.height, snapshot.weather, days=days, age=age)
    paint(canvas, pieces)
    stale_after = float(config["stale_after"])
    if age > stale_after:
        canvas.mark_stale()
        return _until_midnight(snapshot.weather, age)
    # Draw again when the mark becomes due, in case no refresh comes first.
    return stale_after - age + 1.0


def _until_midnight(weather: Weather, age: float) -> float:
    """Seconds until the location's next day, when an old forecast loses a day."""
    local = weather.current.time + timedelta(seconds=age)
    into = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return 86400.0 - into + 1.0
