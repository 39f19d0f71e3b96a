"""Idle cost: whole-process CPU of showing only a clock with seconds, and time to first frame.

Issue 7, part 7. The most common content is a still clock that changes once a second,
so this is what a sign costs most of the day. ledhost -- the host with a recording
backend, as ``ledhost run --config FILE --duration S`` builds it, in a process of its own
below the subreaper wrapper of :mod:`benchmarks.isolation`, so every process it starts is
counted -- shows only the builtin clock for a fixed time (60 s; quick: 10 s). Once it has
pushed its first frame, two more processes start beside it, to the same end instant, and
all three are sampled at the same instants:

- the same clock rendered in-process by the reference loop of
  :mod:`benchmarks.isolation` (same compositor, same null backend): the same-run
  baseline for what isolation costs at idle;
- an idle Python process sleeping until the end: the floor. A sleeping process costs
  nothing in steady state, so that row has no ratio; its whole-run share is what merely
  starting an interpreter costs over that time.

Figures:

- ``steady share``: CPU over wall time from a second after the first frames to the end,
  in sub-windows (the repeats), from ``/proc/<pid>/task/*/schedstat``; split per process
  for ledhost (host, worker, zygote, undertaker, resource tracker). The profile row
  times, in this process and at the host's own pace, the one thing the host does every
  2 s whether or not anything changes: the enforcer's full walk of ``/proc``.
- ``steady wake-ups``: per process, how often it slept and was woken in the same windows
  (``voluntary_ctxt_switches``, every thread), each wake-up a cold-cache turn of Python
  (issue 15). The in-process clock's is the baseline.
- ``run share``: whole-tree CPU from start to exit over the process's wall time.
- ``first frame``: from starting the process to its first push on the backend, for
  ledhost and, as the same-run baseline, for the in-process clock (each started while
  nothing else of this benchmark is busy: the others are idle by then).

LEDMatrix's figures (0.38% of one core in steady state and 1.3 s to the first frame, its
emulator with the ``raw`` adapter on this kind of machine, see ``/work/shared/DESIGN.md``)
come from another run: they are quoted as ratios labelled so, never as same-run claims.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from benchmarks.isolation import (
    Sample,
    Tree,
    cpu_between,
    reference_argv,
    roles,
    sample,
    sleep_until,
    write_config,
)

if TYPE_CHECKING:
    from benchmarks._util import Row

NAME: Final = "idle"
TITLE: Final = "A clock with seconds alone: share of one core, and time to the first frame"

#: LEDMatrix, measured in another run on this kind of machine (not same-run).
LEDMATRIX_SHARE: Final = 0.38  # % of one core, steady state
LEDMATRIX_FIRST_FRAME: Final = 1.3  # seconds
#: After ledhost's first frame, seconds before the steady window opens.
SETTLE: Final = 1.0


@dataclass(frozen=True)
class Plan:
    duration: float  # of each idle run
    rounds: int  # idle runs
    first_frames: int  # extra first-frame pairs, beyond one per idle round
    step: float  # seconds per steady sub-window


Rotation = list[tuple[str, str, float]]
QUICK: Final = Plan(10.0, 1, 0, 2.0)
FULL: Final = Plan(60.0, 2, 4, 10.0)

#: ledhost as ``ledhost run --config FILE --duration S`` runs it, but with a backend that
#: says when the first frame arrives (``FIRST <monotonic> <host start>``). With ``first``
#: it stops there, as a Ctrl-C would.
_DRIVER: Final = r"""
import json, os, signal, sys, time
from config import load_config
from host.app import Host, RunOptions

class Recorder:
    name = "recording"
    def __init__(self, width, height):
        self.width, self.height, self.pushes, self.host = width, height, 0, None
    def push(self, frame, at):
        self.pushes += 1
        if self.pushes == 1:
            print("FIRST", time.monotonic(), self.host.stats.started, flush=True)
            if sys.argv[3] == "first":
                os.kill(os.getpid(), signal.SIGINT)
    def close(self):
        pass

