"""ledhost's own zygote (host.supervise.zygote), with real processes throughout.

What it promises: workers forked from it are the host's children (waitable, pid checked),
inherit no descriptor but their own, import nothing from the host's cwd, and the zygote
needs no ``multiprocessing`` helper, survives hostile workers and ends with the host.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host.discovery import PluginSpec
from host.supervise import proctree
from host.supervise.handle import WorkerHandle
from host.supervise.spawner import Undertaker, ZygoteLauncher
from host.supervise.states import WorkerState
from host.supervise.undertaker import Duty
from tests.conftest import Harness, _harness

#: Generous bound for "eventually" (a loaded 2-core machine); never a timing assertion.
EVENTUALLY = 20.0


@pytest.fixture
def zygote_harness(tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(tmp_path, ZygoteLauncher())


def _start(harness: Harness, spec: PluginSpec, instance: str) -> WorkerHandle:
    handle = WorkerHandle(instance_id=instance, spec=spec, options={})
    harness.supervisor.add(handle)
    harness.supervisor.start(handle, time.monotonic())
    return handle


def _act(harness: Harness, handle: WorkerHandle, name: str) -> dict[str, Any]:
    request = harness.supervisor.request_action(handle, name)
    harness.wait_for(lambda: request in handle.action_results, what=f"action {name}")
    answer = handle.action_results[request]
    assert answer["ok"], answer
    result: dict[str, Any] = answer["result"]
    return result


def _zygote_pid(harness: Harness) -> int:
    launcher = harness.supervisor.launcher
    assert isinstance(launcher, ZygoteLauncher) and launcher.pid is not None
    return launcher.pid


def _gone(pid: int) -> bool:
    info = proctree.proc_info(pid)
    return info is None or info.state in "ZXx"


def _wait_gone(pid: int) -> None:
    end = time.monotonic() + EVENTUALLY
    while not _gone(pid):
        assert time.monotonic() < end, f"process {pid} is still alive"
        time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # ours when this process is a subreaper


def test_many_workers_are_the_hosts_children_and_are_reaped(
    zygote_harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    handles = [_start(zygote_harness, test_specs["solid"], f"s{i}") for i in range(8)]
    for handle in handles:
        zygote_harness.wait_running(handle)
    pids = {h.pid for h in handles}
    assert len(pids) == len(handles) and _zygote_pid(zygote_harness) not in pids
    for pid in pids:
        info = proctree.proc_info(pid or 0)
        assert info is not None and info.ppid == os.getpid()
    zygote_harness.supervisor.stop_all(graceful_timeout=5.0)
    for handle in handles:
        assert handle.process is None and handle.state is WorkerState.EXITED
    for pid in pids:
        assert proctree.proc_info(pid or 0) is None, "a worker was left unreaped"


def test_worker_inherits_only_its_own_descriptors(
    tmp_path: Path, test_specs: dict[str, PluginSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "host-secret-file"
    marker.write_text("the host's")
    held = os.open(marker, os.O_RDONLY)  # open in the host while the zygote is forked
    launcher = ZygoteLauncher()
    try:
        harness_iter = _harness(tmp_path, launcher)
        harness = next(harness_iter)
        try:
            bystander = _start(harness, test_specs["solid"], "bystander")
            handle = _start(harness, test_specs["inspector"], "nosy")
            harness.wait_running(bystander)
            harness.wait_running(handle)
            # Past its set-up, all the zygote holds beyond stdio is its socket to the host.
            zygote = _zygote_pid(harness)
            zygote_fds = {
                n: os.readlink(f"/proc/{zygote}/fd/{n}") for n in os.listdir(f"/proc/{zygote}/fd")
            }
            (zygote_socket,) = [t for n, t in zygote_fds.items() if n not in ("0", "1", "2")]
            assert zygote_socket.startswith("socket:")
            seen = _act(harness, handle, "inspect")
            targets = set(seen["fds"].values())
            assert str(marker) not in targets
            # Its own control channel is its only socket.
            peers = {t for t in targets if t.startswith("socket:")}
            assert len(peers) == 1 and zygote_socket not in peers
            assert sum(t.startswith("/memfd:") for t in targets) == 1
            assert seen["ppid"] == os.getpid()
            # Junk into whatever it holds reaches only its own channel and frame bus:
            # the zygote lives on and still forks.
            request = harness.supervisor.request_action(handle, "scribble")
            harness.wait_for(
                lambda: request in handle.action_results or handle.state is not WorkerState.RUNNING,
                what="the scribbling to end",
            )
            later = _start(harness, test_specs["solid"], "after")
            harness.wait_running(later)
            assert not _gone(_zygote_pid(harness))
            assert bystander.state is WorkerState.RUNNING and bystander.restarts == 0
        finally:
            next(harness_iter, None)
    finally:
        launcher.close()
        os.close(held)


def test_zygote_does_not_import_from_the_hosts_cwd(
    tmp_path: Path, test_specs: dict[str, PluginSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "ledhost_planted.py").write_text("raise SystemExit('imported from the cwd')\n")
    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend("")
    monkeypatch.syspath_prepend(str(cwd))
    harness_iter = _harness(tmp_path, ZygoteLauncher())
    harness = next(harness_iter)
    try:
        handle = _start(harness, test_specs["inspector"], "nosy")
        harness.wait_running(handle)
        seen = _act(harness, handle, "inspect")
        assert seen["planted"] is False
        assert seen["cwd"] == "/"
        assert "" not in seen["path"] and str(cwd) not in seen["path"]
    finally:
        next(harness_iter, None)


def test_workers_outlive_a_killed_zygote_and_later_ones_come_from_a_new_one(
    zygote_harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    first = _start(zygote_harness, test_specs["solid"], "first")
    zygote_harness.wait_running(first)
    zygote = _zygote_pid(zygote_harness)
    os.kill(zygote, signal.SIGKILL)
    _wait_gone(zygote)
    second = _start(zygote_harness, test_specs["solid"], "second")
    zygote_harness.wait_running(second)
    assert first.state is WorkerState.RUNNING and first.restarts == 0
    launcher = zygote_harness.supervisor.launcher
    # The death was noticed (host.supervise.revival): workers are spawned until a new
    # zygote says it has preloaded, then forked from it.
    assert isinstance(launcher, ZygoteLauncher)
    zygote_harness.wait_for(lambda: launcher.pid not in (None, zygote), what="a new zygote")


HOST_SCRIPT = """
import gc, json, os, sys
from host.discovery import discover
from host.cli.probe import describe_plugins
from host.supervise.spawner import Undertaker, ZygoteLauncher
launcher = ZygoteLauncher()
described = describe_plugins([discover((), environment=False)["clock"]], launcher="zygote")
print(json.dumps({
    "zygote": launcher.pid,
    "described": sorted(described["clock"]),
    "multiprocessing": sorted(m for m in sys.modules if m.startswith("multiprocessing")),
    "frozen": gc.get_freeze_count(),
}), flush=True)
sys.stdin.read()
"""


def _children_of(pid: int) -> list[bytes]:
    table = proctree.scan()
    found = []
    for child in proctree.descendants(pid, table):
        with contextlib.suppress(OSError):
            found.append(Path(f"/proc/{child}/cmdline").read_bytes())
    return found


def test_zygote_needs_no_multiprocessing_and_dies_with_the_host() -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert host.stdout is not None
        report = json.loads(host.stdout.readline())
        assert report["described"] == ["actions", "hooks", "modes", "schema"]
        assert report["multiprocessing"] == []
        # What the host shares with the zygote is out of its own collections too.
        assert report["frozen"] > 0
        assert not any(b"resource_tracker" in line for line in _children_of(host.pid))
        zygote = report["zygote"]
        assert not _gone(zygote)
        host.kill()  # no chance to stop the zygote: it must notice on its own
        host.wait()
        end = time.monotonic() + EVENTUALLY
        while (info := proctree.proc_info(zygote)) is not None and info.state not in "ZXx":
            assert time.monotonic() < end, "the zygote outlived its host"
            time.sleep(0.05)
    finally:
        host.kill()
        host.wait()


@pytest.mark.parametrize("from_zygote", [True, False])
def test_the_undertaker_kills_what_it_was_told_of_when_its_stdin_ends(from_zygote: bool) -> None:
    """Served by the zygote (in a session of its own from then on, holding nothing but its
    socket and the undertaker's stdin) or spawned without one (the host's child, its own
    session), it kills a watched worker's tree at end of file."""
    launcher = ZygoteLauncher() if from_zygote else None
    undertaker = Undertaker()
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert undertaker.start(launcher)
        if launcher is not None:
            assert undertaker.pid is None  # no process of its own
            pid = launcher.pid
            assert pid is not None and os.getsid(pid) == pid
            fds = {n: os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}
            held = sorted(t.split(":")[0] for n, t in fds.items() if n not in ("0", "1", "2"))
            assert held == ["pipe", "socket"], fds
        else:  # its command line reads empty for a moment after the exec
            pid = undertaker.pid
            assert pid is not None
            info = proctree.proc_info(pid)
            assert info is not None and info.ppid == os.getpid() and os.getsid(pid) == pid
            end = time.monotonic() + EVENTUALLY
            while not (cmdline := Path(f"/proc/{pid}/cmdline").read_bytes()):
                assert time.monotonic() < end, "the spawned undertaker has no command line"
                time.sleep(0.01)
            assert b"host.supervise.undertaker" in cmdline
        victim_info = proctree.proc_info(victim.pid)
        assert victim_info is not None
        undertaker.watch(victim.pid, victim_info.start_time)
        undertaker.close()  # end of file, as when the host dies
        assert victim.wait(EVENTUALLY) == -signal.SIGKILL
        if launcher is not None:
            assert not _gone(pid)  # the zygote serves on
        else:
            assert _gone(pid)
    finally:
        victim.kill()
        victim.wait()
        undertaker.close()
        if launcher is not None:
            launcher.close()


