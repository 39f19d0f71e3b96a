"""Tests for the ``config`` package: loading, layering, validation, plugin options.

Real TOML files in ``tmp_path``, real environment mappings passed explicitly (never the
process environment), no mocks.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

import config
from config import (
    INSTANCE_SETTINGS,
    SETTINGS,
    ConfigError,
    DimWindow,
    DisplayConfig,
    PathsConfig,
    PluginSchemaError,
    RotationConfig,
    RotationEntry,
    ScheduleConfig,
    TickerConfig,
    TransitionsConfig,
    Window,
    WorkersConfig,
    check_schema,
    fill_defaults,
    load_config,
    settings_reference_markdown,
    validate_plugin_options,
)
from config.schema import format_toml_value
from config.windows import format_days

REPO = Path(__file__).resolve().parent.parent
HOME = "/home/pi"
ENV: dict[str, str] = {"HOME": HOME}


def write(tmp_path: Path, text: str, name: str = "ledhost.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    """Map each issue's key to its message."""
    return {issue.key: issue.message for issue in excinfo.value.errors}


MINIMAL = """\
[plugins.clock]
[plugins.text]
message = "hello"
"""


# --- the embedded default ---------------------------------------------------------------


def test_embedded_default_loads_as_64x32_with_clock_text_and_system() -> None:
    cfg = load_config(env=ENV)
    assert (cfg.display.width, cfg.display.height) == (64, 32)
    assert cfg.path is None
    assert list(cfg.plugins) == ["clock", "text", "system"]
    assert all(p.enabled for p in cfg.plugins.values())
    assert [e.instance for e in cfg.rotation.entries] == ["clock", "text", "system"]
    # At 5-6 px per glyph, 64 px hold about a dozen characters: the message must scroll.
    assert len(cfg.plugins["text"].options["message"]) * 5 > 2 * cfg.display.width
    assert cfg.paths.data_dir == Path(HOME, ".local/share/ledhost")


def test_derived_width_and_height_follow_chain_and_parallel() -> None:
    overrides = {"display": {"rows": 64, "cols": 32, "chain": 3, "parallel": 2}}
    display = load_config(env=ENV, overrides=overrides).display
    assert (display.width, display.height) == (96, 128)


def test_embedded_default_spells_out_every_setting_at_its_default() -> None:
    """Verify that default.toml documents each setting with the value declared in SETTINGS."""
    text = config.default_config_text()
    data = tomllib.loads(text)
    for setting in SETTINGS:
        assert f"\n{setting.name} = " in text, f"{setting.key} missing from default.toml"
        if setting.key != "rotation.modes":
            assert data[setting.section][setting.name] == setting.default, setting.key


def test_section_dataclasses_have_exactly_the_declared_settings() -> None:
    fields = {
        "display": DisplayConfig,
        "rotation": RotationConfig,
        "transitions": TransitionsConfig,
        "ticker": TickerConfig,
        "schedule": ScheduleConfig,
        "workers": WorkersConfig,
        "paths": PathsConfig,
        "web": config.model.WebConfig,
        "logging": config.model.LoggingConfig,
        "control": config.model.ControlConfig,
        "store": config.model.StoreConfig,
        "sync": config.model.SyncConfig,
        "mqtt": config.model.MqttConfig,
    }
    assert set(fields) == set(config.settings.SECTIONS)
    for section, cls in fields.items():
        declared = {s.name for s in SETTINGS if s.section == section}
        names = {f.name for f in dataclasses.fields(cls)}
        if section in ("rotation", "ticker"):
            names = names - {"entries"} | {"modes"}
        if section == "mqtt":
            names -= {"password"}  # from the secrets file, not a setting (config/mqtt.py)
        assert names == declared, section


@pytest.mark.parametrize("setting", SETTINGS + INSTANCE_SETTINGS, ids=lambda s: s.key)
def test_every_default_passes_its_own_check(setting: config.Setting) -> None:
    value, problem = setting.check(setting.default)
    assert problem is None
    assert value == setting.default


# --- the generated reference ------------------------------------------------------------


def test_settings_reference_lists_every_setting_with_default_under_its_section() -> None:
    doc = settings_reference_markdown()
    sections = doc.split("\n## ")
    for setting in SETTINGS + INSTANCE_SETTINGS:
        body = next(s for s in sections if s.startswith(f"`[{setting.section}]`"))
        row = next(line for line in body.splitlines() if line.startswith(f"| `{setting.name}` |"))
        assert f"`{format_toml_value(setting.default)}`" in row, setting.key
        assert setting.env_var in row
        assert setting.help.split("`")[0].strip() in row


def test_settings_reference_shows_bounds_and_choices() -> None:
    doc = settings_reference_markdown()
    brightness = next(line for line in doc.splitlines() if line.startswith("| `brightness`"))
    assert "0 to 100" in brightness
    backend = next(line for line in doc.splitlines() if line.startswith("| `backend`"))
    assert all(f'`"{c}"`' in backend for c in ("auto", "headless", "emulator", "hardware"))


# --- environment and overrides ----------------------------------------------------------


