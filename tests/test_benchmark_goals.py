"""The goal verdicts: each issue-15 goal judged from a run's rows, margins and all.

Readings, not timings: these tests feed ``judge`` results of known figures and check the
verdict and its margin, that a quick run's missing full-only row is "not run" while any
other missing row is a bug the runner fails on, and that the README table says it.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import startup
from benchmarks.goals import GOALS, Goal, judge, markdown

CPU = Goal("idle clock", "idle", "steady share: ledhost clock", "ratio", "<=", 1.5, "x")
HANDOFF = Goal("hand-off", "handoff", "128x64 cpu: mp.Queue pickled", "ratio", ">=", 3.0, "x")
PSS = Goal("pss", "memory", "pss host+1: zygote", "value", "<=", 56.3, "MiB")
TWENTY = Goal("20", "startup", "process: 20 clock instances: zygote", "value", "<=", 1000.0, "ms",
              full_only=True)  # fmt: skip


def _row(case: str, value: float, ratio: float | None = None) -> dict[str, Any]:
    def spread(m: float) -> dict[str, Any]:
        return {"median": m, "low": m * 0.9, "high": m * 1.1, "kind": "IQR", "n": 5}

    return {"case": case, "value": spread(value), "ratio": None if ratio is None else spread(ratio)}


def _results(quick: bool = False, **benchmarks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "quick": quick,
        "benchmarks": {name: {"error": None, "rows": rows} for name, rows in benchmarks.items()},
    }


def test_a_ratio_at_most_its_limit_is_met_with_the_margin_left() -> None:
    (v,) = judge(_results(idle=[_row("steady share: ledhost clock", 0.07, 1.42)]), [CPU])
    assert v.state == "met" and v.measured == 1.42
    assert v.margin == pytest.approx(0.08)
    assert "met by 0.08x" in v.line()


def test_a_ratio_over_its_limit_is_missed_by_how_much() -> None:
    (v,) = judge(_results(idle=[_row("steady share: ledhost clock", 0.09, 1.61)]), [CPU])
    assert v.state == "missed" and v.margin == pytest.approx(-0.11)
    assert "MISSED by 0.11x" in v.line()


def test_an_at_least_goal_is_met_above_and_missed_below() -> None:
    rows = [_row("128x64 cpu: mp.Queue pickled", 400.0, 3.4)]
    (met,) = judge(_results(handoff=rows), [HANDOFF])
    assert met.state == "met" and met.margin == pytest.approx(0.4)
    rows = [_row("128x64 cpu: mp.Queue pickled", 400.0, 2.9)]
    (missed,) = judge(_results(handoff=rows), [HANDOFF])
    assert missed.state == "missed" and missed.margin == pytest.approx(-0.1)


def test_a_value_goal_judges_the_median_not_the_ratio() -> None:
    (v,) = judge(_results(memory=[_row("pss host+1: zygote", 57.0, 0.5)]), [PSS])
    assert v.state == "missed" and v.measured == 57.0
    assert v.margin == pytest.approx(-0.7)


def test_a_benchmark_not_run_or_raising_leaves_its_goal_unjudged() -> None:
    assert judge(_results(), [CPU])[0].state == "not run"
    broken = {"quick": False, "benchmarks": {"idle": {"error": "RuntimeError: x", "rows": []}}}
    assert judge(broken, [CPU])[0].state == "not run"


def test_a_missing_row_is_a_bug_unless_only_a_full_run_prints_it() -> None:
    quick = judge(_results(quick=True, startup=[_row("other", 1.0)]), [TWENTY, CPU])
    assert quick[0].state == "not run"  # --quick measures 1 and 10 clocks, not 20
    full = judge(_results(startup=[_row("other", 1.0)]), [TWENTY])
    assert full[0].state == "no row"
    assert "did not print this row" in full[0].line()


def test_the_readme_table_says_each_verdict_and_margin() -> None:
    results = _results(
        idle=[_row("steady share: ledhost clock", 0.07, 1.42)],
        memory=[_row("pss host+1: zygote", 58.1)],
    )
    table = markdown(judge(results, [CPU, PSS, HANDOFF]))
    lines = table.splitlines()
    assert lines[0] == "| goal | measured (spread) | limit | verdict |"
    assert "| idle clock | 1.42x (1.28-1.56) | <= 1.5x | **met** by 0.08x |" in lines
    assert "| pss | 58.1 MiB (52.3-63.9) | <= 56.3 MiB | **missed** by 1.8 MiB |" in lines
    assert "| hand-off | (not run) | >= 3x | |" in lines


def test_the_full_startup_run_measures_the_twenty_plugins_goal() -> None:
    """The one full-only goal's row exists in a full run (CI's quick run cannot show it)."""
    assert 20 in startup.FULL.counts and 20 not in startup.QUICK.counts
    assert [g for g in GOALS if g.full_only] == [
        g for g in GOALS if g.case == "process: 20 clock instances: zygote"
    ]
