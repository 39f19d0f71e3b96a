"""The reconciler's pure plan(): one row per situation, plain values in and out."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from config.desired import DesiredPlugin, normalize_version
from store.failures import MAX_DELAY, Failure, backoff_delay, record
from store.reconciler import Action, Desired, Operation, fingerprint, plan

NOW = 1_800_000_000.0


@dataclass(frozen=True)
class Src:
    kind: str
    ref: str


@dataclass(frozen=True)
class Inst:
    version: str
    source: Src
    previous: str | None = None


def want(pid: str, version: str = "", source: str = "registry") -> Desired:
    entry = DesiredPlugin(pid, source, normalize_version(version))
    if source == "registry":
        parsed = Src("registry", pid)
    elif source.startswith("pypi:"):
        parsed = Src("pypi", source[5:])
    else:
        parsed = Src("url", source)
    return Desired(entry, parsed)


def reg(version: str, previous: str | None = None, pid: str = "clock2") -> Inst:
    return Inst(version, Src("registry", pid), previous)


def fail(
    desired: Desired,
    *,
    count: int = 1,
    ago: float = 10.0,
    permanent: bool = False,
    registry: str | None = None,
) -> Failure:
    return Failure(
        desired.entry.plugin_id,
        fingerprint(desired.entry),
        count,
        NOW - ago,
        "HTTP 500",
        permanent,
        registry,
    )


def one(ops: list[Operation]) -> Operation:
    assert len(ops) == 1, ops
    return ops[0]


@pytest.mark.parametrize(
    ("desired", "installed", "action", "version"),
    [
        (want("clock2"), None, Action.INSTALL, ""),
        (want("clock2", "1.2.*"), None, Action.INSTALL, "==1.2.*"),
        (want("clock2", "2.0"), reg("1.0"), Action.UPDATE, "==2.0"),
        (want("clock2", ">=2"), reg("1.0", previous="0.9"), Action.UPDATE, ">=2"),
        (want("clock2", "1.*"), reg("2.0", previous="1.5"), Action.ROLLBACK, "1.5"),
        (want("clock2", source="pypi:ledhost-clock2"), None, Action.INSTALL, ""),
    ],
)
def test_plan_brings_a_desired_plugin_to_its_version(
    desired: Desired, installed: Inst | None, action: Action, version: str
) -> None:
    actual = {} if installed is None else {"clock2": installed}
    op = one(plan({"clock2": desired}, actual, set(), {}, NOW))
    assert (op.action, op.plugin_id, op.version) == (action, "clock2", version)
    assert op.reason


def test_plan_leaves_a_fitting_install_alone() -> None:
    for version in ("", "1.2.*", ">=1", "1.2.3"):
        assert (
            plan({"clock2": want("clock2", version)}, {"clock2": reg("1.2.3")}, set(), {}, NOW)
            == []
        )


def test_plan_leaves_an_installed_plugin_not_in_the_config_alone() -> None:
    """Verify that a config edit never uninstalls: no entry, no operation."""
    assert plan({}, {"clock2": reg("1.0"), "other": reg("3.0", pid="other")}, set(), {}, NOW) == []


def test_plan_installs_from_the_new_source_when_the_entry_changes_source() -> None:
    desired = want("clock2", source="https://example.org/clock2-1.0-py3-none-any.whl")
    op = one(plan({"clock2": desired}, {"clock2": reg("1.0")}, set(), {}, NOW))
    assert op.action is Action.INSTALL
    assert op.source == desired.entry.source
    assert "registry" in op.reason


def test_plan_reinstalls_a_url_source_when_its_version_does_not_fit() -> None:
    url = "https://example.org/clock2-2.0-py3-none-any.whl"
    desired = want("clock2", "2.0", source=url)
    op = one(plan({"clock2": desired}, {"clock2": Inst("1.0", Src("url", url))}, set(), {}, NOW))
    assert (op.action, op.source) == (Action.INSTALL, url)


def test_plan_honours_a_tombstone_over_a_stale_config_entry() -> None:
    """Verify that a plugin removed with `ledhost uninstall` is not reinstalled, and the
    note says how to bring it back."""
    op = one(plan({"clock2": want("clock2")}, {}, {"clock2"}, {}, NOW))
    assert op.action is Action.SKIP
    assert "ledhost install clock2" in op.reason


def test_plan_ignores_a_tombstone_once_the_plugin_is_installed_again() -> None:
    assert (
        plan({"clock2": want("clock2", "2.0")}, {"clock2": reg("2.0")}, {"clock2"}, {}, NOW) == []
    )


def test_plan_skips_a_recent_failure_until_the_backoff_passes() -> None:
    desired = want("clock2")
    failure = fail(desired, count=3, ago=backoff_delay(3) - 1)
    op = one(plan({"clock2": desired}, {}, set(), {"clock2": failure}, NOW))
    assert op.action is Action.SKIP
    assert "3 time(s)" in op.reason and "HTTP 500" in op.reason
    later = fail(desired, count=3, ago=backoff_delay(3) + 1)
    assert (
        one(plan({"clock2": desired}, {}, set(), {"clock2": later}, NOW)).action is Action.INSTALL
    )


def test_plan_retries_at_once_when_the_entry_changed_since_the_failure() -> None:
    failure = fail(want("clock2", "1.0"), count=5, permanent=True)
    op = one(plan({"clock2": want("clock2", "2.0")}, {}, set(), {"clock2": failure}, NOW))
    assert op.action is Action.INSTALL


@pytest.mark.parametrize(
    ("then", "now", "action"),
    [
        ("rev1", "rev1", Action.SKIP),
        ("rev1", None, Action.SKIP),
        (None, "rev2", Action.SKIP),
        ("rev1", "rev2", Action.INSTALL),
    ],
)
def test_plan_retries_an_unrecoverable_failure_only_when_the_registry_changed(
    then: str | None, now: str | None, action: Action
) -> None:
    desired = want("clock2")
    failure = fail(desired, ago=10 * MAX_DELAY, permanent=True, registry=then)
    op = one(plan({"clock2": desired}, {}, set(), {"clock2": failure}, NOW, registry=now))
    assert op.action is action
    if action is Action.SKIP:
        assert "not retried until" in op.reason


def test_plan_cleans_up_half_done_environments_first() -> None:
    ops = plan(
        {"clock2": want("clock2")},
        {},
        set(),
        {},
        NOW,
        half_done={"zeta": ["2.0"], "clock2": ["1.0"]},
    )
    assert [(o.action, o.plugin_id, o.version) for o in ops] == [
        (Action.CLEANUP, "clock2", "1.0"),
        (Action.CLEANUP, "zeta", "2.0"),
        (Action.INSTALL, "clock2", ""),
    ]


def test_plan_skips_an_entry_whose_source_cannot_be_read() -> None:
    bad = Desired(DesiredPlugin("clock2", "ftp://x"), None, "source 'ftp://x' is not a wheel URL")
    op = one(plan({"clock2": bad}, {}, set(), {}, NOW))
    assert op.action is Action.SKIP
    assert "[store.plugins].clock2" in op.reason and "ftp://x" in op.reason


def test_plan_keeps_config_order() -> None:
    desired = {pid: want(pid) for pid in ("zed", "alpha", "mid")}
    assert [o.plugin_id for o in plan(desired, {}, set(), {}, NOW)] == ["zed", "alpha", "mid"]


@pytest.mark.parametrize(
    ("count", "delay"),
    [
        (0, 0.0),
        (1, 60.0),
        (2, 120.0),
        (3, 240.0),
        (9, 15360.0),
        (10, MAX_DELAY),
        (10**6, MAX_DELAY),
    ],
)
def test_backoff_doubles_up_to_a_cap(count: int, delay: float) -> None:
    assert backoff_delay(count) == delay


def test_record_counts_failures_of_the_same_entry_only() -> None:
    first = record(None, "clock2", "registry|", "boom\n  twice", now=NOW, permanent=False)
    assert (first.count, first.error) == (1, "boom twice")
    second = record(first, "clock2", "registry|", "boom", now=NOW + 1, permanent=False)
    assert (second.count, second.last) == (2, NOW + 1)
    other = record(second, "clock2", "registry|==2", "boom", now=NOW + 2, permanent=True)
    assert (other.count, other.permanent) == (1, True)


def test_operation_round_trips_through_plain_data() -> None:
    op = Operation(Action.UPDATE, "clock2", "registry", ">=2", "outside")
    assert Operation.from_dict(op.to_dict()) == op
    with pytest.raises(ValueError, match="not an operation"):
        Operation.from_dict({"action": "format-disk", "plugin_id": "x"})


def test_plan_skips_an_entry_naming_a_builtin() -> None:
    """Verify that `[store.plugins] clock = ...` installs nothing: the builtin always runs."""
    op = one(plan({"clock": want("clock")}, {}, set(), {}, NOW, builtins={"clock", "text"}))
    assert op.action is Action.SKIP
    assert "builtin" in op.reason and "[store.plugins].clock" in op.reason
