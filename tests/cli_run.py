"""``ledhost run`` as a command, run until its control socket shows what a test waits for.

``ledhost run --duration N`` followed by asserts on ``--stats-json`` is a race on a loaded
CI box: booting the workers (or installing a plugin before them) can take most of N, and
then the frames the asserts count never came. :func:`run_until` instead runs the host with
a long ``--duration`` that only bounds a failing run, polls its status through the control
socket until ``until(status)`` holds, then stops it with SIGTERM as systemd does: the stats
and the snapshot are written as at a duration's end (``test_cli``'s SIGTERM test checks
that path), and a loaded machine makes the test slower, never red.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning

#: The status reply's ``plugins`` and ``display`` (what ``until`` is given).
Status = dict[str, Any]


def status_of(sock: Path) -> Status | None:
    """The host's status, or ``None`` while nothing answers at ``sock``."""
    try:
        with ControlClient(str(sock), timeout=5) as client:
            reply: Status = client.request(control.Status())
            return reply
    except (HostNotRunning, TimeoutError, OSError):
        return None


def frames_of(status: Status, instance: str) -> int:
    """Frames the host has had from ``instance``'s worker so far (0 before its hello)."""
    return int(status["plugins"].get(instance, {}).get("frames", 0))


def showing(*instances: str, frames: int = 2) -> Callable[[Status], bool]:
    """``until`` for "each of ``instances`` drew ``frames`` frames".

    Two by default: the host pushes a frame of the slot on screen in the turn it arrives,
    so once a second one has come the first reached the panel (``frames_shown``).
    """
    return lambda status: all(frames_of(status, i) >= frames for i in instances)


def running(*instances: str) -> Callable[[Status], bool]:
    """``until`` for "every one of ``instances`` has a worker past its setup"."""
    return lambda status: all(
        status["plugins"].get(i, {}).get("state") == "running" for i in instances
    )


def on_screen(instance: str, mode: str) -> Callable[[Status], bool]:
    """``until`` for "the display switched to ``instance:mode``, whose worker drew".

    The switch is in the stats' ``modes_shown`` from then on. Not "a frame after the
    switch": a scrolling text sends its strip once, and the host scrolls it.
    """

    def seen(status: Status) -> bool:
        current = status["display"].get("current") or {}
        shown = (current.get("instance"), current.get("mode")) == (instance, mode)
        return shown and frames_of(status, instance) >= 1

    return seen


def run_until(
    *args: str,
    until: Callable[[Status], object],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    bound: float = 120.0,
    command: Sequence[str] = (sys.executable, "-m", "host"),
    inherit_env: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``ledhost run *args`` until ``until(status)`` is true, then SIGTERM it.

    :param args: ``run``'s flags, without ``--duration`` (``bound`` is the duration).
    :param until: called with each status; a ``KeyError`` counts as not yet.
    :param env: more environment; ``LEDHOST_CONTROL__SOCKET`` is set to a socket of this
        run's own unless ``env`` names one (a config file's ``[control]`` loses to it).
    :param bound: seconds the host may run at most; a run that never satisfied ``until``
        ends then, and the caller's asserts on its output say what was missing.
    :param command: the ``ledhost`` command (an installed one's path, say).
    :param inherit_env: ``False``: ``env`` is the whole environment, not additions.
    :returns: the finished command (its stdout and stderr as text).
    """
    assert "--duration" not in args, "run_until sets the duration itself"
    folder = Path(tempfile.mkdtemp(prefix="ledhost-run-", dir="/tmp"))  # short: AF_UNIX
    full_env = {**(os.environ if inherit_env else {}), **(env or {})}
    sock = Path(full_env.setdefault("LEDHOST_CONTROL__SOCKET", str(folder / "control.sock")))
    out, err = folder / "stdout", folder / "stderr"
    try:
        with out.open("w") as stdout, err.open("w") as stderr:
            proc = subprocess.Popen(
                [*command, "run", "--duration", str(bound), *args],
                stdout=stdout, stderr=stderr, text=True, cwd=cwd, env=full_env,
            )  # fmt: skip
        try:
            end = time.monotonic() + bound
            while proc.poll() is None and time.monotonic() < end:
                status = status_of(sock)
                try:
                    seen = status is not None and until(status)
                except KeyError:
                    seen = False
                if seen:
                    proc.send_signal(signal.SIGTERM)
                    break
                time.sleep(0.1)
            proc.wait(timeout=bound)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return subprocess.CompletedProcess(
            proc.args, proc.returncode, out.read_text(), err.read_text()
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
