"""SD-card care: bytes ledhost's whole process tree writes to storage, per hour.

Issue 20. An SD card wears out by writes, so a sign that runs for years must not write
per frame or per second. ``ledhost run`` (headless backend, the web process on, several
builtin plugins: a clock with seconds, a scrolling text, the system page, a countdown)
runs for a window (quick: 20 s; full: 5 minutes; ``python -m benchmarks.writes
--seconds 3600`` for the one-hour figure the README quotes), below a small wrapper that
is a child subreaper and reaps every process below it, so its own ``/proc/self/io``
afterwards holds the I/O of the whole tree, the processes that exited included (the
kernel adds a reaped child's counters to its parent's, as it does for CPU time).

Figures, from ``/proc/<pid>/io``:

- ``write_bytes``: bytes sent to the storage layer (page cache pages dirtied on a real
  filesystem: what reaches the SD card). ``steady``: from a few seconds after the first
  frame to the end, summed over every process of the tree, sampled in sub-windows (the
  repeats), scaled to an hour; split per process role. ``whole run``: start to exit,
  start-up included (the wrapper's counters).
- ``wchar``: every byte passed to ``write()`` and friends, pipes and sockets included
  (log lines to the journal, control messages): not storage, shown for scale.
- ``files``: the files under the data folder and the config folder created or changed
  during the steady window (by mtime and size): state written on change only shows up
  here as nothing.

There is no same-run baseline to divide by: the budget is absolute (no per-frame or
per-second files), so the check row holds the steady figure against
:data:`BUDGET_BYTES_PER_HOUR`. The measurement needs the data folder on a real
filesystem (``tmpfs`` pages are never "sent to storage"); it uses a folder beside this
file's ``out/`` for that reason.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from benchmarks.isolation import Tree, sample, sleep_until

if TYPE_CHECKING:
    from benchmarks._util import Row

NAME: Final = "writes"
TITLE: Final = "SD-card writes of the whole tree with several plugins and the web process"

#: Steady-state storage writes allowed per hour: a state file rewritten on a change now
#: and then fits many times over; anything per second (3600 writes of a 4 KiB page is
#: 14 MiB) does not.
BUDGET_BYTES_PER_HOUR: Final = 1024 * 1024
#: After the first frame, seconds before the steady window opens (workers still boot).
SETTLE: Final = 5.0
#: Where the throwaway data folder goes: on the repository's filesystem, never tmpfs.
SCRATCH: Final = Path(__file__).resolve().parent / "out"


@dataclass(frozen=True)
class Plan:
    seconds: float  # the whole run
    step: float  # seconds per steady sub-window


QUICK: Final = Plan(20.0, 4.0)
FULL: Final = Plan(300.0, 30.0)

#: Runs ``argv[1:]`` as a child subreaper that reaps everything below it, then prints
#: ``IO {json}``: its own /proc/self/io (which then holds the whole tree's) and rusage.
_IO_WRAPPER: Final = r"""
import ctypes, json, os, resource, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
child = subprocess.Popen(sys.argv[1:])
print("HOST", child.pid, flush=True)
status = None
while True:
    try:
        pid, code, _ = os.wait4(-1, 0)
    except ChildProcessError:
        break
    if pid == child.pid:
        status = os.waitstatus_to_exitcode(code)
with open("/proc/self/io") as f:
    io = {k: int(v) for k, v in (line.split(":") for line in f)}
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print("IO", json.dumps({"io": io, "oublock": usage.ru_oublock, "status": status}), flush=True)
"""

#: ``ledhost run`` shows this rotation; every instance also runs in its own worker.
_CONFIG: Final = """
[display]
cols = 64
rows = 32
backend = "headless"
[rotation]
modes = [{{ mode = "clock", duration = 5.0 }}, {{ mode = "text", duration = 8.0 }},
         {{ mode = "system", duration = 5.0 }}, {{ mode = "countdown", duration = 5.0 }}]
[workers]
user = ""
[paths]
data_dir = {data}
[control]
socket = {socket}
[web]
enabled = true
bind = "127.0.0.1"
port = {port}
[plugins.clock]
show_seconds = true
[plugins.text]
message = "Hello from ledhost! This message scrolls while the benchmark counts writes."
[plugins.system]
[plugins.countdown]
"""


def read_io(pid: int) -> dict[str, int] | None:
    """``/proc/<pid>/io`` as a mapping, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/io") as f:
            return {k: int(v) for k, v in (line.split(":") for line in f)}
    except (OSError, ValueError):
        return None


def census(*folders: Path) -> dict[str, tuple[int, int]]:
    """path -> (mtime_ns, size) of every file below ``folders``."""
    found: dict[str, tuple[int, int]] = {}
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                found[path] = (st.st_mtime_ns, st.st_size)
    return found


@dataclass
class Figures:
    """Per sub-window: bytes per hour by role (``"whole tree"`` their sum), per counter."""

    steady: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    whole: dict[str, float] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _role(host: int, pid: int, kind: str) -> str:
    if pid == host:
        return "host"
    if kind:
        return kind
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "other"
    return "web" if b"web" in cmdline else "other"


