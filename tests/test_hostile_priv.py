"""Hostile-plugin tests of the PRIV part of issue 13: plugin code never runs as root unasked.

The attack: a third-party plugin installed where the unprivileged worker user cannot run
ledhost's Python (a venv under ``/root``, as the README once made) used to run as root
with a warning, and from there read ``secrets.toml`` and rewrote ledhost. Now such a
plugin does not start, and its status says why and what to do; ledhost's own plugins
may still run as root, loudly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import pwd
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sdk
from config import load_config
from host.cli.probe import describe_plugins
from host.discovery import PluginSpec
from host.planning import checked_rules, private_file_problems
from host.supervise.handle import WorkerHandle
from host.supervise.rules import WorkerRules
from host.supervise.spawner import SpawnLauncher, ZygoteLauncher
from host.supervise.states import WorkerState
from host.supervise.uidmap import MAP_NAME, UidMap, range_conflicts
from tests.conftest import Harness, _harness

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")


@pytest.fixture
def hidden_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An interpreter in a 0700 folder, like a venv under ``/root``: only root can run it."""
    folder = tmp_path_factory.mktemp("root-venv")
    folder.chmod(0o700)
    python = folder / "python"
    python.symlink_to(sys.executable)
    yield str(python)


def _unrunnable_rules(python: str, caplog: pytest.LogCaptureFixture) -> WorkerRules:
    """The checked rules of ``workers.user = "auto"`` when nobody cannot run ``python``."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user 'nobody'")
    cfg = load_config(None, env={}, overrides={"workers": {"user": "auto"}})
    with caplog.at_level(logging.WARNING, logger="ledhost.host"):
        rules = checked_rules(cfg, python=python)
    return rules


@needs_root
def test_third_party_plugin_refused_builtin_runs_as_root_with_warning(
    harness: Harness,
    test_specs: dict[str, PluginSpec],
    hidden_python: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Verify a plugin that could only run as root does not start unless it is ledhost's own.

    The refused one is quarantined at once with a reason naming the fix; the builtin
    clock beside it runs (as root, after a warning) and delivers frames.
    """
    rules = _unrunnable_rules(hidden_python, caplog)
    assert rules.uid is None and rules.unprivileged_problem is not None
    assert "third-party plugins will not start" in caplog.text
    harness.supervisor.rules = rules
    hostile = harness.start(test_specs["solid"], instance="hostile")
    clock = harness.start(test_specs["clock"], instance="clock")
    assert test_specs["clock"].source == "builtin" and test_specs["solid"].source == "path"
    assert hostile.state is WorkerState.QUARANTINED and hostile.process is None
    assert hostile.last_error is not None
    assert "never run as root" in hostile.last_error
    assert "/opt/ledhost" in hostile.last_error
    assert 'workers.user = "root"' in hostile.last_error
    harness.wait_running(clock)
    harness.supervisor.activate(clock, "time")
    harness.wait_for(lambda: any(i == "clock" for i, _, _ in harness.frames), what="clock frames")
    assert not any(i == "hostile" for i, _, _ in harness.frames)


@needs_root
def test_plugins_command_does_not_run_refused_plugin_code(
    test_specs: dict[str, PluginSpec], hidden_python: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Verify ``ledhost plugins``' describe workers follow the same rule as the host's."""
    rules = _unrunnable_rules(hidden_python, caplog)
    found = describe_plugins([test_specs["solid"], test_specs["clock"]], rules=rules)
    assert "never run as root" in found["solid"]["error"]
    assert "modes" in found["clock"] and "error" not in found["clock"]


def test_root_is_only_ever_an_explicit_choice() -> None:
    """Verify ``workers.user = "root"`` runs third-party plugins (the user's own risk)."""
    cfg = load_config(None, env={}, overrides={"workers": {"user": "root"}})
    rules = checked_rules(cfg)
    assert rules.uid is None and rules.refusal("path") is None


@pytest.mark.parametrize("launcher_kind", ["spawn", "zygote"])
def test_code_planted_in_the_hosts_cwd_is_never_imported(
    tmp_path: Path,
    test_specs: dict[str, PluginSpec],
    monkeypatch: pytest.MonkeyPatch,
    launcher_kind: str,
) -> None:
    """Verify a ``pluggy.py`` left where the host was started is not imported by workers.

    Attack 6: ``python -m`` and ``-c`` put the current folder first on ``sys.path``, and
    every worker imports pluggy while still root. Spawned workers run ``-I`` from ``/``;
    the zygote drops the cwd from its ``sys.path``.
    """
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker = tmp_path / "imported"
    for name in ("pluggy", "msgspec", "ledhost_planted"):
        (cwd / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r})\nraise ImportError('planted')\n"
        )
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("PYTHONPATH", "")
    launcher = SpawnLauncher() if launcher_kind == "spawn" else ZygoteLauncher()
    harness_iter = _harness(tmp_path, launcher)
    harness = next(harness_iter)
    try:
        handle = harness.start(test_specs["inspector"], instance="nosy")
        harness.wait_running(handle)
        request = harness.supervisor.request_action(handle, "inspect")
        harness.wait_for(lambda: request in handle.action_results, what="inspect")
        seen = handle.action_results[request]["result"]
        assert seen["planted"] is False
        assert seen["cwd"] == "/"
        assert "" not in seen["path"] and str(cwd) not in seen["path"]
        assert not marker.exists(), marker.read_text()
        if launcher_kind == "spawn":
            assert handle.process is not None
            cmdline = Path(f"/proc/{handle.process.pid}/cmdline").read_bytes().split(b"\0")
            assert b"-I" in cmdline
    finally:
        next(harness_iter, None)


