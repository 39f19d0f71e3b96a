"""Hostile plugins that try to outlive their worker (issue 13, attack 7), done for real.

The ``daemonizer`` test plugin double-forks ``setsid()`` daemons whose middle exits at
once: nothing links them to the worker but the worker being a child subreaper. Each test
finds them by a unique marker on their command line and checks that none is left however
the worker or the host ends, and that they count against the worker's limits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host.app import Host
from host.supervise import cgroups, proctree
from tests.conftest import TEST_PLUGINS, eventually, run_host


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique marker for this test's daemons; any left at the end are killed, and fail."""
    mark = f"ledhost-hostile-tree-{uuid.uuid4().hex}"
    yield mark
    left = marked(mark)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"daemons left behind: {left}"


def marked(mark: str) -> list[int]:
    """Live processes whose command line holds ``mark`` (zombies have none)."""
    found = []
    for pid, info in proctree.scan().items():
        if info.state in "ZXx":
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if mark.encode() in f.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def _overrides(tmp_path: Path, mark: str, workers: dict[str, Any], **plugin: Any) -> dict[str, Any]:
    return {
        # A failed worker is not restarted during the test, so a new daemon cannot hide
        # whether the old one was killed.
        "workers": {"user": "", "restart_delay": 3600.0, "restart_max_delay": 3600.0, **workers},
        "plugins": {"daemonizer": {"marker": mark, **plugin}},
        "rotation": {"modes": ["daemonizer"]},
        "paths": {"data_dir": str(tmp_path / "data")},
    }


def _ended_with_tree(reason: str, mark: str, seen: list[int]) -> Any:
    """An ``until`` for :func:`run_host`: the worker failed for ``reason`` and no daemon
    is left, while the host still runs (so the host's shutdown sweep cannot be what
    killed them). Records in ``seen`` how many daemons were ever alive."""

    def until(host: Host, backend: object) -> bool:
        seen.append(len(marked(mark)))
        failure = host.supervisor.handles["daemonizer"].last_failure or ""
        return reason in failure and max(seen) > 0 and seen[-1] == 0

    return until


def _run_until_killed(
    tmp_path: Path,
    mark: str,
    reason: str,
    workers: dict[str, Any],
    plugin: dict[str, Any],
    **options: Any,
) -> dict[str, Any]:
    seen: list[int] = []
    host, _, stats = run_host(
        _overrides(tmp_path, mark, workers, **plugin),
        120.0,
        tmp_path,
        until=_ended_with_tree(reason, mark, seen),
        plugin_paths=(str(TEST_PLUGINS),),
        **options,
    )
    failure = host.supervisor.handles["daemonizer"].last_failure or ""
    assert reason in failure, failure
    assert max(seen) > 0, "no daemon ever ran"
    assert seen[-1] == 0, f"daemons outlived the killed worker: {seen[-5:]}"
    return stats


@pytest.mark.parametrize("launcher", ["zygote", "spawn"])
def test_hung_workers_escaped_daemons_die_with_it(
    tmp_path: Path, marker: str, launcher: str
) -> None:
    """(a) A worker killed for a hang takes its double-forked setsid() daemons along."""
    _run_until_killed(
        tmp_path,
        marker,
        "hung in render_frame",
        {"render_timeout": 1.0, "stop_timeout": 0.5},
        {"count": 3, "hang": True},
        launcher=launcher,
    )


def test_a_daemons_memory_counts_against_the_workers_limit(tmp_path: Path, marker: str) -> None:
    """(d) Memory held by an escaped daemon is the worker's: over the limit, all die."""
    _run_until_killed(
        tmp_path, marker, "over memory limit", {"memory_limit_mb": 200}, {"alloc_mb": 300}
    )


def test_forking_past_max_processes_is_caught_across_setsid(tmp_path: Path, marker: str) -> None:
    """(e) Daemons that left the worker's session still count as its processes."""
    _run_until_killed(tmp_path, marker, "too many processes", {"max_processes": 4}, {"count": 6})


