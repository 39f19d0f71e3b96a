"""A hostile plugin schema beside a clock: does the host's loop stall? (issue 13, attack 3)

Each round runs ``ledhost run --backend headless`` twice, in turn, for the same time:
``steady`` (test plugin ``solid`` at 20 fps) alone, and ``steady`` next to ``slowref``
whose options hold a ``tree`` nested 40 deep, which its recursive ``$ref`` combinator
checks in 2**40 steps. The figure is the host's own worst frame lateness
(``max_frame_lateness_ms`` in ``--stats-json``: each push against when its frame was
due), as a ratio of the hostile run to the steady-only run of the same round. When the
host validated plugin schemas itself, the hostile run stalled for as long as the check
took (here: hours, ended only by the run's own end); now only the hostile plugin's worker
runs its schema, and is ended by ``setup_timeout`` like any hung worker.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

import tomlkit

from benchmarks._util import Row, check_row, progress, rotations, spread_of

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "hostile_schema"
TITLE: Final = "worst frame lateness beside a plugin whose schema never finishes validating"

ROOT: Final = Path(__file__).resolve().parent.parent
TEST_PLUGINS: Final = ROOT / "tests" / "plugins" / "site"
FPS: Final = 20.0


def _tree(depth: int) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for _ in range(depth):
        tree = {"c": tree}
    return tree


def _run_host(hostile: bool, seconds: float) -> dict[str, Any]:
    """One ``ledhost run``; its ``--stats-json``."""
    plugins: dict[str, Any] = {"steady": {"plugin": "solid", "fps": FPS}}
    if hostile:
        plugins["evil"] = {"plugin": "slowref", "tree": _tree(40)}
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-schema-") as tmp:
        config = Path(tmp) / "ledhost.toml"
        tables = {
            "workers": {"user": "", "setup_timeout": 2.0},
            "paths": {"data_dir": str(Path(tmp) / "data")},
            "rotation": {"modes": ["steady:fill"]},
            "plugins": plugins,
        }
        config.write_text(tomlkit.dumps(tables))
        stats = Path(tmp) / "stats.json"
        cmd = [sys.executable, "-m", "host", "run", "-q", "--backend", "headless"]
        cmd += ["--config", str(config), "--duration", str(seconds), "--stats-json", str(stats)]
        cmd += ["--plugin-path", str(TEST_PLUGINS)]
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0 or not stats.exists():
            tail = "; ".join(done.stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"ledhost run ended with {done.returncode}: {tail}")
        result: dict[str, Any] = json.loads(stats.read_text())
        return result


def run(quick: bool) -> list[Row]:
    rounds, seconds = (2, 6.0) if quick else (5, 12.0)
    ratios: list[float] = []
    worst: dict[bool, list[float]] = {False: [], True: []}
    ended: list[str] = []
    for r, order in rotations([False, True], rounds):
        got: dict[bool, float] = {}
        for hostile in order:
            progress(f"  round {r + 1}/{rounds}: {'with' if hostile else 'without'} slowref")
            stats = _run_host(hostile, seconds)
            got[hostile] = float(stats["max_frame_lateness_ms"])
            worst[hostile].append(got[hostile])
            if hostile:
                ended.append(str(stats["plugins"]["evil"].get("last_failure") or ""))
        ratios.append(got[True] / max(got[False], 0.001))
    base = "steady alone: worst frame lateness"
    rows = [
        Row(NAME, base, "ms", value=spread_of(worst[False]), params={"fps": FPS}),
        Row(
            NAME,
            "steady + hostile schema: worst frame lateness",
            "ms",
            value=spread_of(worst[True]),
            ratio=spread_of(ratios),
            baseline=base,
            params={"fps": FPS},
        ),
    ]
    hung = all("hung" in text for text in ended)
    rows.append(
        check_row(
            NAME,
            "hostile worker ended as hung",
            hung,
            "every hostile run ended the slowref worker by its deadline",
        )
    )
    return rows
