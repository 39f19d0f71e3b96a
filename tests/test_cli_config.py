"""``ledhost config check`` and ``show``; ``run``'s migration and ``[logging]``, as users run them.

Real subprocesses, real config files, real workers describing real plugins.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from pathlib import Path

import pytest

from config import load_config
from config.atomic import list_backups
from config.migrate import CURRENT_VERSION, VERSION_KEY
from tests.cli_run import run_until, running
from tests.conftest import TEST_PLUGINS, ledhost

PLUGIN_PATH = ("--plugin-path", str(TEST_PLUGINS))


def write(folder: Path, text: str, name: str = "ledhost.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# --- check ------------------------------------------------------------------------------


def test_check_the_embedded_default() -> None:
    result = ledhost("config", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    default = "the built-in default config (config/default.toml)"
    assert result.stdout == f"config OK: {default} (3 plugin instances)\n"


def test_check_a_valid_file_counts_enabled_instances(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[plugins.clock]\n[plugins.fill]\nplugin = 'solid'\nfps = 50\n"
        "[plugins.off]\nplugin = 'solid'\nenabled = false\nfps = 'ignored while disabled'\n",
    )
    result = ledhost("config", "check", str(path), *PLUGIN_PATH)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"config OK: {path} (2 plugin instances)\n"


def test_check_prints_every_host_and_plugin_error_at_once(tmp_path: Path) -> None:
    """Verify one run lists host errors, plugin option errors and unknown plugins, in order."""
    path = write(
        tmp_path,
        "[display]\nbrightnes = 50\nfps = 'fast'\n"
        "[plugins.clock]\n"
        "[plugins.fill]\nplugin = 'solid'\nfps = 'x'\nfsp = 3\n"
        "[plugins.typo]\nplugin = 'clokc'\n",
    )
    result = ledhost("config", "check", str(path), *PLUGIN_PATH)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}: display.brightnes: unknown setting 'brightnes' in [display] "
        "(did you mean 'brightness'?)",
        f"{path}: display.fps: expected a number from 1 to 240, found string 'fast'",
        f"{path}: plugins.fill.fps: 'x' is not of type 'number'",
        f"{path}: plugins.fill.fsp: unknown option 'fsp' (did you mean 'fps'?)",
        result.stdout.splitlines()[-1],
    ]
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"{path}: plugins.typo.plugin: no plugin 'clokc' is installed")
    assert "(did you mean 'clock'?)" in last
    assert result.stderr == f"config has 5 errors: {path}\n"
    assert "Traceback" not in result.stderr


def test_check_names_a_nested_plugin_option_and_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[plugins.text]\nmessages = [{ text = 'a', colour = '#fff' }]\n")
    result = ledhost("config", "check", str(path), env={"LEDHOST_DISPLAY__BRIGHTNESS": "500"})
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "environment: display.brightness: expected an integer from 0 to 100, found integer 500 "
        "(set by LEDHOST_DISPLAY__BRIGHTNESS)",
        f"{path}: plugins.text.messages[0].colour: unknown option 'colour' (did you mean 'color'?)",
    ]


@pytest.mark.parametrize("rows", [32, 0], ids=["valid-host", "invalid-host"])
def test_check_validates_secrets_and_never_prints_them(tmp_path: Path, rows: int) -> None:
    """Verify secrets count as options (with or without valid host settings), unseen."""
    path = write(
        tmp_path,
        f"[display]\nrows = {rows}\n"
        "[plugins.vault]\nplugin = 'secretive'\nlabel = 5\n"
        "[plugins.open]\nplugin = 'secretive'\napi_key = 'hunter2-in-the-open'\n",
    )
    secrets = write(tmp_path, "[plugins.vault]\napi_key = 'hunter2-kept-private'\n", "secrets.toml")
    secrets.chmod(0o600)
    result = ledhost("config", "check", str(path), *PLUGIN_PATH)
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    if rows == 0:
        assert lines.pop(0).startswith(f"{path}: display.rows: expected an integer")
    assert lines[0] == f"{path}: plugins.vault.label: 5 is not of type 'string'"
    assert lines[1].startswith(f"{path}: plugins.open.api_key: this option is secret")
    assert len(lines) == 2


def test_check_reports_a_plugin_that_does_not_load(tmp_path: Path) -> None:
    path = write(tmp_path, "[plugins.clock]\n[plugins.broken]\nplugin = 'importfail'\n")
    result = ledhost("config", "check", str(path), *PLUGIN_PATH)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}: plugins.broken: plugin 'importfail' failed to load: ")
    assert "this plugin needs a library" in line


def test_check_a_missing_file(tmp_path: Path) -> None:
    result = ledhost("config", "check", str(tmp_path / "nope.toml"))
    assert result.returncode == 1
    assert result.stdout == f"{tmp_path / 'nope.toml'}: config file not found\n"


def test_check_a_file_from_a_newer_ledhost(tmp_path: Path) -> None:
    path = write(tmp_path, f"{VERSION_KEY} = {CURRENT_VERSION + 1}\n")
    result = ledhost("config", "check", str(path))
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}: {VERSION_KEY}: ") and "upgrade ledhost" in line


V1_FILE = """\
# The kitchen sign.
[display]
# Two panels.
chain_length = 2  # since March
[plugins.clock]
"""


def test_check_upgrades_an_older_file_with_a_backup(tmp_path: Path) -> None:
    path = write(tmp_path, V1_FILE)
    result = ledhost("config", "check", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"config OK: {path} (1 plugin instance)\n"
    assert f"ledhost: note: upgraded {path} from config version 1 to {CURRENT_VERSION}" in (
        result.stderr
    )
    assert "ledhost: note: renamed display.chain_length to display.chain\n" in result.stderr
    text = path.read_text()
    assert text.endswith(V1_FILE.replace("chain_length = 2", "chain = 2"))
    assert tomllib.loads(text)[VERSION_KEY] == CURRENT_VERSION
    [backup] = list_backups(path)
    assert backup.path.read_text() == V1_FILE


# --- show -------------------------------------------------------------------------------

SHOW_FILE = """\
[display]
brightness = 40
[rotation]
modes = ["clock", { mode = "text", duration = 3, when = [{ days = "mon-fri", from = "08:00" }] }]
[schedule]
dim = [{ from = "22:00", to = "07:00", brightness = 20, tint = "warm" }]
[layouts.desk]
regions = [{ mode = "clock", x = 0, y = 0, width = 22, height = 32 },
           { mode = "text", x = 22, y = 0, width = 42, height = 32 }]
