"""Worker exit statuses, shared by ``host.worker.main`` (which exits with them) and the host.

Distinct codes let the supervisor tell a plugin that cannot boot (count it toward
quarantine, don't hammer it) from one that crashed while running (gunicorn's
``WORKER_BOOT_ERROR`` / ``APP_LOAD_ERROR`` idea). Values avoid 1 and 2, which Python uses
for uncaught exceptions and usage errors.
"""

from __future__ import annotations

from typing import Final

#: Clean exit after a ``stop`` request or after ``--describe``.
OK: Final = 0
#: An unexpected exception escaped (Python's own status for an uncaught exception).
CRASHED: Final = 1
#: The plugin's entry point was not found or its module failed to import.
IMPORT_FAILED: Final = 3
#: The plugin's hooks are invalid (unknown hook, bad signature, bad mode registration,
#: a config schema that is not a valid JSON Schema).
HOOKS_INVALID: Final = 4
#: The plugin's ``setup`` hook raised.
SETUP_FAILED: Final = 5
#: The host did not complete the handshake in time, or the control channel broke.
HANDSHAKE_FAILED: Final = 6
#: The host went away (control channel closed); the worker exits on its own.
HOST_GONE: Final = 7
#: The plugin ran out of memory under the worker's limit (a ``MemoryError``).
OVER_MEMORY: Final = 8
#: The worker was told to stop with SIGTERM (by the host escalating, or by the system).
TERMINATED: Final = 9
#: The worker could not apply its limits or drop its privileges; it refuses to run.
CONTAINMENT_FAILED: Final = 10

#: Exit statuses that mean "will fail again the same way": count them as boot failures.
BOOT_FAILURES: Final = frozenset({IMPORT_FAILED, HOOKS_INVALID, SETUP_FAILED, CONTAINMENT_FAILED})

_NAMES: Final = {
    OK: "exited cleanly",
    CRASHED: "crashed with an exception",
    IMPORT_FAILED: "plugin failed to import",
    HOOKS_INVALID: "plugin hooks invalid",
    SETUP_FAILED: "plugin setup failed",
    HANDSHAKE_FAILED: "handshake with host failed",
    HOST_GONE: "host went away",
    OVER_MEMORY: "over memory limit",
    TERMINATED: "stopped by SIGTERM",
    CONTAINMENT_FAILED: "could not apply its limits",
}


def describe(returncode: int | None) -> str:
    """Say in words how a worker ended, from a ``Popen``-style return code.

    :param returncode: the exit status, negative for death by signal, ``None`` if running.
    """
    import signal

    if returncode is None:
        return "running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (perhaps out of memory)" if -returncode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return _NAMES.get(returncode, f"exited with status {returncode}")
