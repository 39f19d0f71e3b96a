"""Hostile plugins against the host's config validation (issue 13, attack 3).

A plugin's JSON Schema is plugin-supplied code in disguise: a catastrophic ``pattern``
or a recursive ``$ref`` combinator makes validation take as long as its author likes. The
host never runs one: the plugin's own worker validates its options (at boot the schema's
defaults, at ``start`` and ``configure`` the instance's options) and a hang there is ended
like any hung worker, while the panel goes on. Lateness is the host's own measure
(``max_frame_lateness_ms`` in its stats: each push against when its frame was due).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from host.app import Host
from tests.conftest import TEST_PLUGINS, RecordingBackend, run_host
from tests.livehost import LiveHost, run_live

#: The steady plugin's frame rate.
FPS = 10.0
#: Seconds a frame may be late at most: the panel must not stall while a hostile check
#: hangs, as it would were the host to run the check (the default's 2**26 steps outlast
#: setup_timeout's 3 s here; the deep tree takes hours). A loaded 2-core machine makes
#: frames late by itself (0.33 s seen beside two other test files), never by this much.
STALL_BOUND = 1.5
#: How deep a ``tree`` option nests so that checking it takes hours (2**40 steps).
HANG_DEPTH = 40


@pytest.fixture
def slowschema(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The hostile plugin's module, for its schema and its ``deep_tree``."""
    monkeypatch.syspath_prepend(str(TEST_PLUGINS))
    return importlib.import_module("ledhost_test_plugins.slowschema")


def _steady() -> dict[str, Any]:
    return {"plugin": "solid", "fps": FPS}


def test_hostile_schemas_hang_only_their_own_workers(
    tmp_path: Path, slowschema: ModuleType
) -> None:
    """The bad default and the deep ``tree`` hang their workers; the panel never stalls."""
    overrides = {
        "workers": {"user": "", "setup_timeout": 3.0},
        "paths": {"data_dir": str(tmp_path / "data")},
        "rotation": {"modes": ["steady:fill"]},
        "plugins": {
            "steady": _steady(),
            "evil": {"plugin": "slowschema"},
            "evilref": {"plugin": "slowref", "tree": slowschema.deep_tree(HANG_DEPTH)},
        },
    }

    def both_ended(host: Host, backend: RecordingBackend) -> bool:
        handles = host.supervisor.handles
        return all(handles[iid].last_failure is not None for iid in ("evil", "evilref"))

    host, backend, stats = run_host(
        overrides,
        120.0,
        tmp_path,
        until=both_ended,
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
    )
    plugins = stats["plugins"]
    # The bad default hangs the worker's boot (its schema's defaults are checked there),
    # the deep tree its check of the options after hello: each ended by setup_timeout.
    # (A machine fast enough to finish the default's 2**26 steps within setup_timeout
    # sees the worker refuse its own broken default instead: the host is as unmoved.)
    evil = plugins["evil"]["last_failure"]
    assert "hung in starting" in evil or "plugin hooks invalid" in evil, plugins["evil"]
    assert "hung in checking its config" in plugins["evilref"]["last_failure"], plugins["evilref"]
    assert plugins["evil"]["frames"] == plugins["evilref"]["frames"] == 0
    assert plugins["steady"]["frames"] > 0 and plugins["steady"]["restarts"] == 0
    assert stats["frames_shown"] > 0
    assert stats["max_frame_lateness_ms"] <= STALL_BOUND * 1000.0, stats["max_frame_lateness_ms"]
    assert json.loads((tmp_path / "stats.json").read_text()) == stats


def _tables(tmp_path: Path, tree: dict[str, Any]) -> dict[str, Any]:
    return {
        "workers": {"heartbeat_timeout": 1.0, "render_timeout": 1.0},
        "rotation": {"modes": ["steady:fill"]},
        "plugins": {"steady": _steady(), "ref": {"plugin": "slowref", "tree": tree}},
    }


def test_a_reload_checks_with_the_workers_and_applies_or_refuses_whole(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("steady", "ref"), "both workers to run")
        pids = live.pids()
        # Valid: a new shallow tree and a new frame rate, applied to both.
        live.edit(lambda t: t["plugins"]["ref"].update(tree={"c": {}}))
        live.wait_reloads(1)
        live.wait_for(lambda: live.handles()["ref"].config.get("tree") == {"c": {}}, "new tree")
        # Invalid for ref (a tree must be an object): refused whole, steady unchanged.
        live.edit(
            lambda t: (
                t["plugins"]["ref"].update(tree="leaf"),
                t["plugins"]["steady"].update(fps=FPS / 2),
            )
        )
        seen["error"] = live.wait_refused(live.status()["loaded_at"])
        seen["steady_fps"] = live.handles()["steady"].config["fps"]
        seen["pids"] = (pids, live.pids())

    live = run_live(tmp_path, _tables(tmp_path, {}), scenario)
    assert "plugins.ref.tree" in seen["error"]
    assert seen["steady_fps"] == FPS, "no worker took the refused edit"
    assert seen["pids"][0] == seen["pids"][1], "no worker was restarted"
    assert live.status()["reloads"] == 1


