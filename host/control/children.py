"""The ``ledhost`` commands the host runs as children (store operations, mode previews).

Each child runs in a session of its own with its output in a private temporary folder
(``out``, ``err``), so the host's loop never waits on it: a request's reply is a
:class:`~host.control.handlers_base.Pending` (:func:`pending_reply`) that the server polls
each loop pass until the child ended or ran out of time.

The host forgets its ``LEDHOST_*`` variables once its config is loaded (they may hold
plugin secrets, and workers must not inherit them). A child command reads its own config,
so it is given back the ones that shape where the store lives and how workers run
(``[paths]``, ``[store]``, ``[workers]``): it then sees the same settings as the host,
and never a secret.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from host.control.handlers_base import Pending
from host.ipc import control

#: The settings sections a child command needs to match the host's.
PASSED: Final = ("LEDHOST_PATHS__", "LEDHOST_STORE__", "LEDHOST_WORKERS__")
#: Longest error message taken from a child's stderr.
MAX_ERROR: Final = 2000


def child_env(host: Any) -> dict[str, str]:
    """``os.environ`` plus the host's start-time settings variables of :data:`PASSED`."""
    started = getattr(getattr(host, "options", None), "config_env", None) or {}
    return {**os.environ, **{k: v for k, v in started.items() if k.startswith(PASSED)}}


def command(*args: str) -> list[str]:
    """``ledhost ARGS`` with this interpreter."""
    return [sys.executable, "-m", "host", *args]


def spawn(
    host: Any, argv: list[str], prefix: str, folder: Path | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``argv`` with its stdout and stderr in ``folder`` (a new private temporary
    folder unless given); returns the process and the folder.

    The child leads a session of its own (so it and whatever it starts, pip included, can
    be killed as one group) and is named to the supervisor as the host's own helper: the
    stray sweep would otherwise take it for a plugin's orphan and kill it mid-job.
    """
    folder = folder or Path(tempfile.mkdtemp(prefix=prefix))
    with (folder / "out").open("wb") as out, (folder / "err").open("wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True, env=child_env(host),
        )  # fmt: skip
    host.supervisor.helpers.append(proc)
    return proc, folder


def outputs(folder: Path) -> tuple[str, str]:
    """What the child wrote so far: ``(stdout, stderr)``."""
    try:
        out = (folder / "out").read_text(errors="replace")
        err = (folder / "err").read_text(errors="replace")
    except OSError:
        return "", ""
    return out, err


def last_error(err: str, code: int | None) -> str:
    """The child's own ``ledhost: error:`` line, else its last line, else its exit code."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ledhost: error: "):
            return line[len("ledhost: error: ") :][:MAX_ERROR]
    return (lines[-1] if lines else f"the command exited with {code}")[:MAX_ERROR]


Done = Callable[[int, Path], "control.Ok | control.Failed"]


def pending_reply(
    request_id: int,
    proc: subprocess.Popen[bytes],
    folder: Path,
    deadline: float,
    timeout_message: str,
    done: Done,
) -> Pending:
    """The reply to a request that waits for ``proc``: ``done(exit code, folder)`` once it
    ended, a ``timeout`` failure (and the child killed) past ``deadline``; the folder is
    removed after."""

    def poll(now: float) -> control.Ok | control.Failed | None:
        code = proc.poll()
        if code is None and now < deadline:
            return None
        try:
            if code is None:
                proc.kill()
                proc.wait(5)
                return control.Failed(code="timeout", message=timeout_message, id=request_id)
            return done(code, folder)
        finally:
            if proc.poll() is not None:
                shutil.rmtree(folder, ignore_errors=True)

    return Pending(poll)
