"""Judging what ``ledhost check`` measured: pure functions from records to findings.

:func:`judge_size` reads one panel size's measurements (:class:`SizeRun`: the probe's
records, the frames the host received, the worker's state) and returns a
:class:`Finding` per problem; a finding carries the figure and the limit it broke, so a
report line reads ``128x32 main: render time 0.31 s (Pi) > 0.1 s``. Figures for CPU are
this machine's CPU times multiplied by the budget's scale factor
(:mod:`host.author.budget`); time a render spends off the CPU is judged on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np

from host.author.budget import Budget

__all__ = ["MIN_CONTRAST", "MIN_TEXT_PX", "Finding", "SizeRun", "judge_size"]

#: Text whose capitals are fewer pixels high than this is too small to read on a panel:
#: the smallest bundled font (``small``) has 5-pixel capitals, the least a letter needs.
MIN_TEXT_PX: Final = 5
#: The least WCAG contrast ratio between text and what is behind it: 3:1, WCAG's figure
#: for large text (all LED text is large to the eye: a pixel is millimetres wide).
MIN_CONTRAST: Final = 3.0
#: The fastest frame rate the host shows (a delay of 0 means "as fast as you can").
MAX_FPS: Final = 30.0
#: Seconds a render may spend off the CPU (sleeping, waiting for the network or a file):
#: past half a second the host gives the mode's turn away, on any Pi.
MAX_WAIT: Final = 0.5


@dataclass(frozen=True)
class Finding:
    """One problem: where, what, and the figure against its limit."""

    size: str
    mode: str
    #: A short code: crash, error, outside, small-text, low-contrast, blank, render-time,
    #: render-wait, strip-time, refresh-time, cpu-share, memory, worker-memory, schema,
    #: metadata.
    what: str
    detail: str
    figure: float | None = None
    limit: float | None = None
    unit: str = ""

    def line(self) -> str:
        where = f"{self.size} {self.mode}".strip() or "plugin"
        text = f"{where}: {self.what}: {self.detail}"
        if self.figure is not None and self.limit is not None:
            text += f" ({_fmt(self.figure)}{self.unit} > {_fmt(self.limit)}{self.unit})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


@dataclass
class SizeRun:
    """What one worker at one panel size did."""

    size: str
    #: The probe's records (one per hook call), in order.
    records: list[dict[str, Any]] = field(default_factory=list)
    #: Frames the host received, per mode.
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)
    #: Strip pixels the host received, per mode.
    strips: dict[str, np.ndarray] = field(default_factory=dict)
    #: What ``has_content`` said per mode (the host's view).
    content: dict[str, bool] = field(default_factory=dict)
    #: Errors the worker reported, per mode ("" for boot and refresh).
    errors: dict[str, str] = field(default_factory=dict)
    #: Why the worker did not run or stopped, or "".
    crash: str = ""
    #: The worker's CPU seconds (user + system, from /proc) by the end.
    cpu_seconds: float = 0.0


def _pi_seconds(record: Mapping[str, Any], factor: float) -> float:
    """The call's CPU time here, as the Pi's. Time it spent off the CPU is judged apart
    (:data:`MAX_WAIT`): on a busy machine it is mostly other processes' turn, which says
    nothing of the plugin."""
    return float(record.get("cpu", 0.0)) * factor


def _waited(record: Mapping[str, Any]) -> float:
    """Seconds the call was blocked: neither on a CPU nor waiting for one."""
    wall, cpu = float(record.get("wall", 0.0)), float(record.get("cpu", 0.0))
    return max(wall - cpu - float(record.get("runq", 0.0)), 0.0)


def judge_size(run: SizeRun, budget: Budget, factor: float) -> list[Finding]:
    """The findings of one size; ``factor`` is Pi seconds per CPU second here."""
    found: list[Finding] = []
    size = run.size
    if run.crash:
        found.append(Finding(size, "", "crash", run.crash))
    for mode, error in run.errors.items():
        found.append(Finding(size, mode, "error", error.splitlines()[0][:300]))
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for record in run.records:
        if record.get("hook") in ("render_frame", "render_strip"):
            by_mode.setdefault(str(record.get("mode")), []).append(record)
    for mode, records in by_mode.items():
        found += _judge_mode(size, mode, records, budget, factor)
    for mode, frames in run.frames.items():
        if run.content.get(mode, True) and frames and not any(f.any() for f in frames):
            found.append(
                Finding(size, mode, "blank", f"all {len(frames)} frames are black, but "
                        "has_content said the mode has something to show")
            )  # fmt: skip
    for mode, strip in run.strips.items():
        if run.content.get(mode, True) and not strip.any():
            found.append(Finding(size, mode, "blank", "the strip is black"))
    for record in run.records:
        if record.get("hook") == "refresh_data":
            cpu = float(record.get("cpu", 0.0)) * factor
            over = _over(size, "", "refresh-time", "refresh_data CPU time on the Pi", cpu,
                         budget.refresh_cpu_seconds, " s")  # fmt: skip
            if over:
                found += over
                break  # one refresh over its budget says it
    found += _judge_memory(size, run.records, budget)
    return found


def _judge_mode(
    size: str, mode: str, records: Sequence[dict[str, Any]], budget: Budget, factor: float
) -> list[Finding]:
    found: list[Finding] = []
    frames = [r for r in records if r.get("hook") == "render_frame"]
    strips = [r for r in records if r.get("hook") == "render_strip" and r.get("strip")]
    timed = frames[1:] or frames  # the first frame pays for fonts and caches, once
    if timed:
        slowest = max(_pi_seconds(r, factor) for r in timed)
        found += _over(size, mode, "render-time", "slowest render_frame on the Pi", slowest,
                       budget.render_seconds, " s")  # fmt: skip
        waiting = max(_waited(r) for r in frames)
        found += _over(size, mode, "render-wait", "render_frame waited (sleep, network, "
                       "files: do that in refresh_data)", waiting, MAX_WAIT, " s")  # fmt: skip
        moving = [r for r in timed if r.get("delay") is not None]
        if moving:
            cpu = sum(float(r.get("cpu", 0.0)) * factor for r in moving)
            shown = sum(max(float(r["delay"]), 1.0 / MAX_FPS) for r in moving)
            share = cpu / shown
            found += _over(size, mode, "cpu-share", "share of a Pi core while on screen",
                           share, budget.cpu_share)  # fmt: skip
    if strips:
        slowest = max(_pi_seconds(r, factor) for r in strips)
        found += _over(size, mode, "strip-time", "render_strip on the Pi", slowest,
                       budget.strip_seconds, " s")  # fmt: skip
    draws = [d for r in records for d in r.get("draws", [])]
    outside = [d for d in draws if d.get("kind") == "outside"]
    if outside:
        first = outside[0]
        label = f" {first['text']!r}" if first.get("text") else ""
        found.append(
            Finding(size, mode, "outside", f"{len(outside)} draw(s) reach outside the canvas, "
                    f"e.g. {first.get('what')}{label} at {_box(first.get('box'))}")
        )  # fmt: skip
    texts = [d for d in draws if d.get("kind") == "text"]
    small = [d for d in texts if 0 < int(d.get("height", 0)) < MIN_TEXT_PX]
    if small:
        least = min(small, key=lambda d: int(d["height"]))
        found.append(
            Finding(size, mode, "small-text", f"text {least.get('text')!r} has capitals "
                    f"{least['height']} px high; {MIN_TEXT_PX} px is the least readable")
        )  # fmt: skip
    faint = [d for d in texts if float(d.get("contrast", 21.0)) < MIN_CONTRAST]
    if faint:
        worst = min(faint, key=lambda d: float(d["contrast"]))
        found.append(
            Finding(size, mode, "low-contrast", f"text {worst.get('text')!r} in "
                    f"{_hex(worst.get('color'))} on {_hex(worst.get('background'))}: contrast "
                    f"{float(worst['contrast']):.3g}:1, at least {MIN_CONTRAST:g}:1 is readable")
        )  # fmt: skip
    return found


def _judge_memory(size: str, records: Sequence[dict[str, Any]], budget: Budget) -> list[Finding]:
    peaks = [int(r.get("hwm_kb", 0)) for r in records]
    bases = [int(r.get("baseline_kb", 0)) for r in records if r.get("baseline_kb")]
    if not peaks or not bases:
        return []
    peak_mib, base_mib = max(peaks) / 1024, min(bases) / 1024
    return [
        *_over(size, "", "memory", "peak memory the plugin adds to its worker",
               peak_mib - base_mib, budget.memory_mib, " MiB"),
        *_over(size, "", "worker-memory", "peak RSS of the worker", peak_mib,
               budget.worker_mib, " MiB"),
    ]  # fmt: skip


def _over(
    size: str, mode: str, what: str, detail: str, figure: float, limit: float, unit: str = ""
) -> list[Finding]:
    """A finding when a measured figure is over its limit; none otherwise."""
    return [Finding(size, mode, what, detail, figure, limit, unit)] if figure > limit else []


def _box(box: Any) -> str:
    try:
        x0, y0, x1, y1 = (int(v) for v in box)
    except (TypeError, ValueError):
        return "?"
    return f"({x0},{y0})-({x1},{y1})"


def _hex(rgb: Any) -> str:
    try:
        return "#" + "".join(f"{int(c):02x}" for c in list(rgb)[:3])
    except (TypeError, ValueError):
        return "?"
