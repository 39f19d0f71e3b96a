"""host.supervise.proctree against real process trees: no mocks, every process killed in
``finally``.

Each tree's top is started like a worker, with ``start_new_session=True``. The commands
all run ``sleep 1000`` so a leak is easy to spot with ``pgrep -f "sleep 1000"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from host.supervise import proctree
from host.supervise.proctree import ProcInfo

T = TypeVar("T")

#: Generous: only a broken test waits this long, a passing one returns on the first hit.
WAIT = 10.0


def wait_for(what: str, probe: Callable[[], T | None]) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + WAIT
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def scan_until(what: str, ready: Callable[[dict[int, ProcInfo]], bool]) -> dict[int, ProcInfo]:
    """Scan until ``ready(table)`` holds; return that table."""
    return wait_for(what, lambda: table if ready(table := proctree.scan()) else None)


def alive(pid: int, start_time: int) -> bool:
    """Whether the process ``(pid, start_time)`` exists and is not a zombie."""
    info = proctree.scan().get(pid)
    return info is not None and info.start_time == start_time and info.state not in "ZX"


def sleepers(table: dict[int, ProcInfo], pids: set[int]) -> set[int]:
    return {pid for pid in pids if table[pid].name == "sleep"}


class Trees:
    """Starts worker-like process trees and kills everything they made, whatever happens."""

    def __init__(self) -> None:
        self.popens: list[subprocess.Popen[bytes]] = []
        self.pairs: set[tuple[int, int]] = set()

    def start(self, *argv: str) -> subprocess.Popen[bytes]:
        popen = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)
        self.popens.append(popen)
        return popen

    def sh(self, script: str) -> subprocess.Popen[bytes]:
        return self.start("sh", "-c", script)

    def remember(self, table: dict[int, ProcInfo], pids: set[int]) -> None:
        self.pairs.update((pid, table[pid].start_time) for pid in pids)

    def cleanup(self) -> None:
        # Freeze the trees first so no process is orphaned (and unlinked) while we collect;
        # then kill by plain os.kill rather than by kill_tree, which is under test.
        roots = {popen.pid for popen in self.popens if popen.poll() is None}
        for root in roots:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(root, signal.SIGSTOP)
        table = proctree.scan()
        doomed = set(roots)
        for popen in self.popens:
            doomed |= proctree.descendants(popen.pid, table, known=self.pairs)
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for popen in self.popens:
            popen.kill()
            popen.wait()


@pytest.fixture
def trees() -> Iterator[Trees]:
    started = Trees()
    try:
        yield started
    finally:
        started.cleanup()


def test_scan_reads_this_process() -> None:
    """Verify that scan() reports our own ids exactly as the os module does."""
    me = proctree.scan()[os.getpid()]
    assert (me.ppid, me.pgrp, me.session) == (os.getppid(), os.getpgrp(), os.getsid(0))
    assert me.rss_bytes > 1024 * 1024
    assert me.state not in "ZXx"
    assert me.start_time > 0


def test_proc_info_reads_one_process_or_none() -> None:
    me = proctree.proc_info(os.getpid())
    assert me is not None
    assert me.start_time == proctree.scan()[os.getpid()].start_time
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    assert proctree.proc_info(pid_max + 1) is None


def test_scan_parses_comm_containing_parenthesis_and_fields(tmp_path: Path, trees: Trees) -> None:
    """Verify that a name like ``x) Z 1 1 1 1`` cannot shift the fields after it."""
    sleep = shutil.which("sleep")
    assert sleep is not None
    tricky = tmp_path / "x) Z 1 1 1 1"
    tricky.symlink_to(sleep)
    popen = trees.start(str(tricky), "1000")

    def exec_done() -> proctree.ProcInfo | None:
        # Right after fork the child still has our name: wait for the exec.
        info = proctree.scan().get(popen.pid)
        return info if info is not None and info.name == "x) Z 1 1 1 1" else None

    info = wait_for("the exec", exec_done)
    # comm is the file name of what was executed: the kernel shows it unescaped.
    assert Path(f"/proc/{popen.pid}/comm").read_text() == "x) Z 1 1 1 1\n"
    assert (info.ppid, info.pgrp, info.session) == (os.getpid(), popen.pid, popen.pid)
    assert info.state not in "ZXx"  # alive; R, S or briefly D while it pages in


def test_descendants_and_usage_include_the_grandchild(trees: Trees) -> None:
    """Verify that a worker's child's child is found and measured."""
    popen = trees.sh("sleep 1000 & exec sleep 1000")
    table = scan_until("the grandchild", lambda t: len(proctree.descendants(popen.pid, t)) == 1)
    (grandchild,) = proctree.descendants(popen.pid, table)
    assert table[grandchild].ppid == popen.pid
    assert popen.pid not in proctree.descendants(popen.pid, table)
    used = proctree.usage(popen.pid, table)
    assert used.processes == 2
    assert used.rss_bytes == table[popen.pid].rss_bytes + table[grandchild].rss_bytes > 0
    assert proctree.snapshot(popen.pid, table) == {(grandchild, table[grandchild].start_time)}


def test_usage_of_counts_the_named_live_processes_once() -> None:
    """Verify that a cgroup's measure counts each named process once, skips zombies and
    pids the table lacks, and sums what the table says."""

    def info(pid: int, state: str, rss: int) -> ProcInfo:
        return ProcInfo(pid, 1, pid, pid, rss, 100 + pid, state, "p", 0)

    table = {10: info(10, "S", 4096), 11: info(11, "R", 8192), 12: info(12, "Z", 0)}
    used = proctree.usage_of([10, 10, 11, 12, 13], table)
    assert (used.rss_bytes, used.processes) == (12288, 2)
    assert proctree.usage_of([], table) == proctree.Usage(rss_bytes=0, processes=0)


def test_descendants_find_setsid_grandchild_while_its_parent_lives(trees: Trees) -> None:
    """Verify that leaving the worker's session does not hide a process from its parent."""
    popen = trees.sh("setsid sleep 1000 & exec sleep 1000")

    table = scan_until(
        "the setsid grandchild",
        lambda t: any(t[pid].session == pid for pid in proctree.descendants(popen.pid, t)),
    )
    (grandchild,) = proctree.descendants(popen.pid, table)
    trees.remember(table, {grandchild})
    assert table[grandchild].session == grandchild != popen.pid
    assert table[grandchild].ppid == popen.pid


