"""The operation queue: one at a time across real processes, a history written before and
after each operation, and a crash (SIGKILL of a real process mid-operation) found after."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from store.queue import HISTORY_FILE, LOCK_FILE, OperationQueue
from store.reconciler import Action, Operation
from tests.conftest import REPO, eventually

OP = Operation(Action.INSTALL, "clock2", "registry", "==1.*", "not installed")

#: A process that runs one operation through the queue; the operation writes ``began``,
#: then waits for ``go`` to exist (or forever), then returns.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from store.queue import OperationQueue
    from store.reconciler import Action, Operation

    state, began, go, plugin = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]

    def action():
        began.write_text("x")
        while not go.exists():
            time.sleep(0.01)
        return "1.0"

    OperationQueue(state).run(Operation(Action.INSTALL, plugin, "registry"), action)
    """
)


def start_child(tmp_path: Path, name: str, plugin: str) -> subprocess.Popen[bytes]:
    args = [str(tmp_path / "state"), str(tmp_path / f"{name}.began"), str(tmp_path / "go"), plugin]
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=REPO)


def test_run_writes_a_start_line_before_and_an_end_line_after(tmp_path: Path) -> None:
    queue = OperationQueue(tmp_path / "state", clock=lambda: 1000.0)
    seen: list[list[str]] = []

    def action() -> str:
        seen.append((tmp_path / "state" / HISTORY_FILE).read_text().splitlines())
        return "1.2.0"

    assert queue.run(OP, action) == "1.2.0"
    assert len(seen[0]) == 1 and json.loads(seen[0][0])["event"] == "start"
    [entry] = queue.history()
    assert (entry.op, entry.result, entry.started, entry.ended) == (OP, "ok", 1000.0, 1000.0)
    assert queue.pending() == []
    assert (tmp_path / "state" / HISTORY_FILE).stat().st_mode & 0o077 == 0


def test_run_records_a_failure_and_raises_it(tmp_path: Path) -> None:
    queue = OperationQueue(tmp_path / "state")

    def action() -> None:
        raise RuntimeError("registry said\nHTTP 500")

    with pytest.raises(RuntimeError, match="HTTP 500"):
        queue.run(OP, action)
    [entry] = queue.history()
    assert (entry.result, entry.error) == ("failed", "registry said HTTP 500")


def test_sigkill_mid_operation_leaves_it_pending_and_the_lock_free(tmp_path: Path) -> None:
    """Verify that an operation whose process is SIGKILLed mid-way is found by the next
    process (a start line without its end), which can take the lock at once."""
    child = start_child(tmp_path, "a", "clock2")
    try:
        eventually((tmp_path / "a.began").exists, "the child's operation to start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    queue = OperationQueue(tmp_path / "state")
    with queue.locked():
        [entry] = queue.pending()
        assert (entry.op.action, entry.op.plugin_id) == (Action.INSTALL, "clock2")
        queue.close_pending(entry)
    assert queue.pending() == []
    assert queue.history()[0].result == "interrupted"


def _blocked_on_lock(lock: Path) -> bool:
    """Whether some process waits for a flock on ``lock`` (``/proc/locks`` marks waiters
    with ``->``)."""
    inode = os.stat(lock).st_ino
    text = Path("/proc/locks").read_text()
    return any(
        "->" in line and line.split()[-3].endswith(f":{inode}") for line in text.splitlines()
    )


def test_two_processes_never_run_operations_at_once(tmp_path: Path) -> None:
    first = start_child(tmp_path, "a", "first")
    second: subprocess.Popen[bytes] | None = None
    try:
        eventually((tmp_path / "a.began").exists, "the first operation to start")
        second = start_child(tmp_path, "b", "second")
        lock = tmp_path / "state" / LOCK_FILE
        eventually(lambda: _blocked_on_lock(lock), "the second process to wait for the lock")
        assert not (tmp_path / "b.began").exists()
        (tmp_path / "go").write_text("x")
        assert first.wait(timeout=60) == 0
        assert second.wait(timeout=60) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = [json.loads(x) for x in (tmp_path / "state" / HISTORY_FILE).read_text().splitlines()]
    order = [(line["event"], line.get("op", {}).get("plugin_id")) for line in lines]
    assert [event for event, _ in order] == ["start", "end", "start", "end"]
    assert order[0][1] == "first" and order[2][1] == "second"


def test_rotation_keeps_the_history_bounded_and_carries_a_pending_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    queue = OperationQueue(state, max_bytes=2000)
    child = start_child(tmp_path, "a", "killed")
    try:
        eventually((tmp_path / "a.began").exists, "the child's operation to start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    for _ in range(60):
        queue.run(OP, lambda: None)
    assert (state / (HISTORY_FILE + ".1")).exists()
    assert (state / HISTORY_FILE).stat().st_size <= 2000 + 400
    assert [e.op.plugin_id for e in queue.pending()] == ["killed"]
    assert len(queue.history()) < 60


def test_a_damaged_history_line_is_ignored(tmp_path: Path) -> None:
    queue = OperationQueue(tmp_path / "state")
    queue.run(OP, lambda: None)
    with (tmp_path / "state" / HISTORY_FILE).open("a") as f:
        f.write('{"id": "x", "event": "sta')  # a write cut short by a power cut
    queue.run(OP, lambda: None)
    assert [e.result for e in queue.history()] == ["ok", "ok"]


def test_the_lock_is_reentrant_within_one_queue(tmp_path: Path) -> None:
    queue = OperationQueue(tmp_path / "state")
    with queue.locked(), queue.locked():
        queue.run(OP, lambda: None)
    assert queue.history()[0].result == "ok"
