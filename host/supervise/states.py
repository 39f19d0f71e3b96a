"""Worker states; dependency-free so the status API and tests can import it cheaply."""

from __future__ import annotations

import enum


class WorkerState(enum.Enum):
    """The life of one plugin instance's worker (supervisor's process states)."""

    STOPPED = "stopped"
    STARTING = "starting"  # spawned, handshake or setup not finished
    RUNNING = "running"  # setup done, serving render requests
    BACKOFF = "backoff"  # exited unexpectedly, waiting to restart
    STOPPING = "stopping"  # asked to stop, not yet reaped
    EXITED = "exited"  # reaped after a requested stop
    QUARANTINED = "quarantined"  # failed too often; not restarted until the user says so


#: States in which a process may exist and must be reaped before the host exits.
LIVE_STATES = frozenset({WorkerState.STARTING, WorkerState.RUNNING, WorkerState.STOPPING})