def test_env_var_overrides_a_file_setting(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[display]\nbrightness = 80\n")
    cfg = load_config(path, env={**ENV, "LEDHOST_DISPLAY__BRIGHTNESS": "40"})
    assert cfg.display.brightness == 40
    assert cfg.path == path


def test_env_var_nests_into_plugin_options(tmp_path: Path) -> None:
    env = {
        **ENV,
        "LEDHOST_PLUGINS__TEXT__MESSAGE": "hi there",
        "LEDHOST_PLUGINS__TEXT__FONT__SIZE": "8",
        "LEDHOST_PLUGINS__TEXT__fontName": "5x7",
    }
    cfg = load_config(write(tmp_path, MINIMAL), env=env)
    assert dict(cfg.plugins["text"].options) == {
        "message": "hi there",
        "font": {"size": 8},
        "fontName": "5x7",
    }


def test_env_var_can_create_a_plugin_instance(tmp_path: Path) -> None:
    env = {
        **ENV,
        "LEDHOST_PLUGINS__NEWS__PLUGIN": "text",
        "LEDHOST_PLUGINS__NEWS__ENABLED": "false",
    }
    cfg = load_config(write(tmp_path, MINIMAL), env=env)
    assert list(cfg.plugins) == ["clock", "text", "news"]
    news = cfg.plugins["news"]
    assert (news.plugin_id, news.enabled, news.source) == ("text", False, "environment")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("40", 40),
        ("2.5", 2.5),
        ("true", True),
        ('["clock", "text:scroll"]', ["clock", "text:scroll"]),
        ("{ a = 1 }", {"a": 1}),
        ('"2024"', "2024"),
        ("hello world", "hello world"),
        ("clock:analog", "clock:analog"),
        ("1\nmessage = 2", "1\nmessage = 2"),
    ],
)
def test_env_values_parse_as_toml_else_stay_strings(raw: str, expected: Any) -> None:
    assert config.loader.parse_env_value(raw) == expected


def test_env_vars_without_double_underscore_are_not_config(tmp_path: Path) -> None:
    env = {**ENV, "LEDHOST_PLUGINS": "clock", "LEDHOST_TRACE_PLUGINS": "1", "OTHER__X": "1"}
    cfg = load_config(write(tmp_path, MINIMAL), env=env)
    assert list(cfg.plugins) == ["clock", "text"]


def test_env_var_for_a_string_setting_keeps_its_raw_text(tmp_path: Path) -> None:
    env = {**ENV, "LEDHOST_DISPLAY__PIXEL_MAPPER": "1", "LEDHOST_DISPLAY__FPS": "30"}
    cfg = load_config(write(tmp_path, MINIMAL), env=env)
    assert cfg.display.pixel_mapper == "1"
    assert cfg.display.fps == 30.0 and isinstance(cfg.display.fps, float)


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    env = {**ENV, "LEDHOST_DISPLAY__BRIGHTNESS": "loud", "LEDHOST_DISPLAY__": "1"}
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, MINIMAL), env=env)
    issues = {issue.key: issue for issue in excinfo.value.errors}
    assert issues["display.brightness"].source == "environment"
    assert "LEDHOST_DISPLAY__BRIGHTNESS" in issues["display.brightness"].message
    assert "string 'loud'" in issues["display.brightness"].message
    assert "empty key segment" in issues["LEDHOST_DISPLAY__"].message


def test_overrides_win_over_env_and_env_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[display]\nbrightness = 10\nfps = 10\nrows = 16\n")
    env = {**ENV, "LEDHOST_DISPLAY__BRIGHTNESS": "20", "LEDHOST_DISPLAY__FPS": "20"}
    cfg = load_config(path, env=env, overrides={"display": {"brightness": 30}})
    assert cfg.display.brightness == 30  # overrides > env
    assert cfg.display.fps == 20  # env > file
    assert cfg.display.rows == 16  # deep merge keeps what no later layer set


def test_overrides_deep_merge_into_plugin_options_without_aliasing(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'font = { size = 8, name = "5x7" }\n')
    overrides: dict[str, Any] = {"plugins": {"text": {"font": {"size": 6}, "tags": ["a"]}}}
    cfg = load_config(path, env=ENV, overrides=overrides)
    overrides["plugins"]["text"]["tags"].append("b")
    assert dict(cfg.plugins["text"].options) == {
        "message": "hello",
        "font": {"size": 6, "name": "5x7"},
        "tags": ["a"],
    }


