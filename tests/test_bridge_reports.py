"""Whose MQTT state the host's status shows: a stopped bridge's last word does not count.

The host stops a bridge when ``[mqtt]`` is disabled or changed, then clears the status's
``mqtt``. A report the bridge had sent just before it was killed is still queued on its
control connection and is read afterwards; the control server knows the sender's pid
(``SO_PEERCRED``), and the host drops reports from the bridges it stopped. A bridge the
host did not start (run by hand) is heard as before (``test_mqtt_user.py`` runs one).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from types import SimpleNamespace

from host.app import Host
from host.control.server import _peer_pid
from host.sidecars import Sidecars
from host.supervise.web_child import BridgeChild


def test_the_server_knows_the_pid_at_the_other_end() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert _peer_pid(a) == os.getpid()


def test_stopping_a_bridge_remembers_its_pid_and_clears_the_state() -> None:
    told: list[str | None] = []
    sidecars = Sidecars(told.append)
    bridge = BridgeChild(None, "/nonexistent.sock", "", told.append)
    bridge.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    pid = bridge.proc.pid
    sidecars.retiring.append((bridge, 5.0))
    sidecars.tick(4.0)
    assert bridge.proc is not None and list(sidecars.stopped_bridges) == []  # its grace
    sidecars.tick(5.0)
    assert bridge.proc is None and list(sidecars.stopped_bridges) == [pid]
    assert told == [None]  # [mqtt] is off: the status shows no broker


def test_a_stopped_bridges_report_is_dropped_and_any_other_is_shown() -> None:
    host = SimpleNamespace(sidecars=Sidecars(lambda why: None), mqtt_state=None)
    host.sidecars.stopped_bridges.append(4242)
    Host.bridge_reported(host, True, None, 4242)  # type: ignore[arg-type]
    assert host.mqtt_state is None
    Host.bridge_reported(host, False, "refused: bad password", 4243)  # type: ignore[arg-type]
    assert host.mqtt_state is not None
    assert host.mqtt_state["connected"] is False
    assert host.mqtt_state["error"] == "refused: bad password"
