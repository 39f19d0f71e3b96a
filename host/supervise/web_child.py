"""The host's helper processes as children of ``ledhost run``: the web process (``[web]
enabled``) and the MQTT bridge (``[mqtt] enabled``).

Each is a separate interpreter (``python -m host web``, ``python -m host mqtt-bridge``:
the host never imports Flask, paho or their code), restarted with doubling backoff (1 s
up to 60 s) when it exits, and killed on shutdown. :meth:`ChildProcess.tick` rides on the
host loop's wake-ups; it never waits.

With a :class:`WebIdentity` (decided by :mod:`host.system.webuser` on an installed Pi)
the web process runs as that user, with only its group, cwd ``/`` and ``HOME`` its own
state folder, which holds its login store and session key.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class WebIdentity:
    """Who a helper process runs as, and the folder it keeps its own state in."""

    uid: int
    gid: int
    state_dir: Path


class ChildProcess:
    """One supervised helper process: ``python -m host <command> --socket S [--config F]``."""

    def __init__(
        self,
        command: str,
        config_path: Path | None,
        socket: str,
        on_exit: Callable[[str], None] | None = None,
        identity: WebIdentity | None = None,
    ) -> None:
        """:param on_exit: told (a sentence) when the process exited and when it restarts.
        :param identity: run it as this user (the host is root); ``None``: as the host.
        """
        self.name = command
        self.on_exit = on_exit
        self.identity = identity
        self.argv = [sys.executable, "-m", "host", command, "--socket", socket]
        if config_path is not None:
            self.argv += ["--config", str(config_path)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.backoff = FIRST_BACKOFF
        self.restart_at = 0.0

    def tick(self, now: float) -> None:
        """Start the process when due; notice an exit and schedule the restart."""
        if self.proc is not None:
            code = self.proc.poll()
            if code is None:
                return
            log.warning(
                "the %s process exited (%s); restarting in %.0f s", self.name, code, self.backoff
            )
            self.proc = None
            if self.on_exit is not None:
                self.on_exit(
                    f"the {self.name} process exited ({code}); restarting in {self.backoff:.0f} s"
                )
            self.restart_at = now + self.backoff
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)
            return
        if now >= self.restart_at:
            self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        who = self.identity
        if who is None:
            return subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)
        env = {**os.environ, "HOME": str(who.state_dir)}
        return subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            user=who.uid,
            group=who.gid,
            extra_groups=[],
            cwd="/",
            env=env,
        )

    def close(self) -> None:
        """Kill the process and reap it."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class WebChild(ChildProcess):
    """The supervised web process (``ledhost web``)."""

    def __init__(
        self, config_path: Path | None, socket: str, identity: WebIdentity | None = None
    ) -> None:
        super().__init__("web", config_path, socket, identity=identity)
        if identity is not None:
            self.argv += ["--state-dir", str(identity.state_dir)]
