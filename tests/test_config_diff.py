"""``config.diff``: what changed between two configs and how a running host applies it.

Pure tables: each row loads two configs from override mappings and checks the diff.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from config import SETTINGS, HostConfig, load_config
from config.diff import ConfigDiff, diff_configs, keep_running_values

#: Two instances of the text plugin and the clock, as most rows start from.
BASE: dict[str, Any] = {
    "plugins": {
        "text": {"message": "hi"},
        "news": {"plugin": "text", "message": "news"},
        "clock": {},
    },
}


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _cfg(change: dict[str, Any] | None = None, base: dict[str, Any] = BASE) -> HostConfig:
    """Load ``base`` with ``change`` merged in, written as a config file (tables only)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledhost.toml"
        path.write_text(tomlkit.dumps(_merge(base, change or {})))
        return load_config(path, env={})


def _diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> ConfigDiff:
    return diff_configs(_cfg(old), _cfg(new))


def test_the_same_config_twice_has_no_changes() -> None:
    diff = _diff(None, None)
    assert diff == ConfigDiff()
    assert not diff.changed
    assert diff.summary() == "no changes"


@pytest.mark.parametrize(
    ("change", "live", "restart"),
    [
        ({"display": {"brightness": 40}}, ("display.brightness",), ()),
        ({"display": {"gamma": 2.2}}, ("display.gamma",), ()),
        ({"display": {"fps": 30}}, ("display.fps",), ()),
        ({"display": {"rows": 16}}, (), ("display.rows",)),
        ({"display": {"cols": 32, "parallel": 2}}, (), ("display.cols", "display.parallel")),
        ({"display": {"pwm_bits": 8, "brightness": 5}}, ("display.brightness",),
         ("display.pwm_bits",)),
        ({"rotation": {"modes": ["clock", "text"]}}, ("rotation.modes",), ()),
        ({"rotation": {"default_duration": 5}}, ("rotation.default_duration",), ()),
        ({"transitions": {"kind": "crossfade"}}, ("transitions.kind",), ()),
        ({"ticker": {"speed": 12, "modes": ["text"]}}, ("ticker.speed", "ticker.modes"), ()),
        ({"schedule": {"on": [{"from": "07:00", "to": "23:00"}]}}, ("schedule.on",), ()),
        ({"schedule": {"dim": [{"from": "22:00", "to": "07:00", "brightness": 20}]}},
         ("schedule.dim",), ()),
        ({"schedule": {"timezone": "Europe/Berlin"}}, ("schedule.timezone",), ()),
        ({"workers": {"render_timeout": 9}}, (), ("workers.render_timeout",)),
        ({"workers": {"memory_limit_mb": 512}}, (), ("workers.memory_limit_mb",)),
        ({"paths": {"data_dir": "/var/lib/ledhost"}}, (), ("paths.data_dir",)),
    ],
)  # fmt: skip
def test_changed_settings_are_live_or_wait_for_a_restart(
    change: dict[str, Any], live: tuple[str, ...], restart: tuple[str, ...]
) -> None:
    diff = _diff(None, change)
    assert diff.live_keys == live
    assert diff.restart_keys == restart
    assert {key for key, _, _ in diff.values} == {*live, *restart}
    assert diff.changed
    assert not diff.instances_changed
    assert diff.changed_instances == ()


def test_every_live_key_is_declared_live_in_the_settings_table() -> None:
    """Verify live-ness is the table's, not a list of the diff's own."""
    live = {s.key for s in SETTINGS if s.live}
    assert {"display.brightness", "display.gamma", "display.fps"} <= live
    assert {s.key for s in SETTINGS if s.section in ("rotation", "transitions")} <= live
    assert {s.key for s in SETTINGS if s.section in ("ticker", "schedule")} <= live
    assert not {s.key for s in SETTINGS if s.section in ("workers", "paths")} & live
    geometry = {"display.rows", "display.cols", "display.chain_length", "display.parallel"}
    assert not geometry & live


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # options of one instance: only that one is configured
        (None, {"plugins": {"text": {"message": "bye"}}}, {"changed": ("text",)}),
        (None, {"plugins": {"news": {"speed": 12}}}, {"changed": ("news",)}),
        # a new instance, or one enabled now
        (None, {"plugins": {"other": {"plugin": "text"}}}, {"added": ("other",)}),
        ({"plugins": {"clock": {"enabled": False}}}, None, {"added": ("clock",)}),
        # disabled now; gone from the file
        (None, {"plugins": {"clock": {"enabled": False}}}, {"removed": ("clock",)}),
        (None, {"plugins": {"clock": None}}, {"removed": ("clock",)}),
        # plugin id or memory limit: a new worker
        (None, {"plugins": {"news": {"plugin": "clock", "message": None}}}, {"restart": ("news",)}),
        (None, {"plugins": {"text": {"memory_limit_mb": 64}}}, {"restart": ("text",)}),
        # options and plugin id together: the restart carries the options
        (None, {"plugins": {"text": {"memory_limit_mb": 64, "message": "x"}}},
         {"restart": ("text",)}),
        # disabled before and after, options changed: nothing runs, nothing to do
        ({"plugins": {"clock": {"enabled": False}}},
         {"plugins": {"clock": {"enabled": False, "x": 1}}}, {}),
        # several at once, each in config order
        (None, {"plugins": {"text": {"message": "a"}, "news": {"message": "b"},
                            "clock": {"enabled": False}, "z": {"plugin": "clock"}}},
         {"changed": ("text", "news"), "removed": ("clock",), "added": ("z",)}),
    ],
)  # fmt: skip
def test_plugin_instances_are_configured_started_stopped_or_restarted(
    old: dict[str, Any] | None, new: dict[str, Any] | None, expected: dict[str, tuple[str, ...]]
) -> None:
    def without_none(tables: dict[str, Any] | None) -> dict[str, Any]:
        merged = _merge(BASE, tables or {})
        merged["plugins"] = {
            iid: {k: v for k, v in table.items() if v is not None}
            for iid, table in merged["plugins"].items()
            if table is not None
        }
        return merged

    diff = diff_configs(_cfg(base=without_none(old)), _cfg(base=without_none(new)))
    assert diff.changed_instances == expected.get("changed", ())
    assert diff.added_instances == expected.get("added", ())
    assert diff.removed_instances == expected.get("removed", ())
    assert diff.restart_instances == expected.get("restart", ())
    assert diff.live_keys == diff.restart_keys == ()
    assert diff.instances_changed == bool({"added", "removed", "restart"} & set(expected))


