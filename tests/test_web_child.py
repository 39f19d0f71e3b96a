"""``ledhost run``'s supervision of the web process: restart with backoff, kill on close."""

from __future__ import annotations

import sys

from host.supervise.web_child import FIRST_BACKOFF, WebChild
from tests.conftest import eventually


def test_an_exited_web_process_is_restarted_with_backoff() -> None:
    child = WebChild(None, "/nonexistent.sock")
    child.argv = [sys.executable, "-c", "pass"]  # a real process that exits at once
    child.tick(0.0)
    first = child.proc
    assert first is not None
    eventually(lambda: first.poll() is not None, "the process exiting")
    child.tick(10.0)  # notices the exit: restart due after the backoff
    assert child.proc is None and child.restart_at == 10.0 + FIRST_BACKOFF
    child.tick(10.0 + FIRST_BACKOFF / 2)
    assert child.proc is None
    child.tick(10.0 + FIRST_BACKOFF)
    assert child.proc is not None and child.backoff == 2 * FIRST_BACKOFF
    child.close()
    assert child.proc is None


def test_close_kills_a_running_web_process() -> None:
    child = WebChild(None, "/nonexistent.sock")
    child.argv = [sys.executable, "-c", "import time; time.sleep(600)"]
    child.tick(0.0)
    proc = child.proc
    assert proc is not None and proc.poll() is None
    child.close()
    assert proc.returncode is not None
