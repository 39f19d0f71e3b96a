"""Start-up: from starting ``ledhost run`` to the first frame on the backend.

Each case runs ``python -m host run --backend headless`` exactly as the CLI does (the
``host`` package run as ``__main__`` through :mod:`runpy`), with N instances of the
builtin clock enabled (N = 1, 10, 20; quick: 1, 10) and the first of them shown. Two
probes are installed before the CLI starts, neither of which changes what it does:

- ``HeadlessBackend.push`` notes the time of the first push, whether anything is lit in
  it (the clock drew, not a blank panel), and the host's process tree; then it sends the
  host SIGTERM, so it shuts down as after a Ctrl-C;
- ``Host.run`` notes when it is entered: the interpreter has started and the CLI has
  parsed its arguments, imported the host and loaded the config.

Two figures per case: **process start -> first frame** (from just before the benchmark
starts the process; ``CLOCK_MONOTONIC`` is system-wide on Linux, so the host's timestamps
compare with ours) -- what a user waits for, comparable with LEDMatrix's 1.3 s to its
first frame (issue 7; measured elsewhere, not in this run) -- and **Host.run() -> first
frame**: booting the workers (and the zygote), the first mode's activation, its first
render and the hand-off. Cases run in rounds with a rotating order. Ratios are per round:
more instances against one instance with the zygote; plain spawn against the zygote at
the same N. A floor, ``python -m host --version`` (the interpreter, the CLI's imports,
exit), runs in the same rounds to show what no start-up work can go below.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks._util import Row, check_row, progress, rotations, spread_of

__all__ = [
    "NAME",
    "TITLE",
    "alive",
    "cmdline",
    "driver",
    "end_leftovers",
    "proc_stat",
    "process_tree",
    "read_report",
    "run",
    "stop",
    "write_config",
]

NAME: Final = "startup"
TITLE: Final = "ledhost run to its first frame with 1, 10, 20 clock instances; vs LEDMatrix"

#: LEDMatrix showing a clock took this long to its first frame (issue 7, its emulator with
#: the ``raw`` adapter on this kind of machine). Not measured here: a reference only.
LEDMATRIX_FIRST_FRAME_S: Final = 1.3
_MS: Final = 1e3
_TIMEOUT: Final = 90.0
_FLOOR: Final = "floor"
ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure: ``--quick`` keeps the smoke test short; full is for figures."""

    counts: tuple[int, ...]
    launchers: tuple[str, ...]
    rounds: int


QUICK: Final = Plan((1, 10), ("zygote",), 4)
FULL: Final = Plan((1, 10, 20), ("zygote", "spawn"), 7)

#: The measured process: the probes, then the CLI as ``python -m host`` runs it.
_DRIVER: Final = """
import time
marks = {"interpreter": time.monotonic()}
import atexit, json, os, runpy, signal, sys
import host.app
import host.display.backends.headless as headless

push, run = headless.HeadlessBackend.push, host.app.Host.run

def first_push(self, frame, at):
    push(self, frame, at)
    if "push" not in marks:
        marks["push"] = time.monotonic()
        marks["lit"] = bool(frame.any())
        from benchmarks.startup import process_tree
        marks["tree"] = process_tree(os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)

def timed_run(self):
    marks["run"] = time.monotonic()
    return run(self)

def report():
    print("BENCH " + json.dumps(marks), flush=True)

# An exit handler: ``ledhost run`` ends its process with os._exit once the host stopped,
# after the exit handlers (host/cli/entry.py), so code after run_module may never run.
atexit.register(report)
headless.HeadlessBackend.push, host.app.Host.run = first_push, timed_run
sys.argv = ["ledhost", *sys.argv[1:]]
try:
    runpy.run_module("host", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    marks["status"] = exc.code
"""


# -- running ledhost and watching its processes (memory.py uses these too) ----------


def write_config(folder: Path, count: int) -> tuple[Path, str]:
    """A config with ``count`` clock instances, the first one shown; ``(file, --plugins)``.

    Workers keep the host's user: on this machine the host is root and the interpreter
    lives under /root, which the ``nobody`` a root host would switch to cannot read.
    """
    ids = [f"c{i}" for i in range(1, count + 1)]
    lines = [
        "[workers]",
        'user = ""',
        "[paths]",
        f"data_dir = {json.dumps(str(folder / 'data'))}",
        "[rotation]",
        'modes = ["c1"]',
    ]
    for iid in ids:
        lines += [f"[plugins.{iid}]", 'plugin = "clock"']
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ledhost.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, ",".join(ids)


