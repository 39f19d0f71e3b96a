"""systemd notification: a real datagram socket as ``$NOTIFY_SOCKET`` and a real host.

The host says READY only once its first frame reached the panel, pings the watchdog from
its loop's own turns (so a loop stuck in a backend push stops pinging), and says STOPPING
at the end (``host.system.sdnotify``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from config import load_config
from host.app import Host, RunOptions
from host.supervise.spawner import _child_environ
from host.system.sdnotify import ServiceNotifier, notify, socket_address
from tests.conftest import eventually, stop_host, worker_user


class Listener:
    """A bound ``AF_UNIX`` datagram socket, as systemd's notify socket, and what came in."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages: list[list[str]] = []
        self._lock = threading.Lock()

    def drain(self) -> list[list[str]]:
        """Read every datagram waiting; return all received so far."""
        while True:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                break
            with self._lock:
                self.messages.append(data.decode().split("\n"))
        with self._lock:
            return list(self.messages)

    def lines(self) -> list[str]:
        return [line for message in self.drain() for line in message]

    def count(self, line: str) -> int:
        return self.lines().count(line)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    found = Listener(str(tmp_path / "notify"))
    try:
        yield found
    finally:
        found.sock.close()


class GateBackend:
    """A panel whose push can be held: the real way to stall the host's loop, which pushes
    from its own thread (SIGSTOP would stop every thread, a pinging thread included, and so
    could not tell the two designs apart)."""

    name = "gate"

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.blocked = threading.Event()
        self.pushes = 0

    def push(self, frame: np.ndarray, at: float) -> None:
        if not self.open.is_set():
            self.blocked.set()
            self.open.wait()
            self.blocked.clear()
        self.pushes += 1

    def close(self) -> None:
        self.open.set()


def test_socket_address_takes_paths_and_abstract_names() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@ledhost/notify") == b"\0ledhost/notify"
    for bad in ("relative/path", "@", ""):
        with pytest.raises(ValueError, match="neither an absolute path"):
            socket_address(bad)


def test_notify_reaches_an_abstract_socket() -> None:
    """Verify that an ``@`` name is sent to the abstract namespace, as systemd uses it."""
    name = f"@ledhost-test-{os.getpid()}"
    listener = Listener(socket_address(name))
    try:
        assert notify(socket_address(name), "READY=1\nSTATUS=hi")
        eventually(lambda: listener.drain() == [["READY=1", "STATUS=hi"]], "the datagram")
    finally:
        listener.sock.close()


def test_notify_to_a_missing_socket_is_logged_not_raised(tmp_path: Path) -> None:
    assert notify(str(tmp_path / "nobody"), "READY=1") is False


def test_from_environ_without_systemd_is_none() -> None:
    assert ServiceNotifier.from_environ({}) is None
    assert ServiceNotifier.from_environ({"NOTIFY_SOCKET": "not-a-path"}) is None


def test_from_environ_ignores_a_watchdog_meant_for_another_process() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
    notifier = ServiceNotifier.from_environ(env)
    assert notifier is not None and notifier.watchdog is None
    env["WATCHDOG_PID"] = str(os.getpid())
    notifier = ServiceNotifier.from_environ(env)
    assert notifier is not None and notifier.watchdog == 30.0 and notifier.ping_every == 10.0


def test_turn_pings_at_most_every_third_of_the_period(listener: Listener, tmp_path: Path) -> None:
    """Verify the pacing with ``now`` passed in: turns closer than the period's third send
    nothing new; READY waits for a frame; STATUS is sent only when it changes."""
    notifier = ServiceNotifier(str(tmp_path / "notify"), watchdog=9.0)
    notifier.turn(100.0, 0, None, settled=False)
    notifier.turn(101.0, 0, "clock:time", settled=False)
    notifier.turn(103.0, 1, "clock:time", settled=False)
    notifier.turn(104.0, 2, "clock:time", settled=False)
    notifier.turn(106.5, 3, "text:message", settled=False)
    eventually(lambda: len(listener.drain()) == 3, "three messages")
    assert listener.drain() == [
        ["WATCHDOG=1"],
        ["READY=1", "STATUS=showing clock:time", "WATCHDOG=1"],
        ["STATUS=showing text:message", "WATCHDOG=1"],
    ]


