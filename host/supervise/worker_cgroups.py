"""The workers' cgroups of one host: made before a worker starts, killed and removed after.

Where the host may write a cgroup2 subtree (:func:`host.supervise.cgroups.find`), each
worker joins a cgroup of its own before any plugin code runs (it writes its pid into
``cgroup.procs`` in :func:`host.worker.main.contain`; the host names the cgroup in
:attr:`~host.ipc.workerargs.WorkerArgs.cgroup`). Everything the plugin starts is born in
that cgroup and cannot leave it (moving a process needs write access to the target's
``cgroup.procs``, which a worker under a uid of its own lacks), whatever it does with
``setsid()`` and double forks. Ending a worker then writes ``cgroup.kill`` -- one write,
every process at once -- before the process-tree kill of :mod:`host.supervise.proctree`,
which stays for what the cgroup cannot hold (a worker that died before joining).

Limits: ``memory.max`` and ``pids.max`` are set where the ``memory`` and ``pids``
controllers can be enabled; where not (this is common: a host in the root cgroup of a
hybrid hierarchy whose controllers are all on cgroup v1), those limits stay with the
host's process-tree rules (``/proc`` sampling), and :meth:`WorkerCgroups.describe` says
so. ``cgroup.kill`` (Linux 5.14) is required: without it a cgroup would not end a tree
any better than the freeze-then-kill walk.

Names: ``w-<host pid>-<instance id>-<serial>`` below the host's cgroup, so hosts sharing
one cgroup (tests, a host in the root cgroup) never touch each other's, and a restarted
worker never waits for its predecessor's cgroup to empty.

Interface, for other parts: ``WorkerCgroups(enabled)``; :meth:`~WorkerCgroups.assign`
(or :meth:`~WorkerCgroups.create`) before a launch; :meth:`~WorkerCgroups.kill` to end
one; :meth:`~WorkerCgroups.release` after its worker is reaped;
:meth:`~WorkerCgroups.sweep` on the housekeeping pass; :meth:`~WorkerCgroups.close` at
shutdown.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from host.supervise import cgroups, proctree
from host.supervise.handle import WorkerHandle

__all__ = ["CGROUP", "PROCESS_TREE", "WorkerCgroups"]

log = logging.getLogger("ledhost.supervisor")

#: What the status says a worker is contained by.
CGROUP: Final = "cgroup"
PROCESS_TREE: Final = "process tree"
#: The limit files a cgroup sets, by controller (what the status lists as kernel limits).
LIMIT_FILES: Final = {"memory": "memory.max", "pids": "pids.max"}

#: The setting each controller's limit comes from (what falls back without it).
FALLBACK_SETTINGS: Final = {"memory": "memory_limit_mb", "pids": "max_processes"}

#: One serial across every host of this process (tests run several in turn).
_serial = itertools.count(1)
#: Cgroups found without ``memory.current`` and ``pids.current`` (see ``usage``).
_NO_USAGE: set[Path] = set()
#: ``w-<pid>-...``: a worker cgroup of the host with that pid.
_OURS: Final = re.compile(r"w-(\d+)-.+")


class WorkerCgroups:
    """The cgroups of one host's workers (none at all where cgroups cannot be used).

    :param enabled: ``workers.cgroups`` is ``"auto"``; ``False`` never looks.
    :param find: where to look for the delegation (tests pass their own).
    """

    def __init__(
        self, enabled: bool, find: Callable[[], cgroups.Delegation | None] = cgroups.find
    ) -> None:
        self.delegation: cgroups.Delegation | None = None
        #: Why workers have no cgroups, in words (``None`` when they have).
        self.unavailable: str | None = "off (workers.cgroups)"
        #: Cgroups made and not removed yet; those of reaped workers are in ``_ending``.
        self._live: set[Path] = set()
        self._ending: set[Path] = set()
        if enabled:
            self._open(find)

    def _open(self, find: Callable[[], cgroups.Delegation | None]) -> None:
        found = find()
        if found is None:
            self.unavailable = (
                "no writable cgroup v2 subtree with cgroup.kill (systemd Delegate=yes, or "
                "root with a cgroup2 mount)"
            )
            return
        refusal = cgroups.systemd_refusal(found.base)
        if refusal is not None:
            self.unavailable = refusal
            return
        try:
            found.prepare()
        except OSError as exc:
            log.warning(
                "cgroup v2 at %s: cannot enable %s for workers (%s); their memory and "
                "process limits stay with the process-tree rules",
                found.base,
                "+".join(sorted(found.controllers)),
                exc.strerror or exc,
            )
            found = cgroups.Delegation(base=found.base, controllers=frozenset())
        self.delegation, self.unavailable = found, None
        self._remove_stale(found.base)

    @property
    def limits(self) -> tuple[str, ...]:
        """The limit files each worker's cgroup gets (``memory.max``, ``pids.max``)."""
        if self.delegation is None:
            return ()
        return tuple(LIMIT_FILES[c] for c in sorted(self.delegation.controllers))

    def describe(self) -> str:
        """One line for the host's log: what holds the workers, and what does not."""
        if self.delegation is None:
            return f"workers are contained by their process trees: cgroups {self.unavailable}"
        line = f"each worker gets a cgroup at {self.delegation.base} "
        line += f"({', '.join(('cgroup.kill', *self.limits))})"
        missing = [c for c in sorted(LIMIT_FILES) if c not in self.delegation.controllers]
        if missing:
            settings = " and ".join(f"workers.{FALLBACK_SETTINGS[c]}" for c in missing)
            line += (
                f"; no {'/'.join(missing)} controller here, so {settings} stay with the "
                "process-tree rules"
            )
        return line

    def create(self, instance_id: str, *, memory_bytes: int, max_pids: int) -> Path | None:
        """A new cgroup for one worker of ``instance_id``, or ``None`` (process tree only).

        A failure is logged and that worker runs without one: containment falls back,
        the plugin still runs.
        """
        if self.delegation is None:
            return None
        name = f"{os.getpid()}-{instance_id}-{next(_serial)}"
        try:
            path = self.delegation.create(name, memory_bytes=memory_bytes, max_pids=max_pids)
        except (OSError, ValueError) as exc:
            log.warning(
                "plugin instance %r: no cgroup of its own (%s); its process tree holds it",
                instance_id,
                getattr(exc, "strerror", None) or exc,
            )
            return None
        self._live.add(path)
        return path

    def assign(self, handle: WorkerHandle, memory_bytes: int, max_pids: int) -> None:
        """Give the next run of ``handle`` its cgroup (or none), and say so in its status."""
        handle.cgroup = self.create(
            handle.instance_id, memory_bytes=memory_bytes, max_pids=max_pids
        )
        handle.containment = CGROUP if handle.cgroup is not None else PROCESS_TREE
        handle.kernel_limits = self.limits if handle.cgroup is not None else ()

    @staticmethod
    def kill(path: Path) -> None:
        """SIGKILL everything in ``path`` at once."""
        cgroups.Delegation.kill(path)

    @staticmethod
    def usage(path: Path) -> tuple[int | None, int | None]:
        """See :meth:`host.supervise.cgroups.Delegation.usage`.

        A cgroup that keeps neither figure (no memory or pids controller: a hybrid
        hierarchy's) is not asked again: two failed opens every housekeeping pass, for
        nothing, were a tenth of an idle host's pass (issue 15).
        """
        if path in _NO_USAGE:
            return None, None
        figures = cgroups.Delegation.usage(path)
        if figures == (None, None):
            _NO_USAGE.add(path)
        return figures

    @staticmethod
    def members(path: Path) -> list[int]:
        """Pids in ``path`` now."""
        return cgroups.Delegation.members(path)

    @staticmethod
    def oom_kills(path: Path) -> int:
        """See :meth:`host.supervise.cgroups.Delegation.oom_kills`."""
        return cgroups.Delegation.oom_kills(path)

    def release(self, path: Path) -> None:
        """The worker of ``path`` was reaped: kill what is left and remove the cgroup.

        Killed processes leave a moment later; until then the removal is retried by
        :meth:`sweep`.
        """
        self._live.discard(path)
        _NO_USAGE.discard(path)
        if not cgroups.Delegation.remove(path):
            self._ending.add(path)

    def sweep(self) -> None:
        """Retry removing the cgroups of ended workers (their processes have exited)."""
        for path in list(self._ending):
            if cgroups.Delegation.remove(path):
                self._ending.discard(path)

    @property
    def pending(self) -> int:
        """Cgroups made by this host and not removed yet."""
        return len(self._live) + len(self._ending)

    def close(self, timeout: float = 2.0) -> None:
        """Kill and remove every cgroup this host made (at shutdown, workers reaped)."""
        for path in list(self._live):
            self.release(path)
        end = time.monotonic() + timeout
        while self._ending and time.monotonic() < end:
            time.sleep(0.01)
            self.sweep()
        if self._ending:
            log.warning(
                "could not remove %d worker cgroup(s): %s",
                len(self._ending),
                ", ".join(str(p) for p in sorted(self._ending)),
            )

    @staticmethod
    def _remove_stale(base: Path) -> None:
        """Remove the empty worker cgroups of hosts that are gone (killed with their
        undertaker). One that still holds processes is left alone: its host may live in
        another pid namespace, where its pid means nothing here."""
        with contextlib.suppress(OSError):
            for entry in base.iterdir():
                match = _OURS.fullmatch(entry.name)
                if match is None or not entry.is_dir() or cgroups.Delegation.members(entry):
                    continue
                if proctree.proc_info(int(match[1])) is None:
                    with contextlib.suppress(OSError):
                        entry.rmdir()
