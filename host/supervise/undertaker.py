"""The undertaker: kills what plugins left behind when the host itself dies.

When the host ends normally, or a worker dies while the host lives, the host kills every
process the plugin started (:mod:`host.supervise.proctree`). When the host is killed outright --
SIGKILL, the OOM killer -- nothing of the host is left to do so. This small process, in a
session of its own, hears from the host which workers exist and which of their descendants
it has seen, and waits for end of file on its stdin. EOF means the host has gone, for
whatever reason: it then kills each worker's tree and exits.

With the zygote launcher the zygote itself does the job
(:meth:`~host.supervise.zygote.Zygote.undertake`; :class:`Duty` in its loop): it reads
the same lines beside its requests, and the end of its socket and of those lines, without
the SIGTERM of an orderly stop, is the host's death. A process of its own cost more: a fork
of the zygote ~2.4 MiB PSS with one clock (it kept its own copy of every page the zygote
wrote afterwards), a fresh interpreter ~7.5 MiB (issue 15's memory goal). Without a
zygote it is ``python -m host.supervise.undertaker``. Neither has a parent-death signal:
it must outlive the host.

The race this closes: workers used to die with the host (``PR_SET_PDEATHSIG``). A worker
killed that way hands its children to init at once, and a ``setsid()`` daemon whose
parent had already exited was then linked to nothing the undertaker could find. Now
workers have no parent-death signal and are child subreapers, so every process a plugin
started stays below its worker by ``ppid``; a worker that sees its channel close holds
on while it has children. The undertaker then freezes each tree top-down while the worker
still holds it (:func:`~host.supervise.proctree.kill_tree`: SIGSTOP until a scan finds
nothing new, then SIGKILL), so no process can fork or re-parent out of it in between.

Spawned, it ignores SIGINT, SIGTERM and SIGHUP, so a Ctrl-C or a service stop that
reaches it before the host has stopped its workers cannot make it miss the end. The
zygote, in a session of its own from then on, ignores SIGINT and SIGHUP; SIGTERM is the
host's way to stop it (a service manager sending it to the whole service kills the
workers too).

Protocol, one line each on stdin: ``w <pid> <start_time>`` (a worker), ``k <pid>
<start_time> <worker pid>`` (a process below that worker that may have left its session),
``c <pid> <path>`` (that worker's cgroup, :mod:`host.supervise.worker_cgroups`: written
``cgroup.kill`` first, which reaches every process in it whatever it did to leave the
tree, then removed), ``f <pid>`` (a worker the host has reaped and cleaned up after:
forget it). Nothing else is read; a malformed line is ignored.

With systemd (``KillMode=control-group``) the service's cgroup does the same job; this
covers a host run by hand, in a terminal or a container.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import BinaryIO

from host.supervise import proctree
from host.supervise.cgroups import Delegation


class Ledger:
    """What the host has told the undertaker: workers, processes seen below them, cgroups.

    One line at a time (:meth:`take`), from a stream (:func:`serve`) or from the zygote's
    loop (:mod:`host.supervise.zygote`), which reads the same lines when it serves as the
    undertaker; :meth:`bury` is the end.
    """

    def __init__(self) -> None:
        self.workers: dict[int, int] = {}
        self.known: dict[int, set[tuple[int, int]]] = {}
        self.cgroups: dict[int, Path] = {}

    def take(self, raw: bytes) -> None:
        """Note one line of the protocol; a malformed one is ignored."""
        parts = raw.split()
        try:
            if parts[:1] == [b"w"] and len(parts) == 3:
                self.workers[int(parts[1])] = int(parts[2])
            elif parts[:1] == [b"k"] and len(parts) == 4:
                self.known.setdefault(int(parts[3]), set()).add((int(parts[1]), int(parts[2])))
            elif parts[:1] == [b"c"] and len(parts) >= 3:
                path = Path(os.fsdecode(raw.rstrip(b"\n").split(maxsplit=2)[2]))
                if path.is_absolute() and path.name.startswith("w-"):
                    self.cgroups[int(parts[1])] = path
            elif parts[:1] == [b"f"] and len(parts) == 2:
                self.workers.pop(int(parts[1]), None)
                self.known.pop(int(parts[1]), None)
                self.cgroups.pop(int(parts[1]), None)
        except ValueError:
            return

    def bury(self) -> int:
        """Kill every remembered worker tree and remove their cgroups; forget them all.

        :returns: how many processes were signalled.
        """
        workers, known, cgroups = self.workers, self.known, list(self.cgroups.values())
        self.workers, self.known, self.cgroups = {}, {}, {}  # a second bury finds nothing
        for path in cgroups:
            Delegation.kill(path)
        killed = 0
        for pid, start_time in workers.items():
            if pid > 1:
                killed += proctree.kill_tree(pid, known=known.get(pid, ()), start_time=start_time)
        _remove(cgroups)
        return killed


def serve(stream: BinaryIO) -> int:
    """Read the host's lines until EOF, then kill every remembered worker tree.

    :returns: how many processes were signalled in the end.
    """
    ledger = Ledger()
    for raw in stream:
        ledger.take(raw)
    return ledger.bury()


class Duty:
    """The undertaker's job inside the zygote's loop: the host's lines from ``fd`` as they
    come (``fd`` non-blocking, read when ready), buried at end of file.

    The zygote serves as the undertaker rather than forking one (a process of its own
    cost ~2.4 MiB PSS; issue 15): it already outlives nothing but the host, holds no
    plugin code and waits in one loop.
    """

    #: A longer line is no line of ours (a cgroup path is a few hundred bytes): dropped.
    MAX_LINE = 4096

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.ledger = Ledger()
        self._partial = b""
        self._skipping = False

    def read(self) -> bool:
        """Take what the host has written so far; ``False`` at end of file."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            return False
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        if self._skipping and lines:
            lines, self._skipping = lines[1:], False
        if len(self._partial) > self.MAX_LINE:
            self._partial, self._skipping = b"", True
        for line in lines:
            self.ledger.take(line)
        return True

    def finish(self) -> int:
        """Read to end of file, then bury (:meth:`Ledger.bury`) and close ``fd``."""
        os.set_blocking(self.fd, True)
        while self.read():
            pass
        try:
            return self.ledger.bury()
        finally:
            os.close(self.fd)


def _remove(paths: list[Path], timeout: float = 5.0) -> None:
    """Remove the killed workers' cgroups once their processes have left them."""
    end = time.monotonic() + timeout
    while paths and time.monotonic() < end:
        paths = [path for path in paths if not Delegation.remove(path)]
        if paths:
            time.sleep(0.02)


def main() -> None:
    """``python -m host.supervise.undertaker``: the undertaker where there is no zygote."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    serve(sys.stdin.buffer)


if __name__ == "__main__":
    main()