def test_to_dict_round_trips_through_overrides() -> None:
    overrides = {
        "display": {"gamma": 2.2},
        "rotation": {
            "max_dwell": 300,
            "modes": [
                "clock",
                {"mode": "text:scroll", "duration": 12.5},
                {"mode": "clock:digital", "transition": "wipe-up", "transition_duration": 2},
                {"mode": "text", "when": [{"days": "fri-mon", "from": "22:00", "to": "02:00"}]},
            ],
        },
        "transitions": {"kind": "crossfade", "duration": 1},
        "ticker": {"speed": 45, "separator": "", "gap": 0},
        "schedule": {
            "timezone": "Europe/Berlin",
            "on": [{"days": ["mon", "wed-fri"], "from": "06:30"}, {"days": "sat,sun"}],
            "dim": [
                {"from": "21:00", "to": "00:00", "brightness": 20, "tint": "#FFA060"},
                {"days": "weekdays", "from": "00:00", "to": "06:30", "brightness": 5},
            ],
        },
    }
    cfg = load_config(env=ENV, overrides=overrides)
    assert load_config(env=ENV, overrides=cfg.to_dict()) == cfg
    assert cfg.to_dict()["schedule"]["on"][0] == {
        "days": "mon,wed-fri",
        "from": "06:30",
        "to": "24:00",
    }
    assert cfg.to_dict()["schedule"]["dim"][0]["tint"] == "#ffa060"


def test_config_is_frozen() -> None:
    cfg = load_config(env=ENV)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.display.brightness = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.plugins["text"].options["message"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        cfg.plugins["new"] = cfg.plugins["text"]  # type: ignore[index]


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        (
            'brightness = "high"',
            "display.brightness",
            "expected an integer from 0 to 100, found string 'high'",
        ),
        ("brightness = 150", "display.brightness", "found integer 150"),
        ("brightness = 40.5", "display.brightness", "found float 40.5"),
        ("rows = true", "display.rows", "found boolean true"),
        ("fps = 0", "display.fps", "expected a number from 1 to 240, found integer 0"),
        ("fps = nan", "display.fps", "found float nan"),
        ('backend = "hardwar"', "display.backend", "(did you mean 'hardware'?)"),
        ("drop_privileges = 1", "display.drop_privileges", "expected true or false"),
        ('rgb_sequence = "RGBW"', "display.rgb_sequence", "one of 'RGB'"),
        (
            "brightnes = 40",
            "display.brightnes",
            "unknown setting 'brightnes' in [display] (did you mean 'brightness'?)",
        ),
    ],
)
def test_bad_display_value_is_reported_with_key_and_expectation(
    tmp_path: Path, line: str, key: str, expected: str
) -> None:
    path = write(tmp_path, f"{MINIMAL}[display]\n{line}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    assert [issue.key for issue in excinfo.value.errors] == [key]
    assert expected in excinfo.value.errors[0].message
    assert excinfo.value.errors[0].source == str(path)


def test_unknown_sections_get_suggestions(tmp_path: Path) -> None:
    path = write(tmp_path, "brightness = 3\n" + MINIMAL + "[displya]\nrows = 1\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    found = errors_of(excinfo)
    assert "did you mean 'display.brightness'?" in found["brightness"]
    assert "did you mean 'display'?" in found["displya"]


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [display]
        brightness = 150
        fps = "fast"
        colz = 64

        [rotation]
        modes = ["nope"]

        [plugins.text]
        enabled = "yes"
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={**ENV, "LEDHOST_PATHS__DATA_DIR": "relative/dir"})
    assert set(errors_of(excinfo)) == {
        "display.brightness",
        "display.fps",
        "display.colz",
        "rotation.modes[0]",
        "plugins.text.enabled",
        "paths.data_dir",
    }
    lines = str(excinfo.value).splitlines()
    assert len(lines) == 6
    assert f"{path}: display.brightness: expected an integer from 0 to 100" in lines[0]
    assert "environment: paths.data_dir: expected an absolute path" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_config_error_survives_pickling(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, "[display]\nrows = 0\n"), env=ENV)
    clone = pickle.loads(pickle.dumps(excinfo.value))
    assert clone.errors == excinfo.value.errors
    assert str(clone) == str(excinfo.value)


def test_toml_syntax_error_gives_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[display]\nrows = 32\nbrightness = \n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    text = str(excinfo.value)
    assert text.startswith(f"{path}: invalid TOML")
    assert "line 3" in text and "column" in text


def test_an_integer_beyond_64_bits_is_an_error_naming_its_key(tmp_path: Path) -> None:
    # TOML integers are 64-bit; tomllib reads wider ones, which would only fail later, when
    # msgpack cannot send the value to the plugin's worker.
    text = (
        "[plugins.text]\nmessage = 'hi'\nbig = 99999999999999999999999\n"
        f"edge = {2**63 - 1}\nlow = {-(2**63)}\nmore = [1, {{ deep = {-(2**63) - 1} }}]\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    assert [issue.key for issue in excinfo.value.errors] == [
        "plugins.text.big", "plugins.text.more[1].deep"
    ]  # fmt: skip
    assert "64-bit" in str(excinfo.value) and str(path) in str(excinfo.value)
    fits = write(tmp_path, text.replace("big = 99999999999999999999999\n", "").replace(
        f"{-(2**63) - 1}", "1"))  # fmt: skip
    assert load_config(fits, env=ENV).plugins["text"].options["edge"] == 2**63 - 1


def test_missing_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    assert str(excinfo.value) == f"{path}: config file not found"


def test_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[plugins.text]\nmessage = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(path, env=ENV)


