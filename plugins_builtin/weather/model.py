"""The weather as this plugin shows it, parsed and checked from an Open-Meteo answer.

:func:`parse_forecast` is the ``parse`` callback of ``context.fetch_json``: it raises on
any answer of the wrong shape (a missing key, a string where a number belongs, arrays of
different lengths, ``NaN``), and the SDK then keeps the last good answer instead. So a
broken or half-migrated API answer never replaces good data on the panel, and render code
can trust every value it gets: numbers are finite, lists line up.

The shape is Open-Meteo's ``/v1/forecast`` answer with ``current=`` and ``daily=``
variables (https://open-meteo.com/en/docs)::

    {"utc_offset_seconds": 3600, "timezone": "Europe/Berlin",
     "current_units": {"temperature_2m": "°C", "wind_speed_10m": "km/h", ...},
     "current": {"time": "2024-01-15T14:15", "temperature_2m": 3.4, "is_day": 1, ...},
     "daily_units": {...},
     "daily": {"time": ["2024-01-15", ...], "weather_code": [3, ...], ...}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
    "CURRENT_VARIABLES",
    "DAILY_VARIABLES",
    "Current",
    "Day",
    "Weather",
    "parse_forecast",
]

#: What ``current=`` asks for; every one must come back.
CURRENT_VARIABLES = (
    "temperature_2m",
    "apparent_temperature",
    "relative_humidity_2m",
    "is_day",
    "weather_code",
    "wind_speed_10m",
)
#: What ``daily=`` asks for; every one must come back, one value per day.
DAILY_VARIABLES = (
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_probability_max",
)
#: Open-Meteo's wind unit names, as a sign shows them.
_WIND_UNITS = {"km/h": "km/h", "mp/h": "mph", "mph": "mph", "m/s": "m/s", "kn": "kn"}


@dataclass(frozen=True)
class Current:
    """The conditions now. Values Open-Meteo had no data for (``null``) are ``None``."""

    #: Local wall-clock time of the observation at the location (no time zone attached).
    time: datetime
    temperature: float
    apparent: float | None
    humidity: float | None
    is_day: bool
    code: int | None
    wind_speed: float | None


@dataclass(frozen=True)
class Day:
    """One day of the forecast, in the location's local calendar."""

    date: date
    code: int | None
    high: float | None
    low: float | None
    #: The highest chance of precipitation that day, in percent.
    precipitation: float | None


@dataclass(frozen=True)
class Weather:
    """One whole answer: immutable, so the refresh thread can swap it in one assignment."""

    current: Current
    days: tuple[Day, ...]
    #: ``"C"`` or ``"F"``, from the answer's own units.
    temperature_unit: str
    #: ``"km/h"``, ``"mph"``, ``"m/s"`` or ``"kn"``.
    wind_unit: str
    #: The location's time zone (an IANA name, or "GMT") and its offset from UTC now.
    timezone: str
    utc_offset: int

    def days_from(self, today: date) -> tuple[Day, ...]:
        """The days from ``today`` on: an old answer's past days are no forecast."""
        return tuple(day for day in self.days if day.date >= today)

    def local_date(self, age: float) -> date:
        """The location's date ``age`` seconds after the answer was fetched.

        Counted from the answer's own local time rather than from the Pi's clock and a
        time zone: the observation time already is local, and its age is all that matters.
        """
        return (self.current.time + timedelta(seconds=max(0.0, age))).date()


def parse_forecast(data: Any) -> Weather:
    """Check an Open-Meteo forecast answer and turn it into a :class:`Weather`.

    :raises ValueError: naming the first thing that is missing or of the wrong type.
    """
    root = _mapping(data, "the answer")
    current = _mapping(root.get("current"), "current")
    current_units = _mapping(root.get("current_units"), "current_units")
    daily = _mapping(root.get("daily"), "daily")
    timezone = root.get("timezone")
    if not isinstance(timezone, str):
        raise ValueError(f"timezone: expected a string, got {_kind(timezone)}")
    offset = root.get("utc_offset_seconds")
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 18 * 3600:
        raise ValueError(f"utc_offset_seconds: expected seconds within ±18 h, got {offset!r}")
    return Weather(
        current=_current(current),
        days=_days(daily),
        temperature_unit=_temperature_unit(current_units.get("temperature_2m")),
        wind_unit=_wind_unit(current_units.get("wind_speed_10m")),
        timezone=timezone,
        utc_offset=offset,
    )


