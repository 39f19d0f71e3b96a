"""The web process as a child of ``ledhost run`` (``[web] enabled``).

Started as ``python -m host web`` (a separate interpreter: the host never imports Flask
or the web code), restarted with doubling backoff (1 s up to 60 s) when it exits, and
killed on shutdown. :meth:`WebChild.tick` rides on the host loop's wake-ups.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


class WebChild:
    """One supervised web process."""

    def __init__(self, config_path: Path | None, socket: str) -> None:
        self.argv = [sys.executable, "-m", "host", "web", "--socket", socket]
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
            log.warning("the web process exited (%s); restarting in %.0f s", code, self.backoff)
            self.proc = None
            self.restart_at = now + self.backoff
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)
            return
        if now >= self.restart_at:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)

    def close(self) -> None:
        """Kill the process and reap it."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
