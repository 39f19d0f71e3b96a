"""Run statistics: what ``--stats-json`` writes when ``ledhost run`` ends.

The keys documented in the README are a stable interface for scripts: add keys, never
rename or remove them.
"""

from __future__ import annotations

import json
import os
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from config.atomic import atomic_write

#: Bytes per page, the unit of ``statm``.
_PAGE_SIZE: Final = resource.getpagesize()


class _OwnStatm:
    """``/proc/self/statm`` through an fd kept open and re-read with ``pread``: one
    syscall a sample instead of three (the host samples every ~2 s at idle, with cold
    caches; issue 15). ``self`` is resolved when the file is opened, so a process forked
    afterwards opens its own."""

    def __init__(self) -> None:
        self._fd = -1
        self._pid = 0

    def read(self) -> bytes:
        if self._pid != os.getpid():
            self._fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
            self._pid = os.getpid()
        return os.pread(self._fd, 256, 0)


_STATM: Final = _OwnStatm()


@dataclass
class RunStats:
    """Counters the host loop updates on every push and every mode switch."""

    started: float
    frames_shown: int = 0
    max_lateness: float = 0.0
    lateness_total: float = 0.0
    modes_shown: list[dict[str, Any]] = field(default_factory=list)
    #: The host's own resident memory in bytes: first sample, latest, and highest. A host
    #: that restarts crashing workers all day must not grow.
    rss_first: int = 0
    rss_last: int = 0
    rss_max: int = 0

    def sample_memory(self) -> None:
        """Record the host process's resident memory (from ``/proc/self/statm``)."""
        try:
            rss = int(_STATM.read().split()[1]) * _PAGE_SIZE
        except (OSError, ValueError, IndexError):
            return
        if not self.rss_first:
            self.rss_first = rss
        self.rss_last = rss
        self.rss_max = max(self.rss_max, rss)

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
            "host_rss_mb": {
                "first": round(self.rss_first / 1048576, 2),
                "last": round(self.rss_last / 1048576, 2),
                "max": round(self.rss_max / 1048576, 2),
            },
            "duration_s": round(elapsed, 3),
            "modes_shown": self.modes_shown,
            "plugins": plugins,
        }


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON with :func:`config.atomic.atomic_write`: a reader
    sees the old file or the whole new one. Private (a new file is 0600 whatever the
    umask): the stats hold every plugin's errors, pids and limits, which are nobody
    else's business, least of all the plugins' (they run as other users)."""
    atomic_write(path, json.dumps(data, indent=2) + "\n", private=True)