@pytest.mark.parametrize(
    ("toml_key", "shown"),
    [
        ('"../evil"', '"../evil"'),
        ('"a/b"', '"a/b"'),
        ('"a\\\\b"', '"a\\\\b"'),
        ("Text", "Text"),
        ('"tëxt"', '"t\\u00ebxt"'),
        ('""', '""'),
        ("1clock", "1clock"),
        ('"clock\\n"', '"clock\\n"'),
        ("a" * 65, "a" * 65),
    ],
)
def test_hostile_instance_id_is_an_error_naming_the_key(
    tmp_path: Path, toml_key: str, shown: str
) -> None:
    path = write(tmp_path, f"{MINIMAL}[plugins.{toml_key}]\nenabled = true\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    assert list(errors_of(excinfo)) == [f"plugins.{shown}"]
    assert "is not allowed" in excinfo.value.errors[0].message


@pytest.mark.parametrize("plugin_id", ["../x", "Text", "", " text", "text/..", 7])
def test_hostile_plugin_id_is_an_error(tmp_path: Path, plugin_id: object) -> None:
    overrides = {"plugins": {"news": {"plugin": plugin_id}}}
    if plugin_id == "":
        # Empty means "the instance id": valid, not hostile.
        cfg = load_config(write(tmp_path, MINIMAL), env=ENV, overrides=overrides)
        assert cfg.plugins["news"].plugin_id == "news"
        return
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, MINIMAL), env=ENV, overrides=overrides)
    assert list(errors_of(excinfo)) == ["plugins.news.plugin"]
    assert excinfo.value.errors[0].source == "overrides"


