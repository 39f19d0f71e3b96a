"""The workers' cgroups where the kernel has more than this machine: limits, figures, reasons.

This machine's cgroup2 has no ``memory`` or ``pids`` controller (the real cgroup tests
are in ``tests/test_hostile_tree.py``), so what the host does with ``memory.current``,
``pids.current``, ``memory.events`` and the kernel's own limits is checked against a
folder holding those files as the kernel would write them, with a real process as the
worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.discovery import PluginSpec
from host.supervise import cgroups
from host.supervise.cgroups import WANTED
from host.supervise.enforcer import Enforcer
from host.supervise.handle import WorkerHandle
from host.supervise.plugin_logs import PluginLog
from host.supervise.rules import MIB, WorkerRules
from host.supervise.states import WorkerState
from host.supervise.worker_cgroups import WorkerCgroups


def test_workers_cgroups_say_what_falls_back(tmp_path: Path) -> None:
    """Without the memory and pids controllers (the host in the root cgroup of a hybrid
    hierarchy), the log line names the settings that stay with the process tree."""
    bare = WorkerCgroups(True, find=lambda: cgroups.Delegation(tmp_path, frozenset()))
    assert bare.limits == ()
    text = bare.describe()
    assert "cgroup.kill" in text
    assert "workers.memory_limit_mb and workers.max_processes stay with the process-tree" in text
    (tmp_path / "cgroup.subtree_control").write_text("memory pids\n")  # enabled already
    full = WorkerCgroups(True, find=lambda: cgroups.Delegation(tmp_path, frozenset(WANTED)))
    assert full.limits == ("memory.max", "pids.max") and "stay with" not in full.describe()
    off = WorkerCgroups(False)
    assert off.delegation is None and "off (workers.cgroups)" in off.describe()
    assert off.create("x", memory_bytes=1, max_pids=1) is None


def test_kernel_figures_replace_the_proc_walk_where_the_cgroup_keeps_them(
    tmp_path: Path,
) -> None:
    """``memory.current`` and ``pids.current`` are read where present; absent (no
    controller), the ``/proc`` sums stand."""
    (tmp_path / "memory.current").write_text("12345678\n")
    (tmp_path / "pids.current").write_text("3\n")
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert cgroups.Delegation.usage(tmp_path) == (12345678, 3)
    assert cgroups.Delegation.oom_kills(tmp_path) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cgroups.Delegation.usage(empty) == (None, None)
    assert cgroups.Delegation.oom_kills(empty) == 0


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[bytes]]:
    """A real process standing in for a worker (the enforcer signals real pids)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _handle_in(
    cgroup: Path, process: subprocess.Popen[bytes], limits: tuple[str, ...]
) -> WorkerHandle:
    """A running worker whose cgroup is ``cgroup``, holding ``process`` alone."""
    spec = PluginSpec(
        "solid", "ledhost_test_plugins.solid", "ledhost-test-plugins", "0.1.0", "path"
    )
    handle = WorkerHandle(instance_id="solid", spec=spec, options={})
    handle.change_state(WorkerState.STARTING, 0.0)
    handle.change_state(WorkerState.RUNNING, 0.0)
    handle.process = process  # type: ignore[assignment]  # monitor reads its pid
    handle.pid = process.pid
    handle.cgroup, handle.kernel_limits = cgroup, limits
    (cgroup / "cgroup.procs").write_text(f"{process.pid}\n")
    (cgroup / "memory.current").write_text(f"{4096 * MIB}\n")
    (cgroup / "pids.current").write_text("500\n")
    return handle


def _enforcer() -> Enforcer:
    return Enforcer(WorkerRules(memory_limit=256 * MIB, max_processes=32), {"solid": PluginLog()})


def test_limits_the_kernel_enforces_are_left_to_it(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """With ``memory.max`` and ``pids.max`` set, the status shows the kernel's figures
    (``memory.current`` counts page cache too, so the host never kills on it) and the
    worker is not killed by the host."""
    handle = _handle_in(tmp_path, worker, ("memory.max", "pids.max"))
    _enforcer().monitor([handle], 10.0)
    assert (handle.rss, handle.processes) == (4096 * MIB, 500)
    assert handle.state is WorkerState.RUNNING and worker.poll() is None


def test_limits_without_their_controller_stay_the_hosts(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """Without a kernel limit, the same figures break the host's rule: it kills."""
    handle = _handle_in(tmp_path, worker, ())
    _enforcer().monitor([handle], 10.0)
    assert handle.state is WorkerState.KILLING
    assert handle.ending_reason is not None and "over memory limit" in handle.ending_reason
    assert worker.wait(timeout=30) < 0


def test_a_pass_asks_for_the_hosts_other_children_only_to_scan(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """The host's other children (``keep``) matter only to the full ``/proc`` scan, which
    a worker in a cgroup never needs: an idle pass does not poll the host's helpers for
    them (issue 15). A worker without a cgroup is scanned, and ``keep`` asked, once."""
    asked: list[float] = []

    def keep() -> list[int]:
        asked.append(1.0)
        return []

    enforcer = _enforcer()
    contained = _handle_in(tmp_path, worker, ("memory.max", "pids.max"))
    for now in (10.0, 12.0, 14.0):
        enforcer.monitor([contained], now, keep=keep)
    assert asked == [] and contained.state is WorkerState.RUNNING
    loose = _handle_in(tmp_path, worker, ())
    loose.cgroup = None
    enforcer.monitor([loose], 16.0, keep=keep)
    assert asked == [1.0] and loose.state is WorkerState.RUNNING


def test_a_kernel_oom_kill_is_named_as_the_memory_limit(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    """A worker SIGKILLed while its cgroup counts an ``oom_kill`` ended over its memory
    limit, and says so, rather than a bare "killed by SIGKILL"."""
    handle = _handle_in(tmp_path, worker, ("memory.max",))
    enforcer = _enforcer()
    enforcer.kernel_kill_reason(handle, -9)
    assert handle.ending_reason is None  # no oom_kill counted: a SIGKILL from elsewhere
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    enforcer.kernel_kill_reason(handle, -15)
    assert handle.ending_reason is None  # not a SIGKILL: not the kernel's doing
    enforcer.kernel_kill_reason(handle, -9)
    assert handle.ending_reason == (
        "over memory limit (killed by the kernel at memory.max, 256 MiB)"
    )


def test_a_systemd_units_cgroup_is_used_only_when_delegated(tmp_path: Path) -> None:
    """Root may write a service's cgroup, but without ``Delegate=yes`` it is systemd's:
    no worker cgroups there, and the log says how to have them."""
    unit = tmp_path / "ledhost.service"
    unit.mkdir()
    plain = WorkerCgroups(True, find=lambda: cgroups.Delegation(unit, frozenset()))
    assert plain.delegation is None
    assert "not delegated: add Delegate=yes" in plain.describe()
    assert plain.create("x", memory_bytes=1, max_pids=1) is None
    try:
        os.setxattr(unit, "user.delegate", b"1")  # what systemd marks a delegated unit with
    except OSError as exc:
        pytest.skip(f"no user xattrs on {tmp_path}: {exc.strerror}")
    delegated = WorkerCgroups(True, find=lambda: cgroups.Delegation(unit, frozenset()))
    assert delegated.delegation is not None and "cgroup.kill" in delegated.describe()
    assert cgroups.systemd_refusal(tmp_path) is None  # not a unit's: root's to divide
