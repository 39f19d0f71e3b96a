"""Start-up CPU: what starting ``ledhost run`` with one clock costs the whole tree (issue 15).

The issue's goal: start-up CPU <= the in-process reference's (the in-process peer used
0.45 s of CPU in its first 5 s; ledhost 0.75 s). Each round starts, one after the other
and each alone (the order alternates), cold interpreters both:

- ``ledhost run --config FILE --backend headless`` exactly as the CLI runs it (``python -m
  host``; one clock instance, web and MQTT off, the zygote launcher), with one probe
  installed right after the CLI forks its zygote, where ``host.app`` would load it anyway:
  the headless backend prints ``FIRST <monotonic>`` at its first push;
- the in-process reference of :mod:`benchmarks.idle` and :mod:`benchmarks.isolation`
  (:func:`~benchmarks.isolation.reference_argv`): one Python process that imports Pillow,
  sets up the same clock plugin with the same font, and draws it once a second into a
  panel buffer through the same compositor.

Each runs below the subreaper wrapper of :mod:`benchmarks.isolation`, which is not
counted; the tree below it is sampled (every live process's CPU, user + system, from
``/proc/<pid>/task/*/schedstat``) when its first frame is seen and 5 s after it was
spawned. Figures, each a median over rounds with the per-round ratio to the reference:

- ``first 5 s``: whole-tree CPU in the first 5 s after spawning, and ledhost's split
  (host, zygote, worker): the issue's figure;
- ``to first frame``: whole-tree CPU until the first frame was pushed.

Processes that ended before a sample (the zygote's short-lived middle processes, a few
ms each) are not counted; nor is anything the host does after 5 s (its shutdown).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from benchmarks.isolation import Tree, reference_argv, roles, sample, sleep_until, write_config

if TYPE_CHECKING:
    from benchmarks._util import Row

NAME: Final = "startcpu"
TITLE: Final = "Start-up CPU of ledhost run with one clock vs the in-process reference"

#: The issue's window: CPU in the first 5 s.
WINDOW: Final = 5.0
#: Rounds (each one ledhost run and one reference run).
QUICK_ROUNDS: Final = 1
FULL_ROUNDS: Final = 7
#: The issue's figures from the in-process peer (LEDMatrix), measured elsewhere.
PEER_FIRST_5S: Final = 0.45

#: ``ledhost run`` as ``python -m host`` runs it, with the first-push probe installed
#: right after the zygote is forked (so it adds nothing to the zygote or the workers).
_DRIVER: Final = r"""
import runpy, sys, time
import host.supervise.spawner as spawner

early = spawner.fork_zygote_early

def fork_then_probe():
    early()
    import host.display.backends.headless as headless
    push = headless.HeadlessBackend.push
    seen = []
    def first_push(self, frame, at):
        push(self, frame, at)
        if not seen:
            seen.append(True)
            print("FIRST", time.monotonic(), flush=True)
    headless.HeadlessBackend.push = first_push

