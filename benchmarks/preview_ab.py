"""Two ledhost trees side by side: what one preview costs each host, under the same load.

``python -m benchmarks.preview_ab OLD NEW [--window S] [--rounds N]`` (each a checkout of
ledhost, e.g. ``git archive main | tar -x -C /tmp/old``; run it from either, with a
Python that has ledhost's dependencies). Not in the runner's registry: it compares code,
not a case against its baseline.

Issue 18's figure (one open preview at most 1.1x the host's CPU without one) is a few
hundredths of a per cent of a core on a machine whose load moves that much between two
windows, so one tree's ratio from ``--only preview`` moves by several hundredths from run
to run. Here both trees run at once (``ledhost run`` scrolling text as in
:mod:`benchmarks.preview`, each with its web process), and every window is taken for both:
``--rounds`` pairs of ``--window`` seconds without a preview, then with one reader of
``GET /api/v1/events?kinds=frames`` on each. A load that rises or falls moves both trees'
windows alike, so the difference between their per-pair ratios is the code's. Prints
each pair and, per tree, the median idle and busy CPU, the median per-pair ratio and the
web process's CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.isolation import cpu_seconds, write_config
from benchmarks.preview import PASSWORD, _port, _read_stream, _Web, _web_pid


class _Side:
    """One tree's host and web session, and its windows' figures."""

    def __init__(self, tree: Path, folder: Path, seconds: float) -> None:
        self.name = tree.name
        config = write_config(folder, [("text", "message", 3600.0)])
        port = _port()
        with config.open("a") as f:
            f.write(f'[control]\nsocket = "{folder / "control.sock"}"\n')
            f.write(f'[web]\nenabled = true\nbind = "127.0.0.1"\nport = {port}\n')
        self.host = subprocess.Popen(
            [sys.executable, "-m", "host", "run", "--config", str(config),
             "--duration", str(seconds)],
            cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.web = _Web(f"http://127.0.0.1:{port}")
        self.idle: list[float] = []
        self.busy: list[float] = []
        self.web_cpu: list[float] = []

    def cpu(self) -> float:
        return cpu_seconds(self.host.pid) or 0.0


def _window(sides: Sequence[_Side], seconds: float, webs: Sequence[int | None]) -> list[float]:
    """Each side's host CPU (a share of a core) over one window; its web process's (pids
    ``webs``) is added to its :attr:`_Side.web_cpu`."""
    start = time.monotonic()
    before = [s.cpu() for s in sides]
    web_before = [(cpu_seconds(p) or 0.0) if p else 0.0 for p in webs]
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    for side, pid, was in zip(sides, webs, web_before, strict=True):
        if pid:
            side.web_cpu.append(((cpu_seconds(pid) or 0.0) - was) / elapsed)
    return [(s.cpu() - b) / elapsed for s, b in zip(sides, before, strict=True)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.preview_ab", description=(
        "Two ledhost trees side by side under the same load: host CPU with one preview "
        "open against none, per pair of windows."))  # fmt: skip
    parser.add_argument("trees", nargs=2, type=Path, metavar="TREE", help="ledhost checkouts")
    parser.add_argument("--window", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--rounds", type=int, default=10, help="pairs of windows (default 10)")
    args = parser.parse_args(argv)
    seconds = 60 + args.rounds * (2 * args.window + 3)
    with tempfile.TemporaryDirectory(prefix="ledhost-preview-ab-") as tmp:
        sides: list[_Side] = []
        try:
            for i, tree in enumerate(args.trees):
                (Path(tmp) / str(i)).mkdir()
                sides.append(_Side(tree.resolve(), Path(tmp) / str(i), seconds))
            for side in sides:
                side.web.wait_up()
                reply = side.web.call("POST", "/api/v1/auth/setup", {"password": PASSWORD})
                side.web.csrf = reply["csrf_token"]
            time.sleep(2.0)  # the text is scrolling; start-up is over
            pids = [_web_pid(s.host.pid) for s in sides]
            for n in range(args.rounds):
                load = os.getloadavg()[0]
                no_webs = [None] * len(sides)  # the web's CPU counts only with a reader
                for side, cpu in zip(sides, _window(sides, args.window, no_webs), strict=True):
                    side.idle.append(cpu)
                stop = threading.Event()
                for side in sides:
                    threading.Thread(
                        target=_read_stream, args=(side.web, stop, [0]), daemon=True
                    ).start()
                time.sleep(1.0)
                for side, cpu in zip(sides, _window(sides, args.window, pids), strict=True):
                    side.busy.append(cpu)
                stop.set()
                print(f"pair {n} load {load:.1f}: " + "  ".join(
                    f"{s.name} {s.idle[-1] * 100:.3f} -> {s.busy[-1] * 100:.3f} % "
                    f"{s.busy[-1] / s.idle[-1]:.3f}x" for s in sides), flush=True)  # fmt: skip
                time.sleep(0.5)
            for s in sides:
                ratios = [b / i for b, i in zip(s.busy, s.idle, strict=True)]
                print(f"{s.name}: host {statistics.median(s.idle) * 100:.3f} % -> "
                      f"{statistics.median(s.busy) * 100:.3f} % of a core, median ratio "
                      f"{statistics.median(ratios):.3f}x ({min(ratios):.2f}-{max(ratios):.2f}); "
                      f"web {statistics.median(s.web_cpu or [0.0]) * 100:.2f} %")  # fmt: skip
        finally:
            for side in sides:
                side.host.terminate()
            for side in sides:
                side.host.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
