"""The compositor tick at 60 fps: CPU per frame and share of a core, as ratios to a copy.

Three sections, in this order in the table:

``paced``
    The claim. Each case runs as the host loop runs it: one call per 1/60 s tick, the thread
    asleep in between (deadline-based, so the cadence does not drift). A tight loop keeps
    the frame, the tables and the interpreter hot in cache; a real 60 fps loop sleeps 16 ms
    between frames while other processes run, and pays the cold misses every time. Measured
    here the paced copy costs several times its tight-loop time, so only paced figures may
    be quoted. Per frame, ``time.thread_time`` brackets the call; the bracket alone costs
    a few microseconds when cold, so it is measured as its own case (``loop only``) in the
    same rounds and subtracted. The share of a core is the thread's CPU over wall time for
    the whole paced round, sleeping and waking included: what the loop would cost the Pi.
    Cases are interleaved in rounds with a rotating order, and every ratio is taken within
    a round, then the median of those is reported: both sides of a ratio saw the same
    stretch of a noisy machine.
``tight``
    timeit-style medians of the kernels in a hot loop, for reference only: they show what
    the kernel choices buy (integer blends into preallocated buffers against allocating
    and float variants, table lookups, slicing a prebuilt band to scroll against rolling),
    not what the host pays.
``check``
    Every integer kernel against a wide-integer or float64 reference (see
    :mod:`benchmarks._compositor_checks`); a failure makes the runner exit non-zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from benchmarks._compositor_checks import check_rows
from benchmarks._util import Row, check_row, progress, rotations, spread_of
from host.display.color import TINTS, ColorSettings, ColorTransform
from host.display.compositor import Compositor
from host.display.transitions import Transitioner, TransitionSpec, progress_at
from host.ipc.strip import StripImage

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "compositor"
TITLE: Final = "compositor tick at 60 fps: paced CPU and core share vs a frame copy; kernels"

FPS: Final = 60
#: The headline display; the other sizes run in full mode only.
HEADLINE: Final = (128, 64)
#: The frame bus has three slots per worker, so a tick reads one of three frames.
_SLOTS: Final = 3
_SEED: Final = 7
_US: Final = 1e6

Frame = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure: ``--quick`` keeps the smoke test short; full is for figures."""

    sizes: tuple[tuple[int, int], ...]
    #: Paced seconds per case and size, split into rounds of :attr:`round_frames`.
    seconds_per_case: float
    round_frames: int
    #: Tight loop: repeats per kernel, and the wall time one repeat aims for.
    tight_repeats: int
    tight_repeat_s: float

    @property
    def rounds(self) -> int:
        return max(4, round(self.seconds_per_case * FPS / self.round_frames))


QUICK: Final = Plan((HEADLINE,), 1.5, 15, 15, 0.003)
FULL: Final = Plan(((64, 32), HEADLINE, (256, 64)), 10.0, 30, 41, 0.01)


# -- paced ---------------------------------------------------------------------------------


@dataclass
class PacedCase:
    """One thing the loop does per tick, and a guard that it does what its label says."""

    key: str
    label: str
    #: Called once per tick with the tick's index and ``time.monotonic()``.
    tick: Callable[[int, float], object]
    #: Outside the timed region: a reason the case is not measuring what it claims, if so.
    invalid: Callable[[float], str | None] = lambda now: None
    #: Per-round medians of the bracketed CPU per frame, and CPU / wall per round.
    frame_cpu: list[float] = field(default_factory=list)
    share: list[float] = field(default_factory=list)
    #: Every frame's bracketed CPU, for the percentiles in the JSON.
    samples: list[float] = field(default_factory=list)
    late: int = 0


def _random_frames(width: int, height: int, count: int, seed: int) -> list[Frame]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def _transition_case(
    key: str, label: str, kind: str, frames: Sequence[Frame], span: float
) -> PacedCase:
    """A transition that runs, mid-way, for the whole benchmark.

    The duration is four times ``span`` (the wall time of every round of every case) and
    the start a quarter of it in the past, so progress stays within [0.25, 0.5]: never the
    first or last 1/512, where the crossfade short-circuits to a plain copy.
    """
    height, width = frames[0].shape[:2]
    compositor = Compositor(width, height)
    compositor.compose(_random_frames(width, height, 1, _SEED + 1)[0])  # the old content
    compositor.set_brightness(50)
    spec = TransitionSpec(kind, 4 * span)
    started = time.monotonic() - span
    compositor.begin_transition(spec, started)

    def invalid(now: float) -> str | None:
        done = progress_at(spec, now - started)
        if not compositor.transitioning(now) or not 1 / 256 <= done < 255 / 256:
            return f"{kind} was not mid-way {now - started:.1f} s in (progress {done:.3f})"
        return None

    return PacedCase(
        key, label, lambda i, now: compositor.compose(frames[i % _SLOTS], now), invalid
    )


