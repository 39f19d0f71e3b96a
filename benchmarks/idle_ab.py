"""Two ledhost trees and the in-process clock side by side: the idle clock's cost per code.

``python -m benchmarks.idle_ab OLD NEW [--seconds S] [--window S]`` (each a checkout of
ledhost, e.g. ``git archive main | tar -x -C /tmp/old``; run it from a checkout that has
this module, with a Python that has ledhost's dependencies). Not in the runner's
registry: it compares code, not a case against its baseline.

Issue 15's idle goal (a clock with seconds, whole tree <= 1.5x the in-process clock) is a
matter of tens of microseconds a second, while the load of a shared machine moves one
tree's share by more than that between two runs of ``--only idle``. Here both trees show
the clock at once, as :mod:`benchmarks.idle` runs them (each ``ledhost`` below the
subreaper wrapper of :mod:`benchmarks.isolation`, so every process it starts is counted),
beside one in-process clock, and all three are sampled at the same instants: a load that
rises or falls moves every window alike. Prints one JSON line: per tree the median share
of a core over the windows, whole tree and per role (host, worker, ...), the in-process
clock's, and the medians of the per-window ratios NEW/OLD, OLD/in-process and
NEW/in-process. Five processes wake at the same second here, so the ratios to the
in-process clock read a little higher than ``--only idle``'s; NEW/OLD is the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import idle, isolation
from benchmarks.isolation import Sample, Tree, cpu_between, reference_argv, roles, sleep_until

#: After the in-process clock's first frame, seconds before the first window opens.
SETTLE = 2.0


def _start(tree: Path, folder: Path, seconds: float) -> tuple[Tree, float]:
    """``tree``'s ledhost showing the clock; returns it and when it ends (monotonic)."""
    config = isolation.write_config(folder, [("clock", "time", seconds + 60.0)])
    led = Tree(idle._driver(config, seconds + 20.0, "run"), root=tree)
    _, line = led.wait_for("out", "FIRST ")
    return led, float(line.split()[2]) + seconds + 20.0


def measure(old: Path, new: Path, seconds: float, window: float) -> dict[str, float]:
    """The medians described in the module docstring, over ``seconds`` of windows."""
    trees: dict[str, Tree] = {}
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="ledhost-idle-ab-") as tmp:
        try:
            ends = []
            for name, checkout in (("old", old), ("new", new)):
                (Path(tmp) / name).mkdir()
                trees[name], end = _start(checkout, Path(tmp) / name, seconds)
                ends.append(end)
            clock = [("clock", "time", seconds + 60.0)]
            ref = trees["in-process"] = Tree(reference_argv(clock, end_at=min(ends) - 1.0))
            _, line = ref.wait_for("out", "FIRST ")
            sleep_until(float(line.split()[1]) + SETTLE)
            names = list(trees)
            samples: list[tuple[float, list[Sample]]] = []
            samples.append(isolation.sample([trees[n].proc.pid for n in names]))
            stop = samples[0][0] + seconds
            while samples[-1][0] + window <= stop:
                sleep_until(samples[-1][0] + window)
                samples.append(isolation.sample([trees[n].proc.pid for n in names]))
        finally:
            for running in trees.values():
                running.abort()
    for (ta, before), (tb, after) in zip(samples, samples[1:], strict=False):
        row: dict[str, float] = {}
        for name, a, b in zip(names, before, after, strict=True):
            used = cpu_between(a, b)
            row[name] = sum(used.values()) / (tb - ta) * 100
            if name != "in-process":
                for role, cpu in roles(trees[name].child, used, b, {}).items():
                    row[f"{name} {role}"] = cpu / (tb - ta) * 100
        rows.append(row)
    median = statistics.median
    result = {key: median(r.get(key, 0.0) for r in rows) for key in sorted({*rows[0]})}
    result["new/old"] = median(r["new"] / r["old"] for r in rows)
    result["old/in-process"] = median(r["old"] / r["in-process"] for r in rows)
    result["new/in-process"] = median(r["new"] / r["in-process"] for r in rows)
    result["windows"] = len(rows)
    result["load"] = os.getloadavg()[0]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.idle_ab",
        description="Two ledhost trees and the in-process clock, idle, side by side.",
    )
    parser.add_argument("old", type=Path, help="a checkout of the code before")
    parser.add_argument("new", type=Path, help="a checkout of the code after")
    parser.add_argument("--seconds", type=float, default=60.0, help="windows, in all")
    parser.add_argument("--window", type=float, default=5.0, help="seconds per window")
    args = parser.parse_args(argv)
    for checkout in (args.old, args.new):
        if not (checkout / "host" / "app.py").is_file():
            parser.error(f"{checkout} is not a checkout of ledhost (no host/app.py)")
    if not 1.0 <= args.window <= args.seconds:
        parser.error("--window must be at least 1 s and at most --seconds")
    started = time.monotonic()
    result = measure(args.old.resolve(), args.new.resolve(), args.seconds, args.window)
    result["wall"] = time.monotonic() - started
    print(json.dumps({k: round(v, 5) for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