@pytest.fixture
def tcp_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections (in the test's own namespace)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def _connect(harness: Harness, handle: WorkerHandle) -> dict[str, Any]:
    harness.wait_running(handle)
    request = harness.supervisor.request_action(handle, "connect")
    harness.wait_for(lambda: request in handle.action_results, what="connect")
    answer = handle.action_results[request]
    assert answer["ok"], answer
    result: dict[str, Any] = answer["result"]
    return result


def test_network_only_for_plugins_that_declare_it(
    harness: Harness, test_specs: dict[str, PluginSpec], tcp_server: int
) -> None:
    """Verify a plugin without the ``network`` declaration cannot open a TCP connection.

    The declaration is read from metadata by discovery; its twin that declares it
    connects to the same server. As root the namespace is always made; otherwise it is
    made where unprivileged user namespaces are allowed, else the worker says it kept
    the network.
    """
    assert test_specs["netprobe_allowed"].network and not test_specs["netprobe"].network
    allowed = harness.start(
        test_specs["netprobe_allowed"], {"port": tcp_server}, instance="allowed"
    )
    hostile = harness.start(test_specs["netprobe"], {"port": tcp_server}, instance="hostile")
    assert _connect(harness, allowed)["connected"] is True
    refused = _connect(harness, hostile)
    if os.geteuid() != 0 and refused["connected"]:
        pytest.skip("this kernel allows no unprivileged user namespace: network kept")
    assert refused["connected"] is False and refused["error"]
    harness.supervisor.activate(allowed, "still")
    harness.wait_for(lambda: any(i == "allowed" for i, _, _ in harness.frames), what="frames")
    assert allowed.state is WorkerState.RUNNING and hostile.state is WorkerState.RUNNING


def test_builtins_that_need_it_declare_the_network(test_specs: dict[str, PluginSpec]) -> None:
    """Weather, crypto and scoreboard fetch; system shows the sign's addresses, which an
    empty network namespace hides. No other builtin keeps the network."""
    builtin = {i for i, s in test_specs.items() if s.source == "builtin" and s.network}
    assert builtin == {"weather", "crypto", "scoreboard", "system"}


#: A test range of per-instance uids (the default one, narrowed).
UID_BASE = 1_900_000_000


@pytest.fixture
def per_instance_harness(plugin_env: Path) -> Iterator[Harness]:
    """A harness whose workers each run as a uid of their own, data inside ``plugin_env``."""
    conflict = range_conflicts(UID_BASE, 16)
    if conflict is not None:
        pytest.skip(f"the test's uid range is in use here: {conflict}")
    rules = WorkerRules(
        uid=UID_BASE,
        gid=UID_BASE,
        user="per-instance",
        uid_range=(UID_BASE, 16),
        heartbeat_timeout=2.0,
    )
    yield from _harness(plugin_env, SpawnLauncher(), data_dir=plugin_env / "data", rules=rules)


def _frames_of(harness: Harness, instance: str) -> int:
    return sum(1 for i, _, _ in harness.frames if i == instance)


@needs_root
def test_one_instance_cannot_touch_another_nor_secrets_code_or_etc(
    plugin_env: Path, per_instance_harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify attacks 1 and 5 fail with a uid per instance, and the victim keeps painting.

    The intruder tries for real: the victim's data folder, SIGSTOP and PTRACE_ATTACH on
    its worker, painting into its frame memfd, a root-only secrets file, planting a
    module in ledhost's code folder and in /etc.
    """
    harness = per_instance_harness
    python = str(plugin_env / "env" / "bin" / "python")
    secrets = plugin_env / "secrets.toml"
    secrets.write_text('[plugins.victim]\napi_key = "hunter22"\n')
    secrets.chmod(0o600)
    victim = harness.start(
        dataclasses.replace(test_specs["solid"], python=python), instance="victim"
    )
    harness.wait_running(victim)
    harness.supervisor.activate(victim, "fill")
    harness.wait_for(lambda: _frames_of(harness, "victim") >= 2, what="victim frames")
    assert victim.pid is not None
    victim_data = plugin_env / "data" / "victim"
    code_dir = Path(sdk.__file__).resolve().parent
    intruder = harness.start(
        dataclasses.replace(test_specs["intruder"], python=python),
        {
            "victim_pid": victim.pid,
            "victim_data": str(victim_data),
            "secret_file": str(secrets),
            "code_dir": str(code_dir),
        },
        instance="intruder",
    )
    harness.wait_running(intruder)
    assert victim.run_uid != intruder.run_uid
    assert {victim.run_uid, intruder.run_uid} <= set(range(UID_BASE, UID_BASE + 16))
    st = victim_data.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (victim.run_uid, victim.run_uid, 0o700)
    request = harness.supervisor.request_action(intruder, "attack")
    harness.wait_for(lambda: request in intruder.action_results, what="the attack")
    answer = intruder.action_results[request]
    assert answer["ok"], answer
    results: dict[str, str] = answer["result"]
    succeeded = {attack: r for attack, r in results.items() if r == "ok"}
    assert not succeeded, results
    assert not (code_dir / "ledhost_intruder_was_here.py").exists()
    assert not Path("/etc/ledhost_intruder_was_here.py").exists()
    seen = _frames_of(harness, "victim")
    harness.wait_for(lambda: _frames_of(harness, "victim") > seen + 2, what="victim goes on")
    _, pixels, _ = next(f for f in reversed(harness.frames) if f[0] == "victim")
    assert tuple(pixels[0, 0]) != (255, 255, 255)  # not the intruder's paint
    assert victim.state is WorkerState.RUNNING and victim.restarts == 0
    mapping = json.loads((plugin_env / "data" / MAP_NAME).read_text())
    assert mapping == {"victim": victim.run_uid, "intruder": intruder.run_uid}
    assert (plugin_env / "data" / MAP_NAME).stat().st_mode & 0o777 == 0o600


@needs_root
@pytest.mark.parametrize("launcher_kind", ["spawn", "zygote"])
def test_a_per_instance_uid_caches_in_its_own_home(
    plugin_env: Path, test_specs: dict[str, PluginSpec], launcher_kind: str
) -> None:
    """Verify a worker under a uid with no passwd entry has its data folder as ``HOME``
    from before the plugin is imported, so ``~/.cache/x`` lands there (0700, its own),
    never in the host's ``/root`` or a folder another plugin shares; and what it creates
    is private to it even under the host's umask of 0."""
    conflict = range_conflicts(UID_BASE, 16)
    if conflict is not None:
        pytest.skip(f"the test's uid range is in use here: {conflict}")
    rules = WorkerRules(
        uid=UID_BASE, gid=UID_BASE, user="per-instance", uid_range=(UID_BASE, 16),
        heartbeat_timeout=2.0,
    )  # fmt: skip
    data = plugin_env / "data"
    old_umask = os.umask(0)  # the host's worst case: workers (and the zygote) inherit it
    try:
        if launcher_kind == "spawn":
            launcher: SpawnLauncher | ZygoteLauncher = SpawnLauncher()
            spec = dataclasses.replace(
                test_specs["homebody"], python=str(plugin_env / "env" / "bin" / "python")
            )
        else:
            launcher, spec = ZygoteLauncher(), test_specs["homebody"]
        with contextlib.contextmanager(_harness)(
            plugin_env, launcher, data_dir=data, rules=rules
        ) as harness:
            handle = harness.start(spec, instance="homebody")
            harness.wait_running(handle)
            request = harness.supervisor.request_action(handle, "where")
            harness.wait_for(lambda: request in handle.action_results, what="its answer")
            answer = handle.action_results[request]
    finally:
        os.umask(old_umask)
    assert answer["ok"], answer
    report: dict[str, Any] = answer["result"]
    own = data / "homebody"
    assert report["written"] == "ok", report
    assert report["home_at_import"] == report["home"] == str(own)
    assert report["xdg_cache"] == str(own / ".cache")
    assert report["xdg_config"] == str(own / ".config")
    assert report["cache_file"] == str(own / ".cache" / "x")
    assert (own / ".cache" / "x").read_text() == "cached\n"
    assert (own / ".cache" / "y").read_text() == "cached\n"
    assert report["uid"] == handle.run_uid and report["mode"] == 0o700
    assert report["file_mode"] == 0o600  # the worker's umask is 077, whatever the host's
    st = (own / ".cache").stat()
    assert (st.st_uid, st.st_mode & 0o777) == (handle.run_uid, 0o700)


def test_uid_map_is_stable_and_keeps_uids_of_folders_that_remain(tmp_path: Path) -> None:
    """Verify an instance keeps its uid across runs, and a removed one's uid is not
    reused while its data folder exists (the folder keeps its owner)."""
    first = UidMap(tmp_path, UID_BASE, 3)
    a, b = first.uid_for("a"), first.uid_for("b")
    assert (a, b) == (UID_BASE, UID_BASE + 1)
    (tmp_path / "a").mkdir()
    again = UidMap(tmp_path, UID_BASE, 3)  # the next run: "b" was removed, no folder
    assert again.uid_for("a") == a
    assert again.uid_for("c") == UID_BASE + 1  # b's uid: no folder of b's keeps it
    (tmp_path / "c").mkdir()
    assert again.uid_for("d") == UID_BASE + 2
    with pytest.raises(OSError, match="uid_count"):
        again.uid_for("e")


def test_uid_range_conflicts_name_what_uses_it() -> None:
    """Verify a range holding a real user is refused, naming the user."""
    root_conflict = range_conflicts(0, 1)
    assert root_conflict is not None and "'root'" in root_conflict


def test_config_and_secrets_open_to_others_are_named_with_the_fix(tmp_path: Path) -> None:
    """Verify a config or secrets file other users (workers) may read is reported."""
    config = tmp_path / "ledhost.toml"
    config.write_text("")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("")
    config.chmod(0o644)
    secrets.chmod(0o600)
    cfg = load_config(config, env={}, secrets_path=secrets)
    (problem,) = private_file_problems(cfg)
    assert str(config) in problem and f"chmod 600 {config}" in problem
    config.chmod(0o640)
    assert private_file_problems(cfg) == []
    secrets.chmod(0o606)
    (problem,) = private_file_problems(cfg)
    assert str(secrets) in problem


@pytest.mark.parametrize("launcher_kind", ["spawn", "zygote"])
def test_worker_inherits_only_its_channel_and_frame_bus(
    tmp_path: Path, test_specs: dict[str, PluginSpec], launcher_kind: str
) -> None:
    """Verify attack 2 finds nothing to write to: no zygote, host or tracker pipe.

    Beyond stdio a worker holds its control socket, its frame memfd and two eventfds;
    junk written into all of them ends at most the scribbler, and a bystander and later
    starts go on.
    """
    launcher = SpawnLauncher() if launcher_kind == "spawn" else ZygoteLauncher()
    harness_iter = _harness(tmp_path, launcher)
    harness = next(harness_iter)
    try:
        bystander = harness.start(test_specs["solid"], instance="bystander")
        nosy = harness.start(test_specs["inspector"], instance="nosy")
        harness.wait_running(bystander)
        harness.wait_running(nosy)
        request = harness.supervisor.request_action(nosy, "inspect")
        harness.wait_for(lambda: request in nosy.action_results, what="inspect")
        fds: dict[str, str] = nosy.action_results[request]["result"]["fds"]
        inherited = sorted(target for fd, target in fds.items() if int(fd) > 2)
        # Its own (epoll, a wakeup pipe, a second view of its memfd) may be there too; what
        # matters is that none is shared with the host or the zygote.
        assert sum(t.startswith("socket:") for t in inherited) == 1, inherited
        assert {t for t in inherited if t.startswith("/memfd:")} == {
            "/memfd:ledhost-frames-nosy (deleted)"
        }
        assert not any("/dev/shm" in t for t in inherited)
        ours = set()
        zygote = getattr(launcher, "pid", None)
        for pid in ["self", *([str(zygote)] if zygote else [])]:
            for name in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    ours.add(os.readlink(f"/proc/{pid}/fd/{name}"))
        shared = {t for t in inherited if t.startswith(("pipe:", "socket:")) and t in ours}
        assert not shared, shared
        harness.supervisor.request_action(nosy, "scribble")
        harness.supervisor.activate(bystander, "fill")
        seen = _frames_of(harness, "bystander")
        harness.wait_for(lambda: _frames_of(harness, "bystander") > seen + 2, what="frames")
        later = harness.start(test_specs["solid"], instance="later")
        harness.wait_running(later)
        assert bystander.state is WorkerState.RUNNING and bystander.restarts == 0
    finally:
        next(harness_iter, None)
