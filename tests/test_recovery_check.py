"""The recovery benchmark's check (``benchmarks/recovery.py``), on samples made here.

CI runs ``benchmarks --quick`` after the suite, on a loaded 2-core machine, where a
spinning render's (niced) heartbeat thread may starve past ``heartbeat_timeout`` before
``render_timeout`` fires. The check must pass whichever deadline caught the hang, say which,
and still fail when a hang was caught for another reason or its worker not replaced.
"""

from __future__ import annotations

from typing import Any

from benchmarks.recovery import _check, _hang_rows

BY_RENDER = "hung in render_frame (no answer within 0.5 s)"
BY_BEAT = "hung: no heartbeat for 0.6 s (code holding the interpreter, limit 0.5 s)"


def _hang(reason: str, **changes: Any) -> dict[str, Any]:
    sample = {"iid": "spin", "decided": 10.0, "reason": reason, "last_hb": 9.5, "busy": []}
    sample |= {"activated": 9.0, "frame": 9.01, "hb_start": None, "boot": 0.1}
    return sample | {"reaped": 10.1, "replaced": 10.3} | changes


STOP = {"reason": "stopped (no heartbeat)"}


def test_a_hang_caught_by_either_deadline_passes_and_the_note_says_which() -> None:
    row = _check([], [_hang(BY_RENDER), _hang(BY_BEAT)], [STOP])
    assert row.passed is True
    assert "2 hangs caught and replaced (1 by render_timeout, 1 by heartbeat_timeout)" in row.note


def test_a_hang_caught_otherwise_or_not_replaced_fails() -> None:
    other = _check([], [_hang("over memory limit (600 MiB resident, limit 512 MiB)")], [STOP])
    assert other.passed is False and "hang: over memory limit" in other.note
    kept = _check([], [_hang(BY_BEAT, replaced=None)], [STOP])
    assert kept.passed is False and "hang: not replaced" in kept.note


def test_the_hang_figures_count_only_render_timeouts_catches() -> None:
    assert _hang_rows(0.5, [_hang(BY_BEAT)]) == []
    rows = _hang_rows(0.5, [_hang(BY_BEAT), _hang(BY_RENDER, hb_start=9.1)])
    assert [r.params["n"] for r in rows] == [1, 1]
