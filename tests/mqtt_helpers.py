"""A real Mosquitto on 127.0.0.1, a real host running the bridge, and a client that watches.

Shared by ``tests/test_mqtt.py``: the broker is Debian's ``mosquitto`` started with a
config file of the test's (listener on 127.0.0.1 and a free port, never another address;
no persistence), the host is ``python -m host run`` on the headless backend with
``[mqtt] enabled``, so the host supervises the bridge exactly as on a Pi.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning
from tests.conftest import eventually, free_port

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
)


class Broker:
    """One Mosquitto process; :meth:`stop` and :meth:`start` again keep its port."""

    def __init__(self, folder: Path, extra: str = "") -> None:
        self.folder = folder
        self.extra = extra
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.started = False

    def _write_conf(self) -> None:
        self.port = free_port()
        user = "root" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\nlog_dest stderr\n"
            + (f"user {user}\n" if user else "")
            + (self.extra or "allow_anonymous true\n")
        )

    def start(self) -> None:
        """Start it; the first time on a free port (a new one if another process took the
        port between the look and the bind), afterwards on the same port."""
        if self.started:
            self._start()
            return
        for attempt in range(3):
            self._write_conf()
            try:
                self._start()
                break
            except AssertionError:
                if attempt == 2:
                    raise
        self.started = True

    def _start(self) -> None:
        assert MOSQUITTO is not None
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=out, stderr=subprocess.STDOUT
            )
        eventually(self._answers, f"mosquitto on port {self.port}", timeout=20)

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None


class Watcher:
    """A client that keeps the last payload of every topic (what Home Assistant sees)."""

    def __init__(self, port: int, tls: Any = None) -> None:
        self.last: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="watcher"
        )
        self.client.on_message = self._message
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("#")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.last[message.topic] = bytes(message.payload)

    def get(self, topic: str) -> bytes | None:
        with self.lock:
            return self.last.get(topic)

    def topics(self) -> dict[str, bytes]:
        with self.lock:
            return dict(self.last)

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Sign:
    """``ledhost run`` on a config of the test's, with the bridge enabled."""

    def __init__(
        self,
        folder: Path,
        mqtt: dict[str, Any],
        password: str | None = None,
        enabled: bool = True,
    ) -> None:
        self.folder = folder
        self.sock = folder / "control.sock"
        self.config = folder / "ledhost.toml"
        lines = [
            f'[paths]\ndata_dir = "{folder / "data"}"',
            f'[control]\nsocket = "{self.sock}"',
            '[workers]\nuser = ""',
            '[rotation]\nmodes = ["clock:time", "text:message"]\ndefault_duration = 3600',
            f"[mqtt]\nenabled = {json.dumps(enabled)}\n"
            + "".join(f"{k} = {json.dumps(v)}\n" for k, v in mqtt.items()),
            "[plugins.clock]",
            '[plugins.text]\nmessage = "hello"',
        ]
        self.config.write_text("\n".join(lines) + "\n")
        self.config.chmod(0o600)
        if password is not None:
            self.set_password(password)
        self.log = folder / "host.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "host", "run", "--config", str(self.config),
                 "--duration", "900", "--backend", "headless"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        eventually(lambda: self.status() is not None, "the host answering", timeout=60)

    def set_password(self, password: str) -> None:
        secrets = self.folder / "secrets.toml"
        secrets.write_text(f'[mqtt]\npassword = "{password}"\n')
        secrets.chmod(0o600)

    def status(self) -> dict[str, Any] | None:
        try:
            with ControlClient(str(self.sock), timeout=5) as client:
                data: dict[str, Any] = client.request(control.Status())
                return data
        except (HostNotRunning, TimeoutError, OSError):
            if self.proc.poll() is not None:
                raise AssertionError(f"the host exited: {self.log.read_text()[-3000:]}") from None
            return None

    def mqtt(self) -> dict[str, Any]:
        status = self.status() or {}
        return status.get("mqtt") or {}

    def display(self) -> dict[str, Any]:
        return (self.status() or {}).get("display") or {}

    def bridge_pids(self) -> list[int]:
        """Pids of the host's bridge children."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid and b"mqtt-bridge" in cmd:
                pids.append(int(entry))
        return pids

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def wait_value(watcher: Watcher, topic: str, value: bytes, what: str, timeout: float = 30) -> None:
    eventually(lambda: watcher.get(topic) == value, f"{what}: {topic} = {value!r}", timeout)