cfg = load_config(sys.argv[1], env={})
panel = Recorder(cfg.display.width, cfg.display.height)
panel.host = Host(cfg, RunOptions(duration=float(sys.argv[2])), backend=panel)
status = panel.host.run()
print("RESULT", json.dumps({"pushes": panel.pushes}), flush=True)
sys.exit(status)
"""


@dataclass
class Figures:
    """Samples per case, filled round by round."""

    steady: dict[str, list[float]] = field(default_factory=dict)  # case -> shares
    run: dict[str, list[float]] = field(default_factory=dict)  # case -> whole-run shares
    first: dict[str, list[float]] = field(default_factory=dict)  # case -> seconds
    scan: dict[str, list[float]] = field(default_factory=dict)  # the enforcer's /proc walk
    parts: list[dict[str, float]] = field(default_factory=list)  # per window: role -> share
    #: Per window: role -> wake-ups a second (``"in-process"``: the in-process clock's).
    wakes: list[dict[str, float]] = field(default_factory=list)
    #: Per round, at the end of the steady window: PSS in KiB by role of ledhost's tree
    #: (``"whole tree"`` their sum) and the in-process clock's (``"in-process"``).
    pss: list[dict[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, table: dict[str, list[float]], case: str, value: float) -> None:
        table.setdefault(case, []).append(value)


#: The floor: a Python process that only sleeps, until the monotonic time it is given.
_FLOOR: Final = [
    sys.executable,
    "-c",
    "import sys, time; time.sleep(max(0.0, float(sys.argv[1]) - time.monotonic()))",
]


def _driver(config: Path, duration: float, stop: str) -> list[str]:
    return [sys.executable, "-c", _DRIVER, str(config), str(duration), stop]


_VOLUNTARY: Final = b"\nvoluntary_ctxt_switches:"


def wakeups(pids: Iterable[int]) -> dict[int, int]:
    """Times each of ``pids`` went to sleep and was woken so far, all its threads
    (``voluntary_ctxt_switches`` in ``/proc/<pid>/task/*/status``): its wake-ups, each of
    them a cold-cache turn of Python. Preemptions on a busy machine are not counted. Gone
    processes are left out."""
    counts: dict[int, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total = 0
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    with open(f"/proc/{pid}/task/{tid}/status", "rb") as f:
                        text = f.read()
                    at = text.index(_VOLUNTARY) + len(_VOLUNTARY)
                    total += int(text[at : text.index(b"\n", at)])
            counts[pid] = total
    return counts


def first_frames(config: Path, rotation: Rotation, figures: Figures) -> None:
    """One more pair of first-frame runs, alone: ledhost to its first push (then it
    stops, as on Ctrl-C), and the in-process clock to its first push."""
    led = Tree(_driver(config, 30.0, "first"))
    try:
        _, line = led.wait_for("out", "FIRST ")
        figures.add(figures.first, "ledhost", float(line.split()[1]) - led.spawned)
        end = led.finish()
        if end["status"] or end["left"]:
            figures.problems.append(f"first-frame run: {end}")
    finally:
        led.abort()
    ref = Tree(reference_argv(rotation, show_for=0.05))  # its first frame comes at once
    try:
        _, line = ref.wait_for("out", "FIRST ")
        figures.add(figures.first, "in-process", float(line.split()[1]) - ref.spawned)
        ref.finish()
    finally:
        ref.abort()


def idle_round(plan: Plan, config: Path, rotation: Rotation, figures: Figures) -> None:
    """ledhost first, alone until its first frame; then the in-process clock (showing at
    once, to the same end) and the floor (sleeping to that end). Each first frame is a
    sample: the others only start once ledhost idles. Then all three are sampled at the
    same instants until the end."""
    trees: dict[str, Tree] = {}
    try:
        led = trees["ledhost"] = Tree(_driver(config, plan.duration, "run"))
        _, line = led.wait_for("out", "FIRST ")
        first, started = (float(x) for x in line.split()[1:3])
        figures.add(figures.first, "ledhost", first - led.spawned)
        end_at = started + plan.duration
        ref = trees["in-process"] = Tree(reference_argv(rotation, end_at=end_at))
        trees["floor"] = Tree([*_FLOOR, str(end_at)])
        _, line = ref.wait_for("out", "FIRST ")
        figures.add(figures.first, "in-process", float(line.split()[1]) - ref.spawned)
        sleep_until(float(line.split()[1]) + SETTLE)
        samples: list[tuple[float, list[Sample]]] = [sample([t.proc.pid for t in trees.values()])]
        counts = [wakeups(p for tree in samples[-1][1][:2] for p in tree)]
        while samples[-1][0] + plan.step < end_at - 0.05:
            scan_paced(samples[-1][0] + plan.step, figures)
            samples.append(sample([t.proc.pid for t in trees.values()]))
            counts.append(wakeups(p for tree in samples[-1][1][:2] for p in tree))
        figures.pss.append(pss_by_role(led.child, samples[-1][1][0], samples[-1][1][1]))
        ends = {name: tree.finish() for name, tree in trees.items()}
    finally:
        for tree in trees.values():
            tree.abort()
    windows = zip(samples, samples[1:], counts, counts[1:], strict=False)
    for (ta, before), (tb, after), was, now in windows:
        for name, a, b in zip(trees, before, after, strict=True):
            used = cpu_between(a, b)
            figures.add(figures.steady, name, sum(used.values()) / (tb - ta))
            if name == "ledhost":
                parts = roles(led.child, used, b, {})
                figures.parts.append({role: cpu / (tb - ta) for role, cpu in parts.items()})
        woke = {pid: float(n - was.get(pid, 0)) for pid, n in now.items()}
        ledhost = {pid: n for pid, n in woke.items() if pid in after[0]}
        wakes = roles(led.child, ledhost, after[0], {})
        wakes["in-process"] = sum(n for pid, n in woke.items() if pid in after[1])
        figures.wakes.append({role: n / (tb - ta) for role, n in wakes.items()})
    for name, end in ends.items():
        figures.add(figures.run, name, float(end["cpu"]) / float(end["wall"]))
        if end["status"] or end["left"]:
            figures.problems.append(f"{name}: exit {end['status']}, left {end['left']}")
    if not led.result()["pushes"]:
        figures.problems.append("ledhost pushed no frame")


def pss_by_role(host: int, tree: Sample, reference: Sample) -> dict[str, float]:
    """PSS (KiB) of each process of ledhost's tree by role, their sum, and the in-process
    clock's: the per-process table that shows a regression by name."""
    from benchmarks.memory import pss_kib

    parts: dict[str, float] = {}
    for pid, (_, _, kind) in tree.items():
        role = "host" if pid == host else (kind or "other")
        parts[role] = parts.get(role, 0.0) + (pss_kib(pid) or 0)
    parts["whole tree"] = sum(parts.values())
    parts["in-process"] = float(sum(pss_kib(pid) or 0 for pid in reference))
    return parts


def scan_paced(until: float, figures: Figures) -> None:
    """Until ``until``, do what the host's enforcer does every SCAN_INTERVAL (a full scan) -- read
    every process in /proc (:func:`host.supervise.proctree.scan`) -- and time it: the profile of
    the host's idle cost, measured at the host's own pace rather than in a hot loop."""
    from host.supervise.enforcer import SCAN_INTERVAL as MONITOR_INTERVAL
    from host.supervise.proctree import scan

    at = time.monotonic()
    while at < until:
        cpu = time.thread_time()
        processes = len(scan())
        figures.add(figures.scan, "cpu", time.thread_time() - cpu)
        figures.add(figures.scan, "processes", processes)
        at += MONITOR_INTERVAL
        sleep_until(min(at, until))


def run(quick: bool) -> list[Row]:
    """First-frame pairs, then the idle rounds; rows of shares, times and ratios."""
    from benchmarks._util import Row, check_row, progress, spread_of
    from host.supervise.enforcer import SCAN_INTERVAL as MONITOR_INTERVAL

    plan = QUICK if quick else FULL
    rotation = [("clock", "time", plan.duration)]
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-idle-") as tmp:
        config = write_config(Path(tmp), rotation)
        progress(f"  idle: {plan.rounds} x {plan.duration:g} s, clock only, beside the floor")
        for _ in range(plan.rounds):
            idle_round(plan, config, rotation, figures)
        progress(f"  first frame: {plan.first_frames} more pairs (ledhost, in-process clock)")
        for _ in range(plan.first_frames):
            first_frames(config, rotation, figures)

    def row(
        case: str,
        unit: str,
        values: list[float],
        base: tuple[str, list[float]] | None,
        note: str = "",
        scale: float = 100.0,
    ) -> Row:
        ratio = None
        if base is not None:  # per-round (or per-window) ratios, paired
            ratio = spread_of([v / b for v, b in zip(values, base[1], strict=True) if b > 0])
        return Row(
            NAME,
            case,
            unit,
            spread_of([v * scale for v in values]),
            ratio,
            None if base is None else base[0],
            note=note,
            params={"section": "idle", "samples": len(values), "duration_s": plan.duration},
        )

    def other_run(case: str, values: list[float], reference: float, what: str) -> Row:
        return Row(
            NAME,
            case,
            "x",
            spread_of([v / reference for v in values]),
            note=f"LEDMatrix's {what}, measured in another run: not a same-run ratio",
            params={"section": "idle", "other_run": reference},
        )

    steady, whole, first = figures.steady, figures.run, figures.first
    base_steady = ("steady share: in-process clock", steady["in-process"])
    base_run = ("run share: idle python (floor)", whole["floor"])
    base_first = ("first frame: in-process clock", first["in-process"])
    rows = [
        row("steady share: ledhost clock", "% core", steady["ledhost"], base_steady,
            f"{plan.step:g} s windows after the first frame"),
        row(base_steady[0], "% core", steady["in-process"], None),
        row("steady share: idle python (floor)", "% core", steady["floor"], None,
            "a sleeping process: no ratio to a floor of ~0"),
        other_run("steady share: ledhost / LEDMatrix 0.38%", [s * 100 for s in steady["ledhost"]],
                  LEDMATRIX_SHARE, "0.38% of one core"),
    ]  # fmt: skip
    for role in sorted({r for window in figures.parts for r in window}):
        part = [window.get(role, 0.0) for window in figures.parts]
        rows.append(row(f"steady share: ledhost {role}", "% core", part, base_steady))
    base_wakes = ("steady wake-ups: in-process clock", [w["in-process"] for w in figures.wakes])
    for role in sorted({r for window in figures.wakes for r in window} - {"in-process"}):
        woke = [window.get(role, 0.0) for window in figures.wakes]
        rows.append(row(f"steady wake-ups: ledhost {role}", "/s", woke, base_wakes,
                        "voluntary context switches, all threads", 1.0))  # fmt: skip
    rows.append(row(base_wakes[0], "/s", base_wakes[1], None, scale=1.0))
    base_pss = ("pss: in-process clock", [p["in-process"] for p in figures.pss])
    for role in sorted({r for p in figures.pss for r in p} - {"in-process"}):
        note = "end of the steady window; Host run without the CLI (the goal: memory, host+1)"
        rows.append(row(f"pss: ledhost {role}", "MiB", [p.get(role, 0.0) for p in figures.pss],
                        base_pss, note if role == "whole tree" else "", 1 / 1024))  # fmt: skip
    rows.append(row(base_pss[0], "MiB", base_pss[1], None, scale=1 / 1024))
    scans = [c / MONITOR_INTERVAL for c in figures.scan["cpu"]]
    host = statistics.median(window.get("host", 0.0) for window in figures.parts)
    host_part = statistics.median(scans) / host if host > 0 else float("nan")
    rows.append(
        row(f"profile: /proc scan every {MONITOR_INTERVAL:g} s", "% core", scans, None,
            f"the enforcer's proctree.scan() of {statistics.median(figures.scan['processes']):.0f} "
            f"processes, paced: {host_part:.0%} of the host's steady share")
    )  # fmt: skip
    rows += [
        row("run share: ledhost clock", "% core", whole["ledhost"], base_run,
            "start to exit, whole tree"),
        row("run share: in-process clock", "% core", whole["in-process"], base_run),
        row(base_run[0], "% core", whole["floor"], None, "interpreter start-up over the run"),
        row("first frame: ledhost", "s", first["ledhost"], base_first,
            "process start to first push on the backend", 1.0),
        row(base_first[0], "s", first["in-process"], None, scale=1.0),
        other_run("first frame: ledhost / LEDMatrix 1.3 s", first["ledhost"],
                  LEDMATRIX_FIRST_FRAME, "1.3 s to its first frame"),
        check_row(NAME, "check: clean runs (frames pushed, clean exits, nothing left)",
                  not figures.problems, "; ".join(figures.problems) or "all runs", section="check"),
    ]  # fmt: skip
    return rows