UNDERTAKING_HOST = """
import json, subprocess, sys
from host.supervise import proctree
from host.supervise.spawner import Undertaker, ZygoteLauncher
launcher = ZygoteLauncher()
undertaker = Undertaker()
assert undertaker.start(launcher) and undertaker.pid is None
victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
undertaker.watch(victim.pid, proctree.proc_info(victim.pid).start_time)
print(json.dumps({"zygote": launcher.pid, "victim": victim.pid}), flush=True)
sys.stdin.read()
"""


def test_a_zygote_serving_as_undertaker_outlives_a_killed_host_to_kill_its_workers() -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", UNDERTAKING_HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert host.stdout is not None
        report = json.loads(host.stdout.readline())
        zygote, victim = report["zygote"], report["victim"]
        assert not _gone(victim)
        host.kill()  # SIGKILL: no parent-death signal may take the zygote before its job
        host.wait()
        _wait_gone(victim)
        _wait_gone(zygote)
    finally:
        host.kill()
        host.wait()


def test_the_zygote_reads_the_undertakers_lines_as_they_come() -> None:
    """Lines split across writes are joined; an overlong one is dropped whole; the end of
    file is told apart from nothing to read yet."""
    read_end, write_end = os.pipe()
    duty = Duty(read_end)
    try:
        assert duty.read()  # nothing yet: not the end
        os.write(write_end, b"w 100 5\nk 101 6 1")
        assert duty.read()
        assert duty.ledger.workers == {100: 5} and duty.ledger.known == {}
        os.write(write_end, b"00\nc 100 /sys/fs/cgroup/w-" + b"x" * Duty.MAX_LINE)
        assert duty.read()
        os.write(write_end, b"x\nw 200 7\nf 999\n")
        assert duty.read()
        assert duty.ledger.known == {100: {(101, 6)}}
        assert duty.ledger.cgroups == {}  # the overlong line, never half of it
        assert duty.ledger.workers == {100: 5, 200: 7}
        os.close(write_end)
        write_end = -1
        assert not duty.read()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