def test_plugins_keep_file_order_and_split_reserved_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [plugins.zeta]
        plugin = "text"
        message = "z"
        [plugins.alpha]
        enabled = false
        [plugins.mid]
        """,
    )
    cfg = load_config(path, env=ENV)
    assert list(cfg.plugins) == ["zeta", "alpha", "mid"]
    zeta = cfg.plugins["zeta"]
    assert (zeta.plugin_id, zeta.enabled, dict(zeta.options)) == ("text", True, {"message": "z"})
    assert [p.instance_id for p in cfg.enabled_plugins] == ["zeta", "mid"]


# --- rotation ---------------------------------------------------------------------------


def test_rotation_entries_parse_every_form(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """\
        [rotation]
        default_duration = 7
        modes = [
            "clock:digital",
            "text",
            { mode = "clock:analog", duration = 12.5 },
            { mode = "text", duration = 15 },
        ]
        """,
    )
    rotation = load_config(path, env=ENV).rotation
    assert rotation.default_duration == 7.0
    assert rotation.entries == (
        RotationEntry("clock", "digital", None),
        RotationEntry("text", None, None),
        RotationEntry("clock", "analog", 12.5),
        RotationEntry("text", None, 15.0),
    )


def test_empty_rotation_means_every_mode_of_every_instance(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + "[rotation]\nmodes = []\n"), env=ENV)
    assert cfg.rotation.entries == ()


@pytest.mark.parametrize(
    ("item", "key", "expected"),
    [
        (
            '"clok"',
            "rotation.modes[0]",
            "'clok' is not a configured plugin instance "
            "(did you mean 'clock'?); configured: clock, text",
        ),
        ('"clock:"', "rotation.modes[0]", "mode name '' in 'clock:' is not allowed"),
        ('"clock:a:b"', "rotation.modes[0]", "mode name 'a:b'"),
        ('"Clock:digital"', "rotation.modes[0]", "instance id 'Clock'"),
        ("42", "rotation.modes[0]", "found integer 42"),
        ("{ duration = 5 }", "rotation.modes[0]", 'missing "mode"'),
        ('{ mode = "weather" }', "rotation.modes[0].mode", "'weather' is not a configured"),
        (
            '{ mode = "clock", duration = 0 }',
            "rotation.modes[0].duration",
            "expected a number from 1 to 86400, found integer 0",
        ),
        (
            '{ mode = "clock", time = 5 }',
            "rotation.modes[0].time",
            "unknown key 'time' in a rotation entry",
        ),
    ],
)
def test_bad_rotation_entry_is_reported(tmp_path: Path, item: str, key: str, expected: str) -> None:
    path = write(tmp_path, f"{MINIMAL}[rotation]\nmodes = [{item}]\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    assert list(errors_of(excinfo)) == [key]
    assert expected in excinfo.value.errors[0].message


def test_rotation_modes_must_be_an_array(tmp_path: Path) -> None:
    env = {**ENV, "LEDHOST_ROTATION__MODES": "clock"}
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, MINIMAL), env=env)
    assert errors_of(excinfo) == {
        "rotation.modes": "expected an array, found string 'clock' (set by LEDHOST_ROTATION__MODES)"
    }


def test_rotation_entry_table_takes_transition_and_when_windows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """\
        [rotation]
        max_dwell = 600
        modes = [
            { mode = "clock", transition = "slide-left", transition_duration = 1.5 },
            { mode = "text:ticker", when = [{ days = "mon-fri", from = "09:00", to = "17:00" }] },
        ]
        """,
    )
    rotation = load_config(path, env=ENV).rotation
    assert rotation.max_dwell == 600.0
    assert rotation.entries == (
        RotationEntry("clock", None, None, "slide-left", 1.5),
        RotationEntry("text", "ticker", when=(Window(frozenset(range(5)), 9 * 60, 17 * 60),)),
    )


def test_transition_for_an_entry_falls_back_to_the_table() -> None:
    transitions = TransitionsConfig("crossfade", 0.5)
    assert transitions.for_entry(None) == ("crossfade", 0.5)
    assert transitions.for_entry(RotationEntry("clock")) == ("crossfade", 0.5)
    assert transitions.for_entry(RotationEntry("clock", transition="wipe-down")) == (
        "wipe-down",
        0.5,
    )
    entry = RotationEntry("clock", transition_duration=2.0)
    assert transitions.for_entry(entry) == ("crossfade", 2.0)


# --- transitions, ticker, schedule ------------------------------------------------------

ALL = frozenset(range(7))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('{ from = "09:00", to = "17:00" }', Window(ALL, 540, 1020)),
        (
            '{ days = "mon-fri", from = "9:00", to = "17:30" }',
            Window(frozenset(range(5)), 540, 1050),
        ),
        ('{ days = "sat,sun" }', Window(frozenset((5, 6)), 0, 1440)),
        (
            '{ days = "fri-mon", from = "22:00", to = "02:00" }',
            Window(frozenset((4, 5, 6, 0)), 1320, 120),
        ),
        ('{ days = ["Monday", "wed-fri"] }', Window(frozenset((0, 2, 3, 4)), 0, 1440)),
        ('{ days = "tues, thurs", to = "12:00" }', Window(frozenset((1, 3)), 0, 720)),
        ('{ days = "daily", from = "00:00", to = "24:00" }', Window(ALL, 0, 1440)),
        (
            '{ days = "weekends", from = "20:00", to = "00:00" }',
            Window(frozenset((5, 6)), 1200, 1440),
        ),
        (
            '{ days = "weekdays", from = 07:30:00, to = 08:00:00 }',
            Window(frozenset(range(5)), 450, 480),
        ),
        ('{ days = "sun-sun", from = "23:59", to = "00:01" }', Window(frozenset((6,)), 1439, 1)),
    ],
)
def test_windows_parse_every_form(tmp_path: Path, table: str, expected: Window) -> None:
    path = write(tmp_path, f"{MINIMAL}[schedule]\non = [{table}]\n")
    assert load_config(path, env=ENV).schedule.on == (expected,)


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (range(7), "all"),
        (range(5), "mon-fri"),
        ((5, 6), "sat,sun"),
        ((4, 5, 6, 0), "fri-mon"),
        ((0, 2, 3, 4, 6), "wed-fri,sun,mon"),
        ((2,), "wed"),
    ],
)
def test_days_are_written_back_canonically(days: range | tuple[int, ...], text: str) -> None:
    assert format_days(days) == text


def test_window_labels_name_days_only_when_not_daily() -> None:
    assert Window(ALL, 1320, 420).label == "22:00-07:00"
    assert Window(frozenset(range(5)), 540, 1020).label == "mon-fri 09:00-17:00"
    assert Window(ALL, 1320, 420).overnight and not Window(ALL, 0, 1440).overnight


def test_schedule_parses_timezone_on_and_dim_windows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """\
        [schedule]
        timezone = "America/New_York"
        on = [{ days = "mon-fri", from = "06:30", to = "23:00" }]
        dim = [
            { from = "21:00", to = "07:00", brightness = 20, tint = "warm" },
            { days = "sat", brightness = 0, tint = "#FF8000" },
            { from = "12:00", to = "13:00", brightness = 100 },
        ]
        """,
    )
    schedule = load_config(path, env=ENV).schedule
    assert schedule.timezone == "America/New_York"
    assert schedule.on == (Window(frozenset(range(5)), 390, 1380),)
    night, saturday, noon = schedule.dim
    assert night == DimWindow(Window(ALL, 1260, 420), 20, "warm")
    assert (night.tint_rgb, saturday.tint_rgb, noon.tint_rgb) == (
        (255, 180, 110),
        (255, 128, 0),
        None,
    )
    assert saturday == DimWindow(Window(frozenset((5,)), 0, 1440), 0, "#ff8000")
    assert night.label == "21:00-07:00, 20%, warm"


def test_every_schedule_problem_is_reported_at_once_with_key_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """\
        [transitions]
        kind = "crosfade"
        duration = 0

        [ticker]
        speed = 0
        gap = -1

        [schedule]
        timezone = "Europe/Berln"
        on = [
            { days = "mon-fir", from = "09:00", to = "17:00" },
            { days = "sat", from = "25:00", to = "9" },
            { from = "08:00", to = "08:00" },
            { days = "sun", form = "08:00" },
            "mon-fri 09:00-17:00",
            { days = ["mon", 3, "frei"] },
        ]
        dim = [
            { from = "22:00", to = "07:00" },
            { from = "22:00", to = "07:00", brightness = 150, tint = "wram" },
            { to = "24:01", brightness = 10, tint = "#12345" },
        ]

        [rotation]
        modes = [
            { mode = "clock", transition = "slide-lfet", transition_duration = 20 },
            { mode = "text", when = [{ days = "xmas" }] },
            { mode = "text", when = { from = "09:00" } },
        ]
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    found = errors_of(excinfo)
    expected = {
        "transitions.kind": "expected one of 'cut', 'crossfade', 'slide-left', 'slide-right', "
        "'slide-up', 'slide-down', 'wipe-left', 'wipe-right', 'wipe-up', 'wipe-down', found "
        "string 'crosfade' (did you mean 'crossfade'?)",
        "transitions.duration": "expected a number from 0.05 to 10, found integer 0",
        "ticker.speed": "expected a number from 1 to 1000, found integer 0",
        "ticker.gap": "expected an integer from 0 to 256, found integer -1",
        "schedule.timezone": "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?); "
        "use an IANA name such as 'Europe/Berlin' or 'America/New_York', or '' for the "
        "system's local time",
        "schedule.on[0].days": "unknown day 'fir' in the range 'mon-fir' (did you mean 'fri'?); "
        'use mon, tue, wed, thu, fri, sat, sun (or full names), ranges such as "mon-fri" or '
        '"fri-mon", "all", "daily", "weekdays" or "weekends"',
        "schedule.on[1].from": "expected \"HH:MM\" (24-hour, 00:00 to 23:59), found string '25:00'",
        "schedule.on[1].to": "expected \"HH:MM\" (24-hour, 00:00 to 24:00), found string '9'",
        "schedule.on[2]": 'empty window: "from" and "to" are both "08:00"; for a whole day '
        'leave both out or write from = "00:00", to = "24:00"',
        "schedule.on[3].form": "unknown key 'form' in a window (did you mean 'from'?); "
        "it takes days, from, to",
        "schedule.on[4]": 'expected a window table such as { days = "mon-fri", from = "09:00", '
        "to = \"17:00\" }, found string 'mon-fri 09:00-17:00'",
        "schedule.dim[0]": 'missing "brightness" (0-100 percent), e.g. { from = "22:00", '
        'to = "07:00", brightness = 20, tint = "warm" }',
        "schedule.dim[1].brightness": "expected an integer from 0 to 100, found integer 150",
        "schedule.dim[1].tint": 'expected "none", "warm", "red" or a colour "#rrggbb", '
        "found string 'wram' (did you mean 'warm'?)",
        "schedule.dim[2].to": "expected \"HH:MM\" (24-hour, 00:00 to 24:00), found string '24:01'",
        "schedule.dim[2].tint": 'expected "none", "warm", "red" or a colour "#rrggbb", '
        "found string '#12345'",
        "rotation.modes[0].transition": "(did you mean 'slide-left'?)",
        "rotation.modes[0].transition_duration": "expected a number from 0.05 to 10, found "
        "integer 20",
        "rotation.modes[1].when[0].days": "unknown day 'xmas'",
        "rotation.modes[2].when": "expected an array of windows such as [{ days = ",
    }
    assert set(found) - {"schedule.on[5].days[1]", "schedule.on[5].days[2]"} == set(expected)
    for key, message in expected.items():
        assert message in found[key], key
    assert "found integer 3" in found["schedule.on[5].days[1]"]
    assert "unknown day 'frei' (did you mean 'fri'?)" in found["schedule.on[5].days[2]"]
    assert all(issue.source == str(path) for issue in excinfo.value.errors)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("europe/berlin", "(did you mean 'Europe/Berlin'?)"),
        ("Berlin", "(did you mean 'Europe/Berlin'?)"),
        ("New York", "(did you mean 'America/New_York'?)"),
        ("America/New_Yrok", "(did you mean 'America/New_York'?)"),
        ("Europe", "unknown time zone 'Europe'"),
        ("../../etc/passwd", "unknown time zone '../../etc/passwd'"),
        ("/etc/localtime", "unknown time zone '/etc/localtime'"),
    ],
)
def test_bad_timezone_is_an_error_suggesting_close_names(
    tmp_path: Path, name: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, MINIMAL), env=ENV, overrides={"schedule": {"timezone": name}})
    assert list(errors_of(excinfo)) == ["schedule.timezone"]
    assert hint in errors_of(excinfo)["schedule.timezone"]