def test_kill_tree_kills_setsid_orphan_through_known(trees: Trees) -> None:
    """Verify the snapshot-then-kill path: the parent dies first, the orphan is still caught."""
    popen = trees.sh("setsid sleep 1000 & exec sleep 1000")

    def escaped() -> frozenset[tuple[int, int]] | None:
        table = proctree.scan()
        snap = proctree.snapshot(popen.pid, table)
        return snap if any(table[pid].session == pid for pid, _ in snap) else None

    known = wait_for("the setsid grandchild", escaped)
    trees.pairs |= known
    ((grandchild, started),) = known

    # The worker dies on its own (here: killed) and is reaped; the orphan is re-parented.
    popen.kill()
    popen.wait()
    table = scan_until("the orphan's re-parenting", lambda t: t[grandchild].ppid != popen.pid)
    assert grandchild not in proctree.descendants(popen.pid, table)
    assert proctree.descendants(popen.pid, table, known=known) == {grandchild}
    assert proctree.snapshot(popen.pid, table, known=known) == known

    assert proctree.kill_tree(popen.pid, known=known) == 1
    wait_for("the orphan's death", lambda: not alive(grandchild, started))
    # A zombie keeps its pair until its new parent reaps it, so adopted_zombies can find it.
    table = proctree.scan()
    assert all(
        table[pid].state == "Z" for pid, _ in proctree.snapshot(popen.pid, table, known=known)
    )


def test_kill_tree_leaves_nothing_of_a_live_tree(trees: Trees) -> None:
    """Verify that worker, child and setsid grandchild all die, and only our zombie is left."""
    popen = trees.sh("sleep 1000 & setsid sleep 1000 & exec sleep 1000")
    table = scan_until(
        "both children", lambda t: len(sleepers(t, proctree.descendants(popen.pid, t))) == 2
    )
    trees.remember(table, proctree.descendants(popen.pid, table))
    tree = proctree.snapshot(popen.pid, table) | {(popen.pid, table[popen.pid].start_time)}

    assert proctree.kill_tree(popen.pid) == 3
    assert popen.wait(timeout=WAIT) == -signal.SIGKILL
    wait_for("the whole tree to die", lambda: not any(alive(*pair) for pair in tree))
    table = proctree.scan()
    assert all(table[pid].state == "Z" for pid in proctree.descendants(popen.pid, table))
    with pytest.raises(ProcessLookupError):
        os.kill(popen.pid, 0)


def test_kill_tree_kills_a_fork_loop(trees: Trees) -> None:
    """Verify that a worker still forking while it is killed leaves no process alive."""
    popen = trees.sh("for i in $(seq 200); do sleep 1000 & done; exec sleep 1000")
    wait_for(
        "the loop to be forking",
        lambda: len(proctree.descendants(popen.pid, proctree.scan())) >= 20,
    )
    assert proctree.kill_tree(popen.pid) >= 21
    popen.wait(timeout=WAIT)

    def leftovers() -> set[int]:
        table = proctree.scan()
        return {
            pid
            for pid, info in table.items()
            if popen.pid in (info.session, info.pgrp) and info.state not in "ZX"
        }

    wait_for("every process of the loop to die", lambda: not leftovers() or None)


