"""What a plugin may cost on a Raspberry Pi, and how this machine's figures translate.

``ledhost check`` measures a plugin here and multiplies its CPU figures by a scale factor
to a Pi before comparing them with a :class:`Budget` (``docs/budgets.md`` explains each
limit and where each figure comes from):

- :func:`measure_speed` times a fixed pure-Python workload (the Computer Language
  Benchmarks Game's n-body, the same algorithm as :data:`PI4_NBODY_US_PER_STEP` was
  measured with) on this machine, now, so a loaded machine measures slower and the
  factor adapts;
- a Pi 4's time per step is published (see :data:`PI4_NBODY_US_PER_STEP`); a Zero 2 W's
  is an estimate from the Pi 4's (:data:`ZERO2W_VS_PI4`).

Memory is not scaled: a worker's pages are Python objects and libraries of about the same
size on a 64-bit Pi OS (a 32-bit one is smaller, so this errs on the safe side).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BUDGETS",
    "PI4_NBODY_US_PER_STEP",
    "ZERO2W_VS_PI4",
    "Budget",
    "measure_speed",
    "nbody",
    "scale_factor",
]

#: A Raspberry Pi 4 Model B (Cortex-A72, 1.5 GHz, performance governor) ran the n-body
#: benchmark in Python for 5,000,000 steps in 158.26 s: 31.65 us a step (Chaitanya Mehta,
#: "Performance Analysis of Languages on Raspberry Pi",
#: https://chaitanyamehta.github.io/projects/performance-analysis-of-programming-languages).
PI4_NBODY_US_PER_STEP: Final = 158.26e6 / 5_000_000
#: How much slower a Zero 2 W (Cortex-A53, 1.0 GHz) runs Python than a Pi 4: an
#: estimate, not a measurement: 1.5x from the clock, and about 2x per clock for the A53's
#: in-order core on interpreter code (reviews put the Zero 2 W at a Pi 3B+'s speed, which
#: published single-core figures put 2.5-3.5x below a Pi 4).
ZERO2W_VS_PI4: Final = 3.0
#: n-body steps :func:`measure_speed` runs: ~0.1 s here, long enough to time steadily.
SPEED_STEPS: Final = 20_000


@dataclass(frozen=True)
class Budget:
    """The limits one Pi model gives a plugin, in that Pi's seconds and MiB."""

    name: str
    #: Slowest ``render_frame`` (not counting each mode's first frame at a size).
    render_seconds: float
    #: Slowest ``render_strip``.
    strip_seconds: float
    #: CPU time of one ``refresh_data`` call (network waits do not count).
    refresh_cpu_seconds: float
    #: Share of one core a mode's frames take while it is on screen: render CPU time over
    #: the time the plugin asked the frame to stay.
    cpu_share: float
    #: Peak memory the plugin adds to a worker (its peak RSS over an empty worker's).
    memory_mib: float
    #: Peak RSS of the whole worker (``[workers] memory`` kills above 256 MiB).
    worker_mib: float
    #: Pi seconds per second here for pure Python: multiplies this machine's CPU figures.
    slowdown: float


#: The budgets by ``--budget`` name; :attr:`Budget.slowdown` is filled in by
#: :func:`scale_factor` when the check runs.
BUDGETS: Final = {
    "pi4": Budget("pi4", 0.1, 0.5, 2.0, 0.25, 64.0, 200.0, 1.0),
    "zero2w": Budget("zero2w", 0.2, 1.0, 4.0, 0.25, 32.0, 120.0, ZERO2W_VS_PI4),
}


def nbody(steps: int) -> float:
    """The Benchmarks Game's n-body (five bodies, ``dt = 0.01``) for ``steps`` steps.

    :returns: the kinetic energy afterwards (so the work cannot be skipped).
    """
    pi = 3.141592653589793
    solar_mass = 4 * pi * pi
    days = 365.24
    # (position, velocity, mass) of the sun, Jupiter, Saturn, Uranus and Neptune.
    bodies: list[tuple[list[float], list[float], float]] = [
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], solar_mass),
        ([4.84143144246472090e00, -1.16032004402742839e00, -1.03622044471123109e-01],
         [1.66007664274403694e-03 * days, 7.69901118419740425e-03 * days,
          -6.90460016972063023e-05 * days], 9.54791938424326609e-04 * solar_mass),
        ([8.34336671824457987e00, 4.12479856412430479e00, -4.03523417114321381e-01],
         [-2.76742510726862411e-03 * days, 4.99852801234917238e-03 * days,
          2.30417297573763929e-05 * days], 2.85885980666130812e-04 * solar_mass),
        ([1.28943695621391310e01, -1.51111514016986312e01, -2.23307578892655734e-01],
         [2.96460137564761618e-03 * days, 2.37847173959480950e-03 * days,
          -2.96589568540237556e-05 * days], 4.36624404335156298e-05 * solar_mass),
        ([1.53796971148509165e01, -2.59193146099879641e01, 1.79258772950371181e-01],
         [2.68067772490389322e-03 * days, 1.62824170038242295e-03 * days,
          -9.51592254519715870e-05 * days], 5.15138902046611451e-05 * solar_mass),
    ]  # fmt: skip
    pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]
    dt = 0.01
    for _ in range(steps):
        for (r1, v1, m1), (r2, v2, m2) in pairs:
            dx, dy, dz = r1[0] - r2[0], r1[1] - r2[1], r1[2] - r2[2]
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** -1.5)
            b1m, b2m = m1 * mag, m2 * mag
            v1[0] -= dx * b2m
            v1[1] -= dy * b2m
            v1[2] -= dz * b2m
            v2[0] += dx * b1m
            v2[1] += dy * b1m
            v2[2] += dz * b1m
        for r, v, _m in bodies:
            r[0] += dt * v[0]
            r[1] += dt * v[1]
            r[2] += dt * v[2]
    energy = 0.0
    for _r, v, m in bodies:
        energy += 0.5 * m * (v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
    return energy


def measure_speed(steps: int = SPEED_STEPS, rounds: int = 3) -> float:
    """Microseconds per n-body step here (the best of ``rounds``, as CPU time)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.thread_time()
        nbody(steps)
        best = min(best, time.thread_time() - start)
    return best * 1e6 / steps


def scale_factor(budget: Budget, here_us_per_step: float) -> float:
    """Seconds on ``budget``'s Pi per CPU second here."""
    return PI4_NBODY_US_PER_STEP / here_us_per_step * budget.slowdown