@pytest.mark.parametrize("name", ["", "UTC", "Europe/Berlin", "America/New_York", "Etc/GMT-14"])
def test_known_timezones_are_accepted(tmp_path: Path, name: str) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), env=ENV, overrides={"schedule": {"timezone": name}})
    assert cfg.schedule.timezone == name


def test_env_vars_set_transitions_and_schedule_windows(tmp_path: Path) -> None:
    env = {
        **ENV,
        "LEDHOST_TRANSITIONS__KIND": "slide-up",
        "LEDHOST_TRANSITIONS__DURATION": "1",
        "LEDHOST_TICKER__SEPARATOR": "|",
        "LEDHOST_SCHEDULE__TIMEZONE": "UTC",
        "LEDHOST_SCHEDULE__ON": '[{ days = "mon-fri", from = "07:00", to = "22:00" }]',
    }
    cfg = load_config(write(tmp_path, MINIMAL), env=env)
    assert cfg.transitions == TransitionsConfig("slide-up", 1.0)
    assert cfg.ticker == TickerConfig(30.0, "|", 8)
    assert cfg.schedule == ScheduleConfig("UTC", (Window(frozenset(range(5)), 420, 1320),), ())


def test_bad_env_transition_kind_names_the_variable_and_a_fix(tmp_path: Path) -> None:
    env = {**ENV, "LEDHOST_TRANSITIONS__KIND": "wipe_left"}
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, MINIMAL), env=env)
    issue = excinfo.value.errors[0]
    assert (issue.source, issue.key) == ("environment", "transitions.kind")
    assert "(did you mean 'wipe-left'?)" in issue.message
    assert "(set by LEDHOST_TRANSITIONS__KIND)" in issue.message


