"""The reconciler with real installs: wheels built in the test, served with a registry
index from 127.0.0.1, installed into real isolated environments by the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.desired import DesiredPlugin, normalize_version
from store import failures, operations, tombstones
from store.apply import Report, reconcile
from store.inventory import installed
from store.layout import StorePaths
from store.queue import OperationQueue
from store.settings import StoreSettings
from store.sources import Source
from tests.cli_run import run_until, showing
from tests.conftest import eventually, ledhost
from tests.store_helpers import Behaviour, WheelServer, plugin_wheel, registry_index

NOW = 1_800_000_000.0


@pytest.fixture
def wheels(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "wheels"
    folder.mkdir()
    return {
        "1.0.0": plugin_wheel(folder, "clock2", "1.0.0", colour=(200, 0, 0)),
        "2.0.0": plugin_wheel(folder, "clock2", "2.0.0", colour=(0, 200, 0)),
    }


@pytest.fixture
def server(wheels: dict[str, Path]) -> Iterator[WheelServer]:
    folder = next(iter(wheels.values())).parent
    with WheelServer(folder) as served:
        served.index = registry_index(served.url, {"clock2": list(wheels.values())})
        yield served


def settings_for(server: WheelServer) -> StoreSettings:
    # cache_ttl 0: every reconcile sees the index as the test serves it now.
    return StoreSettings(registries=(server.index_url,), cache_ttl_seconds=0, index_url="")


def wanting(version: str = "", source: str = "registry") -> dict[str, DesiredPlugin]:
    return {"clock2": DesiredPlugin("clock2", source, normalize_version(version))}


def run(
    paths: StorePaths, server: WheelServer, desired: dict[str, DesiredPlugin], now: float = NOW
) -> Report:
    return reconcile(paths, settings_for(server), desired, verify=None, now=now)


def current(paths: StorePaths) -> str | None:
    entry = installed(paths).get("clock2")
    return None if entry is None else entry.version


def test_reconcile_installs_updates_and_rolls_back_to_follow_the_config(
    tmp_path: Path, server: WheelServer
) -> None:
    paths = StorePaths(tmp_path / "store")
    report = run(paths, server, wanting("1.*"))
    assert report.ok, report
    assert [(o.op.action, o.result, o.version) for o in report.outcomes] == [
        ("install", "ok", "1.0.0")
    ]
    assert current(paths) == "1.0.0"
    assert run(paths, server, wanting("1.*")).outcomes == ()  # converged: nothing to do

    report = run(paths, server, wanting(">=2"))
    assert [(o.op.action, o.version) for o in report.outcomes] == [("update", "2.0.0")]
    assert current(paths) == "2.0.0"

    report = run(paths, server, wanting("1.0.0"))
    assert [(o.op.action, o.version) for o in report.outcomes] == [("rollback", "1.0.0")]
    assert current(paths) == "1.0.0"
    history = OperationQueue(paths.state).history()
    assert [(e.op.action, e.result) for e in history] == [
        ("install", "ok"),
        ("update", "ok"),
        ("rollback", "ok"),
    ]


def test_an_uninstalled_plugin_is_not_reinstalled_until_installed_explicitly(
    tmp_path: Path, server: WheelServer
) -> None:
    paths = StorePaths(tmp_path / "store")
    assert run(paths, server, wanting()).ok
    operations.uninstall(paths, "clock2")
    report = run(paths, server, wanting())
    [outcome] = report.outcomes
    assert (outcome.op.action, outcome.result) == ("skip", "skipped")
    assert "ledhost install clock2" in outcome.op.reason
    assert current(paths) is None
    operations.install(paths, settings_for(server), Source("registry", "clock2"), verify=None)
    assert "clock2" not in tombstones.read(paths)
    assert run(paths, server, wanting()).outcomes == ()
    assert current(paths) == "2.0.0"


def test_an_unreachable_registry_is_reported_and_backed_off(
    tmp_path: Path, server: WheelServer
) -> None:
    paths = StorePaths(tmp_path / "store")
    server.behaviours.append(Behaviour(status=500))
    report = run(paths, server, wanting())
    [outcome] = report.outcomes
    assert not report.ok
    assert outcome.result == "failed" and outcome.error
    failure = failures.read(paths.state)["clock2"]
    assert (failure.count, failure.permanent) == (1, False)
    requests = sum(server.requests.values())
    # Within the backoff: skipped, without a single request to the registry.
    [again] = run(paths, server, wanting(), now=NOW + 1).outcomes
    assert again.result == "skipped" and "next try after" in again.op.reason
    assert sum(server.requests.values()) == requests
    # Past it, with the registry back: installed, and the failure forgotten.
    server.behaviours.clear()
    report = run(paths, server, wanting(), now=failure.retry_at() + 1)
    assert report.ok and current(paths) == "2.0.0"
    assert failures.read(paths.state) == {}


def test_an_incompatible_plugin_is_not_retried_until_the_registry_changes(
    tmp_path: Path, server: WheelServer, wheels: dict[str, Path]
) -> None:
    paths = StorePaths(tmp_path / "store")
    only_new = {"clock2==1.0.0": ">=99", "clock2==2.0.0": ">=99"}
    server.index = registry_index(
        server.url, {"clock2": list(wheels.values())}, requires_ledhost=only_new
    )
    [outcome] = run(paths, server, wanting()).outcomes
    assert outcome.result == "failed" and "99" in outcome.error
    assert failures.read(paths.state)["clock2"].permanent
    [skipped] = run(paths, server, wanting(), now=NOW + 10**7).outcomes
    assert skipped.result == "skipped" and "registry changes" in skipped.op.reason
    server.index = registry_index(server.url, {"clock2": list(wheels.values())})
    report = run(paths, server, wanting(), now=NOW + 10**7)
    assert report.ok and current(paths) == "2.0.0"


def test_a_range_no_registry_version_fits_is_an_unrecoverable_failure(
    tmp_path: Path, server: WheelServer
) -> None:
    paths = StorePaths(tmp_path / "store")
    [outcome] = run(paths, server, wanting("3.*")).outcomes
    assert outcome.result == "failed"
    assert "no version of clock2 in ==3.*" in outcome.error
    assert "1.0.0" in outcome.error and current(paths) is None
    assert failures.read(paths.state)["clock2"].permanent


# -- as a user runs it: `ledhost reconcile` and `ledhost run`, real processes ------------


def write_config(tmp_path: Path, server: WheelServer, wanted: str) -> Path:
    path = tmp_path / "ledhost.toml"
    path.write_text(
        f'config_version = 2\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[store]\nregistries = ["{server.index_url}"]\nindex_url = ""\ncache_ttl_seconds = 0\n'
        f'[rotation]\nmodes = ["clock2"]\n[plugins.clock2]\n'
        f"[store.plugins]\n{wanted}\n"
    )
    return path


def shows(tmp_path: Path, config: Path) -> dict[str, object]:
    """The stats of ``ledhost run`` on ``config``, run until clock2 drew two frames (the
    first then reached the panel), however long installing it at start took."""
    stats = tmp_path / "stats.json"
    result = run_until(
        "--config", str(config), "--backend", "headless", "--stats-json", str(stats), "-q",
        until=showing("clock2"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(stats.read_text())
    return data


def test_a_config_entry_is_installed_by_ledhost_reconcile_and_shown_by_ledhost_run(
    tmp_path: Path, server: WheelServer
) -> None:
    config = write_config(tmp_path, server, 'clock2 = "1.*"')
    result = ledhost("reconcile", "--config", str(config), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "install clock2 ==1.*: ok, 1.0.0 is current" in result.stdout
    data = shows(tmp_path, config)
    assert data["frames_shown"] >= 1, data
    assert "clock2" in data["plugins"], data  # type: ignore[operator]


def test_ledhost_run_installs_at_start_and_starts_anyway_without_a_registry(
    tmp_path: Path, server: WheelServer
) -> None:
    """Verify that `ledhost run` reconciles before its workers start, and that an
    unreachable registry is logged while the host starts with what is installed."""
    config = write_config(tmp_path, server, 'clock2 = "1.*"')
    assert "clock2" in shows(tmp_path, config)["plugins"]  # type: ignore[operator]
    paths = StorePaths.for_data_dir(tmp_path / "data")
    assert current(paths) == "1.0.0"
    server.behaviours.append(Behaviour(status=500))
    config = write_config(tmp_path, server, 'clock2 = ">=2"')
    stats = tmp_path / "stats.json"
    result = run_until(
        "--config", str(config), "--backend", "headless", "--stats-json", str(stats),
        until=showing("clock2"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "store: update clock2 >=2: failed" in result.stderr
    data = json.loads(stats.read_text())
    assert "clock2" in data["plugins"] and data["frames_shown"] >= 1
    assert current(paths) == "1.0.0"


@pytest.mark.parametrize("point", ["download", "environment"])
def test_sigkill_of_ledhost_reconcile_mid_install_converges_on_the_next_run(
    tmp_path: Path, server: WheelServer, wheels: dict[str, Path], point: str
) -> None:
    """Verify that killing `ledhost reconcile` while it downloads the wheel, or while it
    builds the environment, leaves the old version current, and that the next
    `ledhost reconcile` converges without help."""
    paths = StorePaths.for_data_dir(tmp_path / "data")
    config = write_config(tmp_path, server, 'clock2 = "1.*"')
    assert ledhost("reconcile", "--config", str(config), timeout=300).returncode == 0
    config = write_config(tmp_path, server, 'clock2 = ">=2"')
    if point == "download":
        server.behaviours.append(Behaviour(path=wheels["2.0.0"].name, delay=3600))
    proc = subprocess.Popen(
        [sys.executable, "-m", "host", "reconcile", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    new_env = paths.env_dir("clock2", "2.0.0")
    try:
        if point == "download":
            eventually(lambda: server.requests[f"/{wheels['2.0.0'].name}"] > 0, "the download")
        else:
            eventually(new_env.exists, "the new environment to be created", interval=0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    server.behaviours.clear()
    queue = OperationQueue(paths.state)
    # The download is held, so that kill is before the switch; the build is a race the
    # kill wins in practice (pip takes a while), but the switch may just have happened.
    if point == "download" or current(paths) != "2.0.0":
        assert current(paths) == "1.0.0"
        assert [e.op.action for e in queue.pending()] == ["update"]
    result = ledhost("reconcile", "--config", str(config), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert current(paths) == "2.0.0"
    assert queue.pending() == []
    assert sorted(os.listdir(paths.plugin_dir("clock2"))) == [
        "1.0.0",
        "2.0.0",
        "current",
        "previous",
    ]
    assert not list(paths.downloads.iterdir()) if paths.downloads.exists() else True
    if report["converged"]:
        assert "interrupted update was cleaned up" in report["converged"][0]


def test_ledhost_uninstall_then_a_stale_entry_does_not_reinstall_until_ledhost_install(
    tmp_path: Path, server: WheelServer
) -> None:
    config = write_config(tmp_path, server, 'clock2 = "*"')
    paths = StorePaths.for_data_dir(tmp_path / "data")
    assert ledhost("reconcile", "--config", str(config), timeout=300).returncode == 0
    assert ledhost("uninstall", "clock2", "--config", str(config)).returncode == 0
    result = ledhost("reconcile", "--config", str(config), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "clock2: skipped: removed with `ledhost uninstall`" in result.stdout
    assert current(paths) is None
    result = ledhost("install", "clock2", "--config", str(config), timeout=300)
    assert result.returncode == 0, result.stderr
    result = ledhost("reconcile", "--config", str(config), timeout=300)
    assert "nothing to do" in result.stdout
    assert current(paths) == "2.0.0"


def test_an_interrupted_uninstall_is_finished_by_the_next_reconcile(
    tmp_path: Path, server: WheelServer
) -> None:
    """Verify that an uninstall whose process died (its start line without an end) is run
    again, since the user asked for it, and leaves its tombstone."""
    paths = StorePaths(tmp_path / "store")
    assert run(paths, server, wanting()).ok
    queue = OperationQueue(paths.state)
    with queue.locked():  # what a process killed as it began to uninstall leaves
        queue._append(
            {
                "id": "9-9-9",
                "event": "start",
                "time": NOW,
                "pid": 9,
                "op": {"action": "uninstall", "plugin_id": "clock2"},
            }
        )
    report = run(paths, server, wanting())
    assert report.converged == ("clock2: an interrupted uninstall was finished",)
    assert current(paths) is None and "clock2" in tombstones.read(paths)
    assert [o.op.action for o in report.outcomes] == ["skip"]
    assert [e.result for e in queue.history()] == ["ok", "interrupted"]


def test_a_plugin_the_registry_does_not_offer_is_not_retried_until_it_does(
    tmp_path: Path, server: WheelServer, wheels: dict[str, Path]
) -> None:
    paths = StorePaths(tmp_path / "store")
    server.index = registry_index(server.url, {})
    [outcome] = run(paths, server, wanting()).outcomes
    assert outcome.result == "failed"
    assert "no plugin 'clock2' in the configured registries" in outcome.error
    assert failures.read(paths.state)["clock2"].permanent
    assert run(paths, server, wanting(), now=NOW + 10**7).outcomes[0].result == "skipped"
    server.index = registry_index(server.url, {"clock2": list(wheels.values())})
    assert run(paths, server, wanting(), now=NOW + 10**7).ok
    assert current(paths) == "2.0.0"