spawner.fork_zygote_early = fork_then_probe
sys.argv = ["ledhost", *sys.argv[1:]]
# Its exit status reaches the subreaper wrapper, which reports it (``ledhost run`` may end
# the process with os._exit: nothing after this line is sure to run).
runpy.run_module("host", run_name="__main__", alter_sys=True)
"""


@dataclass
class Figures:
    """Samples per case (``"ledhost"``, ``"in-process"``), filled round by round."""

    window: dict[str, list[float]] = field(default_factory=dict)
    first: dict[str, list[float]] = field(default_factory=dict)
    #: Runs whose first frame came after the window (a loaded machine): noted, not failed.
    late: int = 0
    #: Per ledhost round: role -> CPU seconds in the window.
    parts: list[dict[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, table: dict[str, list[float]], case: str, value: float) -> None:
        table.setdefault(case, []).append(value)


def _ledhost_argv(config: Path) -> list[str]:
    argv = ["run", "--config", str(config), "--backend", "headless", "--launcher", "zygote"]
    return [sys.executable, "-c", _DRIVER, *argv, "--duration", str(WINDOW + 3.0), "-q"]


def measure(case: str, argv: list[str], figures: Figures) -> None:
    """Start one tree, sample it at its first frame and at spawn + :data:`WINDOW`."""
    tree = Tree(argv)
    try:
        _, line = tree.wait_for("out", "FIRST ", timeout=60.0)
        _, (at_first,) = sample([tree.proc.pid])
        figures.add(figures.first, case, sum(cpu for _, cpu, _ in at_first.values()))
        if float(line.split()[1]) > tree.spawned + WINDOW:
            figures.late += 1
        sleep_until(tree.spawned + WINDOW)
        _, (at_end,) = sample([tree.proc.pid])
        figures.add(figures.window, case, sum(cpu for _, cpu, _ in at_end.values()))
        if case == "ledhost":
            cpu = {pid: seconds for pid, (_, seconds, _) in at_end.items()}
            figures.parts.append(roles(tree.child, cpu, at_end, {}))
        end = tree.finish()
        if end["status"] or end["left"]:
            figures.problems.append(f"{case}: exit {end['status']}, left {end['left']}")
    finally:
        tree.abort()


def run(quick: bool) -> list[Row]:
    """Alternating ledhost and reference start-ups; rows of CPU seconds and ratios."""
    from benchmarks._util import Row, check_row, progress, spread_of

    rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    rotation = [("clock", "time", 2 * WINDOW)]
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-startcpu-") as tmp:
        config = write_config(Path(tmp), rotation)
        cases = {
            "ledhost": _ledhost_argv(config),
            "in-process": reference_argv(rotation, show_for=WINDOW + 1.0),
        }
        progress(f"  start-up CPU: {rounds} rounds, ledhost and the in-process clock in turn")
        for index in range(rounds):
            order = list(cases) if index % 2 == 0 else list(reversed(cases))
            for case in order:
                measure(case, cases[case], figures)
                time.sleep(0.5)  # let the previous tree's exit settle

    def row(case: str, values: list[float], base: list[float] | None, note: str = "") -> Row:
        ratio = None
        if base is not None:
            ratio = spread_of([v / b for v, b in zip(values, base, strict=True) if b > 0])
        return Row(
            NAME,
            case,
            "s",
            spread_of(values),
            ratio,
            None if base is None else "the in-process clock's, same rounds",
            note=note,
            params={"section": "startcpu", "rounds": rounds, "window_s": WINDOW},
        )

    window, first = figures.window, figures.first
    rows = [
        row(f"first {WINDOW:g} s: ledhost clock, whole tree", window["ledhost"],
            window["in-process"], "the issue's goal: <= the in-process reference's"
            + (f"; {figures.late} run(s) first drew after {WINDOW:g} s" if figures.late else "")),
        row(f"first {WINDOW:g} s: in-process clock", window["in-process"], None),
    ]  # fmt: skip
    for role in sorted({r for part in figures.parts for r in part}):
        values = [part.get(role, 0.0) for part in figures.parts]
        rows.append(row(f"first {WINDOW:g} s: ledhost {role}", values, window["in-process"]))
    rows += [
        row("to first frame: ledhost clock, whole tree", first["ledhost"], first["in-process"]),
        row("to first frame: in-process clock", first["in-process"], None),
        Row(
            NAME,
            f"first {WINDOW:g} s: ledhost / the in-process peer's {PEER_FIRST_5S} s",
            "x",
            spread_of([v / PEER_FIRST_5S for v in window["ledhost"]]),
            note="the peer (LEDMatrix) measured in another run: not a same-run ratio",
            params={"section": "startcpu", "other_run": PEER_FIRST_5S},
        ),
        check_row(NAME, "check: clean runs (a first frame, clean exits, nothing left)",
                  not figures.problems, "; ".join(figures.problems) or "all runs",
                  section="check"),
    ]  # fmt: skip
    return rows
