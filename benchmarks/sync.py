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
- ``host, bridge idle``: the host's CPU with its bridge connected and idle (``[sync]``
  off) against a host with ``[mqtt]`` off, as a ratio: what the bridge costs the host.
- ``wall: ...``: a wall of panels, a leader rendering a 128x32 canvas (the ``solid`` test
  plugin at 30 fps: every frame differs) and two followers showing its 64x32 halves:
  ``slice latency``, from the leader's push to a follower's push of the same frame's
  slice (its ``wall_delay`` of 0.1 s included: that is the show-at instant), ``late
  against show-at`` (the latency minus that delay), and the bytes per second the leader
  sends (the whole canvas, zlib) against sending each follower its slice.

Figures are in frame periods at 60 fps (the issue's bound is one period), which makes each
its own ratio; all signs share one machine's clock here, so the offset's own error is
small and the figures are the hosts' loop and message latency. Between Pis the offset's
error (at most half the round trip) adds to them.
"""

from __future__ import annotations

import os
import tempfile
import time
import zlib
from pathlib import Path
from typing import Final

import numpy as np

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
    alone = SyncSign(folder / "alone", port, "alone", "off", period=1.0, mqtt=False)
    leader, (follower,) = start_signs(folder, port, 1, period=1.0)  # the default period
    signs = {"off": off, "leader": leader, "follower": follower, "no bridge": alone}
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
    idle, none = shares.get(("off", "host")), shares.get(("no bridge", "host"))
    if idle and none and len(idle) == len(none):
        rows.append(
            Row(NAME, "host, bridge idle", "% core", value=spread_of(idle),
                ratio=spread_of([a / b for a, b in zip(idle, none, strict=True) if b > 0] or [0.0]),
                baseline="host, no bridge",
                note="the host with its MQTT bridge connected and idle against one without")
        )  # fmt: skip
    for (role, part), values in sorted(shares.items()):
        if role == "no bridge" and part == "host":
            rows.append(Row(NAME, "host, no bridge", "% core", value=spread_of(values),
                            note=f"{windows} windows of {length:.0f} s, [mqtt] off"))  # fmt: skip
            continue
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


#: The wall's show-at delay in the benchmark (``[sync] wall_delay``).
WALL_DELAY: Final = 0.1


def _wall_rows(folder: Path, port: int, quick: bool) -> list[Row]:
    """A leader's 128x32 canvas and two followers' 64x32 halves: latency and bytes."""
    from tests.test_wall import Frames  # the frames events reader (and its decoding)

    wall = f"wall_width = 128\nwall_height = 32\nwall_fps = 30\nwall_delay = {WALL_DELAY}\n"
    leader = SyncSign(folder / "lead", port, "lead", "leader", modes=("solid:fill",),
                      extra=wall + "[display]\nchain = 2\n[plugins.solid]\nfps = 30\n")  # fmt: skip
    signs = [SyncSign(folder / f"f{i}", port, f"f{i}", "follower",
                      extra=wall + f"wall_x = {64 * i}\n") for i in range(2)]  # fmt: skip
    watch = [Frames(s) for s in (leader, *signs)]
    length = 5.0 if quick else 20.0
    try:
        for sign in signs:
            eventually(sign.following, f"{sign.name} following the leader", timeout=90)
        time.sleep(1.0)
        start = len(watch[0].frames())
        time.sleep(length)
        lead = watch[0].timed()[start:]
        followers = [w.timed() for w in watch[1:]]
    finally:
        for w in watch:
            w.close()
        for sign in (leader, *signs):
            sign.stop()
    latencies: list[float] = []
    for i, seen in enumerate(followers):
        cut = slice(64 * i, 64 * (i + 1))
        for at, pixels in seen:
            # the latest leader frame before it whose slice it is (solid: values repeat
            # every 256 frames, 8.5 s, so the nearest one is the one)
            sources = [t for t, f in lead if t <= at and np.array_equal(f[:, cut], pixels)]
            if sources:
                latencies.append(at - max(sources))
    frames = [f for _, f in lead]
    whole = [len(zlib.compress(f.tobytes(), 1)) + 24 for f in frames]
    halves = [len(zlib.compress(f[:, :64].tobytes(), 1)) + 24 for f in frames]
    fps = len(frames) / length
    rows = [
        Row(NAME, "wall: slice latency", "ms", value=spread_of([x * 1000 for x in latencies]),
            note=f"leader push to follower push, {len(latencies)} slices, show-at "
                 f"{WALL_DELAY * 1000:.0f} ms after the leader's push"),
        Row(NAME, "wall: late against show-at", "ms",
            value=spread_of([(x - WALL_DELAY) * 1000 for x in latencies]),
            note="the latency minus wall_delay: how late the follower showed it"),
        Row(NAME, "wall: leader sends, whole canvas", "bytes/s",
            value=spread_of([b * fps for b in whole]),
            note=f"{fps:.1f} fps of 128x32 solid frames, zlib level 1; raw RGB would be "
                 f"{(128 * 32 * 3 + 24) * 30:.0f} B/s at 30 fps"),
        Row(NAME, "wall: per-slice alternative", "bytes/s",
            value=spread_of([b * 2 * fps for b in halves]),
            note="two 64x32 slices per frame instead (the broker then sends each follower "
                 f"half as much; raw: {(64 * 32 * 3 + 24) * 30:.0f} B/s per slice at 30 fps)"),
    ]  # fmt: skip
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
            progress("sync: a wall of a 128x32 canvas on two 64x32 followers")
            rows += _wall_rows(Path(tmp) / "wall", broker.port, quick)
        finally:
            broker.stop()
    return rows