def test_normal_stop_leaves_no_daemon_exit_0_with_stats(tmp_path: Path, marker: str) -> None:
    """(b) The host stops normally right after the daemons start: none is left, the run
    ends with status 0 (asserted by run_host) and the stats are written."""
    _, _, stats = run_host(
        _overrides(tmp_path, marker, {}, count=3),
        120.0,
        tmp_path,
        until=lambda host, backend: len(marked(marker)) >= 3,
        plugin_paths=(str(TEST_PLUGINS),),
    )
    assert "daemonizer" in stats["plugins"], stats.keys()
    assert marked(marker) == []  # the host's sweeps ran before it returned


@pytest.mark.parametrize("launcher", ["zygote", "spawn"])
def test_sigkilled_host_leaves_no_daemon(tmp_path: Path, marker: str, launcher: str) -> None:
    """(c) SIGKILL of the host (a real ``python -m host run``) the moment its plugin's
    daemons exist: the undertaker kills every worker's tree while the worker still holds
    it, so the daemons die too, though no scan of the host ever saw them."""
    config = tmp_path / "ledhost.toml"
    config.write_text(
        f'[workers]\nuser = ""\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[plugins.daemonizer]\nmarker = "{marker}"\ncount = 3\n'
        '[rotation]\nmodes = ["daemonizer"]\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "host", "run", "--config", str(config), "--backend", "headless"]
        + ["--launcher", launcher, "--plugin-path", str(TEST_PLUGINS), "-q"],
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:

        def started() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            return len(marked(marker)) >= 3

        eventually(started, "3 daemons", timeout=60.0, interval=0.05)
        made = cgroups_of(proc.pid)
        assert bool(made) == (cgroups.find() is not None), made
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    eventually(lambda: not marked(marker), "the daemons to die after the host", timeout=60.0)
    # Where workers get cgroups, the undertaker killed and removed the dead host's too.
    eventually(lambda: not cgroups_of(proc.pid), "the host's cgroups to be removed")


def cgroups_of(host_pid: int) -> list[Path]:
    """The worker cgroups a host with this pid made and left (none without cgroups)."""
    found = cgroups.find()
    if found is None:
        return []
    return sorted(found.base.glob(f"w-{host_pid}-*"))


# -- cgroup v2, where this machine lets the host write a subtree --------------------------

#: Runs in the test cgroup: on a line from stdin, double-forks a setsid() daemon.
_DOUBLE_FORK = (
    "import os, sys, time\n"
    "sys.stdin.readline()\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(1000)',"
    " sys.argv[1]])\n"
    "    os._exit(0)\n"
    "time.sleep(1000)\n"
)


@pytest.fixture
def delegation() -> Any:
    """The cgroup2 subtree this process may write, or a skip saying why there is none
    (as root on this machine: the root cgroup; unprivileged: only with systemd's
    ``Delegate=yes``)."""
    found = cgroups.find()
    if found is None:
        who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
        pytest.skip(f"no cgroup2 subtree with cgroup.kill that {who} may write here")
    return found


def test_cgroup_kill_ends_a_placed_tree_with_its_setsid_daemon(
    delegation: cgroups.Delegation, marker: str
) -> None:
    """A process placed in its own cgroup before it forks: its setsid() daemon is in the
    cgroup too, ``cgroup.kill`` ends both, and the cgroup is removed afterwards."""
    path = delegation.create(f"test-{uuid.uuid4().hex[:12]}")
    proc = subprocess.Popen(
        [sys.executable, "-c", _DOUBLE_FORK, marker], stdin=subprocess.PIPE, text=True
    )
    try:
        delegation.place(path, proc.pid)
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        # The middle of the double fork carries the marker too until it exits.
        eventually(lambda: len(marked(marker)) == 1, "the daemon alone")
        daemons = marked(marker)
        members = delegation.members(path)
        assert daemons and set(daemons) <= set(members) and proc.pid in members
        delegation.kill(path)
        eventually(lambda: not marked(marker), "the daemon to die by cgroup.kill")
        assert proc.wait() == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        eventually(lambda: delegation.remove(path), "the cgroup to be removed")
    assert not path.exists()


def test_cgroup_limits_are_set_where_the_controllers_exist(
    delegation: cgroups.Delegation,
) -> None:
    missing = set(cgroups.WANTED) - delegation.controllers
    if missing:
        pytest.skip(f"cgroup v2 controller(s) {sorted(missing)} not available here (v1?)")
    delegation.prepare()
    path = delegation.create(f"test-{uuid.uuid4().hex[:12]}", memory_bytes=64 << 20, max_pids=7)
    try:
        assert (path / "memory.max").read_text().strip() == str(64 << 20)
        assert (path / "pids.max").read_text().strip() == "7"
    finally:
        assert delegation.remove(path)


def test_cgroup_names_are_never_paths() -> None:
    with pytest.raises(ValueError, match="cgroup name"):
        cgroups.Delegation(base=Path("/nonexistent"), controllers=frozenset()).create("../x")


# -- cgroups wired in: a worker's own cgroup, where this machine allows --------------------


@pytest.mark.parametrize("launcher", ["zygote", "spawn"])
def test_a_worker_and_its_setsid_daemons_are_in_its_own_cgroup(
    tmp_path: Path, marker: str, delegation: cgroups.Delegation, launcher: str
) -> None:
    """The worker joins a cgroup of its own before plugin code runs, so the daemons its
    plugin double-forks are born inside it; the status says "cgroup"; the cgroup is
    gone once the host has stopped, and so are the daemons."""
    seen: dict[str, Any] = {}

    def inside(host: Host, backend: object) -> bool:
        handle = host.supervisor.handles["daemonizer"]
        daemons = marked(marker)
        if handle.cgroup is None or handle.pid is None or len(daemons) < 2:
            return False
        members = set(cgroups.Delegation.members(handle.cgroup))
        seen.update(path=handle.cgroup, members=members, daemons=daemons, pid=handle.pid)
        return handle.pid in members and set(daemons) <= members

    _, _, stats = run_host(
        _overrides(tmp_path, marker, {}, count=2),
        120.0,
        tmp_path,
        until=inside,
        plugin_paths=(str(TEST_PLUGINS),),
        launcher=launcher,
    )
    path: Path = seen["path"]
    assert path.parent == delegation.base and path.name.startswith(f"w-{os.getpid()}-")
    status = stats["plugins"]["daemonizer"]
    assert status["containment"] == "cgroup"
    assert set(status["kernel_limits"]) == {f"{c}.max" for c in delegation.controllers}, (
        "each controller's limit is set, the others fall back to the process tree"
    )
    assert not path.exists(), "the worker's cgroup outlived the host"
    assert cgroups_of(os.getpid()) == []
    assert marked(marker) == []


def test_cgroup_kill_ends_a_workers_escaped_daemons_and_the_cgroup_goes(
    tmp_path: Path, marker: str, delegation: cgroups.Delegation
) -> None:
    """``cgroup.kill`` on a worker's cgroup ends the worker and its setsid() daemons in
    one write; the host reaps the worker as failed and removes the cgroup while it
    runs on (no shutdown sweep involved)."""
    seen: dict[str, Any] = {}

    def killed_and_removed(host: Host, backend: object) -> bool:
        handle = host.supervisor.handles["daemonizer"]
        if "path" not in seen:
            if handle.cgroup is None or len(marked(marker)) < 2:
                return False
            seen["path"], seen["daemons"] = handle.cgroup, marked(marker)
            cgroups.Delegation.kill(handle.cgroup)
        return (
            handle.process is None
            and handle.last_failure is not None
            and not marked(marker)
            and not seen["path"].exists()
            # Not even as the host's zombies: adopted, killed and reaped.
            and all(proctree.proc_info(pid) is None for pid in seen["daemons"])
        )

    host, _, _ = run_host(
        _overrides(tmp_path, marker, {}, count=2),
        120.0,
        tmp_path,
        until=killed_and_removed,
        plugin_paths=(str(TEST_PLUGINS),),
    )
    failure = host.supervisor.handles["daemonizer"].last_failure or ""
    assert "SIGKILL" in failure, failure


def test_cgroups_off_leaves_workers_to_their_process_trees(tmp_path: Path, marker: str) -> None:
    """``workers.cgroups = "off"``: no cgroup is made; the status says "process tree"."""
    made: list[Path | None] = []

    def running(host: Host, backend: object) -> bool:
        handle = host.supervisor.handles["daemonizer"]
        made.append(handle.cgroup)
        return handle.state.value == "running" and len(marked(marker)) >= 1

    _, _, stats = run_host(
        _overrides(tmp_path, marker, {"cgroups": "off"}, count=1),
        120.0,
        tmp_path,
        until=running,
        plugin_paths=(str(TEST_PLUGINS),),
    )
    assert set(made) == {None}
    assert stats["plugins"]["daemonizer"]["containment"] == "process tree"
    assert stats["plugins"]["daemonizer"]["kernel_limits"] == []
    assert cgroups_of(os.getpid()) == []


def test_a_non_root_host_in_a_delegated_cgroup_contains_its_workers(
    plugin_env: Path, marker: str, delegation: cgroups.Delegation
) -> None:
    """What systemd's ``Delegate=yes`` gives a host run as a plain user, made by hand: a
    cgroup owned by ``nobody`` that the host (as ``nobody``) starts in. Its workers join
    cgroups of their own below it, the plugin's setsid() daemons are inside, and a
    normal stop leaves neither daemons nor cgroups."""
    nobody = 65534
    delegated = delegation.base / f"ledhost-test-delegated-{uuid.uuid4().hex[:12]}"
    delegated.mkdir()
    try:
        for name in (".", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"):
            os.chown(delegated / name, nobody, nobody)  # what Delegate=yes hands over
        data = plugin_env / "data"
        data.mkdir()
        os.chown(data, nobody, nobody)
        config = plugin_env / "ledhost.toml"
        config.write_text(
            f'[paths]\ndata_dir = "{data}"\n'
            f'[plugins.daemonizer]\nmarker = "{marker}"\ncount = 2\n'
            '[rotation]\nmodes = ["daemonizer"]\n'
        )
        stats = data / "stats.json"
        python = str(plugin_env / "env" / "bin" / "python")
        host = [python, "-m", "host", "run", "--config", str(config), "--backend", "headless"]
        host += ["--plugin-path", str(TEST_PLUGINS), "--stats-json", str(stats), "-q"]
        # Into the cgroup as root, then the user's host: as systemd starts a service.
        enter = f'echo $$ > {delegated / "cgroup.procs"} && exec "$@"'
        drop = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups"]
        proc = subprocess.Popen(
            ["sh", "-c", enter, "sh", *drop, *host],
            stderr=subprocess.PIPE,
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "HOME": str(data), "LANG": "C.UTF-8"},
        )
        try:

            def contained() -> bool:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                daemons = marked(marker)
                if len(daemons) < 2:
                    return False
                where = {Path(f"/proc/{pid}/cgroup").read_text() for pid in daemons}
                return all(f"/{delegated.name}/w-{proc.pid}-daemonizer-" in w for w in where)

            eventually(contained, "the daemons inside the worker's own cgroup", timeout=60.0)
            assert sorted(p.name for p in delegated.glob("w-*"))  # made by the host itself
            proc.terminate()
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()
            proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        assert json.loads(stats.read_text())["plugins"]["daemonizer"]["containment"] == "cgroup"
        eventually(lambda: not marked(marker), "the daemons to die with the host")
        assert list(delegated.glob("w-*")) == [], "the host left cgroups behind"
    finally:
        for child in delegated.glob("w-*"):
            cgroups.Delegation.remove(child)
        eventually(lambda: cgroups.Delegation.remove(delegated), "the test's cgroup to go")
