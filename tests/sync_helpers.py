"""Synchronised signs for tests and ``benchmarks/sync.py``: real hosts in sync roles.

Each :class:`SyncSign` is ``ledhost run`` (headless, the cheap ``rotor`` test plugin) with
``[mqtt]`` and ``[sync]`` on a broker of ``tests/mqtt_helpers.py``, so each host
supervises its own bridge exactly as on a Pi. What is compared is each host's own record
of when it switched (``display.sync.switches``, its wall clock), corrected by the offset
the follower measured to the leader.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning
from tests.conftest import TEST_PLUGINS, eventually, worker_user

__all__ = ["ROTATION", "SyncSign", "in_leader_clock", "matched", "numbered", "start_signs"]

#: The signs' rotation (each mode 2 s; ``rotor:alert`` is for notifications).
ROTATION = ("rotor:a", "rotor:b")


class SyncSign:
    """One ``ledhost run`` in a sync role; its status read over its control socket."""

    def __init__(
        self,
        folder: Path,
        port: int,
        name: str,
        role: str,
        group: str = "",
        period: float = 0.5,
        extra: str = "",
        modes: tuple[str, ...] = ROTATION,
        mqtt: bool = True,
    ) -> None:
        """:param mqtt: ``False``: ``[mqtt]`` off (no bridge; ``role`` must be ``off``)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.sock = folder / "control.sock"
        self.config = folder / "ledhost.toml"
        self.log = folder / "host.log"
        self.config.write_text(
            f'[paths]\ndata_dir = "{folder / "data"}"\n'
            f'[control]\nsocket = "{self.sock}"\n'
            f"[workers]\nuser = {json.dumps(worker_user())}\n"
            f"[rotation]\nmodes = {json.dumps(list(modes))}\n"
            "[plugins.rotor]\n"
            f'[mqtt]\nenabled = {str(mqtt).lower()}\nbroker = "mqtt://127.0.0.1:{port}"\n'
            f'client_id = "{name}"\nbase_topic = "signs/{name}"\ndiscovery_prefix = ""\n'
            f'[sync]\nrole = "{role}"\ngroup = "{group}"\nperiod = {period}\n' + extra
        )
        self.config.chmod(0o600)
        self.start()

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "host", "run", "--config", str(self.config),
                 "--plugin-path", str(TEST_PLUGINS), "--backend", "headless",
                 "--duration", "600"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def request(self, message: Any) -> Any:
        try:
            with ControlClient(str(self.sock), timeout=10) as client:
                return client.request(message)
        except (HostNotRunning, TimeoutError, OSError):
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited: {self.log.read_text()[-3000:]}"
                ) from None
            return None

    def sync(self) -> dict[str, Any]:
        return self.request(control.SyncState()) or {}

    def following(self) -> bool:
        follower = self.sync().get("follower") or {}
        return bool(follower.get("following")) and self.sync().get("delay") is not None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def in_leader_clock(sign: SyncSign, state: dict[str, Any]) -> list[tuple[str, float]]:
    """The sign's switches as (key, when in the leader's clock)."""
    return [(key, at) for _, key, at in numbered(state)]


def numbered(state: dict[str, Any]) -> list[tuple[int, str, float]]:
    """The sign's switches as (its number, key, when in the leader's clock)."""
    offset = state.get("offset") or 0.0
    return [(s["n"], s["key"], s["at"] + offset) for s in state["switches"] if s["key"]]


def matched(lead: list[tuple[str, float]], other: list[tuple[str, float]]) -> list[float]:
    """For each leader switch, how far the other's nearest switch to the same key is."""
    gaps = []
    for key, at in lead:
        same = [abs(t - at) for k, t in other if k == key]
        if same:
            gaps.append(min(same))
    return gaps


def start_signs(
    folder: Path, port: int, followers: int, period: float = 0.5, extra: str = ""
) -> tuple[SyncSign, list[SyncSign]]:
    """A leader and ``followers`` followers (every other one in group ``odd``), once each
    follows the leader with its clock offset measured."""
    leader = SyncSign(folder / "lead", port, "lead", "leader", period=period, extra=extra)
    signs = [
        SyncSign(
            folder / f"f{i}", port, f"f{i}", "follower", "odd" if i % 2 else "", period, extra
        )  # fmt: skip
        for i in range(followers)
    ]
    for sign in signs:
        eventually(sign.following, f"{sign.name} following the leader", timeout=90)
    return leader, signs