def paced_cases(width: int, height: int, span: float) -> list[PacedCase]:
    """The paced cases at one size; ``span`` is how long all of them will run in total."""
    frames = _random_frames(width, height, _SLOTS, _SEED)
    out = np.empty((height, width, 3), dtype=np.uint8)

    identity = Compositor(width, height)
    colour = Compositor(width, height)
    colour.set_color(ColorSettings(50, 2.2, TINTS["warm"]))

    strip_pixels = _random_frames(width * 4, height, 1, _SEED + 2)[0]
    strip = StripImage("bench", 0, strip_pixels, float(FPS), None)
    scroller = Compositor(width, height)
    t0 = time.monotonic()

    def scroll(i: int, now: float) -> object:
        # 60 px/s at 60 fps: a new slice every tick, as the presenter computes it.
        return scroller.compose_strip(strip, int((now - t0) * strip.speed), now)

    return [
        PacedCase("timer", "loop only", lambda i, now: None),
        PacedCase("copy", "copy", lambda i, now: np.copyto(out, frames[i % _SLOTS])),
        PacedCase("identity", "identity", lambda i, now: identity.compose(frames[i % _SLOTS])),
        PacedCase("colour", "b50+g2.2+warm", lambda i, now: colour.compose(frames[i % _SLOTS])),
        _transition_case("crossfade", "crossfade+b50", "crossfade", frames, span),
        _transition_case("slide", "slide-left+b50", "slide-left", frames, span),
        PacedCase("strip", "strip 60px/s", scroll),
    ]


def pace_round(case: PacedCase, frames: int) -> None:
    """Run ``frames`` ticks of ``case`` at :data:`FPS` and record what they cost.

    Like the host, a tick that is more than a period late is dropped, not caught up with
    by running back to back (which would turn the paced loop into a tight one).
    """
    period = 1.0 / FPS
    now = time.monotonic()
    if (problem := case.invalid(now)) is not None:
        raise RuntimeError(f"paced case {case.label!r} is not valid: {problem}")
    samples: list[float] = []
    thread_time, monotonic, sleep = time.thread_time, time.monotonic, time.sleep
    wall0, cpu0 = monotonic(), thread_time()
    next_at = wall0
    for i in range(frames):
        next_at += period
        delay = next_at - monotonic()
        if delay > 0:
            sleep(delay)
        elif delay < -period:
            case.late += 1
            next_at = monotonic()
        now = monotonic()
        t = thread_time()
        case.tick(i, now)
        samples.append(thread_time() - t)
    cpu, wall = thread_time() - cpu0, monotonic() - wall0
    if (problem := case.invalid(monotonic())) is not None:
        raise RuntimeError(f"paced case {case.label!r} is not valid: {problem}")
    case.frame_cpu.append(float(np.median(samples)))
    case.share.append(cpu / wall)
    case.samples.extend(samples)


def paced_rows(width: int, height: int, plan: Plan) -> list[Row]:
    """Interleaved paced rounds of every case at one size, as table rows."""
    span = 8 * plan.rounds * plan.round_frames / FPS + 5  # generous: 7 cases, plus slack
    cases = paced_cases(width, height, span)
    progress(
        f"  paced {width}x{height}: {len(cases)} cases x {plan.rounds} rounds x "
        f"{plan.round_frames} frames at {FPS} fps "
        f"(~{len(cases) * plan.rounds * plan.round_frames / FPS:.0f} s)"
    )
    for case in cases:  # warm-up, not recorded: first-call setup such as building the band
        for i in range(3):
            case.tick(i, time.monotonic())
    for _, order in rotations(cases, plan.rounds):
        for case in order:
            pace_round(case, plan.round_frames)

    by_key = {c.key: c for c in cases}
    timer, copy = by_key["timer"], by_key["copy"]
    size = f"{width}x{height}"
    rows: list[Row] = []

    def net(case: PacedCase) -> list[float]:
        return [c - t for c, t in zip(case.frame_cpu, timer.frame_cpu, strict=True)]

    copy_net = net(copy)
    base_cpu = f"{size} paced cpu: copy"
    base_share = f"{size} paced share: copy"
    for case in cases:
        pct = np.percentile(case.samples, [50, 90, 99]) * _US
        params: dict[str, str | int | float] = {
            "section": "paced",
            "size": size,
            "kernel": case.key,
            "frames": len(case.samples),
            "rounds": len(case.frame_cpu),
            "late_ticks": case.late,
            "frame_p50_us": round(float(pct[0]), 2),
            "frame_p90_us": round(float(pct[1]), 2),
            "frame_p99_us": round(float(pct[2]), 2),
        }
        late = f"; {case.late} late ticks" if case.late else ""
        if case is timer:
            value = spread_of([x * _US for x in case.frame_cpu])
            cpu_row = Row(
                NAME,
                f"{size} paced cpu: {case.label}",
                "us/frame",
                value,
                note="the thread_time bracket alone; subtracted from every case" + late,
                params=params,
            )
        else:
            mine = net(case)
            ratios = [m / c for m, c in zip(mine, copy_net, strict=True) if c > 0]
            cpu_row = Row(
                NAME,
                f"{size} paced cpu: {case.label}",
                "us/frame",
                spread_of([x * _US for x in mine]),
                None if case is copy or not ratios else spread_of(ratios),
                None if case is copy else base_cpu,
                note=("the floor" if case is copy else "") + late,
                params=params,
            )
        share_ratios = [s / c for s, c in zip(case.share, copy.share, strict=True)]
        share_row = Row(
            NAME,
            f"{size} paced share: {case.label}",
            "% core",
            spread_of([s * 100 for s in case.share]),
            None if case is copy else spread_of(share_ratios),
            None if case is copy else base_share,
            note="pacing alone: sleep, wake, timers" if case is timer else "",
            params={**params, "section": "paced-share"},
        )
        rows += [cpu_row, share_row]
    return rows


