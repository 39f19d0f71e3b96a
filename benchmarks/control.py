"""The control socket: a notification's way to the panel, and what polling status costs.

Issue 17. ledhost runs in a process of its own (the builtin clock and text, the headless
backend behind a recorder that prints each push whose mode differs from the last push's,
with the system-wide monotonic time of the push), its control socket in a temporary
folder. This process is the client.

- ``notify -> frame``: a notification request for the mode that is not on screen is sent;
  the figure is the time from just before the send to the push of the first frame of that
  mode, as a ratio of the frame period (``1 / fps``). The issue asks for at most two
  periods from the host receiving it; this figure also counts the client's send and the
  host noticing the socket, so it is the stricter one.
- ``status at 50/s``: the host process's own CPU (its threads' ``schedstat``, workers
  not counted: they do not see the requests) over a window with 50 status requests a
  second, as a share of one core, and as a ratio against an idle window of the same
  length measured just before; :data:`ROUNDS` such pairs in turn, medians. ``added`` is
  the median difference: the issue asks for less than 1 % of a core.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Final

from benchmarks._util import Row, spread_of
from benchmarks.isolation import FPS, cpu_seconds, write_config
from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning

NAME: Final = "control"
#: Pairs of windows (idle, then status at 50/s), each a third of the window's length.
ROUNDS: Final = 3
TITLE: Final = "Control socket: notification to frame, and host CPU of status at 50/s"

_DRIVER: Final = r"""
import sys, time
from config import load_config
from host.app import Host, RunOptions

class Recorder:
    name = "recording"
    def __init__(self, width, height):
        self.width, self.height, self.host, self.last = width, height, None, None
    def push(self, frame, at):
        shown = self.host.director.current
        current = shown.key if shown is not None else None
        if current != self.last:
            self.last = current
            print("SWITCH", time.monotonic(), current, flush=True)
    def close(self):
        pass

cfg = load_config(sys.argv[1])
panel = Recorder(cfg.display.width, cfg.display.height)
panel.host = Host(cfg, RunOptions(duration=float(sys.argv[2])), backend=panel)
sys.exit(panel.host.run())
"""


def _cpu(pid: int) -> float:
    """The process's CPU seconds, from its threads' schedstat (nanoseconds: its clock ticks
    of 10 ms were a few per cent of a window's figure)."""
    return cpu_seconds(pid) or 0.0


def run(quick: bool) -> list[Row]:
    notifications = 5 if quick else 20
    window = 5.0 if quick else 20.0
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-ctl-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, [("clock", "time", 3600.0), ("text", "message", 10.0)])
        sock = folder / "control.sock"
        with config.open("a") as f:
            f.write(f'[control]\nsocket = "{sock}"\n')
        proc = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, str(config), str(60 + 3 * window + notifications)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        switches: list[tuple[float, str]] = []

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("SWITCH"):
                    _, at, key = line.split()
                    switches.append((float(at), key))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            return _measure(proc.pid, sock, switches, notifications, window)
        finally:
            proc.terminate()
            proc.wait(30)
            reader.join(5)


def _connect(sock: Path) -> ControlClient:
    end = time.monotonic() + 60
    while True:
        try:
            return ControlClient(str(sock), timeout=10)
        except HostNotRunning:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def _measure(
    pid: int, sock: Path, switches: list[tuple[float, str]], count: int, window: float
) -> list[Row]:
    period = 1.0 / FPS
    client = _connect(sock)
    while not any(key == "clock:time" for _, key in switches):
        time.sleep(0.05)
    ratios = []
    for _ in range(count):
        seen = len(switches)
        sent = time.monotonic()
        client.request(control.Notify(mode="text:message", seconds=1.0))
        while not any(k == "text:message" for _, k in switches[seen:]):
            time.sleep(0.005)
        pushed = next(at for at, k in switches[seen:] if k == "text:message")
        ratios.append((pushed - sent) / period)
        while switches[-1][1] != "clock:time":  # the notification ends: the clock again
            time.sleep(0.02)
        time.sleep(0.2)
    time.sleep(1.0)
    idle: list[float] = []
    busy: list[float] = []
    for _ in range(ROUNDS):  # the two windows in turn: the machine's load moves meanwhile
        idle_start, idle_cpu = time.monotonic(), _cpu(pid)
        time.sleep(window / ROUNDS)
        idle.append((_cpu(pid) - idle_cpu) / (time.monotonic() - idle_start))
        busy_start, busy_cpu = time.monotonic(), _cpu(pid)
        next_at = busy_start
        while time.monotonic() < busy_start + window / ROUNDS:
            client.request(control.Status())
            next_at += 1 / 50
            time.sleep(max(0.0, next_at - time.monotonic()))
        busy.append((_cpu(pid) - busy_cpu) / (time.monotonic() - busy_start))
    client.close()
    pairs = list(zip(busy, idle, strict=True))
    added = statistics.median(b - i for b, i in pairs)
    return [
        Row(
            NAME,
            "notify -> frame",
            "frame periods",
            spread_of(ratios),
            note=f"from the request's send to the first push of the mode; period {period:g} s",
            params={"fps": FPS, "n": count},
        ),  # fmt: skip
        Row(
            NAME,
            "idle host",
            "% core",
            spread_of([i * 100 for i in idle]),
            note="the host process alone, same run",
        ),
        Row(
            NAME,
            "status at 50/s",
            "% core",
            spread_of([b * 100 for b in busy]),
            ratio=spread_of([b / i if i else float("nan") for b, i in pairs]),
            baseline="idle host",
            note=f"added {max(0.0, added) * 100:.3f} % of a core, median of {ROUNDS} pairs "
            f"(median of {statistics.median(ratios):.2f} periods above)",
        ),  # fmt: skip
    ]