@contextlib.contextmanager
def driver(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in the repository root, without ``LEDHOST_*`` settings (they would change
    the config), stdout piped; on the way out stop it (SIGTERM, then SIGKILL), and if the
    body raised, show the tail of its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDHOST_")}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
        )
        try:
            yield proc
        except BaseException:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-4:]
            progress(f"    the driver failed; its stderr ends: {' | '.join(tail)}")
            raise
        finally:
            assert proc.stdout is not None
            proc.stdout.close()
            stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> bool:
    """SIGTERM (the host's normal shutdown); SIGKILL after ``timeout``. ``False`` if so."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


def proc_stat(pid: int) -> tuple[int, str, int] | None:
    """``(ppid, state, start_time)`` of ``pid`` from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[1]), fields[0].decode(), int(fields[19])


def cmdline(pid: int) -> str:
    """The process's command line, arguments joined by spaces ("" if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def process_tree(root: int) -> dict[int, int]:
    """``root`` and its live descendants as pid -> start time (pids are reused; the pair
    identifies a process)."""
    stats: dict[int, tuple[int, str, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := proc_stat(int(entry))) is not None:
            stats[int(entry)] = st
    tree: dict[int, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in tree and stats[pid][1] != "Z":
            tree[pid] = stats[pid][2]
            todo += [p for p, st in stats.items() if st[0] == pid]
    return tree


def alive(pid: int, start_time: int) -> bool:
    """Whether that very process (pid and start time) still runs."""
    st = proc_stat(pid)
    return st is not None and st[2] == start_time and st[1] != "Z"


def end_leftovers(known: dict[int, int], grace: float = 3.0) -> list[str]:
    """Wait ``grace`` s for ``known`` processes (started by a host this benchmark ran) to
    end; SIGKILL the ones that did not, and name them."""
    end = time.monotonic() + grace
    while (left := [p for p, st in known.items() if alive(p, st)]) and time.monotonic() < end:
        time.sleep(0.05)
    named = []
    for pid in left:
        named.append(f"left behind: {pid} {cmdline(pid)[:60]}")
        if alive(pid, known[pid]):  # checked again right before: never a reused pid
            os.kill(pid, signal.SIGKILL)
    return named


def read_report(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """A driver's ``BENCH {...}`` line from its stdout, waiting at most ``timeout``."""
    assert proc.stdout is not None
    fd, buf, end = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while True:
        for line in buf.split(b"\n")[:-1]:
            if line.startswith(b"BENCH "):
                report: dict[str, Any] = json.loads(line[6:])
                return report
        left = end - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"no report from the driver within {timeout:.0f} s")
        if select.select([fd], [], [], min(left, 0.5))[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"the driver ended (status {proc.wait()}) without a report")
            buf += chunk


# -- start-up ------------------------------------------------------------------------------


@dataclass
class Case:
    """One configuration and what its runs measured, one entry per round."""

    count: int
    launcher: str
    to_frame: list[float] = field(default_factory=list)
    run_to_frame: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.launcher == _FLOOR:
            return "floor: python -m host --version"
        noun = "instance" if self.count == 1 else "instances"
        return f"{self.count} clock {noun}: {self.launcher}"


def _floor() -> float:
    """Seconds for ``python -m host --version``, from start to exit."""
    t0 = time.monotonic()
    with driver([sys.executable, "-m", "host", "--version"]) as proc:
        if proc.wait(_TIMEOUT) != 0:
            raise RuntimeError(f"python -m host --version exited with {proc.returncode}")
    return time.monotonic() - t0


