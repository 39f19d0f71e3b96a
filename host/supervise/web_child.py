"""The host's helper processes as children of ``ledhost run``: the web process (``[web]
enabled``) and the MQTT bridge (``[mqtt] enabled``).

Each is a separate interpreter (``python -m host web``, ``python -m host mqtt-bridge``:
the host never imports Flask, paho or their code), restarted with doubling backoff (1 s
up to 60 s) when it exits, and killed on shutdown. :meth:`ChildProcess.tick` rides on the
host loop's wake-ups; it never waits.

With a :class:`WebIdentity` (decided by :mod:`host.system.webuser` on an installed Pi)
the web process runs as that user, with only its group, cwd ``/`` and ``HOME`` its own
state folder (the web process's login store and session key). The bridge then gets its
``[mqtt] password`` on its stdin (``stdin_data``, written once at each start and the pipe
closed): the secrets file stays root's, and the password is never in argv or the
environment, which other processes may read.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config import ConfigError
from config.secrets import default_secrets_path, read_secrets

log = logging.getLogger(__name__)

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
#: Most bytes handed on a child's stdin: less than Linux's smallest pipe buffer (one page
#: is 4 KiB; the default is 64 KiB), so the write never blocks the host's loop.
PIPE_DATA_MAX = 4096


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

    def stdin_data(self) -> bytes | None:
        """What to write on its stdin at this start (at most :data:`PIPE_DATA_MAX` bytes, so
        the write never waits); ``None``: stdin is ``/dev/null``."""
        return None

    def _start(self) -> subprocess.Popen[bytes]:
        who = self.identity
        data = self.stdin_data()
        if data is not None and len(data) > PIPE_DATA_MAX:
            raise ValueError(f"the {self.name} process's input is over {PIPE_DATA_MAX} bytes")
        stdin = subprocess.DEVNULL if data is None else subprocess.PIPE
        if who is None:
            proc = subprocess.Popen(self.argv, stdin=stdin)
        else:
            env = {**os.environ, "HOME": str(who.state_dir)}
            proc = subprocess.Popen(
                self.argv,
                stdin=stdin,
                user=who.uid,
                group=who.gid,
                extra_groups=[],
                cwd="/",
                env=env,
            )
        if proc.stdin is not None and data is not None:
            try:
                os.set_blocking(proc.stdin.fileno(), False)
                # Fits an empty pipe's buffer: never waits, never writes in part.
                os.write(proc.stdin.fileno(), data)
            except OSError as exc:  # it died at once; the next tick restarts it
                log.warning("could not hand the %s process its input: %s", self.name, exc)
            finally:
                proc.stdin.close()
        return proc

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


class BridgeChild(ChildProcess):
    """The supervised MQTT bridge (``ledhost mqtt-bridge --password-stdin``).

    At each start the host reads the secrets file's ``[mqtt] password`` again (so a changed
    password needs only a bridge restart, as when the bridge read it itself) and writes it
    on the bridge's stdin.
    """

    def __init__(
        self,
        config_path: Path | None,
        socket: str,
        fallback_password: str,
        on_exit: Callable[[str], None] | None = None,
        identity: WebIdentity | None = None,
    ) -> None:
        """:param fallback_password: the host's, used when the secrets file cannot be read."""
        super().__init__("mqtt-bridge", config_path, socket, on_exit, identity)
        self.argv += ["--password-stdin"]
        self.config_path = config_path
        self.fallback_password = fallback_password

    def stdin_data(self) -> bytes:
        path = default_secrets_path(self.config_path, os.environ)
        try:
            _, tables, _ = read_secrets(path)
            password = tables.get("mqtt", {}).get("password", "")
        except ConfigError as exc:
            log.warning("mqtt: cannot read the password (%s); using the one read at start", exc)
            password = self.fallback_password
        data = password.encode() if isinstance(password, str) else b""
        if len(data) > PIPE_DATA_MAX:
            log.error("mqtt: the secrets file's mqtt.password is over %d bytes", PIPE_DATA_MAX)
            return b""
        return data
