"""What a run leaves behind when it ends: the panel's snapshot and the stats file.

Each output is written on its own: a snapshot that cannot be written never costs the
stats file, nor the other way round. Each failure is one line naming the file and the
reason, and makes the run's exit status 1 (:meth:`host.app.Host.run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from host.display.backends import Backend
from host.planning import RunOptions
from host.stats import write_json
from host.supervise.spawner import ZygoteLauncher, process_cpu_seconds
from host.supervise.supervisor import Supervisor


def output_error(what: str, path: Path | None, exc: Exception) -> str:
    """One line for an output that could not be written."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"could not write the {what} file {path}: {reason}"


def helpers_cpu(supervisor: Supervisor) -> float:
    """CPU seconds of the zygote and the undertaker, the host's helpers.

    Read before they are stopped: afterwards their pids are gone.
    """
    launcher = supervisor.launcher
    pids = [launcher.pid if isinstance(launcher, ZygoteLauncher) else None]
    undertaker = supervisor.enforcer.undertaker
    if undertaker is not None:
        pids.append(undertaker.pid)
    return sum(process_cpu_seconds(pid) or 0.0 for pid in pids if pid is not None)


def close_backend(backend: Backend | None, options: RunOptions) -> list[str]:
    """Close the panel (an emulator writes its ``--snapshot`` then); the failures."""
    if backend is None:
        return []
    try:
        backend.close()
    except (OSError, ValueError) as exc:
        return [output_error("snapshot", options.snapshot, exc)]
    return []


def write_stats(options: RunOptions, data: dict[str, Any]) -> list[str]:
    """Write ``--stats-json`` if asked for; the failures."""
    if options.stats_json is None:
        return []
    try:
        write_json(options.stats_json, data)
    except OSError as exc:
        return [output_error("stats", options.stats_json, exc)]
    return []
