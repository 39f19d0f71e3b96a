"""`ledhost reconcile` as a user runs it: a real process, a real config file and store
folder. Installs for real are in test_store_reconcile_e2e.py; these need no registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store import tombstones
from store.layout import StorePaths
from store.queue import OperationQueue
from store.reconciler import Action, Operation
from tests.conftest import ledhost


def write_config(tmp_path: Path, store_plugins: str) -> Path:
    path = tmp_path / "ledhost.toml"
    path.write_text(
        f'config_version = 2\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        f"[store.plugins]\n{store_plugins}\n"
    )
    return path


def store_paths(tmp_path: Path) -> StorePaths:
    return StorePaths.for_data_dir(tmp_path / "data")


def test_dry_run_plans_an_install_and_changes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'clock2 = "1.2.*"\nrss = { source = "pypi:ledhost-rss" }')
    result = ledhost("reconcile", "--config", str(config), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    ops = [(o["action"], o["plugin_id"], o["version"], o["result"]) for o in report["operations"]]
    assert ops == [("install", "clock2", "==1.2.*", "planned"), ("install", "rss", "", "planned")]
    assert not (tmp_path / "data" / "store").exists()
    assert OperationQueue(store_paths(tmp_path).state).history() == []


def test_a_tombstone_keeps_a_stale_entry_from_reinstalling(tmp_path: Path) -> None:
    """Verify that a plugin removed with `ledhost uninstall` is skipped, and the line says
    how to bring it back."""
    tombstones.add(store_paths(tmp_path), "clock2", "1.0")
    config = write_config(tmp_path, 'clock2 = "*"')
    result = ledhost("reconcile", "--config", str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "clock2: skipped" in result.stdout
    assert "`ledhost install clock2`" in result.stdout


def test_nothing_to_do_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    result = ledhost("reconcile", "--config", str(config))
    assert (result.returncode, result.stdout.strip()) == (
        0,
        "nothing to do: the store matches [store.plugins]",
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('"../x" = "1.0"', 'store.plugins."../x": plugin id'),
        ('clock2 = "latest!"', "store.plugins.clock2.version: 'latest!' is not a version"),
        ("clock2 = { sorce = 'x' }", "unknown key 'sorce' (did you mean 'source'?)"),
        ("clock2 = 3", "store.plugins.clock2: expected a version or a table, found integer 3"),
    ],
)
def test_a_bad_entry_is_a_clear_config_error(tmp_path: Path, entry: str, message: str) -> None:
    result = ledhost("reconcile", "--config", str(write_config(tmp_path, entry)))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreadable_source_is_skipped_naming_the_entry(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'clock2 = { source = "ftp://example.org/x.whl" }')
    result = ledhost("reconcile", "--config", str(config), "--dry-run", "--json")
    [op] = json.loads(result.stdout)["operations"]
    assert (op["action"], op["result"]) == ("skip", "skipped")
    assert "[store.plugins].clock2" in op["reason"] and "ftp" in op["reason"]


def test_an_interrupted_operation_is_converged_and_reported(tmp_path: Path) -> None:
    """Verify that a start line without its end (a killed process) is closed by the next
    reconcile, which says what it did."""
    queue = OperationQueue(store_paths(tmp_path).state)
    queue._append(  # what a process killed mid-operation leaves: the start line only
        {
            "id": "1-2-3",
            "event": "start",
            "time": 1.0,
            "pid": 1,
            "op": Operation(Action.INSTALL, "clock2", "registry").to_dict(),
        }
    )
    config = write_config(tmp_path, "")
    result = ledhost("reconcile", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    [note] = json.loads(result.stdout)["converged"]
    assert "clock2: an interrupted install was cleaned up" in note
    assert [e.result for e in queue.history()] == ["interrupted"]


def test_a_corrupt_tombstone_file_stops_the_reconcile_rather_than_resurrect(
    tmp_path: Path,
) -> None:
    """Verify that unreadable tombstones are an error, never read as "none removed"."""
    state = store_paths(tmp_path).state
    state.mkdir(parents=True)
    (state / "tombstones.json").write_text("{broken")
    result = ledhost("reconcile", "--config", str(write_config(tmp_path, 'clock2 = "*"')))
    assert result.returncode == 1
    assert "tombstones.json is corrupt" in result.stderr
    assert not store_paths(tmp_path).envs.exists()


def test_ledhost_run_without_a_store_creates_no_store_folder(tmp_path: Path) -> None:
    """Verify that the reconcile at start costs nothing on a sign that uses no store."""
    config = tmp_path / "ledhost.toml"
    config.write_text(
        f'config_version = 2\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        '[rotation]\nmodes = ["text"]\n[plugins.text]\n'
    )
    result = ledhost("run", "--config", str(config), "--duration", "1", "--backend", "headless")
    assert result.returncode == 0, result.stderr
    assert "store: " not in result.stderr  # no line of the reconciler
    assert not store_paths(tmp_path).root.exists()