def test_kill_tree_does_not_follow_a_reused_root_pid(trees: Trees) -> None:
    """Verify that a root pid naming another process (wrong start time) is left alone."""
    popen = trees.sh("exec sleep 1000")
    info = wait_for("the process", lambda: proctree.proc_info(popen.pid))
    assert proctree.kill_tree(popen.pid, start_time=info.start_time + 1) == 0
    assert alive(popen.pid, info.start_time)
    assert proctree.kill_tree(popen.pid, start_time=info.start_time) == 1
    assert popen.wait(timeout=WAIT) == -signal.SIGKILL


def test_kill_tree_refuses_init_and_bad_rounds() -> None:
    with pytest.raises(ValueError, match="root pid 1"):
        proctree.kill_tree(1)
    with pytest.raises(ValueError, match="rounds"):
        proctree.kill_tree(os.getpid(), rounds=0)


def test_reap_zombie_children_reaps_only_the_given_exited_children(trees: Trees) -> None:
    """Verify that waiting is per pid: a running child and a stranger are left alone."""
    done = trees.sh("exit 3")
    running = trees.sh("exec sleep 1000")
    wait_for("the zombie", lambda: proctree.scan()[done.pid].state == "Z")
    assert proctree.reap_zombie_children([done.pid, running.pid, os.getppid()]) == [done.pid]
    assert running.poll() is None
    # Popen has lost the status to us; this is why only plugin zombies may be reaped.
    assert done.wait(timeout=WAIT) == 0


#: Run in a child interpreter: the subreaper setting would outlive the test in pytest's own
#: process and leave it holding other tests' orphans.
SUBREAPER_SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, time
    from host.supervise import proctree

    me = os.getpid()
    result = {"set": proctree.set_child_subreaper(), "is": proctree.is_child_subreaper()}
    # A worker-like child whose setsid'd grandchild outlives it.
    subprocess.run(["sh", "-c", "setsid sleep 1000 & exit 0"], start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        table = proctree.scan()
        adopted = [p for p, i in table.items() if i.ppid == me and i.name == "sleep"]
        if adopted:
            break
        time.sleep(0.01)
    try:
        result["adopted"] = len(adopted)
        # Root is ourselves: everything below us dies, but never us or our group.
        result["signalled"] = proctree.kill_tree(me)
        reaped = []
        while time.monotonic() < deadline and set(reaped) != set(adopted):
            table = proctree.scan()
            reaped += proctree.reap_zombie_children(proctree.adopted_zombies(me, table))
            time.sleep(0.01)
        result["reaped"] = sorted(reaped) == sorted(adopted)
        result["left"] = len(proctree.descendants(me, proctree.scan()))
    finally:
        for pid in adopted:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    print(json.dumps(result))
    """
)


def test_subreaper_adopts_orphans_and_kill_tree_spares_its_caller() -> None:
    """Verify that with PR_SET_CHILD_SUBREAPER an escaped orphan stays ours, to kill and reap."""
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen(
        [sys.executable, "-c", SUBREAPER_SCRIPT],
        cwd=root,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, _ = child.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.kill()
        child.wait()
    assert child.returncode == 0
    assert json.loads(out) == {
        "set": True,
        "is": True,
        "adopted": 1,
        "signalled": 1,
        "reaped": True,
        "left": 0,
    }


def test_the_hosts_own_helpers_survive_the_stray_sweep(tmp_path: Path) -> None:
    """Verify a store job (a child of the host in a session of its own) is not killed as a
    plugin's orphan: it once was, mid-uninstall, and its killed process read as exit 0
    (reaped by the sweep), so the job said "done" having done nothing."""
    from host.control.children import spawn
    from tests.livehost import LiveHost, run_live

    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    seen: dict[str, bool] = {}

    def scenario(live: LiveHost) -> None:
        helper, folder = spawn(live.host, sleeper, "", tmp_path)
        # A real orphan's look-alike: a child of the host process in another session.
        stray = subprocess.Popen(sleeper, start_new_session=True)
        try:
            live.wait_for(lambda: _gone(stray.pid), "the sweep to kill the stray")
            seen["helper alive"] = helper.poll() is None
        finally:
            helper.kill()
            helper.wait()
            with contextlib.suppress(ChildProcessError):
                stray.wait(0)

    # Workers without a cgroup: the supervisor then scans /proc (and sweeps) every pass.
    tables = {
        "plugins": {"a": {"plugin": "solid"}},
        "rotation": {"modes": ["a"]},
        "workers": {"cgroups": "off"},
    }
    run_live(tmp_path, tables, scenario)
    assert seen == {"helper alive": True}


def _gone(pid: int) -> bool:
    """``pid`` ended (reaped, or a zombie waiting to be)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