# -- tight ---------------------------------------------------------------------------------


#: Which tight-loop kernels must give the same pixels as which chosen one (see
#: :func:`_check_alternatives`): a faster kernel that computes something else is no option.
_SAME_AS: Final = {
    "xf_i32": "xf_u16",
    "xf_f64": "xf_u16",
    "b_u16": "b_lut",
    "b_u16_out": "b_lut",
    "b_fancy": "b_lut",
}


def tight_kernels(width: int, height: int) -> list[tuple[str, str, Callable[[], Frame]]]:
    """``(key, label, call)`` for each kernel; ``copy`` first, the baseline.

    Each chosen kernel sits beside the alternatives it was chosen over. Every call returns
    the frame it produced, so :func:`_check_alternatives` can compare them.
    """
    old, new, src = _random_frames(width, height, 3, _SEED + 3)
    out = np.empty((height, width, 3), dtype=np.uint8)
    scratch = np.empty((height, width, 3), dtype=np.uint16)
    alpha = 102
    p = alpha / 256  # exact in binary, so every variant blends with the same weight
    fader = Transitioner(width, height).render
    fade, slide = TransitionSpec("crossfade", 1.0), TransitionSpec("slide-left", 1.0)
    dim = ColorTransform(width, height, ColorSettings(50))
    warm = ColorTransform(width, height, ColorSettings(50, 2.2, TINTS["warm"]))
    lut50 = dim.luts[0]
    full = Compositor(width, height)
    full.compose(old)
    full.set_brightness(50)
    full.begin_transition(fade, 0.0)
    strip = StripImage("bench", 0, _random_frames(width * 4, height, 1, _SEED)[0], 60.0, None)
    scroller = Compositor(width, height)
    period = scroller.strip_period(strip)
    # One cycle laid out as the band is: the default gap of one panel, then the strip.
    cycle = np.zeros((height, period, 3), dtype=np.uint8)
    cycle[:, width:] = strip.pixels
    offsets = {"band": 0, "roll": 0}

    def band_slice() -> Frame:
        offsets["band"] = (offsets["band"] + 1) % period
        np.copyto(out, scroller.strip_view(strip, offsets["band"]))
        return out

    def rolled() -> Frame:
        offsets["roll"] = (offsets["roll"] + 1) % period
        np.copyto(out, np.roll(cycle, -offsets["roll"], axis=1)[:, :width])
        return out

    def int32_blend() -> Frame:
        wide = old.astype(np.int32) * (256 - alpha) + new.astype(np.int32) * alpha + 128
        return (wide >> 8).astype(np.uint8)

    def float_blend() -> Frame:
        # Exact here: both weights are multiples of 1/256, so floor(x + 0.5) rounds half up.
        return np.floor(old * (1 - p) + new * p + 0.5).astype(np.uint8)

    def u16_brightness() -> Frame:
        wide = src.astype(np.uint16) * np.uint16(50) + np.uint16(50)
        return (wide // np.uint16(100)).astype(np.uint8)

    def u16_brightness_out() -> Frame:
        np.copyto(scratch, src)
        np.multiply(scratch, np.uint16(50), out=scratch)
        np.add(scratch, np.uint16(50), out=scratch)
        np.floor_divide(scratch, np.uint16(100), out=scratch)
        np.copyto(out, scratch, casting="unsafe")  # <= 255 after the division
        return out

    def copy() -> Frame:
        np.copyto(out, src)
        return out

    return [
        ("copy", "copy", copy),
        ("xf_u16", "crossfade, uint16 scratch (chosen)", lambda: fader(fade, old, new, p)),
        ("xf_i32", "crossfade, int32 allocating", int32_blend),
        ("xf_f64", "crossfade, float64 allocating", float_blend),
        ("b_lut", "brightness, intp take LUT (chosen)", lambda: dim.apply(src, out)),
        ("b_u16", "brightness, uint16 allocating", u16_brightness),
        ("b_u16_out", "brightness, uint16 scratch", u16_brightness_out),
        ("b_fancy", "brightness, lut[src] allocating", lambda: lut50[src]),
        ("c_lut3", "b50+g2.2+warm, 768 LUT (chosen)", lambda: warm.apply(src, out)),
        ("slide", "slide-left, slices", lambda: fader(slide, old, new, p)),
        ("strip_band", "scroll, slice of band (chosen)", band_slice),
        ("strip_roll", "scroll, np.roll per frame", rolled),
        ("compose_xf", "compose crossfade+b50", lambda: full.compose(new, p)),
    ]


def _alternatives_row(size: str, kernels: Sequence[tuple[str, str, Callable[[], Frame]]]) -> Row:
    """Whether each alternative gives the chosen kernel's pixels (one call each).

    A faster kernel that computes something else is no alternative. The scroll pair is
    compared too: both advance their own offset from the same start. Which side is wrong,
    if any, the exactness checks say.
    """
    produced = {key: call().copy() for key, _, call in kernels}
    pairs = [*_SAME_AS.items(), ("strip_roll", "strip_band")]
    differ = [f"{a} != {c}" for a, c in pairs if not np.array_equal(produced[a], produced[c])]
    note = f"differ: {', '.join(differ)}" if differ else f"{len(pairs)} pairs give equal pixels"
    return check_row(
        NAME,
        f"{size} check: tight alternatives match the chosen kernels",
        not differ,
        note,
        section="check",
        size=size,
    )


def _calls_per_repeat(call: Callable[[], Frame], target: float) -> int:
    """How many calls make one repeat last about ``target`` seconds (timeit's autorange)."""
    number = 1
    while True:
        t = time.perf_counter()
        for _ in range(number):
            call()
        if (elapsed := time.perf_counter() - t) >= target / 10 or number >= 1 << 20:
            return max(1, round(number * target / max(elapsed, 1e-9)))
        number *= 10


def tight_rows(width: int, height: int, plan: Plan) -> list[Row]:
    """timeit-style medians in a hot loop, each repeat's ratio to the copy in its round,
    and a check row saying whether the alternatives compute what the chosen kernels do."""
    kernels = tight_kernels(width, height)
    size = f"{width}x{height}"
    agree = _alternatives_row(size, kernels)
    numbers = {key: _calls_per_repeat(call, plan.tight_repeat_s) for key, _, call in kernels}
    progress(f"  tight {width}x{height}: {len(kernels)} kernels x {plan.tight_repeats} repeats")
    per_call: dict[str, list[float]] = {key: [] for key, _, _ in kernels}
    for _, order in rotations(kernels, plan.tight_repeats):
        for key, _, call in order:
            number = numbers[key]
            t = time.perf_counter()
            for _ in range(number):
                call()
            per_call[key].append((time.perf_counter() - t) / number)
    rows = []
    for key, label, _ in kernels:
        ratios = [k / c for k, c in zip(per_call[key], per_call["copy"], strict=True)]
        rows.append(
            Row(
                NAME,
                f"{size} tight: {label}",
                "us/call",
                spread_of([x * _US for x in per_call[key]]),
                None if key == "copy" else spread_of(ratios),
                None if key == "copy" else f"{size} tight: copy",
                note="hot cache, reference only" if key == "copy" else "",
                params={"section": "tight", "size": size, "kernel": key, "calls": numbers[key]},
            )
        )
    return [*rows, agree]


# -- entry point ---------------------------------------------------------------------------


def run(quick: bool) -> list[Row]:
    """Exactness checks first (cheap, and a wrong kernel is no result), then the paced
    figures for every size and the tight loop; the table lists checks last."""
    plan = QUICK if quick else FULL
    checks: list[Row] = []
    for width, height in plan.sizes:
        progress(f"  checks {width}x{height}")
        checks += check_rows(NAME, width, height)
    rows: list[Row] = []
    for width, height in plan.sizes:
        rows += paced_rows(width, height, plan)
    *tight, agree = tight_rows(*HEADLINE, plan)
    return [*rows, *tight, *checks, agree]
