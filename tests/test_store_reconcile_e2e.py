"""The reconciler with real installs: wheels built in the test, served with a registry
index from 127.0.0.1, installed into real isolated environments by the store."""

from __future__ import annotations

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
