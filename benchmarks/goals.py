"""The performance goals the benchmarks are judged by, and their verdicts from one run.

Issue 15 set ledhost's goals as ratios against in-process references measured in the same
run (and two absolute budgets). They used to live only in prose; here each is data: which
benchmark row carries it, which of its figures (the median or the median ratio), and the
limit. After a run the runner prints every verdict under the table and stores them in
``results.json`` (``goals``), and ``python -m benchmarks.goals [results.json]`` prints the
README's goal table from a run's file, so the table is regenerated, not retyped.

A verdict is a reading, not a test: no timing decides the exit status (the machines are
too noisy). One thing does: a goal whose row a benchmark that ran did not print. That is a
renamed case, and a goal that silently stops being judged is worse than a failed run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, final

__all__ = ["GOALS", "Goal", "Verdict", "judge", "markdown"]


@final
@dataclass(frozen=True, slots=True)
class Goal:
    """One goal: ``row[field].median <op> limit`` for the named row of one benchmark."""

    #: What the goal is, as the issue words it (the table's first column).
    what: str
    #: The benchmark module's ``NAME``.
    benchmark: str
    #: The row's ``case``, exactly as the benchmark prints it.
    case: str
    #: ``"ratio"``: the median of the per-round ratios; ``"value"``: the median itself.
    field: Literal["ratio", "value"]
    #: ``"<="`` (at most) or ``">="`` (at least).
    op: Literal["<=", ">="]
    limit: float
    #: How the limit reads (``"x"`` for ratios, else the row's unit).
    unit: str
    #: Only a full run prints this row (``--quick`` measures fewer sizes).
    full_only: bool = False


#: Issue 15's goals (the frame hand-off's and first frame's came from the benchmark issue).
GOALS: Final[tuple[Goal, ...]] = (
    Goal("one clock with seconds, steady whole-tree CPU vs a minimal in-process clock",
         "idle", "steady share: ledhost clock", "ratio", "<=", 1.5, "x"),
    Goal("clock + scrolling text, steady whole-tree CPU vs the in-process reference",
         "isolation", "steady share: ledhost run", "ratio", "<=", 1.3, "x"),
    Goal("start-up CPU of one clock, first 5 s, vs the in-process clock started cold",
         "startcpu", "first 5 s: ledhost clock, whole tree", "ratio", "<=", 1.0, "x"),
    Goal("PSS of one clock, whole tree (59 MB)",
         "memory", "pss host+1: zygote", "value", "<=", 59e6 / 2**20, "MiB"),
    Goal("PSS per additional idle worker",
         "memory", "pss per worker, slope: zygote", "value", "<=", 8.0, "MiB"),
    Goal("first frame with one plugin, process start",
         "startup", "process: 1 clock instance: zygote", "value", "<=", 500.0, "ms"),
    Goal("first frame with 20 plugins, process start",
         "startup", "process: 20 clock instances: zygote", "value", "<=", 1000.0, "ms",
         full_only=True),
    Goal("frame hand-off at 128x64: a pickled Queue's CPU per frame vs the frame bus",
         "handoff", "128x64 cpu: mp.Queue pickled", "ratio", ">=", 3.0, "x"),
)  # fmt: skip


@final
@dataclass(frozen=True, slots=True)
class Verdict:
    """A goal as one run measured it."""

    goal: Goal
    #: ``"met"``, ``"missed"``, ``"not run"`` (its benchmark did not run or raised, or a
    #: quick run lacks the row) or ``"no row"`` (it ran and did not print the row: a bug).
    state: Literal["met", "missed", "not run", "no row"]
    #: The median judged, and the spread around it (``None`` unless measured).
    measured: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def margin(self) -> float | None:
        """How far inside the limit (positive) or outside it (negative), in its unit."""
        if self.measured is None:
            return None
        gap = self.goal.limit - self.measured
        return gap if self.goal.op == "<=" else -gap

    def line(self) -> str:
        """One line: the figure, its spread, the limit and the verdict with its margin."""
        g = self.goal
        if self.measured is None:
            why = "the benchmark did not print this row" if self.state == "no row" else "not run"
            return f"{g.what}: {why}"
        spread = f" ({_num(self.low)}..{_num(self.high)})"
        verdict = "met" if self.state == "met" else "MISSED"
        return (
            f"{g.what}: {_fig(self.measured, g.unit)}{spread}, goal {g.op}"
            f" {_fig(g.limit, g.unit)}: {verdict} by {_fig(abs(self.margin or 0), g.unit)}"
        )


def _fig(value: float, unit: str) -> str:
    return f"{_num(value)}{unit}" if unit == "x" else f"{_num(value)} {unit}"


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def judge(results: Mapping[str, Any], goals: Sequence[Goal] = GOALS) -> list[Verdict]:
    """Each goal's verdict from a run's ``results.json`` data."""
    verdicts: list[Verdict] = []
    quick = bool(results.get("quick"))
    for goal in goals:
        bench = results.get("benchmarks", {}).get(goal.benchmark)
        if bench is None or bench.get("error"):
            verdicts.append(Verdict(goal, "not run"))
            continue
        row = next((r for r in bench["rows"] if r["case"] == goal.case), None)
        figure = None if row is None else row.get(goal.field)
        if figure is None:
            state: Literal["not run", "no row"] = (
                "not run" if quick and goal.full_only and row is None else "no row"
            )
            verdicts.append(Verdict(goal, state))
            continue
        median = float(figure["median"])
        met = median <= goal.limit if goal.op == "<=" else median >= goal.limit
        verdicts.append(
            Verdict(goal, "met" if met else "missed", median, figure["low"], figure["high"])
        )
    return verdicts


def markdown(verdicts: Sequence[Verdict]) -> str:
    """The README's goal table: goal, figure with spread, limit, verdict with margin."""
    lines = ["| goal | measured (spread) | limit | verdict |", "| --- | --- | --- | --- |"]
    for v in verdicts:
        g = v.goal
        limit = f"{g.op} {_fig(g.limit, g.unit)}"
        if v.measured is None:
            lines.append(f"| {g.what} | ({v.state}) | {limit} | |")
            continue
        figure = f"{_fig(v.measured, g.unit)} ({_num(v.low)}-{_num(v.high)})"
        verdict = f"**{'met' if v.state == 'met' else 'missed'}** by"
        lines.append(
            f"| {g.what} | {figure} | {limit} | {verdict} {_fig(abs(v.margin or 0), g.unit)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Print the goal table of a run (default: the runner's default ``results.json``)."""
    from benchmarks.__main__ import DEFAULT_OUT

    path = Path(argv[0]) if argv else DEFAULT_OUT / "results.json"
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read {path}: {exc}; run python -m benchmarks first", file=sys.stderr)
        return 2
    print(markdown(judge(results)))
    machine = results.get("machine", {})
    print(
        f"\nFrom {path} ({'quick' if results.get('quick') else 'full'} run, "
        f"{machine.get('date', '?')}, commit {machine.get('commit', '?')})."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