def test_a_changed_layout_is_a_live_change() -> None:
    layout = {"regions": [{"mode": "clock", "x": 0, "y": 0, "width": 32, "height": 32}]}
    moved = {"regions": [{"mode": "clock", "x": 32, "y": 0, "width": 32, "height": 32}]}
    diff = _diff({"layouts": {"split": layout}}, {"layouts": {"split": moved}})
    assert diff.layouts_changed and diff.changed
    assert diff.restart_keys == ()
    assert not _diff({"layouts": {"split": layout}}, {"layouts": {"split": layout}}).changed
    assert _diff(None, {"layouts": {"split": layout}}).layouts_changed


def test_summary_names_each_change_and_what_needs_a_restart() -> None:
    diff = _diff(
        None,
        {
            "display": {"brightness": 40, "rows": 16},
            "transitions": {"kind": "crossfade"},
            "plugins": {"text": {"message": "secret-looking value"}},
        },
    )
    assert diff.summary() == (
        'display.brightness 100 -> 40; transitions.kind "cut" -> "crossfade"; '
        "plugins.text options; restart needed for display.rows"
    )
    assert "secret-looking" not in diff.summary(), "plugin option values are never shown"


def test_summary_shortens_long_values() -> None:
    modes = [f"instance{i}" for i in range(20)]
    plugins = {name: {"plugin": "text"} for name in modes}
    diff = _diff({"plugins": plugins}, {"plugins": plugins, "rotation": {"modes": modes}})
    text = diff.summary()
    assert text.startswith('rotation.modes [] -> ["instance0"') and text.endswith("...")
    assert len(text) < 100


def test_keep_running_values_applies_live_settings_and_keeps_the_rest() -> None:
    running = _cfg()
    loaded = _cfg({"display": {"brightness": 30, "rows": 16}, "workers": {"nice": 9}})
    diff = diff_configs(running, loaded)
    effective = keep_running_values(running, loaded, diff)
    assert effective.display.brightness == 30
    assert effective.display.rows == running.display.rows == 32
    assert effective.workers.nice == running.workers.nice
    # The next load, still asking for 16 rows, still needs the restart.
    again = diff_configs(effective, loaded)
    assert again.restart_keys == ("display.rows", "workers.nice")
    assert again.live_keys == ()
    # And the file put back as it was: nothing waits any more.
    assert diff_configs(effective, running).restart_keys == ()


def test_keep_running_values_keeps_a_path_and_applies_instances() -> None:
    running = _cfg()
    loaded = _cfg({"paths": {"data_dir": "/srv/led"}, "plugins": {"text": {"message": "x"}}})
    effective = keep_running_values(running, loaded, diff_configs(running, loaded))
    assert effective.paths.data_dir == running.paths.data_dir != Path("/srv/led")
    assert effective.plugins["text"].options == {"message": "x"}


def test_a_changed_secret_reconfigures_its_instance_and_is_never_shown(tmp_path: Path) -> None:
    config = tmp_path / "ledhost.toml"
    config.write_text(tomlkit.dumps(BASE))
    secrets = tmp_path / "secrets.toml"

    def load(key: str) -> HostConfig:
        secrets.write_text(f'[plugins.news]\napi_key = "{key}"\n')
        secrets.chmod(0o600)
        return load_config(config, env={}, secrets_path=secrets)

    diff = diff_configs(load("first-secret"), load("second-secret"))
    assert diff.changed_instances == ("news",)
    assert diff.summary() == "plugins.news options"
    assert "secret" not in repr(diff)
    assert not diff_configs(load("same"), load("same")).changed