def test_schedule_windows_must_be_an_array(tmp_path: Path) -> None:
    env = {**ENV, "LEDHOST_SCHEDULE__DIM": "{ brightness = 10 }"}
    with pytest.raises(ConfigError) as excinfo:
        load_config(write(tmp_path, MINIMAL), env=env)
    assert errors_of(excinfo) == {
        "schedule.dim": "expected an array, found a table (set by LEDHOST_SCHEDULE__DIM)"
    }


# --- paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_dir", "env", "expected"),
    [
        ("", {"XDG_DATA_HOME": "/srv/xdg"}, "/srv/xdg/ledhost"),
        ("", {"XDG_DATA_HOME": "relative"}, f"{HOME}/.local/share/ledhost"),
        ("", {}, f"{HOME}/.local/share/ledhost"),
        ("~/led", {}, f"{HOME}/led"),
        ("/var/lib/ledhost", {}, "/var/lib/ledhost"),
    ],
)
def test_data_dir_resolution(
    tmp_path: Path, data_dir: str, env: dict[str, str], expected: str
) -> None:
    path = write(tmp_path, f'{MINIMAL}[paths]\ndata_dir = "{data_dir}"\n')
    assert load_config(path, env={**ENV, **env}).paths.data_dir == Path(expected)


def test_relative_data_dir_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, f'{MINIMAL}[paths]\ndata_dir = "data"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env=ENV)
    assert (
        "expected an absolute path or one starting with '~/'"
        in errors_of(excinfo)["paths.data_dir"]
    )


# --- plugin options against the plugin's JSON Schema -----------------------------------

TEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "message": {"type": "string"},
        "speed": {"type": "number", "minimum": 1, "default": 30},
        "colors": {"type": "array", "items": {"type": "string"}, "default": ["#ffffff"]},
        "font": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 8},
                "style": {
                    "type": "object",
                    "properties": {"bold": {"type": "boolean", "default": False}},
                },
            },
        },
        "border": {
            "type": "object",
            "required": ["color"],
            "properties": {"color": {"type": "string"}, "width": {"default": 1}},
        },
    },
    "required": ["message"],
}


def test_plugin_options_get_nested_defaults() -> None:
    options = {"message": "hi"}
    result = validate_plugin_options(TEXT_SCHEMA, options, where="plugins.text")
    assert result == {
        "message": "hi",
        "speed": 30,
        "colors": ["#ffffff"],
        "font": {"size": 8, "style": {"bold": False}},
        # "border" stays absent: its required "color" has no default.
    }
    assert options == {"message": "hi"}


def test_plugin_option_defaults_fill_inside_given_objects_and_are_copies() -> None:
    first = validate_plugin_options(
        TEXT_SCHEMA, {"message": "a", "font": {"size": 6}}, where="plugins.text"
    )
    assert first["font"] == {"size": 6, "style": {"bold": False}}
    first["colors"].append("#000000")
    second = validate_plugin_options(TEXT_SCHEMA, {"message": "b"}, where="plugins.text")
    assert second["colors"] == ["#ffffff"]
    assert TEXT_SCHEMA["properties"]["colors"]["default"] == ["#ffffff"]
    filled = fill_defaults(TEXT_SCHEMA, {})
    filled["colors"].append("#000000")
    assert fill_defaults(TEXT_SCHEMA, {})["colors"] == ["#ffffff"]


def test_plugin_option_errors_are_all_reported_with_key_paths() -> None:
    options = {"message": "hi", "speed": "fast", "font": {"size": "big"}, "sped": 3}
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_options(TEXT_SCHEMA, options, where="plugins.text", source="my.toml")
    lines = str(excinfo.value).splitlines()
    assert "my.toml: plugins.text.speed: 'fast' is not of type 'number'" in lines
    assert "my.toml: plugins.text.font.size: 'big' is not of type 'integer'" in lines
    assert "my.toml: plugins.text.sped: unknown option 'sped' (did you mean 'speed'?)" in lines
    assert len(lines) == 3


