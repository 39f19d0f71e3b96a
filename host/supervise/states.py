"""Worker states and the one table of which may follow which.

Dependency-free, so the status API and tests can import it cheaply. The stop ladder is
part of the table, not a second machine beside it: a worker the host wants gone moves
STOPPING (asked politely) -> TERMINATING (SIGTERM to its group) -> KILLING (SIGKILL to its
tree), each rung entered with the time, and each rung's deadline read from the state
(:func:`host.supervise.rules.next_rung`). Only
:meth:`host.supervise.handle.WorkerHandle.change_state` changes a state.
"""

from __future__ import annotations

import enum
from typing import Final


class WorkerState(enum.Enum):
    """The life of one plugin instance's worker (supervisor's process states)."""

    STOPPED = "stopped"  # never started, or taken out of service
    STARTING = "starting"  # spawned, handshake or setup not finished
    RUNNING = "running"  # setup done, serving render requests
    STOPPING = "stopping"  # asked to stop (``stop`` sent); SIGTERM after stop_timeout
    TERMINATING = "terminating"  # SIGTERM sent to its group; SIGKILL after stop_timeout
    KILLING = "killing"  # SIGKILL sent to its whole tree; the exit follows
    BACKOFF = "backoff"  # ended unexpectedly, waiting to restart
    EXITED = "exited"  # ended when asked to (or declined to start, config invalid)
    QUARANTINED = "quarantined"  # failed too often; not restarted until the user says so


S = WorkerState

#: Which state may follow which; anything else is a bug in the supervisor.
ALLOWED: Final[dict[WorkerState, frozenset[WorkerState]]] = {
    S.STOPPED: frozenset(
        {
            S.STARTING,  # STOPPED -> STARTING: started
            S.QUARANTINED,  # STOPPED -> QUARANTINED: could not even be spawned, too often
        }
    ),
    S.STARTING: frozenset(
        {
            S.RUNNING,  # STARTING -> RUNNING: setup done ("ready")
            S.STOPPING,  # STARTING -> STOPPING: a reload or shutdown asked it to stop
            S.TERMINATING,  # STARTING -> TERMINATING: not ready within setup_timeout
            S.KILLING,  # STARTING -> KILLING: a protocol error or a broken limit
            S.BACKOFF,  # STARTING -> BACKOFF: it ended (boot failure), or could not spawn
            S.QUARANTINED,  # STARTING -> QUARANTINED: ... and that was one failure too many
            S.EXITED,  # STARTING -> EXITED: told to stop in the handshake (invalid config)
        }
    ),
    S.RUNNING: frozenset(
        {
            S.STOPPING,  # RUNNING -> STOPPING: a reload or shutdown asked it to stop
            S.TERMINATING,  # RUNNING -> TERMINATING: a hung call or no heartbeat
            S.KILLING,  # RUNNING -> KILLING: a protocol error or a broken limit
            S.BACKOFF,  # RUNNING -> BACKOFF: it crashed or exited on its own
            S.QUARANTINED,  # RUNNING -> QUARANTINED: ... once too often
        }
    ),
    S.STOPPING: frozenset(
        {
            S.TERMINATING,  # STOPPING -> TERMINATING: did not stop within stop_timeout
            S.KILLING,  # STOPPING -> KILLING: a protocol error, or the shutdown's last rung
            S.EXITED,  # STOPPING -> EXITED: it stopped as asked
        }
    ),
    S.TERMINATING: frozenset(
        {
            S.KILLING,  # TERMINATING -> KILLING: ignored SIGTERM for stop_timeout
            S.EXITED,  # TERMINATING -> EXITED: a stop that needed SIGTERM is still a stop
            S.BACKOFF,  # TERMINATING -> BACKOFF: a hung worker ended; restart it later
            S.QUARANTINED,  # TERMINATING -> QUARANTINED: ... once too often
        }
    ),
    S.KILLING: frozenset(
        {
            S.EXITED,  # KILLING -> EXITED: a stop that needed SIGKILL is still a stop
            S.BACKOFF,  # KILLING -> BACKOFF: killed for a failure; restart it later
            S.QUARANTINED,  # KILLING -> QUARANTINED: ... once too often
        }
    ),
    S.BACKOFF: frozenset(
        {
            S.STARTING,  # BACKOFF -> STARTING: the delay is over, or "retry now"
            S.QUARANTINED,  # BACKOFF -> QUARANTINED: (kept for a policy that decides late)
            S.STOPPED,  # BACKOFF -> STOPPED: taken out of service while waiting
        }
    ),
    S.EXITED: frozenset(
        {
            S.STARTING,  # EXITED -> STARTING: "retry now", or re-enabled
            S.STOPPED,  # EXITED -> STOPPED: taken out of service
        }
    ),
    S.QUARANTINED: frozenset(
        {
            S.STARTING,  # QUARANTINED -> STARTING: the user says "retry now"
            S.STOPPED,  # QUARANTINED -> STOPPED: taken out of service
        }
    ),
}

#: States in which a process exists and must be reaped before the host exits.
LIVE_STATES: Final = frozenset({S.STARTING, S.RUNNING, S.STOPPING, S.TERMINATING, S.KILLING})
#: The rungs of the stop ladder: the host wants the worker gone.
ENDING_STATES: Final = frozenset({S.STOPPING, S.TERMINATING, S.KILLING})
