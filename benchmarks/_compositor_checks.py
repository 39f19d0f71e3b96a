"""Exactness of the compositor's kernels against wide-integer and float64 references.

The fast kernels work in narrow integers into preallocated buffers, which is exactly where
NumPy bites: under NumPy 2 a Python int is a "weak" scalar, so ``uint8_frame * 200`` is
computed *in uint8* and wraps silently (and ``* 256`` raises). Each reference here widens
to int64 (or float64 where the definition is real-valued) before any arithmetic, so it
cannot share the kernel's overflow; a kernel that disagrees anywhere fails the benchmark
run. The last check runs a naive uint8 blend through the same comparison to show it would
be caught, so a pass means something.

These live beside the benchmark rather than only in ``tests/`` because the benchmark
issue asks for the check in the run that produces the figures: a fast kernel that is
wrong is not a result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import numpy as np
import numpy.typing as npt

from benchmarks._util import Row, check_row
from host.display.color import TINTS, ColorSettings, ColorTransform
from host.display.compositor import Compositor
from host.display.transitions import Transitioner, TransitionSpec
from host.ipc.strip import StripImage

__all__ = ["check_rows"]

Frame = npt.NDArray[np.uint8]
Wide = npt.NDArray[np.int64]

_ALPHA_ONE: Final = 256
_SEED: Final = 20240601
#: Brightness x gamma x tint settings the LUT check covers.
_BRIGHTNESS: Final = (0, 1, 37, 50, 99, 100)
_GAMMAS: Final = (1.0, 2.2, 0.45)
_TINTS: Final = (TINTS["none"], TINTS["warm"], TINTS["red"], (0, 128, 255))


def _frames(width: int, height: int) -> list[Frame]:
    """Random frames, plus every code value 0-255 on every channel and the extremes."""
    rng = np.random.default_rng(_SEED)
    ramp = np.resize(np.arange(256, dtype=np.uint8), (height, width, 3))
    return [
        rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        ramp,
        ramp[:, ::-1].copy(),
        np.full((height, width, 3), 255, dtype=np.uint8),
        np.zeros((height, width, 3), dtype=np.uint8),
    ]


def _pairs(width: int, height: int) -> list[tuple[Frame, Frame]]:
    rnd1, rnd2, ramp, rev, full, dark = _frames(width, height)
    # full/full is the largest intermediate: 255 * 256 + 128 = 65408, near uint16's top.
    return [(rnd1, rnd2), (ramp, rev), (full, full), (dark, full), (full, dark)]


def _mismatch(got: npt.NDArray[np.generic], want: Wide, where: str) -> str | None:
    """``None`` when equal; else how many values differ and the first one."""
    diff = got.astype(np.int64) != want
    if not diff.any():
        return None
    first = tuple(int(i) for i in np.argwhere(diff)[0])
    return (
        f"{where}: {int(diff.sum())} values differ, first at {first}: "
        f"got {int(got[first])}, want {int(want[first])}"
    )


def _row(name: str, case: str, cases: int, what: str, errors: Iterable[str | None]) -> Row:
    problems = [e for e in errors if e is not None]
    if problems:
        note = f"{len(problems)} of {cases} failed; {problems[0]}"
    else:
        note = f"{cases} {what} exact"
    return check_row(name, case, not problems, note, section="check", size=case.split()[0])


# -- references ----------------------------------------------------------------------------


def crossfade_reference(old: Frame, new: Frame, alpha: int) -> Wide:
    """``(old * (256 - a) + new * a + 128) >> 8`` in int64 (transitions.py's definition)."""
    wide_old, wide_new = old.astype(np.int64), new.astype(np.int64)
    return (wide_old * (_ALPHA_ONE - alpha) + wide_new * alpha + _ALPHA_ONE // 2) >> 8


def colour_reference(src: Frame, settings: ColorSettings) -> Wide:
    """Gamma, brightness and tint per pixel, without a table (color.py's definition).

    Gamma 1 is exact integer arithmetic, ``(v * b * t + den / 2) // den``. Otherwise the
    real-valued expression is evaluated per pixel in float64 and rounded half up once.
    """
    v = src.astype(np.int64)
    scale = settings.brightness * np.array(settings.tint, dtype=np.int64)  # per channel
    den = 100 * 255
    if settings.gamma == 1:
        return (v * scale + den // 2) // den
    light = 255.0 * (v / 255.0) ** float(settings.gamma)
    return np.floor(light * scale / den + 0.5).astype(np.int64)


# -- checks --------------------------------------------------------------------------------


def _check_crossfade(name: str, width: int, height: int) -> Row:
    """Every one of the 257 weights, through the public render() the compositor calls."""
    transitioner = Transitioner(width, height)
    spec = TransitionSpec("crossfade", 1.0)
    errors = []
    pairs = _pairs(width, height)
    for alpha in range(_ALPHA_ONE + 1):
        for k, (old, new) in enumerate(pairs):
            # alpha / 256 is exact in binary, so the kernel's rounding sees this alpha.
            got = transitioner.render(spec, old, new, alpha / _ALPHA_ONE)
            errors.append(_mismatch(got, crossfade_reference(old, new, alpha), f"a={alpha} #{k}"))
    return _row(
        name,
        f"{width}x{height} check: crossfade, all 257 alphas",
        len(errors),
        "blends",
        errors,
    )


def _check_brightness(name: str, width: int, height: int) -> Row:
    """Compositor.set_brightness at every percent against ``(v * p + 50) // 100``."""
    compositor = Compositor(width, height)
    errors = []
    frames = _frames(width, height)
    for percent in range(101):
        compositor.set_brightness(percent)
        for k, src in enumerate(frames):
            want = (src.astype(np.int64) * percent + 50) // 100
            got = compositor.compose(src)
            errors.append(_mismatch(got, want, f"brightness {percent} #{k}"))
    return _row(name, f"{width}x{height} check: brightness 0-100", len(errors), "frames", errors)


def _check_colour_luts(name: str, width: int, height: int) -> Row:
    """The LUT path (one table, or three with channel offsets) for gamma, brightness, tint.

    Also that gamma's single rounding never strays more than half a code value from the
    real-valued result, which is what the module docstring promises.
    """
    transform = ColorTransform(width, height)
    out = np.empty((height, width, 3), dtype=np.uint8)
    errors: list[str | None] = []
    frames = _frames(width, height)
    for b in _BRIGHTNESS:
        for g in _GAMMAS:
            for tint in _TINTS:
                settings = ColorSettings(b, g, tint)
                transform.configure(settings)
                for k, src in enumerate(frames):
                    where = f"b={b} g={g} tint={tint} #{k}"
                    got = transform.apply(src, out)
                    errors.append(_mismatch(got, colour_reference(src, settings), where))
                    exact = 255.0 * (src / 255.0) ** g * b / 100 * np.array(tint, dtype=float) / 255
                    worst = float(np.abs(got - exact).max())
                    if worst > 0.5 + 1e-9:
                        errors.append(f"{where}: {worst:.3f} from the real value (> 0.5)")
    return _row(
        name,
        f"{width}x{height} check: colour LUTs (gamma, brightness, tint)",
        len(errors),
        "frames",
        errors,
    )


def _check_compose_chain(name: str, width: int, height: int) -> Row:
    """What the headline case computes: a crossfade, then gamma + brightness + tint."""
    old, new = _frames(width, height)[:2]
    settings = ColorSettings(50, 2.2, TINTS["warm"])
    compositor = Compositor(width, height)
    compositor.compose(old)
    compositor.set_color(settings)
    compositor.begin_transition(TransitionSpec("crossfade", 1.0), 0.0)
    errors = []
    for alpha in range(1, _ALPHA_ONE):  # 256 would end the transition
        want = colour_reference(crossfade_reference(old, new, alpha).astype(np.uint8), settings)
        got = compositor.compose(new, alpha / _ALPHA_ONE)
        errors.append(_mismatch(got, want, f"a={alpha}"))
    return _row(
        name,
        f"{width}x{height} check: compose crossfade + colour",
        len(errors),
        "frames",
        errors,
    )


def _geometry_reference(kind: str, old: Frame, new: Frame, off: int) -> Frame:
    """The slide and wipe layouts as transitions.py's module docstring defines them."""
    h, w = old.shape[:2]
    cat: Callable[..., Frame] = np.concatenate
    match kind:
        case "slide-left":
            return cat([old[:, off:], new[:, :off]], axis=1)
        case "slide-right":
            return cat([new[:, w - off :], old[:, : w - off]], axis=1)
        case "slide-up":
            return cat([old[off:], new[:off]], axis=0)
        case "slide-down":
            return cat([new[h - off :], old[: h - off]], axis=0)
        case "wipe-left":
            return cat([old[:, : w - off], new[:, w - off :]], axis=1)
        case "wipe-right":
            return cat([new[:, :off], old[:, off:]], axis=1)
        case "wipe-up":
            return cat([old[: h - off], new[h - off :]], axis=0)
        case "wipe-down":
            return cat([new[:off], old[off:]], axis=0)
    raise ValueError(f"no reference for transition {kind!r}")


def _check_geometry(name: str, width: int, height: int) -> Row:
    """Slides and wipes at every offset: slicing kernels, checked like the arithmetic ones."""
    transitioner = Transitioner(width, height)
    old, new = _frames(width, height)[:2]
    errors = []
    for direction in ("left", "right", "up", "down"):
        span = width if direction in ("left", "right") else height
        for prefix in ("slide", "wipe"):
            kind = f"{prefix}-{direction}"
            spec = TransitionSpec(kind, 1.0)
            for off in range(span + 1):
                got = transitioner.render(spec, old, new, off / span)
                want = _geometry_reference(kind, old, new, off).astype(np.int64)
                errors.append(_mismatch(got, want, f"{kind} off={off}"))
    return _row(
        name,
        f"{width}x{height} check: slides and wipes, every offset",
        len(errors),
        "frames",
        errors,
    )


def _check_strip(name: str, width: int, height: int) -> Row:
    """Scrolling by slicing a prebuilt band against modular column indexing of one cycle."""
    rng = np.random.default_rng(_SEED + 1)
    errors = []
    cases = 0
    for strip_width, gap in ((width * 3 + 7, None), (width // 3, 5), (width, 0)):
        pixels = rng.integers(1, 256, (height, strip_width, 3), dtype=np.uint8)
        strip = StripImage("bench", 0, pixels, 60.0, gap)
        compositor = Compositor(width, height)
        period = compositor.strip_period(strip)
        gap_px = width if gap is None else gap
        cycle = np.zeros((height, period, 3), dtype=np.uint8)
        cycle[:, gap_px : gap_px + strip_width] = pixels
        for offset in range(2 * period + 1):
            cases += 1
            want = cycle[:, (np.arange(width) + offset) % period].astype(np.int64)
            got = compositor.strip_view(strip, offset)
            errors.append(_mismatch(got, want, f"strip {strip_width}+{gap} off={offset}"))
    return _row(
        name, f"{width}x{height} check: strip scroll, every offset", cases, "positions", errors
    )


def _check_catches_naive_blend(name: str, width: int, height: int) -> Row:
    """The crossfade comparison flags a naive uint8 blend: the checks can fail at all."""
    old, new = _frames(width, height)[:2]
    caught = 0
    alphas = range(1, _ALPHA_ONE)
    for alpha in alphas:
        try:
            # The trap: Python ints are weak scalars, so this runs in uint8 and wraps.
            naive = (old * (_ALPHA_ONE - alpha) + new * alpha + 128) >> 8
        except OverflowError:  # NumPy 2 when a scalar does not fit uint8
            caught += 1
            continue
        if _mismatch(naive, crossfade_reference(old, new, alpha), "") is not None:
            caught += 1
    passed = caught == len(alphas)
    return check_row(
        name,
        f"{width}x{height} check: self-test, naive uint8 blend is caught",
        passed,
        f"naive blend differs from the int64 reference at {caught} of {len(alphas)} alphas",
        section="check",
        size=f"{width}x{height}",
    )


def check_rows(name: str, width: int, height: int) -> list[Row]:
    """Every kernel check at one display size, one row each."""
    return [
        _check_crossfade(name, width, height),
        _check_brightness(name, width, height),
        _check_colour_luts(name, width, height),
        _check_compose_chain(name, width, height),
        _check_geometry(name, width, height),
        _check_strip(name, width, height),
        _check_catches_naive_blend(name, width, height),
    ]