def test_a_restart_in_place_says_reloading_not_stopping(listener: Listener, tmp_path: Path) -> None:
    """Verify that a host that execs itself again (same pid) does not tell systemd it is
    stopping, which would have systemd kill it after TimeoutStopSec."""
    notifier = ServiceNotifier(str(tmp_path / "notify"), watchdog=None)
    notifier.stopping(restarting=True)
    notifier.stopping()
    eventually(lambda: len(listener.drain()) == 2, "two messages")
    assert listener.drain() == [
        ["RELOADING=1", "STATUS=restarting"],
        ["STOPPING=1", "STATUS=stopping"],
    ]


def _run_beside(
    host: Host, scenario: Callable[[], object], gate: GateBackend | None = None
) -> None:
    """Run ``host`` here and ``scenario`` in a thread, then stop the host; a failure of the
    scenario is raised here (a thread's would only be printed). ``gate`` is opened first,
    so a host the scenario left stuck in a push can get out and stop."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            scenario()
        except BaseException as exc:
            failures.append(exc)
        finally:
            if gate is not None:
                gate.open.set()
            stop_host(host)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert host.run() == 0
    finally:
        thread.join()
    if failures:
        raise failures[0]


def test_host_is_ready_after_its_first_frame_pings_while_turning_and_says_stopping(
    listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify, with a real host and a real clock worker: READY only after a push, WATCHDOG
    pings while the loop turns, none while the loop is stuck in a push, pings again once it
    turns, and STOPPING at the end."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    # 3 s: a ping every second at most, so the test needs few seconds.
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    cfg = load_config(None, env={}, overrides={"workers": {"user": worker_user()}})
    backend = GateBackend()
    host = Host(
        cfg, RunOptions(duration=120.0, environment_plugins=False, only=("clock",)), backend
    )

    def scenario() -> None:
        eventually(lambda: listener.count("READY=1") == 1, "READY=1")
        assert backend.pushes >= 1, "READY came before the first frame"
        assert "STATUS=showing clock:time" in listener.lines()
        eventually(lambda: listener.count("WATCHDOG=1") >= 2, "two watchdog pings")
        # Stall the loop in its next push (the clock pushes every second).
        backend.open.clear()
        eventually(backend.blocked.is_set, "the loop stuck in a push")
        before = listener.count("WATCHDOG=1")
        # Three ping periods: a pinging thread would have sent three by now.
        time.sleep(3.0)
        assert listener.count("WATCHDOG=1") == before, "pinged while the loop was stuck"
        backend.open.set()
        eventually(lambda: listener.count("WATCHDOG=1") > before, "pings after the stall")

    _run_beside(host, scenario, backend)
    eventually(lambda: "STOPPING=1" in listener.lines(), "STOPPING=1")
    assert listener.count("READY=1") == 1
    # The host keeps systemd's variables (an exec'd restart notifies too); workers do not
    # get them.
    assert os.environ["NOTIFY_SOCKET"] == str(tmp_path / "notify")
    assert "NOTIFY_SOCKET" not in _child_environ()
    assert "WATCHDOG_USEC" not in _child_environ()


def test_host_without_a_frame_to_show_is_ready_after_the_grace(
    listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify that a host with nothing to show (the schedule keeps the panel off) still
    reports READY once start-up is over, with a status that says the panel is dark."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    # A window one minute long, twelve hours away: the panel is off now.
    hour = (time.localtime().tm_hour + 12) % 24
    window = {"from": f"{hour:02d}:00", "to": f"{hour:02d}:01"}
    overrides = {"workers": {"user": worker_user()}, "schedule": {"on": [window]}}
    cfg = load_config(None, env={}, overrides=overrides)
    host = Host(
        cfg, RunOptions(duration=120.0, environment_plugins=False, only=("clock",)), GateBackend()
    )

    _run_beside(host, lambda: eventually(lambda: listener.count("READY=1") == 1, "READY=1"))
    assert listener.count("READY=1") == 1
    assert "STATUS=panel dark: nothing to show" in listener.lines()
