"""The zygote's death noticed when it happens (host.supervise.revival), with real processes.

A running host whose zygote is SIGKILLed logs the death once with its cause, starts a new
zygote at once (exec'd, serving as the undertaker), keeps its running worker, forks the
next worker from the new zygote once it has preloaded, and still stops and reaps
everything at shutdown. The new undertaker is told everything the old one knew: killed
outright after the revival, the host's worker is still killed by it. A zygote that dies
while the host stops is not replaced.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from host.app import Host
from host.discovery import PluginSpec
from host.supervise import proctree
from host.supervise.handle import WorkerHandle
from host.supervise.revival import ZygoteWatch, describe_status
from host.supervise.spawner import ZygoteLauncher
from host.supervise.states import WorkerState
from tests.conftest import RecordingBackend, _harness, children, run_host

#: Generous bound for "eventually" (a loaded 2-core machine); never a timing assertion.
EVENTUALLY = 30.0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _fd_kinds(pid: int) -> list[str]:
    kinds = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        if name not in ("0", "1", "2"):
            try:
                kinds.append(os.readlink(f"/proc/{pid}/fd/{name}").split(":")[0])
            except OSError:
                continue
    return sorted(kinds)


def _gone(pid: int) -> bool:
    info = proctree.proc_info(pid)
    return info is None or info.state in "ZXx"


def test_a_killed_zygote_is_noticed_at_once_replaced_and_workers_stay_safe(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = children()
    seen: dict[str, Any] = {}

    def scenario(host: Host, backend: RecordingBackend) -> bool:
        launcher = host.supervisor.launcher
        assert isinstance(launcher, ZygoteLauncher)
        handle = host.supervisor.handles["clock"]
        process = handle.process
        if "old" not in seen:
            undertaker = host.supervisor.enforcer.undertaker
            if not (backend.pushes and handle.state is WorkerState.RUNNING and process):
                return False
            assert undertaker is not None and undertaker.in_zygote and launcher.pid is not None
            seen.update(old=launcher.pid, worker=process.pid)
            os.kill(launcher.pid, signal.SIGKILL)  # no launch needed to notice it
            return False
        new = launcher.pid
        if "new" not in seen:
            if new is None or new == seen["old"] or _comm(new) != "ledhost-zygote":
                return False
            if "pipe" not in _fd_kinds(new):  # the undertaker's stdin, from its start
                return False
            seen.update(new=new, still=handle.process is not None and handle.process.pid)
            os.kill(seen["worker"], signal.SIGKILL)  # restarted: forked by the new zygote
            return False
        if (
            process is None
            or process.pid == seen["worker"]
            or handle.state is not WorkerState.RUNNING
        ):
            return False
        seen.update(restarted=process.pid, comm=_comm(process.pid))
        info = proctree.proc_info(process.pid)
        seen["parent"] = info.ppid if info is not None else None
        return True

    with caplog.at_level(logging.INFO, logger="ledhost.supervisor"):
        host, backend, _ = run_host(
            {"rotation": {"modes": ["clock:time"]}}, 120.0, tmp_path, until=scenario,
            launcher="zygote",
        )  # fmt: skip
    assert "restarted" in seen, seen
    # The worker kept running through the zygote's death (the host's child all along).
    assert seen["still"] == seen["worker"]
    # The restarted worker was forked by the new zygote and adopted by the host.
    assert seen["comm"] == "ledhost-worker" and seen["parent"] == os.getpid()
    deaths = [r.getMessage() for r in caplog.records if "zygote" in r.getMessage()]
    died = [m for m in deaths if "has died" in m]
    assert died == [
        f"the zygote (pid {seen['old']}) has died, killed by signal 9 (SIGKILL): running "
        "workers are unaffected (the host's children); starting a new one"
    ]
    assert any(f"a new zygote (pid {seen['new']})" in m for m in deaths)
    # Stopped and reaped at shutdown: the new zygote and every worker, nothing left over.
    for pid in (seen["old"], seen["new"], seen["worker"], seen["restarted"]):
        assert _gone(pid), pid
    assert children() == before


#: A host (launcher, undertaker, watch) whose zygote is killed; after the new one is up,
#: it reports the pids and waits to be killed outright.
REVIVED_HOST = """
import json, os, selectors, signal, subprocess, sys
from host.supervise import proctree
from host.supervise.revival import ZygoteWatch
from host.supervise.spawner import Undertaker, ZygoteLauncher
launcher = ZygoteLauncher()
undertaker = Undertaker()
assert undertaker.start(launcher) and undertaker.in_zygote
selector = selectors.DefaultSelector()
watch = ZygoteWatch(launcher, selector, lambda: undertaker)
victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
undertaker.watch(victim.pid, proctree.proc_info(victim.pid).start_time)
old = launcher.pid
os.kill(old, signal.SIGKILL)
while launcher.pid in (None, old):  # its death, then the new one's word that it is ready
    for key, _ in selector.select(30):
        assert key.data is watch
        watch.on_event(key.fd, 0.0)
