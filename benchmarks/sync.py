"""Synchronised signs: how closely followers switch with their leader through a real broker.

Issue 21. A real Mosquitto on 127.0.0.1, a leader and 2 (and, in a full run, 4) followers,
each ``ledhost run`` with its own MQTT bridge (``tests/sync_helpers.py``; the ``rotor``
test plugin, 2 s per mode). Every sign records when it switched, in its own wall clock
(``display.sync.switches``); a follower's times are corrected by the clock offset its
bridge measured to the leader. Per leader switch and follower: how far the follower's
switch to the same slot is from the leader's.

- ``rotation switch``: the rotation's own switches (the follower switches by itself at the
  end of the turn it took from the leader);
- ``notification start``: a ``sync_notify`` sent to the leader, started on every sign at
  the instant the leader chose;
- ``offset round trip``: the round trip of each follower's best clock sample (the offset
  is off by at most half of it).
- ``host, leader`` / ``host, follower`` (and ``bridge, ...``): CPU of the host process and
  of its MQTT bridge, as % of a core, against a sign whose ``[sync]`` is off (the same
  bridge without sync topics) measured in the same windows: what following costs.

Figures are in frame periods at 60 fps (the issue's bound is one period), which makes each
its own ratio; all signs share one machine's clock here, so the offset's own error is
small and the figures are the hosts' loop and message latency. Between Pis the offset's
error (at most half the round trip) adds to them.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Final

from benchmarks._util import Row, progress, spread_of
from benchmarks.isolation import cpu_seconds
from host.ipc import control
from tests.conftest import eventually
from tests.mqtt_helpers import MOSQUITTO, Broker
from tests.sync_helpers import SyncSign, matched, numbered, start_signs

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "sync"
TITLE: Final = "Synchronised signs: followers' switches and notifications against the leader's"

#: The frame period the issue's bound is stated in (60 fps).
PERIOD: Final = 1.0 / 60.0


def _measure(folder: Path, port: int, followers: int, switches: int, notices: int) -> list[Row]:
    leader, signs = start_signs(folder, port, followers)
    everyone = (leader, *signs)
    # Each sign's status lists only its last switches: gather them as the run goes on.
    seen: dict[str, dict[int, tuple[str, float]]] = {s.name: {} for s in everyone}
    offsets: dict[str, float] = {}
    delays: dict[str, float] = {}

    def gather() -> int:
        for sign in everyone:
            state = sign.sync()
            seen[sign.name].update((n, (key, at)) for n, key, at in numbered(state))
            if state.get("delay") is not None:
                offsets[sign.name], delays[sign.name] = state["offset"], state["delay"]
        return len(seen[leader.name])

    def wait_switches(more: int, what: str) -> None:
        mark = gather()
        eventually(lambda: gather() >= mark + more, what, 120)

    try:
        for _ in range(notices):
            wait_switches(2, "two leader switches")
            leader.request(control.SyncNotify(mode="rotor:alert", seconds=1.0))
            wait_switches(2, "the notification shown and over")
        wait_switches(switches, "leader switches")
        time.sleep(0.3)  # the followers' records of the last switch
        gather()
    finally:
        for sign in everyone:
            sign.stop()
    # The leader's first switch predates the followers joining.
    lead = [seen[leader.name][n] for n in sorted(seen[leader.name])][1:]
    rotation: list[float] = []
    alert: list[float] = []
    for sign in signs:
        mine = list(seen[sign.name].values())
        rotation += matched([s for s in lead if s[0] != "rotor:alert"], mine)
        alert += matched([s for s in lead if s[0] == "rotor:alert"], mine)
    rows = []
    label = f"{followers} followers"
    for case, gaps in (("rotation switch", rotation), ("notification start", alert)):
        if gaps:
            spread = spread_of([g / PERIOD for g in gaps])
            rows.append(
                Row(NAME, f"{label}: {case}", "frame periods", value=spread,
                    note=f"max {max(gaps) * 1000:.1f} ms over {len(gaps)} switches")
            )  # fmt: skip
    if delays:
        rows.append(
            Row(NAME, f"{label}: offset round trip", "ms",
                value=spread_of([d * 1000 for d in delays.values()]),
                note="best sample per follower; offsets "
                + ", ".join(f"{o * 1000:+.2f}" for o in offsets.values()) + " ms")
        )  # fmt: skip
    return rows


def _bridge_of(pid: int) -> int | None:
    """The pid of the MQTT bridge ``ledhost run`` ``pid`` started, if it runs."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"mqtt-bridge" in cmd:
            return int(entry)
    return None


def _cpu_rows(folder: Path, port: int, quick: bool) -> list[Row]:
    """CPU of the host and of its bridge, per role, against a sign with ``[sync]`` off
    (the same bridge, no sync topics), measured in the same windows."""
    off = SyncSign(folder / "off", port, "off", "off", period=1.0)
    leader, (follower,) = start_signs(folder, port, 1, period=1.0)  # the default period
    signs = {"off": off, "leader": leader, "follower": follower}
    windows, length = (2, 3.0) if quick else (5, 10.0)
    shares: dict[tuple[str, str], list[float]] = {}
    try:
        eventually(lambda: _bridge_of(off.proc.pid) is not None, "the off sign's bridge")
        pids = {
            (role, part): pid
            for role, sign in signs.items()
            for part, pid in (("host", sign.proc.pid), ("bridge", _bridge_of(sign.proc.pid)))
            if pid is not None
        }
        for _ in range(windows):
            before = {k: cpu_seconds(pid) for k, pid in pids.items()}
            start = time.monotonic()
            time.sleep(length)
            elapsed = time.monotonic() - start
            for k, pid in pids.items():
                a, b = before[k], cpu_seconds(pid)
                if a is not None and b is not None:
                    shares.setdefault(k, []).append((b - a) / elapsed * 100.0)
    finally:
        for sign in signs.values():
            sign.stop()
    rows = []
    for (role, part), values in sorted(shares.items()):
        base = shares.get(("off", part))
        ratio = None
        if role != "off" and base and len(base) == len(values):
            ratio = spread_of([v / b for v, b in zip(values, base, strict=True) if b > 0] or [0.0])
        rows.append(
            Row(NAME, f"{part}, {role}", "% core", value=spread_of(values), ratio=ratio,
                baseline=f"{part}, off" if ratio is not None else None,
                note=f"{windows} windows of {length:.0f} s, rotating every 2 s")
        )  # fmt: skip
    return rows


def run(quick: bool) -> list[Row]:
    if MOSQUITTO is None:
        raise RuntimeError("needs Debian's mosquitto (apt-get install mosquitto)")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ledhost-sync-bench-") as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        try:
            for followers in (2,) if quick else (2, 4):
                progress(f"sync: a leader and {followers} followers")
                folder = Path(tmp) / f"n{followers}"
                rows += _measure(folder, broker.port, followers, 4 if quick else 12,
                                 1 if quick else 5)  # fmt: skip
            progress("sync: CPU of a leader and a follower against a sign with sync off")
            rows += _cpu_rows(Path(tmp) / "cpu", broker.port, quick)
        finally:
            broker.stop()
    return rows