def test_a_worker_hanging_in_a_reload_check_does_not_hold_the_reload(
    tmp_path: Path, slowschema: ModuleType
) -> None:
    seen: dict[str, Any] = {}
    hang = slowschema.deep_tree(HANG_DEPTH)

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("steady", "ref"), "both workers to run")
        old_pid = live.pids()["ref"]
        live.edit(
            lambda t: (
                t["plugins"]["ref"].update(tree=hang),
                t["plugins"]["steady"].update(fps=FPS / 2),
            )
        )
        # ref hangs checking: the reload goes on without it, steady takes its new rate.
        live.wait_reloads(1)
        live.wait_for(lambda: live.handles()["steady"].config["fps"] == FPS / 2, "steady's fps")
        # ref's worker is ended; its next start checks the new (hanging) tree again.
        live.wait_for(lambda: live.handles()["ref"].pid != old_pid, "ref to be restarted")
        seen["ref"] = live.handles()["ref"]
        seen["lateness"] = live.host.stats.max_lateness

    run_live(tmp_path, _tables(tmp_path, {}), scenario)
    ref = seen["ref"]
    assert ref.options["tree"] == hang, "restarted with the new options"
    assert ref.last_failure and ("config check" in ref.last_failure or "hung" in ref.last_failure)
    assert seen["lateness"] <= STALL_BOUND


def test_config_check_reports_a_hanging_schema_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slowschema: ModuleType
) -> None:
    """``ledhost config check`` runs plugin schemas in a child it kills past its time."""
    schema = slowschema.schema
    from config import load_config
    from host.cli import bounded
    from host.cli.config_commands import _instance_issues

    cfg = load_config(
        None,
        env={},
        overrides={"plugins": {"ref": {"plugin": "slowref", "tree": slowschema.deep_tree(40)}}},
    )
    instance = cfg.plugins["ref"]
    with monkeypatch.context() as patch:
        # Short for the check that hangs (2**40 steps) only: the schemas that finish keep
        # the default, since a loaded machine can take over 0.5 s to fork and check one.
        patch.setattr(bounded, "SCHEMA_TIMEOUT", 0.5)
        (issue,) = _instance_issues(instance, schema(with_default=False))
    assert issue.key == "plugins.ref" and "took longer than 0.5 s" in issue.message
    fine = load_config(None, env={}, overrides={"plugins": {"ref": {"plugin": "slowref"}}})
    assert _instance_issues(fine.plugins["ref"], schema(with_default=False)) == []
    bad = load_config(
        None, env={}, overrides={"plugins": {"ref": {"plugin": "slowref", "tree": "leaf"}}}
    )
    (issue,) = _instance_issues(bad.plugins["ref"], schema(with_default=False))
    assert issue.key == "plugins.ref.tree"


def test_a_hello_with_a_huge_schema_is_refused_by_the_protocol() -> None:
    """The schema travels in the hello (the UI shows it): its size and depth are bounded."""
    import msgspec

    from host.errors import ProtocolError
    from host.ipc import protocol

    def hello(schema: dict[str, Any]) -> bytes:
        raw = {"t": "hello", "plugin": "p", "instance": "p", "pid": 1, "modes": []}
        raw |= {"actions": [], "hooks": [], "schema": schema}
        return msgspec.msgpack.encode(raw)

    wide = {"properties": {f"k{i}": {"type": "string"} for i in range(protocol.MAX_SCHEMA_NODES)}}
    with pytest.raises(ProtocolError, match="more than 4096 values"):
        protocol.decode_from_worker(hello(wide))
    deep: dict[str, Any] = {}
    for _ in range(protocol.MAX_DEPTH + 2):
        deep = {"not": deep}
    with pytest.raises(ProtocolError, match="nested deeper"):
        protocol.decode_from_worker(hello(deep))
    fine = protocol.decode_from_worker(hello({"properties": {"a": {"type": "string"}}}))
    assert isinstance(fine, protocol.Hello)


def test_the_workers_answer_is_bounded_and_scrubbed() -> None:
    """However many issues a config has, the host gets at most MAX_ISSUES, each clipped,
    with the worker's secrets replaced (the host only checks the answer's shape)."""
    from host.ipc import protocol
    from host.worker.validate import validate

    keys = [f"k{i}" for i in range(200)] + ["x" * 3000]
    schema = {"type": "object", "properties": {key: {"type": "integer"} for key in keys}}
    sources = protocol.Sources(where="plugins.many")
    options = {key: "hunter22" for key in keys}
    issues = validate(
        schema, "many", options, {}, sources, lambda text: text.replace("hunter22", "<r>")
    )
    assert isinstance(issues, list) and len(issues) == protocol.MAX_ISSUES
    assert issues[-1].message == f"and {len(keys) - protocol.MAX_ISSUES + 1} more issues"
    assert all(len(i.key) <= 1000 and len(i.message) <= 1000 for i in issues)
    assert not any("hunter22" in i.message for i in issues)
    answer = protocol.Refused(issues=issues)
    assert protocol.decode_from_worker(protocol.encode(answer)) == answer
