"""Run statistics: what ``--stats-json`` writes when ``ledhost run`` ends.

The keys documented in the README are a stable interface for scripts: add keys, never
rename or remove them.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunStats:
    """Counters the host loop updates on every push and every mode switch."""

    started: float
    frames_shown: int = 0
    max_lateness: float = 0.0
    lateness_total: float = 0.0
    modes_shown: list[dict[str, Any]] = field(default_factory=list)

    def record_push(self, at: float, due: float) -> None:
        self.frames_shown += 1
        lateness = max(0.0, at - due)
        self.lateness_total += lateness
        if lateness > self.max_lateness:
            self.max_lateness = lateness

    def record_switch(self, at: float, mode: str, reason: str) -> None:
        self.modes_shown.append({"at": round(at - self.started, 4), "mode": mode, "reason": reason})

    def to_dict(self, ended: float, cpu_seconds: float, plugins: dict[str, Any]) -> dict[str, Any]:
        elapsed = max(ended - self.started, 1e-9)
        return {
            "frames_shown": self.frames_shown,
            "fps": round(self.frames_shown / elapsed, 3),
            "max_frame_lateness_ms": round(self.max_lateness * 1000.0, 3),
            "mean_frame_lateness_ms": round(
                self.lateness_total / max(self.frames_shown, 1) * 1000.0, 3
            ),
            "cpu_seconds": round(cpu_seconds, 3),
            "duration_s": round(elapsed, 3),
            "modes_shown": self.modes_shown,
            "plugins": plugins,
        }


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically: a reader sees the old file or the whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
