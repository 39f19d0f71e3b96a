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
    DisplayConfig,
    PathsConfig,
    PluginSchemaError,
    RotationConfig,
    RotationEntry,
    check_schema,
    fill_defaults,
    load_config,
    settings_reference_markdown,
    validate_plugin_options,
)
from config.schema import format_toml_value

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


def test_embedded_default_loads_as_64x32_with_clock_and_text() -> None:
    cfg = load_config(env=ENV)
    assert (cfg.display.width, cfg.display.height) == (64, 32)
    assert cfg.path is None
    assert list(cfg.plugins) == ["clock", "text"]
    assert all(p.enabled for p in cfg.plugins.values())
    assert [e.instance for e in cfg.rotation.entries] == ["clock", "text"]
    # At 5-6 px per glyph, 64 px hold about a dozen characters: the message must scroll.
    assert len(cfg.plugins["text"].options["message"]) * 5 > 2 * cfg.display.width
    assert cfg.paths.data_dir == Path(HOME, ".local/share/ledhost")


def test_derived_width_and_height_follow_chain_and_parallel() -> None:
    overrides = {"display": {"rows": 64, "cols": 32, "chain_length": 3, "parallel": 2}}
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
        "paths": PathsConfig,
    }
    for section, cls in fields.items():
        declared = {s.name for s in SETTINGS if s.section == section}
        names = {f.name for f in dataclasses.fields(cls)}
        if section == "rotation":
            names = names - {"entries"} | {"modes"}
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
    cfg = load_config(
        env=ENV,
        overrides={"rotation": {"modes": ["clock", {"mode": "text:scroll", "duration": 12.5}]}},
    )
    assert load_config(env=ENV, overrides=cfg.to_dict()) == cfg


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