def measure(plan: Plan, scratch: Path) -> Figures:
    """One run of ``ledhost run`` for ``plan.seconds``: sampled every ``plan.step``."""
    figures = Figures()
    data, etc = scratch / "data", scratch / "etc"
    etc.mkdir(parents=True)
    config = etc / "ledhost.toml"
    config.write_text(
        _CONFIG.format(
            data=json.dumps(str(data)),
            socket=json.dumps(str(scratch / "control.sock")),
            port=_free_port(),
        ),
        encoding="utf-8",
    )
    argv = [sys.executable, "-c", _IO_WRAPPER, sys.executable, "-m", "host", "run",
            "--config", str(config), "--duration", str(plan.seconds)]  # fmt: skip
    tree = Tree(argv)
    try:
        host = int(tree.wait_for("out", "HOST ")[1].split()[1])
        tree.wait_for("err", "showing", timeout=120.0)
        sleep_until(time.monotonic() + SETTLE)
        start = time.monotonic()
        end = tree.spawned + plan.seconds - 1.0
        before_files = census(data, etc)
        last: dict[int, dict[str, int]] = {}
        at = start
        for pid in sample([tree.child])[1][0]:
            if (io := read_io(pid)) is not None:
                last[pid] = io
        while at + plan.step <= end:
            sleep_until(at + plan.step)
            now = time.monotonic()
            window: dict[str, dict[str, float]] = {}
            for pid, (_, _, kind) in sample([tree.child])[1][0].items():
                io = read_io(pid)
                if io is None:
                    continue
                prev = last.get(pid, {})
                role = _role(host, pid, kind)
                for counter in ("write_bytes", "wchar"):
                    per_hour = (io[counter] - prev.get(counter, 0)) * 3600.0 / (now - at)
                    by_role = window.setdefault(counter, {})
                    by_role[role] = by_role.get(role, 0.0) + per_hour
                    by_role["whole tree"] = by_role.get("whole tree", 0.0) + per_hour
                last[pid] = io
            for counter, by_role in window.items():
                for role, value in by_role.items():
                    figures.steady.setdefault(counter, {}).setdefault(role, []).append(value)
            figures.seconds += now - at
            at = now
        after_files = census(data, etc)
        figures.changed = sorted(p for p, st in after_files.items() if before_files.get(p) != st)
        tree.finish(timeout=plan.seconds + 60.0)
        result = json.loads(tree.wait_for("out", "IO ", 1.0)[1][3:])
        figures.whole = {k: float(v) for k, v in result["io"].items()}
        if result["status"]:
            figures.problems.append(f"ledhost run exited {result['status']}")
    finally:
        tree.abort()
    return figures


def run(quick: bool, plan: Plan | None = None) -> list[Row]:
    """Measure one run; rows of bytes per hour (steady, by role), the run, the check."""
    from benchmarks._util import Row, check_row, progress, spread_of

    plan = plan or (QUICK if quick else FULL)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    progress(f"  writes: ledhost run for {plan.seconds:g} s, sampled every {plan.step:g} s")
    with tempfile.TemporaryDirectory(prefix="writes-", dir=SCRATCH) as tmp:
        figures = measure(plan, Path(tmp))
    params: dict[str, str | int | float] = {
        "section": "writes",
        "seconds": plan.seconds,
        "steady_s": round(figures.seconds),
    }
    rows: list[Row] = []
    for counter, unit, note in (
        ("write_bytes", "KiB/h", "to storage (the SD card), steady state"),
        ("wchar", "KiB/h", "every write() incl. pipes and sockets: not storage"),
    ):
        by_role = figures.steady.get(counter, {})
        for role in sorted(by_role, key=lambda r: (r != "whole tree", r)):
            rows.append(Row(NAME, f"steady {counter}: {role}", unit,
                            spread_of([v / 1024 for v in by_role[role]]),
                            note=note if role == "whole tree" else "", params=params))  # fmt: skip
    if figures.whole:
        rows.append(Row(NAME, "whole run write_bytes (start-up included)", "KiB",
                        spread_of([figures.whole["write_bytes"] / 1024]),
                        note="the subreaper's counters: every process, exited ones too",
                        params=params))  # fmt: skip
    steady = figures.steady.get("write_bytes", {}).get("whole tree", [])
    median = sorted(steady)[len(steady) // 2] if steady else float("nan")
    rows.append(check_row(
        NAME, f"check: steady writes under {BUDGET_BYTES_PER_HOUR // 1024} KiB/h",
        bool(steady) and median <= BUDGET_BYTES_PER_HOUR and not figures.problems,
        "; ".join(figures.problems) or f"{len(figures.changed)} files changed in the steady "
        f"window: {', '.join(Path(p).name for p in figures.changed) or 'none'}",
        section="check",
    ))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.writes --seconds 3600 [--json FILE]``: one long window."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.writes", description=TITLE)
    parser.add_argument("--seconds", type=float, default=FULL.seconds)
    parser.add_argument("--step", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    ns = parser.parse_args(argv)
    from benchmarks._util import format_table

    rows = run(False, Plan(ns.seconds, min(ns.step, ns.seconds / 4)))
    print(format_table(rows))
    if ns.json is not None:
        ns.json.write_text(json.dumps([r.to_json() for r in rows], indent=1) + "\n")
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
