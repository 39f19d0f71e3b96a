"""Restart through the control socket: the host stops cleanly and runs again in the same
process (a service manager sees one service), with the same command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning
from tests.conftest import eventually


def _answers(sock: Path) -> int | None:
    """The instances' pids the host reports, or None while it does not answer."""
    try:
        with ControlClient(str(sock), timeout=2) as client:
            plugins = client.request(control.Status())["plugins"]
    except (HostNotRunning, TimeoutError, OSError):
        return None
    pid = plugins.get("clock", {}).get("pid")
    return int(pid) if pid else None


def test_restart_runs_the_host_again_in_the_same_process(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"
    config = tmp_path / "ledhost.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[control]\nsocket = "{sock}"\n'
        '[workers]\nuser = ""\n[plugins.clock]\n'
    )
    config.chmod(0o600)
    log = tmp_path / "log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "host", "run", "--config", str(config), "--duration", "120",
             "--backend", "headless"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        eventually(lambda: _answers(sock) is not None, "the host and its clock", timeout=60)
        first_worker = _answers(sock)
        with ControlClient(str(sock)) as client:
            assert client.request(control.Restart()) == {"restarting": True}
        # The same process runs a new host: a new worker, the socket answering again.
        eventually(
            lambda: (w := _answers(sock)) is not None and w != first_worker,
            "the host running again with a new worker",
            timeout=60,
        )
        assert proc.poll() is None, log.read_text()[-2000:]
        assert "restarting as asked" in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