def measure(case: Case, folder: Path) -> None:
    """One ``ledhost run`` to its first frame; appends to ``case``."""
    if case.launcher == _FLOOR:
        case.to_frame.append(_floor())
        return
    config, ids = write_config(folder, case.count)
    args = ["run", "--backend", "headless", "--config", str(config), "--plugins", ids]
    args += ["--launcher", case.launcher, "--duration", "60"]
    t0 = time.monotonic()
    with driver([sys.executable, "-c", _DRIVER, *args]) as proc:
        marks = read_report(proc, _TIMEOUT)
        status = proc.wait(_TIMEOUT)
        if "push" not in marks:
            raise RuntimeError(f"{case.label}: no frame within 60 s")
    case.to_frame.append(marks["push"] - t0)
    case.run_to_frame.append(marks["push"] - marks["run"])
    if not marks["lit"]:
        case.problems.append(f"{case.label}: the first push was dark")
    if status != 0 or marks.get("status") not in (0, None):
        case.problems.append(f"{case.label}: exit status {status}")
    tree = {int(p): int(s) for p, s in marks["tree"].items() if int(p) != proc.pid}
    # The workers, the zygote, the undertaker: none may outlive the host.
    case.problems += end_leftovers(tree)
    if len(tree) < case.count:
        case.problems.append(f"{case.label}: {len(tree)} processes below the host")


def _ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def run(quick: bool) -> list[Row]:
    """Every case once per round, rotating; then the rows and one check row."""
    plan = QUICK if quick else FULL
    cases = [Case(0, _FLOOR)]
    cases += [Case(n, launcher) for launcher in plan.launchers for n in plan.counts]
    progress(f"  startup: {len(cases)} cases x {plan.rounds} rounds")
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-startup-") as tmp:
        for r, order in rotations(cases, plan.rounds):
            for case in order:
                measure(case, Path(tmp) / f"{r}-{case.count}-{case.launcher}")
    by_key = {(c.count, c.launcher): c for c in cases}
    one = by_key[(1, "zygote")]
    floor = by_key[(0, _FLOOR)]
    rows = [
        Row(
            NAME,
            floor.label,
            "ms",
            spread_of([t * _MS for t in floor.to_frame]),
            note="start to exit: the interpreter and the CLI's imports",
            params={"section": "floor"},
        ),
    ]
    # Without bytecode caches every start compiles ledhost's modules from source: slower
    # than a Pi with ledhost pip-installed (pip writes the .pyc files).
    no_pyc = "; no .pyc written here" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    picks: list[tuple[str, str, Callable[[Case], list[float]]]] = [
        ("process", "process start -> first frame" + no_pyc, lambda c: c.to_frame),
        ("run", "Host.run() -> first frame", lambda c: c.run_to_frame),
    ]
    for section, unit_note, pick in picks:
        for case in cases[1:]:
            base = one if case.launcher == "zygote" else by_key[(case.count, "zygote")]
            ratio = None if case is one else spread_of(_ratios(pick(case), pick(base)))
            first = case is one or (case.launcher != "zygote" and case.count == plan.counts[0])
            rows.append(
                Row(
                    NAME,
                    f"{section}: {case.label}",
                    "ms",
                    spread_of([t * _MS for t in pick(case)]),
                    ratio,
                    None if ratio is None else f"{section}: {base.label}",
                    note=unit_note if first else "",
                    params={"section": section, "launcher": case.launcher, "instances": case.count},
                )
            )
    for n in (1, max(plan.counts)):
        case = by_key[(n, "zygote")]
        rows.append(
            Row(
                NAME,
                f"goal: first frame vs LEDMatrix, {case.label}",
                "ms",
                spread_of([t * _MS for t in case.to_frame]),
                spread_of([t / LEDMATRIX_FIRST_FRAME_S for t in case.to_frame]),
                f"LEDMatrix {LEDMATRIX_FIRST_FRAME_S} s (issue 7)",
                note="process start -> first frame; LEDMatrix's figure is not from this run",
                params={
                    "section": "goal",
                    "launcher": "zygote",
                    "instances": n,
                    "reference_s": LEDMATRIX_FIRST_FRAME_S,
                },
            )
        )
    problems = [p for c in cases for p in c.problems]
    runs = sum(len(c.run_to_frame) for c in cases)
    rows.append(
        check_row(
            NAME,
            "check: first frame lit, clean exit, none left behind",
            not problems,
            "; ".join(problems[:3]) or f"{runs} runs of ledhost run",
            section="check",
        )
    )
    return rows
