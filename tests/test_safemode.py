"""Safe mode: ``ledhost run --safe`` or the one-shot flag file start builtin plugins only."""

from __future__ import annotations

import json
from pathlib import Path

from config import load_config
from host.safemode import NOT_IN_SAFE_MODE, flag_path, safe_mode_asked, take_flag
from tests.cli_run import run_until, running, showing
from tests.conftest import TEST_PLUGINS, ledhost, run_host


def test_the_flag_file_asks_once(tmp_path: Path) -> None:
    assert not take_flag(tmp_path)
    flag_path(tmp_path).write_text("")
    assert safe_mode_asked(False, tmp_path)
    assert not flag_path(tmp_path).exists()
    assert not safe_mode_asked(False, tmp_path)
    assert safe_mode_asked(True, tmp_path)


def test_a_flag_that_cannot_be_removed_still_counts(tmp_path: Path) -> None:
    """A folder in its place cannot be unlinked: safe mode, and a warning that says so."""
    flag_path(tmp_path).mkdir()
    assert take_flag(tmp_path)
    assert flag_path(tmp_path).exists()


def test_safe_mode_starts_builtins_only_and_says_so(tmp_path: Path) -> None:
    """A third-party instance and a builtin, both enabled: only the builtin starts; the
    run does not fail for the other, whose status says why it is not running."""
    overrides = {
        "plugins": {"solid": {"fps": 5}, "text": {}},
        "rotation": {"modes": [{"mode": "solid:fill"}, {"mode": "text:message"}]},
    }
    host, _backend, stats = run_host(
        overrides,
        120.0,
        tmp_path,
        until=lambda host, _: host.supervisor.handles["text"].frames > 0,
        only=("solid", "text"),
        plugin_paths=(str(TEST_PLUGINS),),
        safe_mode=True,
    )
    assert set(host.supervisor.handles) == {"text"}
    assert stats["plugins"]["solid"]["last_error"] == NOT_IN_SAFE_MODE
    assert stats["plugins"]["solid"]["state"] == "stopped"
    assert stats["safe_mode"] is True and stats["display"]["safe_mode"] is True
    assert host.options.plugin_paths == () and not host.options.environment_plugins


def test_the_flag_file_makes_one_start_safe(tmp_path: Path) -> None:
    """Created by the web UI (or a user): the next start is safe, the one after normal."""
    data_dir = load_config(None).paths.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    flag_path(data_dir).write_text("")
    stats = tmp_path / "stats.json"
    args = (
        *("--backend", "headless", "--stats-json", str(stats)),
        *("--plugin-path", str(TEST_PLUGINS), "--plugins", "clock,solid"),
    )
    first = run_until(*args, until=showing("clock"))
    assert first.returncode == 0, first.stderr
    assert "safe mode" in first.stderr and str(flag_path(data_dir)) in first.stderr
    assert not flag_path(data_dir).exists()
    data = json.loads(stats.read_text())
    assert data["safe_mode"] is True and data["plugins"]["solid"]["last_error"] == NOT_IN_SAFE_MODE
    assert data["plugins"]["clock"]["frames"] > 0

    second = run_until(*args, until=running("clock", "solid"))
    assert second.returncode == 0, second.stderr
    data = json.loads(stats.read_text())
    assert data["safe_mode"] is False
    assert data["plugins"]["solid"]["last_error"] is None, data["plugins"]["solid"]
    assert data["plugins"]["solid"]["modes"] == ["fill"]  # its worker said hello


def test_run_safe_flag(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    result = ledhost(
        *("run", "--safe", "--duration", "5", "--backend", "headless"),
        *("--stats-json", str(stats), "--plugin-path", str(TEST_PLUGINS)),
        *("--plugins", "clock,solid"),
    )
    assert result.returncode == 0, result.stderr
    assert "safe mode (--safe): only builtin plugins start" in result.stderr
    data = json.loads(stats.read_text())
    assert data["safe_mode"] is True and set(data["plugins"]) == {"clock", "solid"}
    assert data["plugins"]["solid"]["last_error"] == NOT_IN_SAFE_MODE