def _current(current: Mapping[str, Any]) -> Current:
    for name in ("time", *CURRENT_VARIABLES):
        if name not in current:
            raise ValueError(f"current.{name} is missing")
    temperature = _number(current["temperature_2m"], "current.temperature_2m")
    if temperature is None:
        raise ValueError("current.temperature_2m is null: there is nothing to show")
    is_day = current["is_day"]
    if is_day not in (0, 1):  # also True/False
        raise ValueError(f"current.is_day: expected 0 or 1, got {is_day!r}")
    return Current(
        time=_timestamp(current["time"], "current.time"),
        temperature=temperature,
        apparent=_number(current["apparent_temperature"], "current.apparent_temperature"),
        humidity=_number(current["relative_humidity_2m"], "current.relative_humidity_2m"),
        is_day=bool(is_day),
        code=_code(current["weather_code"], "current.weather_code"),
        wind_speed=_number(current["wind_speed_10m"], "current.wind_speed_10m"),
    )


def _days(daily: Mapping[str, Any]) -> tuple[Day, ...]:
    columns: dict[str, Sequence[Any]] = {}
    for name in ("time", *DAILY_VARIABLES):
        column = daily.get(name)
        if not isinstance(column, list):
            raise ValueError(f"daily.{name}: expected a list, got {_kind(column)}")
        columns[name] = column
    count = len(columns["time"])
    if count == 0:
        raise ValueError("daily.time is empty: the answer holds no day")
    for name, column in columns.items():
        if len(column) != count:
            raise ValueError(f"daily.{name} has {len(column)} values for {count} days")
    days = []
    for i in range(count):
        try:
            when = date.fromisoformat(columns["time"][i])
        except (TypeError, ValueError):
            raise ValueError(
                f"daily.time[{i}]: expected a date like 2024-01-15, got {columns['time'][i]!r}"
            ) from None
        days.append(
            Day(
                date=when,
                code=_code(columns["weather_code"][i], f"daily.weather_code[{i}]"),
                high=_number(columns["temperature_2m_max"][i], f"daily.temperature_2m_max[{i}]"),
                low=_number(columns["temperature_2m_min"][i], f"daily.temperature_2m_min[{i}]"),
                precipitation=_number(
                    columns["precipitation_probability_max"][i],
                    f"daily.precipitation_probability_max[{i}]",
                ),
            )
        )
    if any(later.date <= earlier.date for earlier, later in zip(days, days[1:], strict=False)):
        raise ValueError("daily.time: the days are not in order")
    return tuple(days)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {_kind(value)}")
    return value


def _number(value: Any, where: str) -> float | None:
    """A finite number, or ``None`` for JSON ``null`` (Open-Meteo's "no data")."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _code(value: Any, where: str) -> int | None:
    number = _number(value, where)
    if number is None:
        return None
    if not number.is_integer():
        raise ValueError(f"{where}: expected a whole weather code, got {value!r}")
    return int(number)


def _timestamp(value: Any, where: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            # Local time as Open-Meteo sends it; an offset, if ever sent, is dropped.
            return parsed.replace(tzinfo=None)
    raise ValueError(f"{where}: expected a time like 2024-01-15T14:15, got {value!r}")


def _temperature_unit(value: Any) -> str:
    if isinstance(value, str):
        letter = value.replace("°", "").strip().upper()
        if letter in ("C", "F"):
            return letter
    raise ValueError(f"current_units.temperature_2m: expected °C or °F, got {value!r}")


def _wind_unit(value: Any) -> str:
    if isinstance(value, str) and value in _WIND_UNITS:
        return _WIND_UNITS[value]
    raise ValueError(
        f"current_units.wind_speed_10m: expected one of {sorted(_WIND_UNITS)}, got {value!r}"
    )


def _kind(value: Any) -> str:
    """``value``'s JSON type, for error messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "nothing (null or missing)"
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__
