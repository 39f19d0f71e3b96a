"""The undertaker: kills what plugins left behind when the host itself dies.

When the host ends normally, or a worker dies while the host lives, the host kills every
process the plugin started (:mod:`host.supervise.proctree`). When the host is killed outright --
SIGKILL, the OOM killer -- nothing of the host is left to do so. This small process, in a
session of its own, hears from the host which workers exist and which of their descendants
it has seen, and waits for end of file on its stdin. EOF means the host has gone, for
whatever reason: it then kills each worker's tree and exits.

With the zygote launcher it is a fork of the zygote
(:meth:`~host.supervise.zygote.Zygote.fork_undertaker`, shown as ``ledhost-undertk`` in
``ps``), adopted by the host like a worker: it shares the zygote's pages, which the zygote
leaves as they are, so it adds ~2.6 MiB of private pages where a fresh interpreter cost
~7.5-7.9 MiB PSS (issue 15's memory goal; a fork of the host itself cost more than
either, as the busy host soon dirties the pages they share). Without a zygote it is ``python -m
host.supervise.undertaker``. Neither has a parent-death signal: it must outlive the host.

The race this closes: workers used to die with the host (``PR_SET_PDEATHSIG``). A worker
killed that way hands its children to init at once, and a ``setsid()`` daemon whose
parent had already exited was then linked to nothing the undertaker could find. Now
workers have no parent-death signal and are child subreapers, so every process a plugin
started stays below its worker by ``ppid``; a worker that sees its channel close holds
on while it has children. The undertaker then freezes each tree top-down while the worker
still holds it (:func:`~host.supervise.proctree.kill_tree`: SIGSTOP until a scan finds
nothing new, then SIGKILL), so no process can fork or re-parent out of it in between.

It ignores SIGINT, SIGTERM and SIGHUP, so a Ctrl-C or
a service stop that reaches it before the host has stopped its workers cannot make it
miss the end.

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


def serve(stream: BinaryIO) -> int:
    """Read the host's lines until EOF, then kill every remembered worker tree.

    :returns: how many processes were signalled in the end.
    """
    workers: dict[int, int] = {}
    known: dict[int, set[tuple[int, int]]] = {}
    cgroups: dict[int, Path] = {}
    for raw in stream:
        parts = raw.split()
        try:
            if parts[:1] == [b"w"] and len(parts) == 3:
                workers[int(parts[1])] = int(parts[2])
            elif parts[:1] == [b"k"] and len(parts) == 4:
                known.setdefault(int(parts[3]), set()).add((int(parts[1]), int(parts[2])))
            elif parts[:1] == [b"c"] and len(parts) >= 3:
                path = Path(os.fsdecode(raw.rstrip(b"\n").split(maxsplit=2)[2]))
                if path.is_absolute() and path.name.startswith("w-"):
                    cgroups[int(parts[1])] = path
            elif parts[:1] == [b"f"] and len(parts) == 2:
                workers.pop(int(parts[1]), None)
                known.pop(int(parts[1]), None)
                cgroups.pop(int(parts[1]), None)
        except ValueError:
            continue
    for path in cgroups.values():
        Delegation.kill(path)
    killed = 0
    for pid, start_time in workers.items():
        if pid > 1:
            killed += proctree.kill_tree(pid, known=known.get(pid, ()), start_time=start_time)
    _remove(list(cgroups.values()))
    return killed


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
