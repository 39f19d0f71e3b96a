"""The builtin weather plugin against a real HTTP server on 127.0.0.1 serving recorded
Open-Meteo answers (``tests/recorded/open_meteo``), with real drawing and golden images.

Regenerate the golden images after an intended change, then look at them::

    LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_weather.py
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plugins_builtin import weather
from plugins_builtin.weather import conditions, icons
from plugins_builtin.weather.current import layout_current
from plugins_builtin.weather.drawing import IconPiece, Piece, TextPiece, temperature, whole
from plugins_builtin.weather.forecast import NO_FORECAST, layout_forecast
from plugins_builtin.weather.model import Weather, parse_forecast
from sdk import PluginConfigError, load_font
from sdk.canvas import STALE_COLOR
from sdk.testing import PluginRunner, default_config
from tests.golden import PANEL_SIZES, UPDATE_ENV, assert_golden, size_id
from tests.httpserver import RECORDED

#: A fixed render time (2024-01-15 13:15 UTC). Answers are fetched "now", so this is
#: before them: their age counts as 0 and nothing depends on the wall clock.
NOW = 1_705_324_500.0
PATH = "/v1/forecast"
METRIC = "open_meteo/berlin_metric_day.json"
IMPERIAL = "open_meteo/new_york_imperial_night.json"
ALL_RECORDED = sorted(p.name for p in (RECORDED / "open_meteo").glob("*.json"))
DOCUMENTED_CODES = (0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75,
                    77, 80, 81, 82, 85, 86, 95, 96, 99)  # fmt: skip

# conftest's isolated_env drops every LEDHOST_ variable, the golden switch too: keep it.
_UPDATE = os.environ.get(UPDATE_ENV)


@pytest.fixture(autouse=True)
def _keep_golden_switch(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if _UPDATE:
        monkeypatch.setenv(UPDATE_ENV, _UPDATE)


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / name).read_text())
    return data


def parsed(name: str) -> Weather:
    return parse_forecast(recorded(name))


def config(server: Any, **overrides: Any) -> dict[str, Any]:
    return {"base_url": f"{server.url}/v1", **overrides}


@pytest.fixture
def runner_for(http_server: Any, tmp_path: Path) -> Iterator[Any]:
    """Start the plugin against the local server: ``runner_for(size, **config)``."""
    runners: list[PluginRunner] = []

    def start(size: tuple[int, int] = (64, 32), **overrides: Any) -> PluginRunner:
        runner = PluginRunner(
            weather,
            size=size,
            config=config(http_server, **overrides),
            data_dir=tmp_path / f"data-{len(runners)}",
        )
        runners.append(runner)
        runner.start()
        return runner

    yield start
    for runner in runners:
        runner.close()


def stale_mark(pixels: np.ndarray) -> bool:
    right = pixels.shape[1] - 1
    corner = [pixels[0, right], pixels[0, right - 1], pixels[1, right]]
    return all(tuple(int(c) for c in px) == STALE_COLOR for px in corner)


# --- schema and request ------------------------------------------------------------------


def test_weather_schema_gives_every_option_a_default_title_and_description() -> None:
    properties = weather.CONFIG_SCHEMA["properties"]
    for key, prop in properties.items():
        assert {"default", "title", "description"} <= set(prop), key
    assert properties["refresh_interval"]["default"] == 900
    assert properties["stale_after"]["default"] == 3600
    assert properties["base_url"]["default"] == "https://api.open-meteo.com/v1"
    assert "set" in properties["latitude"]["description"].lower()
    assert properties["forecast_days"]["maximum"] == weather.MAX_DAYS


def test_weather_registers_current_and_forecast_modes() -> None:
    runner = PluginRunner(weather)
    assert list(runner.modes) == ["current", "forecast"]
    runner.close()


def test_weather_asks_open_meteo_for_the_documented_parameters(
    http_server: Any, runner_for: Any
) -> None:
    http_server.serve_recorded(PATH, METRIC)
    runner_for(latitude=52.52, longitude=13.41)
    (seen,) = http_server.requests_to(PATH)
    query = {key: values[0] for key, values in seen.query.items()}
    assert query == {
        "latitude": "52.52",
        "longitude": "13.41",
        "current": "temperature_2m,apparent_temperature,relative_humidity_2m,is_day,"
        "weather_code,wind_speed_10m",
        "daily": "weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max",
        "timezone": "auto",
        "forecast_days": "7",
    }


def test_weather_imperial_asks_for_fahrenheit_and_mph_in_the_configured_zone(
    http_server: Any, runner_for: Any
) -> None:
    http_server.serve_recorded(PATH, IMPERIAL)
    runner_for(
        latitude=40.7128,
        longitude=-74.006,
        units="imperial",
        timezone="America/New_York",
        forecast_days=3,
    )
    (seen,) = http_server.requests_to(PATH)
    query = {key: values[0] for key, values in seen.query.items()}
    assert query["temperature_unit"] == "fahrenheit"
    assert query["wind_speed_unit"] == "mph"
    assert query["timezone"] == "America/New_York"
    assert query["forecast_days"] == "3"
    assert (query["latitude"], query["longitude"]) == ("40.7128", "-74.006")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "utc+2", "../etc/passwd"])
def test_weather_unknown_time_zone_is_a_config_error_naming_the_key(zone: str) -> None:
    runner = PluginRunner(weather, config={"timezone": zone})
    with pytest.raises(PluginConfigError, match=r"^timezone: unknown time zone .*auto"):
        runner.start()
    runner.close()


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_RECORDED)
def test_weather_parses_every_recorded_answer(name: str) -> None:
    data = recorded(f"open_meteo/{name}")
    result = parse_forecast(data)
    assert len(result.days) == len(data["daily"]["time"]) == 7
    assert result.current.is_day == bool(data["current"]["is_day"])
    assert result.temperature_unit == ("F" if "imperial" in name else "C")
    assert result.wind_unit == ("mph" if "imperial" in name else "km/h")
    assert result.utc_offset == data["utc_offset_seconds"]


def test_weather_parse_keeps_nulls_as_missing_values() -> None:
    data = recorded(METRIC)
    data["current"]["apparent_temperature"] = None
    data["current"]["weather_code"] = None
    data["daily"]["precipitation_probability_max"][1] = None
    data["daily"]["temperature_2m_max"][2] = None
    result = parse_forecast(data)
    assert result.current.apparent is None and result.current.code is None
    assert result.days[1].precipitation is None and result.days[2].high is None


def _without(path: tuple[str, ...]) -> Any:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def change(data: Any) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_without(("current",)), "current: expected an object"),
        (_without(("daily",)), "daily: expected an object"),
        (_without(("current_units",)), "current_units: expected an object"),
        (_without(("timezone",)), "timezone: expected a string"),
        (_without(("utc_offset_seconds",)), "utc_offset_seconds"),
        (_without(("current", "temperature_2m")), "current.temperature_2m is missing"),
        (_without(("current", "is_day")), "current.is_day is missing"),
        (_without(("daily", "temperature_2m_min")), "daily.temperature_2m_min: expected a list"),
        (_set(("current", "temperature_2m"), None), "current.temperature_2m is null"),
        (_set(("current", "temperature_2m"), "3.4"), "expected a number, got a string"),
        (_set(("current", "temperature_2m"), True), "expected a number, got a boolean"),
        (_set(("current", "temperature_2m"), float("nan")), "finite"),
        (_set(("current", "is_day"), 2), "current.is_day: expected 0 or 1"),
        (_set(("current", "weather_code"), 2.5), "whole weather code"),
        (_set(("current", "time"), "yesterday"), "current.time"),
        (_set(("current_units", "temperature_2m"), "K"), "expected °C or °F"),
        (_set(("current_units", "wind_speed_10m"), "furlongs"), "wind_speed_10m"),
        (_set(("daily", "time"), []), "no day"),
        (_set(("daily", "weather_code"), [1, 2]), "2 values for 7 days"),
        (_set(("daily", "time", 3), "2024-13-01"), r"daily.time\[3\]"),
        (_set(("daily", "time", 3), "2024-01-15"), "not in order"),
        (_set(("daily", "temperature_2m_max", 0), {"v": 1}), r"temperature_2m_max\[0\]"),
    ],
)
def test_weather_parse_rejects_a_wrong_shape_naming_it(change: Any, message: str) -> None:
    data = recorded(METRIC)
    change(data)
    with pytest.raises(ValueError, match=message):
        parse_forecast(data)


@pytest.mark.parametrize("body", [[], "weather", 42, None])
def test_weather_parse_rejects_an_answer_that_is_not_an_object(body: Any) -> None:
    with pytest.raises(ValueError, match="the answer: expected an object"):
        parse_forecast(body)


# --- words, numbers, icons ---------------------------------------------------------------


def test_weather_maps_every_documented_wmo_code_to_an_icon_and_a_short_word() -> None:
    assert sorted(conditions.CONDITIONS) == list(DOCUMENTED_CODES)
    small = load_font("small")
    for code in DOCUMENTED_CODES:
        found = conditions.condition(code)
        assert found.kind is not icons.Kind.UNKNOWN, code
        for word in (found.text(day=True), found.text(day=False)):
            assert 0 < len(word) <= conditions.MAX_WORD, word
            assert small.measure(word)[0] <= 62, word


@pytest.mark.parametrize("code", [None, 4, 42, 100, -1])
def test_weather_unknown_code_gets_the_neutral_icon(code: int | None) -> None:
    assert conditions.condition(code) is conditions.UNKNOWN
    assert conditions.UNKNOWN.kind is icons.Kind.UNKNOWN


@pytest.mark.parametrize(
    ("code", "day", "kind"),
    [
        (0, True, icons.Kind.CLEAR),
        (45, True, icons.Kind.FOG),
        (57, True, icons.Kind.FREEZING_RAIN),
        (67, True, icons.Kind.FREEZING_RAIN),
        (77, True, icons.Kind.SNOW),
        (86, True, icons.Kind.SNOW),
        (82, True, icons.Kind.SHOWERS),
        (99, True, icons.Kind.THUNDERSTORM),
    ],
)
def test_weather_code_families_share_their_icon(code: int, day: bool, kind: icons.Kind) -> None:
    assert conditions.condition(code).kind is kind


def test_weather_clear_sky_says_sunny_by_day_and_clear_by_night() -> None:
    assert conditions.condition(0).text(day=True) == "Sunny"
    assert conditions.condition(0).text(day=False) == "Clear"


@pytest.mark.parametrize("size", icons.ICON_SIZES)
@pytest.mark.parametrize("kind", list(icons.Kind))
def test_weather_icons_are_square_and_use_the_palette(kind: icons.Kind, size: int) -> None:
    for day in (True, False):
        rows = icons.icon_rows(kind, size, day=day)
        assert len(rows) == size and all(len(row) == size for row in rows)
        assert set("".join(rows)) <= set(icons.PALETTE) | {"."}
        assert any(char != "." for row in rows for char in row)


def test_weather_night_icons_differ_from_day_ones_only_where_the_sun_shows() -> None:
    for kind in icons.Kind:
        differs = icons.icon_rows(kind, 20, day=True) != icons.icon_rows(kind, 20, day=False)
        expected = kind in (icons.Kind.CLEAR, icons.Kind.PARTLY_CLOUDY, icons.Kind.SHOWERS)
        assert differs == expected, kind


def test_weather_icon_preview_writes_a_png(tmp_path: Path) -> None:
    icons.preview(tmp_path / "icons.png", scale=2)
    assert (tmp_path / "icons.png").stat().st_size > 0


def test_weather_unknown_icon_size_is_refused_with_the_sizes() -> None:
    with pytest.raises(ValueError, match=r"no 16px weather icons.*\(10, 20\)"):
        icons.icon_rows(icons.Kind.RAIN, 16)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.4, 3), (2.5, 3), (0.5, 1), (-0.4, 0), (-0.5, 0), (-0.6, -1), (-11.6, -12), (99.5, 100)],
)
def test_weather_temperatures_round_half_up_and_never_show_minus_zero(
    value: float, expected: int
) -> None:
    assert whole(value) == expected
    assert temperature(value, "C") == f"{expected}°C"
    assert temperature(value, "F", letter=False) == f"{expected}°"


def test_weather_missing_temperature_shows_dashes() -> None:
    assert temperature(None, "C") == "--°C"


# --- layouts: everything inside the panel, nothing overlapping ---------------------------


def _box(piece: Piece) -> tuple[int, int, int, int] | None:
    """The pixels a piece lights: (x0, y0, x1, y1), exclusive."""
    if isinstance(piece, IconPiece):
        return (piece.x, piece.y, piece.x + piece.size, piece.y + piece.size)
    assert isinstance(piece, TextPiece)
    ink = piece.font.ink_box(piece.text)
    if ink is None:
        return None
    return (piece.x + ink[0], piece.y + ink[1], piece.x + ink[2], piece.y + ink[3])


def _check_layout(pieces: list[Piece], width: int, height: int) -> None:
    boxes = [box for box in map(_box, pieces) if box is not None]
    for box in boxes:
        assert 0 <= box[0] and 0 <= box[1] and box[2] <= width and box[3] <= height, box
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)


SIZES_AND_ODD_ONES = [*PANEL_SIZES, (32, 16), (64, 16), (96, 48), (192, 32), (64, 64), (320, 32)]


@pytest.mark.parametrize("size", SIZES_AND_ODD_ONES, ids=size_id)
@pytest.mark.parametrize("name", ALL_RECORDED)
def test_weather_layouts_keep_every_glyph_and_icon_whole_and_apart(
    name: str, size: tuple[int, int]
) -> None:
    data = parsed(f"open_meteo/{name}")
    width, height = size
    current = layout_current(width, height, data, location="Llanfairpwllgwyngyll Station")
    _check_layout(current, width, height)
    _check_layout(layout_forecast(width, height, data), width, height)
    if height >= 32:
        texts = [p.text for p in current if isinstance(p, TextPiece)]
        assert temperature(
            data.current.temperature, data.temperature_unit, letter=False
        ) in "".join(texts)


@pytest.mark.parametrize(
    ("size", "days"), [((64, 32), 3), ((128, 32), 6), ((128, 64), 4), ((256, 64), 7)]
)
def test_weather_forecast_shows_as_many_days_as_fit(size: tuple[int, int], days: int) -> None:
    pieces = layout_forecast(*size, parsed(METRIC))
    assert sum(isinstance(p, IconPiece) for p in pieces) == days


def test_weather_forecast_shows_at_most_the_configured_days() -> None:
    pieces = layout_forecast(256, 64, parsed(METRIC), days=2)
    assert [p.text for p in pieces if isinstance(p, TextPiece)][::4] == ["Mon", "Tue"]


def test_weather_forecast_from_an_old_answer_starts_today() -> None:
    two_days = 2 * 86400.0
    pieces = layout_forecast(256, 64, parsed(METRIC), age=two_days)
    weekdays = [p.text for p in pieces if isinstance(p, TextPiece)][::4]
    assert weekdays == ["Wed", "Thu", "Fri", "Sat", "Sun"]
    gone = layout_forecast(256, 64, parsed(METRIC), age=8 * 86400.0)
    assert [p.text for p in gone if isinstance(p, TextPiece)] == [NO_FORECAST]


def test_weather_current_shows_the_location_only_where_there_is_room() -> None:
    def texts(width: int, height: int) -> list[str]:
        pieces = layout_current(width, height, parsed(METRIC), location="Berlin")
        return [p.text for p in pieces if isinstance(p, TextPiece)]

    assert "Berlin" not in texts(64, 32)
    assert "Berlin" in texts(128, 64)
    assert "Berlin" in texts(256, 64)
    assert "Partly cloudy" in texts(64, 32)


def test_weather_long_location_name_is_shortened_on_purpose() -> None:
    name = "Llanfairpwllgwyngyllgogerychwyrndrobwll"
    pieces = layout_current(128, 64, parsed(METRIC), location=name)
    (label,) = [p for p in pieces if isinstance(p, TextPiece) and p.text.endswith("…")]
    assert name.startswith(label.text[:-1]) and label.x >= 0
    assert label.x + label.font.measure(label.text)[0] <= 128


def test_weather_current_unknown_code_draws_the_thermometer() -> None:
    data = recorded(METRIC)
    data["current"]["weather_code"] = 42
    pieces = layout_current(128, 32, parse_forecast(data))
    (icon,) = [p for p in pieces if isinstance(p, IconPiece)]
    assert icon.kind is icons.Kind.UNKNOWN
    assert "Unknown" in [p.text for p in pieces if isinstance(p, TextPiece)]


# --- golden images -----------------------------------------------------------------------


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("mode", ["current", "forecast"])
@pytest.mark.parametrize(
    ("units", "payload"), [("metric", METRIC), ("imperial", IMPERIAL)], ids=["metric", "imperial"]
)
def test_weather_golden(
    http_server: Any,
    runner_for: Any,
    mode: str,
    size: tuple[int, int],
    units: str,
    payload: str,
) -> None:
    """Verify each mode at each panel size, metric by day (Berlin) and imperial by night
    (New York, the moon icon)."""
    http_server.serve_recorded(PATH, payload)
    location = "Berlin" if units == "metric" else "New York"
    runner = runner_for(size, units=units, location_name=location)
    assert runner.has_content(mode)
    frame = runner.render_frame(mode, now=NOW)
    assert not stale_mark(frame.pixels)
    assert_golden(f"weather/{mode}_{size_id(size)}_{units}", frame.pixels)


def test_weather_golden_snow_at_night_below_zero(http_server: Any, runner_for: Any) -> None:
    http_server.serve_recorded(PATH, "open_meteo/oslo_metric_night.json")
    runner = runner_for((128, 32), location_name="Oslo")
    assert_golden("weather/current_128x32_oslo", runner.render_frame("current", now=NOW).pixels)


def test_weather_golden_three_digit_fahrenheit(http_server: Any, runner_for: Any) -> None:
    http_server.serve_recorded(PATH, "open_meteo/phoenix_imperial_day.json")
    runner = runner_for((64, 32), units="imperial")
    assert_golden("weather/current_64x32_phoenix", runner.render_frame("current", now=NOW).pixels)


# --- the network failing -----------------------------------------------------------------


def _first_good_then(
    http_server: Any, runner_for: Any, size: tuple[int, int], **route: Any
) -> tuple[PluginRunner, float, float]:
    """A runner that fetched the metric answer; then the server answers with ``route``."""
    http_server.serve_recorded(PATH, METRIC)
    before = time.time()
    runner = runner_for(size, location_name="Berlin", timeout=0.5)
    after = time.time()
    http_server.serve(PATH, b"", **route)
    return runner, before, after


def test_weather_http_500_after_a_good_fetch_keeps_it_and_marks_it_stale_later(
    http_server: Any, runner_for: Any
) -> None:
    runner, before, after = _first_good_then(http_server, runner_for, (128, 32), status=500)
    fresh = runner.render_frame("current", now=NOW).pixels
    assert runner.refresh() == 60.0  # failed: try again sooner than every 900 s
    assert runner.has_content("current") and runner.has_content("forecast")
    young = runner.render_frame("current", now=before + 10)
    assert not stale_mark(young.pixels)
    assert np.array_equal(young.pixels, fresh)
    old = runner.render_frame("current", now=after + 3601)
    assert stale_mark(old.pixels)
    assert_golden("weather/current_128x32_stale", old.pixels)
    forecast = runner.render_frame("forecast", now=after + 3601)
    assert stale_mark(forecast.pixels)


def test_weather_hanging_server_keeps_last_forecast_marked_stale(
    http_server: Any, runner_for: Any
) -> None:
    runner, before, after = _first_good_then(http_server, runner_for, (64, 32), hang=True)
    started = time.monotonic()
    assert runner.refresh() == 60.0
    assert time.monotonic() - started < 20  # bounded by timeouts, not by the server
    frame = runner.render_frame("forecast", now=after + 7200)
    assert stale_mark(frame.pixels)
    assert_golden("weather/forecast_64x32_stale", frame.pixels)


def test_weather_stale_after_is_configurable(http_server: Any, runner_for: Any) -> None:
    http_server.serve_recorded(PATH, METRIC)
    runner = runner_for((64, 32), stale_after=600)
    after = time.time()
    assert not stale_mark(runner.render_frame("current", now=after - 5).pixels)
    assert stale_mark(runner.render_frame("current", now=after + 601).pixels)


def test_weather_frame_asks_to_be_drawn_again_when_the_mark_is_due(
    http_server: Any, runner_for: Any
) -> None:
    http_server.serve_recorded(PATH, METRIC)
    before = time.time()
    runner = runner_for((64, 32))
    after = time.time()
    delay = runner.render_frame("current", now=before + 600).delay
    assert delay is not None and 3001 <= delay <= 3001 + (after - before)
    # Once stale, the next redraw is at the location's midnight: 16:15 there, 7:45 h away.
    late = runner.render_frame("current", now=time.time() + 7200).delay
    assert late is not None and 7.5 * 3600 < late < 8 * 3600


def _empty_days() -> dict[str, Any]:
    """A well-formed answer whose daily arrays hold no day at all."""
    data = recorded(METRIC)
    data["daily"] = {key: [] for key in data["daily"]}
    return data


@pytest.mark.parametrize(
    "route",
    [
        {"body": b"{not json", "status": 200},
        {"body": b'{"error": true, "reason": "Cannot initialize WeatherVariable"}', "status": 200},
        {"body": b"", "status": 500},
        {"body": b'{"error": true, "reason": "Latitude must be in range"}', "status": 400},
        {"body": json.dumps(_empty_days()).encode(), "status": 200},
        {"hang": True},
    ],
    ids=["malformed-json", "wrong-shape", "http-500", "http-400", "empty-days", "hanging"],
)
def test_weather_failure_without_prior_data_shows_nothing_and_retries_soon(
    http_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, route: dict[str, Any]
) -> None:
    body = route.pop("body", b"")
    http_server.serve(PATH, body, **route)
    runner = PluginRunner(
        weather, config=config(http_server, timeout=0.5), data_dir=tmp_path, size=(64, 32)
    )
    try:
        runner.pm.hook.setup(context=runner.context)  # no start(): one slow refresh is enough
        assert runner.refresh() == 60.0
        assert not runner.has_content("current")
        assert not runner.has_content("forecast")
        for mode in ("current", "forecast"):
            frame = runner.render_frame(mode, now=NOW)
            assert not frame.pixels.any() and frame.delay is None
    finally:
        runner.close()
    assert "nothing to show yet" in caplog.text


def test_weather_retry_delay_never_exceeds_the_refresh_interval(
    http_server: Any, runner_for: Any
) -> None:
    http_server.serve(PATH, b"{", status=200)
    runner = runner_for(refresh_interval=30)
    assert runner.refresh() == 30.0


def test_weather_good_answer_after_failures_appears_and_asks_for_a_redraw(
    http_server: Any, runner_for: Any
) -> None:
    http_server.serve(PATH, b"[]")
    runner = runner_for()
    assert not runner.has_content("current")
    http_server.serve_recorded(PATH, METRIC)
    assert runner.refresh() == 900.0
    assert runner.has_content("current")
    assert runner.requests.redraws == [None]


def test_weather_bad_answer_after_a_good_one_keeps_the_good_one(
    http_server: Any, runner_for: Any
) -> None:
    http_server.serve_recorded(PATH, METRIC)
    runner = runner_for((128, 32))
    good = runner.render_frame("current", now=NOW).pixels
    broken = recorded(METRIC)
    broken["current"]["temperature_2m"] = "warm"
    http_server.serve(PATH, broken)
    assert runner.refresh() == 60.0
    assert np.array_equal(runner.render_frame("current", now=NOW).pixels, good)


# --- config changes ----------------------------------------------------------------------


def test_weather_moving_the_location_drops_the_old_weather(
    http_server: Any, runner_for: Any
) -> None:
    http_server.serve_recorded(PATH, METRIC)
    runner = runner_for()
    base = dict(runner.config)
    runner.configure({**base, "location_name": "Home"})
    assert runner.has_content("current")  # a label is no reason to forget the weather
    runner.configure({**base, "latitude": 48.14, "longitude": 11.58})
    assert not runner.has_content("current")
    http_server.serve_recorded(PATH, IMPERIAL)
    runner.configure({**base, "units": "imperial"})
    runner.refresh()
    assert runner.has_content("current")


def test_weather_configure_rejects_an_unknown_time_zone(http_server: Any, runner_for: Any) -> None:
    http_server.serve_recorded(PATH, METRIC)
    runner = runner_for()
    with pytest.raises(PluginConfigError, match="timezone"):
        runner.configure({**runner.config, "timezone": "Nowhere/Town"})


def test_weather_default_config_is_valid_and_points_at_open_meteo() -> None:
    filled = default_config(weather.CONFIG_SCHEMA)
    url, params = weather.request_for(filled)
    assert url == "https://api.open-meteo.com/v1/forecast"
    assert (params["latitude"], params["longitude"]) == ("52.52", "13.41")
    assert "temperature_unit" not in params


# --- through a real worker ---------------------------------------------------------------


def test_weather_renders_through_a_real_worker_from_the_local_server(
    http_server: Any, tmp_path: Path, test_specs: dict[str, Any]
) -> None:
    from host.cli.probe import render_mode
    from host.supervise.rules import WorkerRules

    http_server.serve_recorded(PATH, METRIC)
    frames, _ = render_mode(
        test_specs["weather"],
        "current",
        width=128,
        height=32,
        frames=1,
        options=config(http_server, location_name="Berlin"),
        data_dir=tmp_path,
        rules=WorkerRules(uid=None),
    )
    assert http_server.requests_to(PATH)
    assert_golden("weather/current_128x32_metric", frames[0])
