"""One home per rule: each check the host, the worker and ``sdk.testing`` share lives once.

Where a package boundary forbids the import (``config`` and the runtime ``sdk`` import
nothing of ours), the copy is held equal here.
"""

from __future__ import annotations

import ast
import importlib
import time
import types
from pathlib import Path
from typing import Any

import pytest

from config import schema as config_schema
from host.discovery import PluginSpec
from host.ipc import protocol
from host.supervise import rules
from host.supervise.handle import WorkerHandle
from host.worker import boot
from sdk import hookimpl, registration, testing
from tests.conftest import TEST_PLUGINS, Harness

REPO = Path(__file__).resolve().parent.parent


def test_configs_mode_pattern_is_the_sdks() -> None:
    assert config_schema.MODE_PATTERN.pattern == registration.NAME_PATTERN


@pytest.mark.parametrize(
    "name", ["time", "x" * 32, "x" * 33, "Big", "news\n", "-x", "a_b-c", "", "é", "9lives"]
)
def test_config_and_sdk_agree_on_every_name(name: str) -> None:
    assert config_schema.is_valid_mode(name) == registration.is_name(name)


def test_the_refresh_deadline_rule_has_one_home() -> None:
    """Verify the worker (which reports overdue calls) and the host (which ends them) use
    the same set of hooks that get the refresh deadline."""
    assert rules.REFRESH_HOOKS is protocol.REFRESH_HOOKS
    defined = [
        str(path.relative_to(REPO))
        for path in (REPO / "host").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and "REFRESH_HOOKS" in ast.unparse(node).split("=")[0]
    ]
    assert defined == ["host/ipc/protocol.py"]
    deadlines = protocol.Deadlines(render=1.0, refresh=2.0)
    assert [deadlines.of(h) for h in ("refresh_data", "render_frame", "setup")] == [2.0, 1.0, 1.0]
    assert rules.WorkerRules().deadline("refresh_data") == rules.WorkerRules().refresh_timeout


def _registration_error(caller: Any) -> str:
    try:
        caller()
    except Exception as exc:  # noqa: BLE001 - the message is what is compared
        return str(exc)
    return ""


def _plugin(modes: list[tuple[Any, ...]]) -> types.SimpleNamespace:
    """A plugin registering what ``modes`` says: one table drives both the worker's and
    sdk.testing's checks, so a plugin refused by one is refused by the other in the same
    words."""

    @hookimpl
    def register_modes(register: Any) -> None:
        for args in modes:
            register(*args)

    return types.SimpleNamespace(__name__="table_plugin", register_modes=register_modes)


@pytest.mark.parametrize(
    "modes",
    [
        [("ok",), ("ok",)],
        [("Bad Name",)],
        [("news\n",)],
        [("x", None, 0)],
        [("x", None, 86401)],
        [("x", None, True)],
        [],
    ],
)
def test_the_worker_and_sdk_testing_refuse_the_same_registrations(
    modes: list[tuple[Any, ...]],
) -> None:
    pm = boot.make_plugin_manager()
    pm.register(_plugin(modes), name="table_plugin")
    worker_says = _registration_error(lambda: boot.collect_modes(pm))
    testing_says = _registration_error(lambda: testing.PluginRunner(_plugin(modes)).close())
    assert worker_says and worker_says == testing_says


def test_both_accept_what_the_host_accepts() -> None:
    modes = [("ok", "OK", 5), ("other",)]
    pm = boot.make_plugin_manager()
    pm.register(_plugin(modes), name="table_plugin")
    worker = boot.collect_modes(pm)
    with testing.PluginRunner(_plugin(modes)) as runner:
        assert list(runner.modes.values()) == worker


def test_no_copy_of_the_name_pattern_outside_its_homes() -> None:
    """Verify the mode-name regex is written in the SDK and config's held copy only."""
    homes = {REPO / "sdk" / "registration.py", REPO / "config" / "schema.py"}
    literal = "[a-z0-9][a-z0-9_-]{0,31}"
    found = []
    for package in ("sdk", "config", "host", "plugins_builtin"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if literal in node.value and path not in homes:
                        found.append(str(path.relative_to(REPO)))
    assert found == []


@pytest.mark.parametrize(
    "options, secrets",
    [
        ({}, {}),
        (
            {"place": {"name": "work"}, "lines": [{"text": "hi"}, {"text": "x", "align": "right"}]},
            {},
        ),
        ({"speed": 12, "font": "5x8", "color": "#ff0000"}, {"token": "abcdef"}),
        ({"token": "from-env"}, {}),  # a secret set outside the config file moves out too
    ],
)
def test_sdk_testing_gives_a_plugin_the_config_its_worker_gets(
    harness: Harness,
    test_specs: dict[str, PluginSpec],
    options: dict[str, Any],
    secrets: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Verify defaults ($ref, allOf, nested objects, array items) and the secret split are
    the same in a real worker and in sdk.testing, for the same options."""
    monkeypatch.syspath_prepend(str(TEST_PLUGINS))
    schemaecho = importlib.import_module("ledhost_test_plugins.schemaecho")

    handle = WorkerHandle(
        instance_id="schemaecho", spec=test_specs["schemaecho"], options=dict(options)
    )
    handle.secrets = dict(secrets)
    harness.supervisor.add(handle)
    harness.supervisor.start(handle, time.monotonic())
    harness.wait_running(handle)
    request = harness.supervisor.request_action(handle, "show")
    harness.wait_for(lambda: request in handle.action_results, what="the worker's answer")
    in_worker = handle.action_results[request]["result"]
    with testing.PluginRunner(
        schemaecho, config=options, secrets=secrets, plugin_id="schemaecho"
    ) as runner:
        in_tests = {"config": dict(runner.config), "secrets": sorted(runner.context.secrets)}
    assert in_tests == in_worker
    assert in_worker["config"]["place"]["lat"] == 51.5 and in_worker["config"]["font"]


def test_worker_rules_default_to_the_workers_settings() -> None:
    """Verify the [workers] defaults are declared once, in the settings table."""
    from config.settings import SETTINGS

    table = {s.name: s.default for s in SETTINGS if s.section == "workers"}
    built = rules.WorkerRules()
    assert built.memory_limit == table["memory_limit_mb"] * rules.MIB
    for name in ("max_processes", "max_open_files", "nice", "render_timeout"):
        assert getattr(built, name) == table[name], name
    for name in ("refresh_timeout", "setup_timeout", "heartbeat_timeout", "stop_timeout"):
        assert getattr(built, name) == table[name], name
    policy = built.policy
    assert (policy.start_secs, policy.base_delay, policy.max_delay) == (
        table["stable_after"],
        table["restart_delay"],
        table["restart_max_delay"],
    )
    assert (policy.max_failures, policy.window) == (
        table["quarantine_after"],
        table["quarantine_window"],
    )
