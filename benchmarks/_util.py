"""Shared pieces of every benchmark: result rows, robust statistics, machine info, the table.

The machines these run on are shared and noisy: absolute times move by 2x between runs.
So every figure is a median over repeats with its spread (never a mean, which one
descheduled repeat drags), and every claim is a ratio against a baseline measured in the
same run, ideally in the same rounds (see :func:`rotations`), so slow patches of the
machine hit both sides of the ratio alike.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar, final

import numpy

__all__ = [
    "Row",
    "Spread",
    "check_row",
    "format_table",
    "machine_info",
    "progress",
    "rotations",
    "spread_of",
]

T = TypeVar("T")

#: Below this many samples quartiles say little; the spread is then the full range.
_MIN_FOR_IQR: Final = 4


@final
@dataclass(frozen=True, slots=True)
class Spread:
    """A median and how far the samples around it scatter."""

    median: float
    #: Lower end: the first quartile, or the minimum (see :attr:`kind`).
    low: float
    #: Upper end: the third quartile, or the maximum.
    high: float
    #: ``"IQR"`` (interquartile range) or ``"range"`` (min-max, for few samples).
    kind: str
    #: How many samples the figures summarise.
    n: int


def spread_of(samples: Sequence[float]) -> Spread:
    """Median and IQR of ``samples`` (min-max when there are too few for quartiles).

    :param samples: at least one value.
    :raises ValueError: if ``samples`` is empty, naming the fix.
    """
    if not samples:
        raise ValueError("no samples to summarise; run at least one repeat")
    values = sorted(samples)
    median = statistics.median(values)
    if len(values) < _MIN_FOR_IQR:
        return Spread(median, values[0], values[-1], "range", len(values))
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(median, q1, q3, "IQR", len(values))


@final
@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results: a timing (with spread and ratio) or a pass/fail check."""

    #: The benchmark module's ``NAME``.
    benchmark: str
    #: What was measured, unique within the benchmark, e.g. ``"128x64 paced: copy"``.
    case: str
    #: Unit of :attr:`value` (``"us/frame"``, ``"% core"``...); ``"check"`` for checks.
    unit: str
    #: The figure and its spread; ``None`` for a check.
    value: Spread | None = None
    #: Median of the per-round ratios of this case to :attr:`baseline`, with their spread.
    ratio: Spread | None = None
    #: The case (of the same benchmark) the ratio is against.
    baseline: str | None = None
    #: For checks: whether it passed. ``None`` for measurements.
    passed: bool | None = None
    #: One short line: what a check covered, or a caveat about a figure.
    note: str = ""
    #: Machine-readable labels (size, section, kernel...) so tools need not parse ``case``.
    params: Mapping[str, str | int | float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON-able data."""
        data = asdict(self)
        data["params"] = dict(self.params)
        for key in ("value", "ratio"):
            if data[key] is not None:  # 4 decimals: far below the noise, easier to read
                data[key] = {
                    k: round(v, 4) if isinstance(v, float) else v for k, v in data[key].items()
                }
        return data


def check_row(
    benchmark: str, case: str, passed: bool, note: str, **params: str | int | float
) -> Row:
    """A pass/fail row; any failed check makes the runner exit non-zero."""
    return Row(benchmark, case, "check", passed=passed, note=note, params=params)


def rotations(items: Sequence[T], rounds: int) -> Iterator[tuple[int, list[T]]]:
    """``rounds`` passes over ``items``, each starting one item later than the last.

    Interleaving the cases in rounds spreads the machine's slow spells over all of them,
    and rotating the order keeps any one case from always running first (cold) or
    right after the most expensive one.

    :returns: ``(round_index, items_in_this_round's_order)`` pairs.
    """
    n = len(items)
    for r in range(rounds):
        start = r % n if n else 0
        yield r, [*items[start:], *items[:start]]


def progress(message: str) -> None:
    """A progress line on stderr, so stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)


# -- machine -------------------------------------------------------------------------------


def _cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo: x86 says ``model name``, a Raspberry Pi says
    ``Model`` (and older kernels ``Hardware``); elsewhere fall back to :mod:`platform`."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    for key in ("model name", "model", "hardware", "cpu model"):
        if fields.get(key):
            return fields[key]
    return platform.processor() or platform.machine() or "unknown"


def _git_commit() -> str | None:
    """The checked-out commit (with ``-dirty``), so results can be tied to the code."""
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: they only compare within one machine and run."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "loadavg_at_start": load,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": numpy.__version__,
        "commit": _git_commit(),
    }


# -- table ---------------------------------------------------------------------------------


def _num(x: float) -> str:
    """Three significant figures or so, without switching to exponents for our ranges."""
    ax = abs(x)
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def _cells(row: Row) -> list[str]:
    if row.value is None:
        verdict = "n/a" if row.passed is None else ("PASS" if row.passed else "FAIL")
        median, spread = verdict, ""
    else:
        v = row.value
        median = _num(v.median)
        spread = f"{v.kind} {_num(v.low)}..{_num(v.high)}"
    if row.ratio is None:
        ratio = ""
    else:
        r = row.ratio
        ratio = f"{_num(r.median)}x ({_num(r.low)}..{_num(r.high)})"
    return [row.benchmark, row.case, median, spread, row.unit, ratio, row.baseline or "", row.note]


_HEADER: Final = ["benchmark", "case", "median", "spread", "unit", "ratio", "baseline", "note"]


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table, one row per line, columns padded to fit (the note runs on)."""
    lines = [_HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(_HEADER) - 1)]
    out = []
    for i, line in enumerate(lines):
        cols = [
            cell.ljust(w) if c != 2 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(line, widths, strict=False))
        ]
        out.append("  ".join([*cols, line[-1]]).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in [*widths, len(_HEADER[-1])]))
    return "\n".join(out)
