"""One control-socket connection a bridge thread keeps to its host, reopened after a failure.

The bridge's command thread, the sync link and the wall each pass requests to the host
from a thread of their own; each must survive a host that restarts (the connection
breaks: open a fresh one next time) or refuses (say so, carry on), and say what went
wrong through the bridge's rate-limited complaints, never by raising into the thread.
"""

from __future__ import annotations

from collections.abc import Callable

from host.ipc import control
from host.ipc.control_client import ControlClient, ControlFailed, HostNotRunning

__all__ = ["HostLink"]

#: How a link reports a problem: ``(kind, message)``, logged once per kind per while.
Complain = Callable[[str, str], None]


class HostLink:
    """Send requests to the host over one kept connection (not thread-safe: one thread)."""

    def __init__(self, socket: str, complain: Complain, timeout: float = 10.0) -> None:
        self.socket = socket
        self.timeout = timeout
        self._complain = complain
        self._client: ControlClient | None = None

    def send(self, request: control.Request, what: str, *, attempts: int = 1) -> bool:
        """Pass ``request`` on; whether the host took it.

        :param what: names the request in complaints ("a wall frame").
        :param attempts: tries; a later one opens a fresh connection (the host restarted).
        """
        for attempt in range(attempts):
            try:
                if self._client is None:
                    self._client = ControlClient(self.socket, timeout=self.timeout)
                self._client.request(request)
                return True
            except ControlFailed as exc:
                self._complain(f"refused:{exc.code}", f"the host refused {what}: {exc}")
                return False
            except (HostNotRunning, TimeoutError, OSError) as exc:
                self.close()
                if attempt == attempts - 1:
                    self._complain("host", f"could not pass {what} on: {exc}")
        return False

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
