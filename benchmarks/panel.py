"""What reaches the panel, and when: an interrupt's way to the panel, and frame lateness.

Issue 12 moved these figures out of the tests (``tests/test_host.py`` asserted an alert
on the panel within 0.25 s of its request; ``tests/test_zoo.py`` bounded the mean and
worst frame lateness), because a test that times a shared machine fails when the machine
is busy, not when the host is wrong. Here they are measured and reported as ratios, as
every benchmark is, and never fail a run.

How: the real host, in this process, with real workers (``spawn``) for the test plugins
``solid`` (grey, at the configured fps) and ``interrupter`` (asks for an all-red alert
``after`` seconds into its run), on a recording backend. A round is one run; the host's
own stats give when the interrupt switched the show (``modes_shown``) and its frame
lateness; the backend stamps each push with the loop's clock.

- ``interrupt -> panel``: from the interrupt's switch to the first all-red push. The
  worker must render the alert first, so the design figure is one frame period; the
  ratio is against that period (configured, not measured).
- ``frame lateness: mean`` and ``max``: the host's own ``mean_frame_lateness_ms`` and
  ``max_frame_lateness_ms`` over the run, against the same period.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks._util import Row, check_row, progress, spread_of

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "panel"
TITLE: Final = "interrupt to panel and frame lateness, real host and workers, vs one frame period"

ROOT: Final = Path(__file__).resolve().parent.parent
TEST_PLUGINS: Final = ROOT / "tests" / "plugins" / "site"
FPS: Final = 60.0
#: The interrupter asks this long into its run; the run lasts until the alert is over.
ASK_AFTER: Final = 1.5
RUN_SECONDS: Final = 5.0


class _Panel:
    """A backend keeping when each push happened and whether it was the all-red alert."""

    name = "recording"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.red: list[float] = []
        self.pushes = 0

    def push(self, frame: np.ndarray, at: float) -> None:
        self.pushes += 1
        if (frame[..., 0] == 255).all() and not frame[..., 1:].any():
            self.red.append(at)

    def close(self) -> None: ...


def _one_run(folder: Path) -> dict[str, Any]:
    """One host run; the interrupt's switch -> first red push, and the lateness figures."""
    from config import load_config
    from host.app import Host, RunOptions

    cfg = load_config(
        None,
        env={},
        overrides={
            "display": {"fps": FPS},
            "workers": {"user": ""},
            "plugins": {"solid": {"fps": FPS}, "interrupter": {"after": ASK_AFTER}},
            "rotation": {"modes": [{"mode": "solid:fill", "duration": 30.0}]},
            "paths": {"data_dir": str(folder / "data")},
        },
    )
    panel = _Panel(cfg.display.width, cfg.display.height)
    stats_path = folder / "stats.json"
    host = Host(
        cfg,
        RunOptions(
            duration=RUN_SECONDS,
            stats_json=stats_path,
            environment_plugins=False,
            plugin_paths=(str(TEST_PLUGINS),),
            only=("solid", "interrupter"),
            launcher="spawn",
        ),
        backend=panel,
    )
    host.run()
    stats = json.loads(stats_path.read_text())
    asked = next((s["at"] for s in stats["modes_shown"] if s["reason"] == "interrupt"), None)
    first_red = panel.red[0] - host.stats.started if panel.red else None
    return {
        "to_panel": None if asked is None or first_red is None else first_red - asked,
        "mean_late_ms": float(stats["mean_frame_lateness_ms"]),
        "max_late_ms": float(stats["max_frame_lateness_ms"]),
        "pushes": panel.pushes,
    }


def run(quick: bool) -> list[Row]:
    """``quick``: one run; else five, each a fresh host and workers."""
    rounds = 1 if quick else 5
    period_ms = 1000 / FPS
    runs = []
    for r in range(rounds):
        progress(f"{NAME}: run {r + 1}/{rounds}")
        with tempfile.TemporaryDirectory(prefix="ledhost-panel-") as tmp:
            runs.append(_one_run(Path(tmp)))
    delays = [x["to_panel"] * 1000 for x in runs if x["to_panel"] is not None]
    base = f"frame period at {FPS:g} fps (configured)"
    rows: list[Row] = []
    if delays:
        rows.append(
            Row(
                NAME,
                "interrupt -> panel",
                "ms",
                spread_of(delays),
                spread_of([d / period_ms for d in delays]),
                base,
                note="interrupt's switch to the first all-red push",
                params={"n": len(delays), "max": round(max(delays), 1)},
            )
        )
    for key, label in (("mean_late_ms", "mean"), ("max_late_ms", "max")):
        values = [x[key] for x in runs]
        rows.append(
            Row(
                NAME,
                f"frame lateness: {label}",
                "ms",
                spread_of(values),
                spread_of([v / period_ms for v in values]),
                base,
                note="the host's own stats over the whole run",
                params={"n": len(values)},
            )
        )
    rows.append(
        check_row(
            NAME,
            "the alert reached the panel in every run",
            len(delays) == rounds and all(x["pushes"] for x in runs),
            f"{len(delays)}/{rounds} runs",
        )
    )
    return rows
