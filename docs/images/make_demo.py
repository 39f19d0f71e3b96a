"""Regenerate ``docs/images/demo.gif``: the README's first command, run for real.

    python docs/images/make_demo.py [--ledhost .venv/bin/ledhost]

Runs ``ledhost run --duration 10 --snapshot demo.gif`` on the embedded default (a fresh
home, so no config or secrets of the person running it leak in), then writes beside the
GIF ``demo.json``: which modes the run showed, in order, and how many GIF frames each
holds. ``tests/test_first_run.py`` runs the same command and compares its summary with
this one, so the README's picture cannot drift from what the first command shows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: The README's first command runs this long.
DURATION = 10.0


def run_first_command(
    ledhost: list[str], out_dir: Path, extra_env: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """Run the README's command in ``out_dir``; return ``(gif, stats)``.

    :param ledhost: the command, e.g. ``[".venv/bin/ledhost"]``.
    :param extra_env: variables added to the cleaned environment (tests set the worker
        user their machine needs).
    """
    home = out_dir / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDHOST_", "XDG_"))} | {
        "HOME": str(home),
        **(extra_env or {}),
    }
    gif, stats = out_dir / "out.gif", out_dir / "stats.json"
    subprocess.run(
        [*ledhost, "run", "--duration", str(DURATION), "--snapshot", str(gif)]
        + ["--stats-json", str(stats), "--backend", "headless"],
        cwd=out_dir,
        env=env,
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return gif, stats


def gif_frame_times(gif: Path) -> list[float]:
    """Each frame's start, in seconds from the first, from the GIF's own durations."""
    from PIL import Image

    starts, at = [], 0.0
    with Image.open(gif) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            starts.append(at)
            at += image.info.get("duration", 0) / 1000.0
    return starts


def summarize(gif: Path, stats: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"mode": "clock:time", "frames": 5}, ...]``: the modes in the order shown.

    A frame belongs to the mode shown when it started (``modes_shown`` gives each mode's
    start, relative to the run's; the GIF's first frame is the run's first push).
    """
    shown = [(float(m["at"]), str(m["mode"])) for m in stats.get("modes_shown", [])]
    if not shown:
        return []
    first = shown[0][0]
    counts: list[dict[str, Any]] = [{"mode": mode, "frames": 0} for _, mode in shown]
    for start in gif_frame_times(gif):
        index = max(i for i, (at, _) in enumerate(shown) if at - first <= start + 1e-3)
        counts[index]["frames"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(sys.executable).with_name("ledhost")
    parser.add_argument("--ledhost", default=str(default), help="the ledhost command to run")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledhost-demo-") as tmp:
        gif, stats_path = run_first_command([ns.ledhost], Path(tmp))
        summary = summarize(gif, json.loads(stats_path.read_text()))
        shutil.copyfile(gif, HERE / "demo.gif")
    (HERE / "demo.json").write_text(json.dumps({"modes": summary}, indent=2) + "\n")
    for row in summary:
        print(f"{row['mode']}: {row['frames']} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