def test_plugin_option_missing_required_names_the_section() -> None:
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_options(TEXT_SCHEMA, {}, where="plugins.text")
    assert errors_of(excinfo) == {"plugins.text": "'message' is a required property"}


def test_plugin_options_from_loaded_config_validate() -> None:
    cfg = load_config(env=ENV)
    text = cfg.plugins["text"]
    result = validate_plugin_options(
        TEXT_SCHEMA, text.options, where="plugins.text", source=text.source
    )
    assert result["message"] == text.options["message"]
    assert result["speed"] == 30


def test_plugin_defaults_follow_local_refs_and_stop_on_recursion() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"label": {"default": "x"}, "child": {"$ref": "#/$defs/node"}},
            }
        },
        "properties": {"tree": {"$ref": "#/$defs/node"}},
    }
    result = validate_plugin_options(schema, {"tree": {"child": {}}}, where="plugins.t")
    # Defaults fill the nodes the user wrote; no endless chain of nodes is invented.
    assert result == {"tree": {"label": "x", "child": {"label": "x"}}}


def test_schema_none_means_any_option_is_an_error() -> None:
    assert validate_plugin_options(None, {}, where="plugins.clock") == {}
    with pytest.raises(ConfigError) as excinfo:
        validate_plugin_options(None, {"color": "red", "size": 2}, where="plugins.clock")
    assert errors_of(excinfo) == {
        "plugins.clock.color": "unknown option 'color': this plugin takes no options",
        "plugins.clock.size": "unknown option 'size': this plugin takes no options",
    }


@pytest.mark.parametrize(
    ("schema", "key", "expected"),
    [
        (
            {"type": "object", "properties": {"speed": {"type": "nmber"}}},
            "properties.speed.type",
            "invalid JSON Schema",
        ),
        ({"type": "object", "required": "message"}, "required", "invalid JSON Schema"),
        ({"type": "string"}, "type", "must describe an object"),
        (
            {"properties": {"speed": {"type": "number", "default": "fast"}}},
            "properties.speed.default",
            "'fast' is not of type 'number'",
        ),
        (["not", "a", "schema"], "", "must return a JSON Schema object or None"),
    ],
)
def test_invalid_plugin_schema_is_reported_as_the_plugins_bug(
    schema: Any, key: str, expected: str
) -> None:
    with pytest.raises(PluginSchemaError) as excinfo:
        check_schema(schema, plugin_id="text")
    issue = excinfo.value.errors[0]
    assert (issue.source, issue.key) == ("plugin 'text'", key)
    assert expected in issue.message
    assert "report it to its author" in issue.message


def test_validating_against_an_invalid_schema_raises_plugin_schema_error() -> None:
    bad = {"type": "object", "properties": {"speed": {"minimum": "one"}}}
    with pytest.raises(PluginSchemaError):
        validate_plugin_options(bad, {"speed": 3}, where="plugins.text", plugin_id="text")
    check_schema(copy.deepcopy(TEXT_SCHEMA), plugin_id="text")  # a good one passes
    check_schema(None, plugin_id="clock")


# --- boundaries -------------------------------------------------------------------------


def test_config_package_imports_nothing_else_of_ledhost() -> None:
    code = (
        "import sys, config\n"
        "ours = {'sdk', 'host', 'store', 'web', 'plugins_builtin'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ours))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_an_unknown_plugin_option_is_reported_with_a_suggestion() -> None:
    """Verify a misspelt option is an error even though JSON Schema allows extra keys."""
    schema = {"type": "object", "properties": {"message": {"type": "string", "default": ""}}}
    with pytest.raises(ConfigError) as info:
        config.validate_plugin_options(schema, {"mesage": "hi"}, where="plugins.text")
    assert "plugins.text.mesage: unknown option 'mesage' (did you mean 'message'?)" in str(
        info.value
    )


@pytest.mark.parametrize(
    "extra", [{"additionalProperties": True}, {"patternProperties": {"^x-": {}}}]
)
def test_a_schema_that_says_so_takes_free_form_options(extra: dict[str, Any]) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer", "default": 1}}, **extra}
    result = config.validate_plugin_options(schema, {"x-b": 2}, where="plugins.p")
    assert result == {"a": 1, "x-b": 2}


def test_options_declared_through_allof_or_ref_are_known_and_misspellings_still_caught() -> None:
    """Verify the unknown-option check sees what allOf and $ref declare (it used to close
    the schema with additionalProperties, which refused a default it had just filled)."""
    schema = {
        "type": "object",
        "$defs": {"base": {"properties": {"speed": {"type": "number", "default": 30}}}},
        "properties": {"message": {"type": "string", "default": ""}},
        "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"font": {"default": "6x10"}}}],
    }
    assert config.validate_plugin_options(schema, {}, where="plugins.t") == {
        "message": "",
        "speed": 30,
        "font": "6x10",
    }
    with pytest.raises(ConfigError) as info:
        config.validate_plugin_options(schema, {"sped": 3}, where="plugins.t")
    assert "plugins.t.sped: unknown option 'sped' (did you mean 'speed'?)" in str(info.value)
