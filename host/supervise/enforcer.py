"""The enforcer: holds workers to their deadlines and limits, and keeps their logs.

The supervisor starts, reaps and restarts workers; this decides when one must go and
makes it go. Deadlines (setup, heartbeat, each hook call) and limits (memory and
processes over the worker's whole tree) are judged by the pure :mod:`host.supervise.rules`;
here they become signals: SIGTERM to a hung worker's group, SIGKILL to its whole tree
if it ignores that or breaks a limit, and after any end, SIGKILL to every process it
left behind. A worker with a cgroup (:mod:`host.supervise.worker_cgroups`) is measured
from it and ended with ``cgroup.kill`` first; limits the kernel enforces there are left
to the kernel. Errors and log records pass through each instance's
:class:`~host.supervise.plugin_logs.PluginLog`, so a plugin failing or logging on every frame
cannot flood the host's log.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from host.supervise import proctree, spawner
from host.supervise.handle import WorkerHandle
from host.supervise.kept_files import KeptFiles
from host.supervise.plugin_logs import PluginLog
from host.supervise.rules import MIB, WorkerRules, next_rung, over_limit
from host.supervise.states import WorkerState
from host.supervise.worker_cgroups import WorkerCgroups

log = logging.getLogger("ledhost.supervisor")

#: Seconds between two measurements of every worker's memory (known processes only).
MONITOR_INTERVAL = 1.0
#: How early a measurement may run: the supervisor's passes ride on wake-ups that happen
#: regardless (:data:`~host.supervise.supervisor.TICK_EARLY`), instead of waking an idle
#: host on their own (at idle, wake-ups are most of the host's CPU; benchmarks/idle).
SLACK = 0.3
#: Seconds between two full scans of ``/proc`` (new descendants, process counts).
SCAN_INTERVAL = 2.0
#: Clock ticks per second, the unit of CPU times in ``/proc/<pid>/stat``.
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
#: Seconds the zombies of a killed plugin tree are looked for, to be reaped.
GRAVE_WATCH = 5.0


class Enforcer:
    """Deadlines, limits, kills and logs for the workers of one supervisor.

    :param rules: the limits and deadlines; the supervisor may replace them.
    :param logs: each instance's log, by instance id (shared with the supervisor).
    """

    def __init__(self, rules: WorkerRules, logs: dict[str, PluginLog]) -> None:
        self.rules = rules
        self.logs = logs
        self.next_monitor = 0.0
        self.next_scan = 0.0
        #: Killed trees still to reap: ``(worker pid, known processes, watch until)``.
        self.graves: list[tuple[int, frozenset[tuple[int, int]], float]] = []
        #: Adopted plugin orphans killed by :meth:`kill_strays`, to reap: ``(pid, until)``.
        self.stray_graves: list[tuple[int, float]] = []
        #: Told about every worker and its descendants, to kill them if the host dies.
        self.undertaker: spawner.Undertaker | None = None
        #: The workers' cgroups, once the supervisor has looked for them.
        self.cgroups: WorkerCgroups | None = None
        #: The files each pass re-reads (``cgroup.procs``, ``stat``), kept open.
        self.kept = KeptFiles()

    def record_error(self, handle: WorkerHandle, text: str) -> None:
        """Keep ``text`` as the last error; log it within the instance's log rate limit.

        A plugin that fails on every frame must not flood the host's log through its
        errors any more than through its log records.
        """
        wall = time.time()
        handle.record_error(text, wall)
        decision = self.logs[handle.instance_id].add(
            time.monotonic(), wall, logging.WARNING, "ledhost.host", text
        )
        if decision.summary is not None:
            log.warning("plugin instance %r: %s", handle.instance_id, decision.summary)
        if decision.record is not None:
            log.warning("plugin instance %r: %s", handle.instance_id, decision.record.message)

    def kill(self, handle: WorkerHandle, reason: str, now: float) -> None:
        """End the worker now: SIGKILL to it and every process below it (KILLING)."""
        if reason != handle.ending_reason:  # SIGTERM's rung already said why
            self.record_error(handle, reason)
        if handle.process is None:
            return
        if handle.state is not WorkerState.KILLING:
            handle.mark_killed(reason, now)
        if handle.cgroup is not None:
            WorkerCgroups.kill(handle.cgroup)  # all of it at once; the walk finds the rest
        proctree.kill_tree(handle.process.pid, known=handle.tree, start_time=handle.pid_start)

    def terminate(self, handle: WorkerHandle, reason: str, now: float) -> None:
        """Ask a worker to go (SIGTERM to its group); SIGKILL follows on a later pass.

        gunicorn's "WORKER TIMEOUT": the polite signal lets the plugin's ``finally``
        blocks run, the stop timeout bounds how long that may take.
        """
        if handle.process is None or handle.state in (
            WorkerState.TERMINATING,
            WorkerState.KILLING,
        ):
            return
        handle.terminate(reason, now)
        self.record_error(handle, reason)  # the one line this hang logs
        spawner.terminate(handle.process)

    def check_deadline(self, handle: WorkerHandle, now: float) -> None:
        """Take the next rung of the stop ladder for ``handle`` if one is due."""
        rung = next_rung(handle, self.rules, now)
        if rung is None:
            return
        action, reason = rung
        if action == "terminate" and _stopped(handle):
            # SIGSTOPped (by a plugin or anyone): silent, and SIGTERM stays pending until
            # a SIGCONT that may never come, so it is killed at once and said so.
            self.kill(handle, STOPPED, now)
            return
        if action == "terminate":
            self.terminate(handle, reason, now)
        else:
            log.error(
                "plugin instance %r ignored SIGTERM for %g s; sending SIGKILL",
                handle.instance_id,
                self.rules.stop_timeout,
            )
            self.kill(handle, reason, now)

    def check_deadlines(self, handles: Iterable[WorkerHandle], now: float) -> None:
        """Every worker's due rung: SIGTERM past a deadline, SIGKILL past SIGTERM's."""
        for handle in handles:
            self.check_deadline(handle, now)

    def monitor(
        self,
        handles: Iterable[WorkerHandle],
        now: float,
        keep: Callable[[], Iterable[int]] = tuple,
    ) -> None:
        """Measure every worker's tree; kill those over their memory or process limit.

        Two paces, because a full scan of ``/proc`` costs ~20 us per process on the
        machine (measured by ``benchmarks/idle.py``: at twice a second it was most of an
        idle host's CPU). At each housekeeping pass (every 1.2-2.2 s,
        :data:`~host.supervise.supervisor.TICK_EARLY`), at most every
        :data:`MONITOR_INTERVAL`, the processes already known in each tree are re-read, a
        few files, so a memory hog is still caught within about two seconds (where the
        kernel enforces ``memory.max``, at once); every
        :data:`SCAN_INTERVAL` the whole table is scanned to find new descendants, count
        processes and kill plugin processes adopted by the host (:meth:`kill_strays`;
        ``keep()`` names the host's other children, which are not: asked only for a scan,
        which workers in cgroups never need, so a pass does not poll the host's helpers).
        """
        if now < self.next_monitor - SLACK:
            return
        self.next_monitor = now + MONITOR_INTERVAL
        handles = list(handles)
        live = [h for h in handles if h.process is not None]
        table: dict[int, proctree.ProcInfo] | None = None
        if now >= self.next_scan and self._scan_needed(live):
            self.next_scan = now + SCAN_INTERVAL
            table = proctree.scan()
            self.reap_graves(table, now)
            self.kill_strays(table, handles, keep(), now)
        # Each cgroup's member list, read once per pass.
        members = {id(h): self._members(h.cgroup) for h in live if h.cgroup is not None}
        if table is None:
            table = self._known_table(live, members)
        self.kept.end_pass()
        for handle in live:
            assert handle.process is not None
            pid = handle.process.pid
            if handle.cgroup is not None:
                # Its cgroup names every process it has: no link to follow, none to lose.
                handle.tree = frozenset(
                    (p, table[p].start_time)
                    for p in members.get(id(handle), ())
                    if p in table and p != pid
                )
            else:
                handle.tree = proctree.snapshot(pid, table, known=handle.tree)
            if self.undertaker is not None:
                self.undertaker.know(pid, handle.tree)
            if pid in table and not handle.cpu_final:
                # The supervisor's CPU figure, from this read rather than one of its own.
                handle.cpu_seconds = table[pid].cpu_ticks / CLOCK_TICKS
            listed = members.get(id(handle))
            if listed:
                # Its cgroup's members are every process below it: nothing to walk.
                use = proctree.usage_of((pid, *listed), table)
            else:  # no cgroup, or its member list could not be read: follow the links
                use = proctree.usage(pid, table, known=handle.tree)
            rss, processes = self._kernel_usage(handle, use.rss_bytes, use.processes)
            handle.rss, handle.processes = rss, processes
            if handle.state is not WorkerState.KILLING:
                # A limit the kernel enforces (memory.max, pids.max) is its to enforce:
                # memory.current counts page cache too, and pids.max makes fork fail
                # rather than let the count pass the limit.
                checked_rss = 0 if "memory.max" in handle.kernel_limits else rss
                checked_processes = 0 if "pids.max" in handle.kernel_limits else processes
                reason = over_limit(handle, self.rules, checked_rss, checked_processes)
                if reason is not None:
                    log.error("plugin instance %r %s: killing it", handle.instance_id, reason)
                    self.kill(handle, reason, now)

    def _scan_needed(self, live: list[WorkerHandle]) -> bool:
        """Whether the full ``/proc`` scan has work: a worker without a cgroup (its new
        descendants are found only so), or zombies and strays of killed trees to reap.
        Workers in cgroups are measured from their cgroups alone."""
        return bool(self.graves or self.stray_graves or any(h.cgroup is None for h in live))

    @staticmethod
    def _kernel_usage(handle: WorkerHandle, rss: int, processes: int) -> tuple[int, int]:
        """The cgroup's own figures where the kernel keeps them (``memory.current``,
        ``pids.current``), else the ``/proc`` sums ``rss`` and ``processes``."""
        if handle.cgroup is None:
            return rss, processes
        memory, pids = WorkerCgroups.usage(handle.cgroup)
        return (rss if memory is None else memory), (processes if pids is None else pids)

    def _members(self, cgroup: Path) -> list[int]:
        """Pids in ``cgroup`` now (:meth:`WorkerCgroups.members`, through a kept fd)."""
        raw = self.kept.read(f"{cgroup}/cgroup.procs")
        return [] if raw is None else [int(p) for p in raw.split()]

    def _known_table(
        self, live: list[WorkerHandle], members: dict[int, list[int]]
    ) -> dict[int, proctree.ProcInfo]:
        """Just the workers and their known descendants (or cgroup ``members``, by
        ``id`` of the handle), read one by one through kept fds."""
        table: dict[int, proctree.ProcInfo] = {}
        for handle in live:
            assert handle.process is not None
            pids = [handle.process.pid, *(p for p, _ in handle.tree)]
            pids += members.get(id(handle), [])
            for pid in pids:
                if pid in table:
                    continue
                info = proctree.parse_stat(pid, self.kept.read(f"/proc/{pid}/stat"))
                if info is not None:
                    table[pid] = info
        return table

    def kill_leftovers(self, handle: WorkerHandle, pid: int) -> None:
        """The worker was reaped: end what it left (its cgroup first), forget its tree."""
        killed = 0
        left = handle.tree
        contained = handle.cgroup is not None
        if handle.cgroup is not None:
            # Named before the kill: those re-parented to the host become its zombies,
            # and only a known (pid, start time) lets a later pass reap them.
            members = [proctree.proc_info(p) for p in WorkerCgroups.members(handle.cgroup)]
            left = left | {(i.pid, i.start_time) for i in members if i is not None}
            killed = len(members)
            if self.cgroups is not None:
                self.cgroups.release(handle.cgroup)  # cgroup.kill, then removed
            else:
                WorkerCgroups.kill(handle.cgroup)
            handle.cgroup = None
        killed = max(killed, proctree.kill_tree(pid, known=left, start_time=handle.pid_start))
        if killed:
            log.info(
                "plugin instance %r: killed %d process(es) it left behind",
                handle.instance_id,
                killed,
            )
        if killed or contained:
            # They die a moment later; those re-parented to the host (a child subreaper)
            # become its zombies, reaped by later monitor passes (which scan while a
            # grave is watched). A cgroup's may have died with the worker, unnamed.
            self.graves.append((pid, left, time.monotonic() + GRAVE_WATCH))
        if self.undertaker is not None:
            self.undertaker.forget(pid)
        handle.tree = frozenset()

    def kernel_kill_reason(self, handle: WorkerHandle, code: int) -> None:
        """Name the kernel's ``memory.max`` as the reason of a SIGKILL it caused.

        With a memory controller the kernel ends a worker over its limit itself: without
        this, the user would read only "killed by SIGKILL".
        """
        if handle.cgroup is None or handle.ending_reason is not None or code != -9:
            return
        if WorkerCgroups.oom_kills(handle.cgroup):
            limit = self.rules.memory_limit_of(handle) / MIB
            handle.ending_reason = (
                f"over memory limit (killed by the kernel at memory.max, {limit:.0f} MiB)"
            )
            self.record_error(handle, handle.ending_reason)

    def kill_strays(
        self,
        table: dict[int, proctree.ProcInfo],
        handles: Iterable[WorkerHandle],
        keep: Iterable[int],
        now: float,
    ) -> None:
        """Kill plugin processes that were re-parented to the host, and log where from.

        A worker is a child subreaper, so a plugin's processes stay below it while it
        lives; only when the worker dies first do they come to the host (also a
        subreaper). Whatever child of the host is neither a worker nor in ``keep`` is such
        an orphan. Its instance is named when an earlier scan saw it below a worker.
        """
        handles = list(handles)
        kept = set(keep) | {h.process.pid for h in handles if h.process is not None}
        for stray in proctree.strays(table, kept):
            pair = (stray.pid, stray.start_time)
            owner = next((h.instance_id for h in handles if pair in h.tree), None)
            if owner is None:
                owner = next((f"pid {w}" for w, tree, _ in self.graves if pair in tree), None)
            killed = proctree.kill_tree(stray.pid, start_time=stray.start_time)
            log.warning(
                "killed %d process(es) a plugin left behind (%s, pid %d %r, from %s)",
                killed,
                "adopted by the host",
                stray.pid,
                stray.name,
                f"plugin instance {owner!r}" if owner else "an unknown plugin instance",
            )
            self.stray_graves.append((stray.pid, now + GRAVE_WATCH))
        # Those that died before any scan saw them alive (killed with their cgroup).
        proctree.reap_zombie_children(proctree.dead_strays(table, kept))
        pending = []
        for pid, until in self.stray_graves:
            if not proctree.reap_zombie_children([pid]) and now < until:
                pending.append((pid, until))
        self.stray_graves = pending

    def reap_graves(self, table: dict[int, proctree.ProcInfo], now: float) -> None:
        """Reap the zombies of killed plugin processes that were re-parented to us."""
        keep = []
        for pid, tree, until in self.graves:
            proctree.reap_zombie_children(proctree.adopted_zombies(pid, table, known=tree))
            if now < until:
                keep.append((pid, tree, until))
        self.graves = keep


#: The reason of a worker found stopped (``T`` in ``/proc``) when its deadline passed.
STOPPED: Final = "stopped (no heartbeat)"


def _stopped(handle: WorkerHandle) -> bool:
    """Whether ``handle``'s worker is stopped by a signal (or a tracer) right now."""
    if handle.process is None:
        return False
    info = proctree.proc_info(handle.process.pid)
    return info is not None and info.state in ("T", "t")
