"""Tell systemd how the host is doing: ``sd_notify`` without a new dependency.

The unit (:mod:`host.system.unit`) says ``Type=notify``, ``NotifyAccess=main`` and
``WatchdogSec=``. systemd then passes the host ``$NOTIFY_SOCKET`` (a filesystem path, or
an abstract name written with a leading ``@``) and ``$WATCHDOG_USEC``; each message is one
``AF_UNIX`` datagram of ``KEY=value`` lines (``man sd_notify``). Outside systemd neither
variable is set and :meth:`ServiceNotifier.from_environ` returns ``None``: nothing here
costs a plain ``ledhost run`` anything.

What the host says, and when (:class:`ServiceNotifier`, driven from the host loop):

- ``READY=1`` once the first frame reached the panel, so ``systemctl start`` returns (and
  self-update's rollback can tell) only when the sign really shows something; or, when
  there is nothing to show at all, once the start-up grace has passed (a dark panel on
  purpose, such as safe mode with no plugin, is still a started service).
- ``STATUS=`` what the panel shows (``systemctl status`` prints it), sent when it changes.
- ``WATCHDOG=1`` from the loop's own turns, never from a thread of its own: a thread would
  keep pinging while the loop is stuck (in a backend push, a deadlock), which is exactly
  what the watchdog is for. A ping is sent on a turn that comes at least a third of the
  watchdog period after the last one; the loop wakes at least every
  :data:`host.supervise.supervisor.TICK` seconds anyway, so pinging costs no wake-up of its
  own (issue 15's idle cost), and a loop that stops turning stops the pings.
- ``STOPPING=1`` when the host begins to shut down; ``RELOADING=1`` instead when it
  restarts itself in place (an exec, same pid), and ``READY=1`` again after that
  restart's first frame.

Interface for other parts: ``ServiceNotifier.from_environ()``, then ``turn(now, frames,
showing)`` once per loop turn and ``stopping()`` at the end. :func:`notify` sends one
message to a given address (for a one-off, e.g. a start guard).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["MIN_WATCHDOG", "ServiceNotifier", "notify", "socket_address"]

log = logging.getLogger(__name__)

#: The shortest watchdog period (seconds) the host can serve without waking up for it:
#: three times the supervisor's longest idle wait (2 s), so a ping is never more than a
#: period late. A shorter ``WatchdogSec=`` gets a warning at start.
MIN_WATCHDOG = 6.0
#: Longest ``STATUS=`` text sent (systemd shows one line; a plugin names the mode).
MAX_STATUS = 200


def socket_address(value: str) -> str | bytes:
    """The ``connect`` address for ``$NOTIFY_SOCKET``: a path, or ``@name`` for an abstract
    socket (a leading NUL byte on the wire).

    :raises ValueError: neither an absolute path nor an ``@`` name.
    """
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    raise ValueError(f"NOTIFY_SOCKET={value!r} is neither an absolute path nor an @name")


def notify(address: str | bytes, message: str) -> bool:
    """Send one datagram ``message`` to ``address``; ``False`` (logged) when it fails.

    A failure never ends the host: systemd may be restarting, and the panel matters more.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(message.encode("utf-8", "replace"), address)
        except OSError as exc:
            log.warning("could not notify systemd (%s): %s", message.split("\n")[0], exc)
            return False
    return True


class ServiceNotifier:
    """The host's messages to systemd, sent from the host loop.

    :param address: the notify socket (see :func:`socket_address`).
    :param watchdog: the watchdog period in seconds, ``None`` when systemd set none.
    """

    def __init__(self, address: str | bytes, watchdog: float | None) -> None:
        self.address = address
        self.watchdog = watchdog
        #: Seconds between two pings at the least.
        self.ping_every = None if watchdog is None else watchdog / 3.0
        self.ready = False
        self.last_ping: float | None = None
        self.status: str | None = None
        self.sent = 0

    @classmethod
    def from_environ(cls, env: Mapping[str, str] | None = None) -> ServiceNotifier | None:
        """A notifier when systemd asked for one (``$NOTIFY_SOCKET``), else ``None``.

        ``$WATCHDOG_PID``, when set, must be this process: a child (the web process, a
        worker) never inherits the host's duty. The variables stay in the host's
        environment: a restart asked through the control socket execs the host again, in
        the same process, which must notify as before. Workers do not get them
        (:func:`host.supervise.spawner._child_environ`), and with ``NotifyAccess=main``
        systemd ignores any other process's messages anyway.
        """
        env = os.environ if env is None else env
        raw = env.get("NOTIFY_SOCKET")
        if not raw:
            return None
        try:
            address = socket_address(raw)
        except ValueError as exc:
            log.warning("systemd notification off: %s", exc)
            return None
        watchdog: float | None = None
        usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
        if usec and (not pid or pid == str(os.getpid())):
            try:
                watchdog = int(usec) / 1e6
            except ValueError:
                log.warning("systemd watchdog off: WATCHDOG_USEC=%r is not a number", usec)
            else:
                if watchdog <= 0:
                    watchdog = None
        if watchdog is not None and watchdog < MIN_WATCHDOG:
            log.warning(
                "WatchdogSec=%g s is shorter than %g s: the host pings only when its loop "
                "wakes anyway (at least every 2 s), so raise WatchdogSec in the unit",
                watchdog,
                MIN_WATCHDOG,
            )
        return cls(address, watchdog)

    def _send(self, *lines: str) -> None:
        if notify(self.address, "\n".join(lines)):
            self.sent += 1

    def turn(self, now: float, frames_shown: int, showing: str | None, settled: bool) -> None:
        """One turn of the host loop has run: ready, status and watchdog as due.

        :param now: the loop's monotonic time.
        :param frames_shown: frames pushed to the panel so far.
        :param showing: what the panel shows (``instance:mode``), ``None`` for nothing.
        :param settled: start-up is over (the first mode had its chance to boot).
        """
        status = f"showing {showing}" if showing else "panel dark: nothing to show"
        status = status[:MAX_STATUS].replace("\n", " ")
        lines: list[str] = []
        if not self.ready and (frames_shown > 0 or settled):
            self.ready = True
            lines.append("READY=1")
        if self.ready and status != self.status:
            self.status = status
            lines.append(f"STATUS={status}")
        if self.ping_every is not None and (
            self.last_ping is None or now - self.last_ping >= self.ping_every
        ):
            self.last_ping = now
            lines.append("WATCHDOG=1")
        if lines:
            self._send(*lines)

    def stopping(self, restarting: bool = False) -> None:
        """The host is shutting down: systemd stops expecting pings.

        :param restarting: the host execs itself again in this process (a restart asked
            through the control socket). Then it says ``RELOADING=1``: ``STOPPING=1``
            would make systemd wait for the process to exit, and kill it after
            ``TimeoutStopSec``; the new host says ``READY=1`` after its first frame.
        """
        if restarting:
            self._send("RELOADING=1", "STATUS=restarting")
        else:
            self._send("STOPPING=1", "STATUS=stopping")