[plugins.clock]
[plugins.text]
message = "hi"
[plugins.system]
enabled = false
"""


def test_show_prints_the_effective_config_and_round_trips(tmp_path: Path) -> None:
    """Verify show fills every default (plugins' too), applies env vars, and loads back."""
    path = write(tmp_path, SHOW_FILE)
    env = {"LEDHOST_DISPLAY__FPS": "30"}
    result = ledhost("config", "show", "--config", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# The effective config of {path}:")
    shown = tomllib.loads(result.stdout)
    assert shown[VERSION_KEY] == CURRENT_VERSION
    assert shown["display"]["fps"] == 30.0 and shown["display"]["brightness"] == 40
    assert shown["web"] == {"enabled": False, "bind": "0.0.0.0", "port": 8080, "allowed_hosts": []}
    assert shown["plugins"]["text"]["message"] == "hi"
    assert shown["plugins"]["text"]["speed"] == 24  # the text plugin's schema default
    assert shown["plugins"]["clock"]["format"] == "24h"

    del shown[VERSION_KEY]
    cfg = load_config(path, env={**os.environ, **env})
    again = load_config(env={}, overrides=shown)  # the embedded default, then all of it
    assert again.to_dict() == shown  # show prints a fixed point
    for section in ("display", "rotation", "transitions", "ticker", "schedule", "workers"):
        assert getattr(again, section) == getattr(cfg, section), section
    assert (again.paths, again.web, again.logging, again.layouts) == (
        cfg.paths,
        cfg.web,
        cfg.logging,
        cfg.layouts,
    )
    assert list(again.plugins) == list(cfg.plugins)
    for instance_id, instance in cfg.plugins.items():
        filled = again.plugins[instance_id]
        assert dataclasses.replace(filled, options={}) == dataclasses.replace(
            instance, options={}, source=filled.source
        )
        assert instance.options.items() <= filled.options.items()

    as_json = ledhost("config", "show", "--config", str(path), "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {VERSION_KEY: CURRENT_VERSION, **shown}


def test_show_redacts_secrets_from_the_secrets_file_and_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[plugins.vault]\nplugin = 'secretive'\nlabel = 'shown'\n"
        "[plugins.env]\nplugin = 'secretive'\n"
        "[plugins.gone]\nplugin = 'uninstalled'\nenabled = false\nlabel = 'from the file'\n",
    )
    secrets = write(tmp_path, "[plugins.vault]\napi_key = 'hunter2-from-file'\n", "secrets.toml")
    secrets.chmod(0o600)
    env = {
        "LEDHOST_PLUGINS__ENV__API_KEY": "hunter2-from-env",
        "LEDHOST_PLUGINS__GONE__TOKEN": "hunter2-unknown-schema",
    }
    for extra in ((), ("--json",)):
        result = ledhost("config", "show", "--config", str(path), *extra, *PLUGIN_PATH, env=env)
        assert result.returncode == 0, result.stderr
        assert "hunter2" not in result.stdout + result.stderr
        shown = json.loads(result.stdout) if extra else tomllib.loads(result.stdout)
        assert shown["plugins"]["vault"]["api_key"] == "<redacted>"
        assert shown["plugins"]["vault"]["label"] == "shown"
        assert shown["plugins"]["env"]["api_key"] == "<redacted>"
        assert shown["plugins"]["env"]["label"] == "hello"  # default filled in
        # No schema to tell: every value from the environment is hidden.
        assert shown["plugins"]["gone"]["token"] == "<redacted>"
        assert shown["plugins"]["gone"]["label"] == "from the file"


def test_show_an_invalid_config_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[display]\nrows = 0\n")
    result = ledhost("config", "show", "--config", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"ledhost: error: {path}: display.rows: expected an integer")


def test_config_needs_an_action() -> None:
    result = ledhost("config")
    assert result.returncode == 2
    assert "check" in result.stderr and "show" in result.stderr


# --- run: migration and [logging] -------------------------------------------------------


def test_run_upgrades_an_older_file_and_logs_to_the_configured_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "ledhost.log"
    log.parent.mkdir()
    path = write(tmp_path, V1_FILE + f"[logging]\nfile = '{log}'\n")
    result = ledhost("run", "--config", str(path), "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert f"ledhost: note: upgraded {path}" in result.stderr
    assert "chain = 2  # since March" in path.read_text()
    assert len(list_backups(path)) == 1
    assert " INFO ledhost.host: ledhost " in log.read_text()  # the start line, in the file
    assert " INFO " not in result.stderr  # and not on stderr


@pytest.mark.parametrize(
    ("level", "flags"), [("warning", ()), ("debug", ("-q",))], ids=["level", "quiet-flag-wins"]
)
def test_run_logs_at_the_configured_level_unless_a_flag_says_otherwise(
    tmp_path: Path, level: str, flags: tuple[str, ...]
) -> None:
    log = tmp_path / "ledhost.log"
    path = write(tmp_path, f"[logging]\nlevel = '{level}'\nfile = '{log}'\n[plugins.clock]\n")
    result = ledhost("run", "--config", str(path), "--duration", "1", *flags)
    assert result.returncode == 0, result.stderr
    assert " INFO " not in log.read_text() and " DEBUG " not in log.read_text()


def test_run_refuses_a_relative_log_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[logging]\nfile = 'ledhost.log'\n")
    result = ledhost("run", "--config", str(path), "--duration", "1", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ledhost: error: logging.file: expected an absolute path or one starting with '~/', "
        "found 'ledhost.log'"
    ]
    assert not os.path.exists(tmp_path / "ledhost.log")


@pytest.mark.parametrize("level", ["info", "warning"])
def test_plugin_level_quiets_plugin_records_only(tmp_path: Path, level: str) -> None:
    log = tmp_path / "ledhost.log"
    path = write(
        tmp_path,
        f"[logging]\nfile = '{log}'\nplugin_level = '{level}'\n"
        "[plugins.vault]\nplugin = 'secretive'\n",
    )
    secrets = write(tmp_path, "[plugins.vault]\napi_key = 'long-enough-key'\n", "secrets.toml")
    secrets.chmod(0o600)
    result = run_until("--config", str(path), *PLUGIN_PATH, until=running("vault"))
    assert result.returncode == 0, result.stderr
    text = log.read_text()
    assert " INFO ledhost.host: " in text  # the host logs at info either way
    # secretive logs one info line in setup (its key redacted by the host).
    assert ("INFO ledhost.plugin.vault: secretive starts" in text) == (level == "info")
