"""apply(): operations through the real queue and history, failures remembered with
backoff, one failure never stopping the others. The executor is a plain function here
(the real one, with real installs, is in test_store_reconcile_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.desired import DesiredPlugin
from store import failures
from store.apply import Outcome, apply, is_permanent
from store.errors import Blocked, DownloadError, Incompatible, StoreError, WheelRefused
from store.layout import StorePaths
from store.queue import OperationQueue
from store.reconciler import Action, Operation, fingerprint
from store.targets import NotOffered

NOW = 1_800_000_000.0


def entries(*ids: str, version: str = "") -> dict[str, DesiredPlugin]:
    return {pid: DesiredPlugin(pid, version=version) for pid in ids}


def install(pid: str) -> Operation:
    return Operation(Action.INSTALL, pid, "registry", reason="not installed")


@pytest.fixture
def paths(tmp_path: Path) -> StorePaths:
    return StorePaths(tmp_path / "store")


def test_one_failure_does_not_stop_the_others_and_is_remembered(paths: StorePaths) -> None:
    done: list[str] = []

    def execute(op: Operation) -> str | None:
        if op.plugin_id == "bad":
            raise DownloadError("registry answered HTTP 500")
        done.append(op.plugin_id)
        return "1.0"

    queue = OperationQueue(paths.state)
    seen: list[Outcome] = []
    ops = [install("first"), install("bad"), install("last")]
    outcomes = apply(
        ops,
        queue,
        execute,
        paths=paths,
        desired=entries("first", "bad", "last"),
        now=NOW,
        on_outcome=seen.append,
    )
    assert [o.result for o in outcomes] == ["ok", "failed", "ok"]
    assert seen == outcomes
    assert done == ["first", "last"]
    assert "HTTP 500" in outcomes[1].error
    [failure] = failures.read(paths.state).values()
    assert (failure.plugin_id, failure.count, failure.permanent) == ("bad", 1, False)
    assert failure.retry_at() == NOW + failures.BASE_DELAY
    assert [e.result for e in queue.history()] == ["ok", "failed", "ok"]


def test_a_success_forgets_the_failure(paths: StorePaths) -> None:
    desired = entries("clock2")
    failures.write(
        paths.state,
        {
            "clock2": failures.record(
                None,
                "clock2",
                fingerprint(desired["clock2"]),
                "boom",
                now=NOW - 1e6,
                permanent=False,
            )
        },
    )
    apply(
        [install("clock2")],
        OperationQueue(paths.state),
        lambda op: "1.0",
        paths=paths,
        desired=desired,
        now=NOW,
    )
    assert failures.read(paths.state) == {}


def test_an_install_outside_the_entry_version_is_a_failure(paths: StorePaths) -> None:
    desired = entries("clock2", version="==2.*")
    [outcome] = apply(
        [install("clock2")],
        OperationQueue(paths.state),
        lambda op: "1.0",
        paths=paths,
        desired=desired,
        now=NOW,
    )
    assert outcome.result == "failed"
    assert "outside ==2.*" in outcome.error


def test_operations_past_the_deadline_are_deferred(paths: StorePaths) -> None:
    ran: list[str] = []

    def execute(op: Operation) -> str:
        ran.append(op.plugin_id)
        return "1.0"

    clock = iter([0.0, 10.0, 20.0])
    outcomes = apply(
        [install("a"), install("b"), install("c")],
        OperationQueue(paths.state),
        execute,
        paths=paths,
        desired=entries("a", "b", "c"),
        now=NOW,
        deadline=15.0,
        monotonic=lambda: next(clock),
    )
    assert [o.result for o in outcomes] == ["ok", "ok", "deferred"]
    assert ran == ["a", "b"]
    assert "ledhost reconcile" in outcomes[2].error


def test_skips_are_reported_and_not_run(paths: StorePaths) -> None:
    skip = Operation(Action.SKIP, "gone", reason="removed with `ledhost uninstall`")
    [outcome] = apply(
        [skip],
        OperationQueue(paths.state),
        lambda op: pytest.fail("ran"),
        paths=paths,
        desired=entries("gone"),
        now=NOW,
    )
    assert outcome.result == "skipped"
    assert OperationQueue(paths.state).history() == []


@pytest.mark.parametrize(
    ("exc", "permanent"),
    [
        (Incompatible("needs ledhost>=9"), True),
        (Blocked("blocked: steals secrets"), True),
        (WheelRefused("ships top-level package config"), True),
        (DownloadError("http://x/a.whl: HTTP 404 Not Found"), True),
        (DownloadError("http://x/a.whl: HTTP 500 Internal Server Error"), False),
        (NotOffered("no plugin 'x' in the configured registries"), True),
        (StoreError("timed out"), False),
        (OSError("disk full"), False),
    ],
)
def test_which_failures_are_not_retried(exc: Exception, permanent: bool) -> None:
    assert is_permanent(exc) is permanent


def test_a_permanent_failure_is_remembered_as_such(paths: StorePaths) -> None:
    def execute(op: Operation) -> str:
        raise Incompatible("clock2 1.0 needs ledhost>=9; this is 0.1.0")

    apply(
        [install("clock2")],
        OperationQueue(paths.state),
        execute,
        paths=paths,
        desired=entries("clock2"),
        now=NOW,
        revision=lambda: "rev1",
    )
    failure = failures.read(paths.state)["clock2"]
    assert (failure.permanent, failure.registry) == (True, "rev1")
    assert "needs ledhost>=9" in failure.error


def test_the_failures_file_round_trips_and_a_damaged_one_counts_as_none(paths: StorePaths) -> None:
    failure = failures.record(None, "clock2", "registry|", "boom", now=NOW, permanent=True)
    failures.write(paths.state, {"clock2": failure})
    assert failures.read(paths.state) == {"clock2": failure}
    assert (paths.state / failures.FAILURES_FILE).stat().st_mode & 0o077 == 0
    (paths.state / failures.FAILURES_FILE).write_text('{"failures": {"../x": {}, "ok": 3}}')
    assert failures.read(paths.state) == {}
    (paths.state / failures.FAILURES_FILE).write_text("{not json")
    assert failures.read(paths.state) == {}


def test_half_done_are_unmarked_versions_nothing_points_at(paths: StorePaths) -> None:
    """What a killed install leaves is found (and only that), and cleanup removes it;
    a planted file where a plugin folder would be is neither followed nor a crash."""
    import os

    from store.apply import half_done
    from store.layout import MARKER
    from store.operations import cleanup

    demo = paths.plugin_dir("demo")
    for version, complete in (("1.0", True), ("2.0", True), ("3.0", False)):
        (demo / version).mkdir(parents=True)
        if complete:
            (demo / version / MARKER).write_text("{}")
    os.symlink("2.0", paths.current("demo"))
    os.symlink("1.0", paths.previous("demo"))
    (demo / ".tmp-link").symlink_to("3.0")
    (paths.envs / "planted").write_text("not a folder")
    assert half_done(paths) == {"demo": ["3.0"]}
    cleanup(paths)
    assert half_done(paths) == {}
    assert sorted(p.name for p in demo.iterdir()) == ["1.0", "2.0", "current", "previous"]