assert watch.respawns == 1 and undertaker.in_zygote
print(json.dumps({"old": old, "new": launcher.pid, "victim": victim.pid}), flush=True)
sys.stdin.read()
"""


def test_the_new_zygote_undertakes_what_the_old_one_was_told() -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", REVIVED_HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert host.stdout is not None
        report = json.loads(host.stdout.readline())
        assert _gone(report["old"]) and not _gone(report["victim"])
        host.kill()  # SIGKILL: only the new zygote, told again, can kill the victim
        host.wait()
        for pid in (report["victim"], report["new"]):
            end = time.monotonic() + EVENTUALLY
            while not _gone(pid):
                assert time.monotonic() < end, f"process {pid} outlived the killed host"
                time.sleep(0.05)
    finally:
        host.kill()
        host.wait()


def test_wait_statuses_are_described_by_cause() -> None:
    assert describe_status(signal.SIGKILL) == "killed by signal 9 (SIGKILL)"
    assert describe_status(3 << 8) == "exited with status 3"
    assert describe_status(None) == "its status unknown"


def test_a_zygote_that_dies_while_the_host_stops_is_not_replaced(
    tmp_path: Path, test_specs: dict[str, PluginSpec]
) -> None:
    """A service stop signals every process: the zygote's death then is no cause for a new
    one, and the stop still ends and reaps the workers."""
    before = children()
    harness_iter = _harness(tmp_path, ZygoteLauncher())
    harness = next(harness_iter)
    try:
        handle = WorkerHandle(instance_id="only", spec=test_specs["solid"], options={})
        harness.supervisor.add(handle)
        harness.supervisor.start(handle, time.monotonic())
        harness.wait_running(handle)
        launcher, watch = harness.supervisor.launcher, harness.supervisor.zygote_watch
        assert isinstance(launcher, ZygoteLauncher) and watch is not None
        assert launcher.pid is not None
        zygote, worker = launcher.pid, handle.pid
        os.kill(zygote, signal.SIGKILL)
        harness.supervisor.stop_all()
        assert watch.respawns == 0 and launcher.pid is None and handle.process is None
        assert _gone(zygote) and worker is not None and _gone(worker)
    finally:
        next(harness_iter, None)
    assert children() == before


def test_a_new_zygote_that_dies_preloading_is_replaced_after_a_backoff() -> None:
    """Deaths in a row back off (no zygote meanwhile: workers are spawned), each logged
    with its cause, and a later zygote that says it is ready is forked from."""
    selector = selectors.DefaultSelector()
    launcher = ZygoteLauncher()
    watch = ZygoteWatch(launcher, selector, lambda: None)
    killed: list[int] = []

    def events(until: Callable[[], bool]) -> None:
        end = time.monotonic() + EVENTUALLY
        while not until():
            assert time.monotonic() < end, "no event came"
            for key, _ in selector.select(1.0):
                watch.on_event(key.fd, time.monotonic())

    try:
        first = launcher.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        events(lambda: watch.pending is not None)  # died; a new one preloads
        assert launcher.pid is None and watch.respawns == 1
        pending = watch.pending
        assert pending is not None
        os.kill(pending.pid, signal.SIGKILL)  # dies before saying it is ready
        killed += [first, pending.pid]
        events(lambda: watch.respawn_at is not None)
        assert watch.deaths == 2 and launcher.pid is None and watch.pending is None
        assert watch.respawn_at is not None
        watch.poll(watch.respawn_at)  # the housekeeping pass once the backoff is over
        events(lambda: launcher.pid is not None)
        assert watch.respawns == 2 and _comm(launcher.pid) == "ledhost-zygote"
    finally:
        watch.close()
        launcher.close()
        selector.close()
    assert all(_gone(pid) for pid in killed)


def test_a_new_zygote_preloading_is_the_hosts_own_not_a_stray(
    tmp_path: Path, test_specs: dict[str, PluginSpec]
) -> None:
    """Until it is ready it is nobody's launcher, yet the host's: the housekeeping's sweep
    of children outside the host's session (plugins' orphans) must leave it alone."""
    harness_iter = _harness(tmp_path, ZygoteLauncher())
    harness = next(harness_iter)
    try:
        launcher, watch = harness.supervisor.launcher, harness.supervisor.zygote_watch
        assert isinstance(launcher, ZygoteLauncher) and watch is not None
        assert launcher.pid is not None
        os.kill(launcher.pid, signal.SIGKILL)
        harness.wait_for(lambda: watch.pending is not None, what="a new zygote")
        pending = watch.pending
        assert pending is not None and pending.pid in harness.supervisor.own_children()
        harness.supervisor.tick(time.monotonic())  # the sweep, while it preloads
        assert not _gone(pending.pid)
        harness.wait_for(lambda: launcher.pid == pending.pid, what="the new zygote ready")
    finally:
        next(harness_iter, None)
