"""The processes a plugin left behind: find them, measure them, kill them all.

A worker leads its own session and process group, so ``killpg`` reaches the children a
plugin starts -- until one calls ``setsid()`` or its parent dies. This module is the I/O
shell that closes those gaps. It reads ``/proc`` directly: where the host may write a
cgroup v2 subtree, each worker also has a cgroup that holds its tree by itself
(:mod:`host.supervise.worker_cgroups`), but many targets have none, and
``/proc/<pid>/task/<tid>/children`` does not exist there (``CONFIG_PROC_CHILDREN`` off),
so a process's descendants can only be found from the ``ppid`` field of every
``/proc/<pid>/stat``. A process is named by ``(pid, start_time)`` throughout: pids are
reused (``pid_max`` is 32768 on many systems), start times are not.

What no scan can see: a process that calls ``setsid()`` and whose parent exits before the
next scan (the classic double fork) keeps no link to the worker. Measured with
``while :; do (setsid sleep 1000 &); done`` snapshotted every 0.2 s: ~700 escaped. The
cure: every worker is a child subreaper (set by :mod:`host.worker.main` before plugin
code runs; kept across ``execve``), so such orphans re-parent to the worker and stay below
it by ``ppid``: its limits count them and :func:`kill_tree`, which freezes the tree
while the worker still holds it, ends them. The host is a subreaper too: what a worker
leaves when it dies first comes to the host, where :func:`strays` finds it and
:func:`kill_below_self` sweeps it (at shutdown, everything below the host). An adopted
orphan no longer says which worker it came from; the ``known`` snapshots do, when a scan
saw it in time.

Typical use by the supervisor::

    started = proc_info(pid).start_time                # right after launch
    table = scan()                                     # about once a second
    handle.known = snapshot(pid, table, known=handle.known)
    if usage(pid, table, known=handle.known).rss_bytes > limit: ...
    kill_tree(pid, known=handle.known, start_time=started)  # worker killed or dead
    # then, on that pass and each later one until descendants(pid, ...) is empty:
    reap_zombie_children(adopted_zombies(pid, scan(), known=handle.known))
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, final

__all__ = [
    "ProcInfo",
    "Usage",
    "adopted_zombies",
    "dead_strays",
    "descendants",
    "is_child_subreaper",
    "kill_below_self",
    "kill_tree",
    "proc_info",
    "reap_zombie_children",
    "scan",
    "set_child_subreaper",
    "snapshot",
    "strays",
    "usage",
    "usage_of",
]

#: Bytes per page, to turn the ``rss`` field of ``/proc/<pid>/stat`` (in pages) into bytes.
PAGE_SIZE: Final = os.sysconf("SC_PAGE_SIZE")

#: ``prctl`` options (``<linux/prctl.h>``); the stdlib has no wrapper.
PR_SET_CHILD_SUBREAPER: Final = 36
PR_GET_CHILD_SUBREAPER: Final = 37

#: States of a process that has exited: zombie (``Z``), dead (``X``, and ``x`` before 4.14).
_DEAD: Final = frozenset("ZXx")


@final
@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One line of ``/proc/<pid>/stat``, reduced to what supervision needs."""

    #: Process id (the thread-group id; threads are not listed).
    pid: int
    #: Parent pid: the process's real parent, or the subreaper/init that adopted it.
    ppid: int
    #: Process-group id.
    pgrp: int
    #: Session id; a worker's pid is the session id of everything it starts without setsid().
    session: int
    #: Resident set size in bytes; shared pages are counted in every process mapping them.
    rss_bytes: int
    #: Clock ticks after boot at which the process started; with ``pid`` it names the process.
    start_time: int
    #: One-letter state: ``R`` running, ``S`` sleeping, ``T`` stopped, ``Z`` zombie, ...
    state: str
    #: The ``comm`` name (at most 15 bytes, any bytes but NUL), for log lines only.
    name: str
    #: CPU clock ticks of the process and of its reaped children (utime, stime, cutime,
    #: cstime): the worker's CPU figure, from the read the monitor makes anyway.
    cpu_ticks: int = 0


@final
@dataclass(frozen=True, slots=True)
class Usage:
    """What a worker and everything it started use together."""

    #: Sum of the resident set sizes; overcounts pages shared between the processes.
    rss_bytes: int
    #: How many of them are alive (zombies are not counted).
    processes: int


def _parse_stat(pid: int, raw: bytes) -> ProcInfo:
    # comm sits between the first "(" and the *last* ")": it may itself contain ") " and
    # digits, so splitting the whole line on spaces would misread every field after it.
    close = raw.rindex(b")")
    fields = raw[close + 2 :].split(maxsplit=22)
    # Field n of proc(5) is fields[n - 3]: state 3, ppid 4, pgrp 5, session 6,
    # utime 14 .. cstime 17, starttime 22, rss 24.
    return ProcInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        rss_bytes=int(fields[21]) * PAGE_SIZE,
        start_time=int(fields[19]),
        state=fields[0].decode("ascii", "replace"),
        name=raw[raw.index(b"(") + 1 : close].decode("utf-8", "replace"),
        cpu_ticks=int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14]),
    )


def proc_info(pid: int) -> ProcInfo | None:
    """Read one process, e.g. to record a worker's start time right after launching it.

    :returns: its :class:`ProcInfo`, or ``None`` if there is no such process.
    """
    # os.open/os.read rather than open(): no buffered-file object per process. Measured
    # here, a scan of 589 processes took 11 ms with open() and 7 ms with os.open().
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096)
    except OSError:  # ESRCH: the process was reaped between open and read
        return None
    finally:
        os.close(fd)
    if not raw:
        return None
    return _parse_stat(pid, raw)


def parse_stat(pid: int, raw: bytes | None) -> ProcInfo | None:
    """:func:`proc_info` of a ``/proc/<pid>/stat`` read elsewhere (the housekeeping pass
    keeps the file open: :mod:`host.supervise.kept_files`); ``None`` for no bytes."""
    return _parse_stat(pid, raw) if raw else None


def scan() -> dict[int, ProcInfo]:
    """Read every process in ``/proc`` once.

    Costs about 15-20 us per process, measured on a 2-vCPU VM (Linux 6.18): 1.2 ms for
    82 processes, 11 ms for 582, 21 ms for 1083 -- mostly the kernel formatting each
    ``stat`` file. Once a second is cheap; scan once per supervisor pass and share the
    table between all workers (:func:`usage` and :func:`snapshot` on it cost well under
    a millisecond). Processes that exit during the scan are skipped, so the table is a
    near-instant view, not an atomic one.

    :returns: each process's :class:`ProcInfo`, by pid.
    """
    table: dict[int, ProcInfo] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = proc_info(int(entry))
            if info is not None:
                table[info.pid] = info
    return table


def _alive_known(table: dict[int, ProcInfo], known: Iterable[tuple[int, int]]) -> set[int]:
    """The pids of ``known`` that still name the same process (same start time)."""
    found: set[int] = set()
    for pid, start_time in known:
        info = table.get(pid)
        if info is not None and info.start_time == start_time:
            found.add(pid)
    return found


def _closure(seeds: set[int], table: dict[int, ProcInfo]) -> set[int]:
    """``seeds`` and everything below them by ``ppid`` links."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found = set(seeds)
    stack = list(seeds)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _members(
    root: int, table: dict[int, ProcInfo], known: Iterable[tuple[int, int]], *, linked: bool
) -> set[int]:
    seeds = _alive_known(table, known)
    if linked:
        # A process whose session or group is root's is root's even when orphaned: the
        # kernel never hands out a pid that is still some session's or group's id.
        seeds.add(root)
        seeds.update(info.pid for info in table.values() if root in (info.session, info.pgrp))
    return _closure(seeds, table)


def descendants(
    root: int, table: dict[int, ProcInfo], *, known: Iterable[tuple[int, int]] = ()
) -> set[int]:
    """Every process ``root`` started, directly or not, as far as ``table`` shows.

    That is everything below ``root`` by ``ppid`` links, everything in ``root``'s session
    or process group (orphans that were re-parented but kept the worker's session), every
    process of ``known`` still alive, and everything below those. A process that called
    ``setsid()`` *and* lost its parent is found only through ``known``: keep the result of
    :func:`snapshot` from each pass.

    :param root: the worker's pid; it need not be alive.
    :param table: a :func:`scan` result.
    :param known: ``(pid, start_time)`` pairs recorded earlier, e.g. by :func:`snapshot`.
    :returns: their pids, without ``root`` itself; zombies included.
    """
    return _members(root, table, known, linked=True) - {root}


def snapshot(
    root: int, table: dict[int, ProcInfo], *, known: Iterable[tuple[int, int]] = ()
) -> frozenset[tuple[int, int]]:
    """Name ``root``'s descendants so they can be found after their links are gone.

    Pass the previous snapshot as ``known``: the result then keeps every process ever
    seen below ``root`` that still exists, and drops those that are gone, so it stays
    small. Zombies stay until reaped, so :func:`adopted_zombies` can still find them.

    :returns: ``(pid, start_time)`` of each of :func:`descendants` (``root`` excluded).
    """
    return frozenset((pid, table[pid].start_time) for pid in descendants(root, table, known=known))


def usage(root: int, table: dict[int, ProcInfo], *, known: Iterable[tuple[int, int]] = ()) -> Usage:
    """Memory and process count of ``root`` and its :func:`descendants`, for limits.

    RSS is what the kernel reports per process; a page shared by several of them
    (copy-on-write after fork, e.g. everything a zygote-forked worker inherited, or a
    shared library) is counted once per process, so the sum overstates real use. PSS
    (``/proc/<pid>/smaps_rollup``) would not, but costs a page-table walk per process.

    :returns: the sum over the live processes; zombies hold no memory and are not counted.
    """
    pids = _members(root, table, known, linked=True) & table.keys()
    live = [table[pid] for pid in pids if table[pid].state not in _DEAD]
    return Usage(rss_bytes=sum(info.rss_bytes for info in live), processes=len(live))


def usage_of(pids: Iterable[int], table: dict[int, ProcInfo]) -> Usage:
    """:func:`usage` of exactly ``pids`` (repeats counted once): a worker and its cgroup's
    members, which need no links followed -- a process cannot leave its cgroup, so the
    members are every process below the worker. Without the walk (the children map, the
    session and group look-ups) the housekeeping pass is ~20 us shorter, cold.
    """
    rss = processes = 0
    for pid in set(pids):
        info = table.get(pid)
        if info is not None and info.state not in _DEAD:
            rss += info.rss_bytes
            processes += 1
    return Usage(rss_bytes=rss, processes=processes)


def _send(pid: int, start_time: int, sig: int) -> bool:
    """Signal the process ``(pid, start_time)``, never a process that reused its pid.

    The pidfd is opened *before* the start time is checked, so it pins the process that
    was checked: if the pid had been reused in between, the start time would not match.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except OSError:  # EMFILE and the like: fall back to kill() after the same check
        pidfd = -1
    try:
        info = proc_info(pid)
        if info is None or info.start_time != start_time or info.state in _DEAD:
            return False
        if pidfd >= 0:
            signal.pidfd_send_signal(pidfd, sig)
        else:
            os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _killpg(pgrp: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgrp, sig)


def _protected(table: dict[int, ProcInfo]) -> set[int]:
    """Ourselves and our ancestors: never signalled, whatever ``known`` says."""
    protected = {0, 1}
    pid = os.getpid()
    while pid > 1 and pid not in protected:
        protected.add(pid)
        info = table.get(pid)
        pid = info.ppid if info is not None else 0
    return protected


def _targets(
    root: int,
    table: dict[int, ProcInfo],
    known: Iterable[tuple[int, int]],
    start_time: int | None,
) -> dict[tuple[int, int], ProcInfo]:
    head = table.get(root)
    # If root's pid now names another process, its links and session are not ours to
    # follow; only the processes recorded in ``known`` are.
    linked = head is None or start_time is None or head.start_time == start_time
    pids = _members(root, table, known, linked=linked) - _protected(table)
    return {
        (pid, table[pid].start_time): table[pid]
        for pid in pids
        if pid in table and table[pid].state not in _DEAD
    }


def kill_tree(
    root: int,
    *,
    known: Iterable[tuple[int, int]] = (),
    rounds: int = 5,
    start_time: int | None = None,
) -> int:
    """SIGKILL a worker and every process it left behind.

    Freeze first, then kill. Each round scans ``/proc`` and sends SIGSTOP to every process
    of the tree not yet stopped, until a round finds nothing new; only then does
    everything get SIGKILL. Killing straight away would race: a process killed between
    a scan and the kill may have forked a child that the scan missed, and once its
    parent is dead a child that called ``setsid()`` has no link left to the tree. A
    stopped process cannot fork, and its children keep their ``ppid``, so the frozen
    tree is complete. SIGKILL ends stopped processes without a SIGCONT.

    This returns as soon as the signals are sent; the processes finish dying a moment
    later, and those whose parent is this process (or who were re-parented to it, see
    :func:`set_child_subreaper`) stay zombies until reaped.

    :param root: the worker's pid; it need not be alive or unreaped.
    :param known: ``(pid, start_time)`` pairs from an earlier :func:`snapshot`, to catch
        processes that left root's session and lost their parent.
    :param rounds: how many freeze scans at most (then everything found is killed anyway),
        and likewise how many final sweeps for processes that could not be frozen.
    :param start_time: root's start time if known; required to be safe once root has been
        reaped, because its pid may then belong to an unrelated process. On a mismatch
        only ``known`` is killed.
    :returns: how many processes were sent a signal (zombies are not signalled).
    :raises ValueError: if ``root`` is 0 or 1, or ``rounds`` is below 1.
    """
    if root <= 1:
        raise ValueError(f"kill_tree: refusing root pid {root}; pass a worker's pid")
    if rounds < 1:
        raise ValueError(f"kill_tree: rounds must be at least 1, not {rounds}")
    head = proc_info(root)
    # killpg() only while root is alive and is the process we mean: then the group id
    # is surely root's group. Otherwise its members are still found by scanning.
    whole_group = (
        head is not None
        and (start_time is None or head.start_time == start_time)
        and root not in (os.getpid(), os.getpgrp())
    )
    recorded = frozenset(known)
    return _freeze_then_kill(
        lambda table, seen: _targets(root, table, recorded | seen, start_time),
        rounds,
        group=root if whole_group else None,
    )


def _freeze_then_kill(
    find: Callable[[dict[int, ProcInfo], set[tuple[int, int]]], dict[tuple[int, int], ProcInfo]],
    rounds: int,
    *,
    group: int | None = None,
) -> int:
    """SIGSTOP what ``find`` names until a scan finds nothing new, then SIGKILL it all.

    ``find(table, seen)`` returns the live processes to end, given a fresh :func:`scan`
    and the processes already stopped. ``group``, if given, is stopped and killed as a
    whole first (``killpg``): cheaper and immune to the scan's blind spots.
    """
    seen: set[tuple[int, int]] = set()
    signalled: set[tuple[int, int]] = set()
    try:
        if group is not None:
            _killpg(group, signal.SIGSTOP)
        for _ in range(rounds):
            fresh = find(scan(), seen).keys() - seen
            if not fresh:
                break
            for pair in fresh:
                seen.add(pair)
                if _send(*pair, signal.SIGSTOP):
                    signalled.add(pair)
    finally:
        # Also on KeyboardInterrupt: never leave a tree frozen but alive.
        if group is not None:
            _killpg(group, signal.SIGKILL)
        for pair in seen:
            if _send(*pair, signal.SIGKILL):
                signalled.add(pair)
    # Normally finds nothing. Something new here was born of a process we could not stop,
    # or of a stopped group that the kernel continued with SIGHUP+SIGCONT because killing
    # its session leader orphaned it (POSIX orphaned-process-group rule). With no group
    # and nothing found, neither can be: no scan (each reads every process's stat, ~1.5
    # ms with ~100 processes; a worker's reap and the shutdown's sweep usually find none).
    for _ in range(rounds if seen or group is not None else 0):
        fresh = find(scan(), seen).keys() - seen
        if not fresh:
            break
        for pair in fresh:
            seen.add(pair)
            if _send(*pair, signal.SIGKILL):
                signalled.add(pair)
    return len(signalled)


def strays(table: dict[int, ProcInfo], keep: Iterable[int]) -> list[ProcInfo]:
    """Live children of this process that are not in ``keep``: adopted plugin orphans.

    This process is a child subreaper, so a plugin process whose worker died first is
    re-parented here. Every child the host started itself in a session of its own
    (workers, undertaker) belongs in ``keep``. Children in our own session are never
    strays: a plugin's processes descend from a worker, which leads a session of its own,
    and no process can join a session it was not born in -- so a process embedding the
    host (a test, ``ledhost`` tools) keeps its other children.
    """
    me, kept, session = os.getpid(), set(keep), os.getsid(0)
    return [
        info
        for info in table.values()
        if info.ppid == me
        and info.pid not in kept
        and info.session != session
        and info.state not in _DEAD
    ]


def dead_strays(table: dict[int, ProcInfo], keep: Iterable[int]) -> list[int]:
    """Zombie children of this process that :func:`strays` would name were they alive.

    Plugin orphans killed together with their worker (a cgroup's ``cgroup.kill`` ends
    all at once, so the worker cannot outlive them) come to the host only as zombies;
    they were never ours to wait for, so reaping them takes no one's exit status.
    """
    me, kept, session = os.getpid(), set(keep), os.getsid(0)
    return [
        info.pid
        for info in table.values()
        if info.ppid == me
        and info.pid not in kept
        and info.session != session
        and info.state in _DEAD
    ]


def kill_below_self(keep: Iterable[int] = (), *, rounds: int = 5) -> int:
    """SIGKILL every descendant of this process except ``keep`` (and what is below those).

    The host's sweep at shutdown and of adopted orphans: found by ``ppid`` links only
    (never by session or group, which this process may share with its own parent), frozen
    and killed like :func:`kill_tree`.

    :returns: how many processes were sent a signal.
    """
    me, kept = os.getpid(), set(keep)

    def find(
        table: dict[int, ProcInfo], seen: set[tuple[int, int]]
    ) -> dict[tuple[int, int], ProcInfo]:
        seeds = {info.pid for info in strays(table, kept)}
        seeds.update(pid for pid, start in seen if pid in table and table[pid].start_time == start)
        pids = _closure(seeds, table) - _protected(table) - {me}
        return {
            (pid, table[pid].start_time): table[pid]
            for pid in pids
            if table[pid].state not in _DEAD
        }

    ours = {info.pid for info in strays(scan(), kept)}
    killed = _freeze_then_kill(find, rounds)
    # Our own children among them would stay our zombies: wait for them, but never long
    # (a process in uninterruptible sleep dies only when its I/O ends).
    _reap_soon(ours)
    return killed


def _reap_soon(pids: set[int], timeout: float = 2.0) -> None:
    """Reap those of ``pids`` that are our children once they exit, waiting ``timeout``."""
    pidfds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            pidfds[os.pidfd_open(pid)] = pid
    try:
        pending = set(pidfds)
        while pending:
            ready, _, _ = select.select(list(pending), [], [], timeout)
            if not ready:
                return
            for fd in ready:
                pending.discard(fd)
                reap_zombie_children([pidfds[fd]])
    finally:
        for fd in pidfds:
            os.close(fd)


def adopted_zombies(
    root: int, table: dict[int, ProcInfo], *, known: Iterable[tuple[int, int]] = ()
) -> list[int]:
    """Zombies of ``root``'s tree whose parent is now this process.

    Only these are safe to reap without knowing their pids in advance: they belong to a
    plugin, never to a ``subprocess.Popen`` of ours, whose exit status must stay for it.
    A zombie keeps its session, group and start time until reaped, so pass the same
    ``root`` and ``known`` as to :func:`kill_tree`, on this pass and the next few.

    :returns: pids to hand to :func:`reap_zombie_children`.
    """
    me = os.getpid()
    return sorted(
        pid
        for pid in descendants(root, table, known=known)
        if table[pid].state in _DEAD and table[pid].ppid == me
    )


def reap_zombie_children(candidates: Iterable[int]) -> list[int]:
    """Reap those of ``candidates`` that are exited children of this process.

    Waits on each pid with ``WNOHANG`` and never with ``waitpid(-1)``: that would also
    take the exit status of a ``subprocess.Popen`` child, which then reports 0 (CPython
    treats ECHILD as success), or of a ``multiprocessing`` process.

    :returns: the pids reaped; the others are still running or not our children.
    """
    reaped: list[int] = []
    for pid in candidates:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                reaped.append(pid)
    return reaped


def _prctl(option: int, arg: int | ctypes.c_int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    value = arg if isinstance(arg, int) else ctypes.addressof(arg)
    result = libc.prctl(
        ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0)
    )
    return int(result)


def set_child_subreaper() -> bool:
    """Make this process adopt the orphans of its descendants (``PR_SET_CHILD_SUBREAPER``).

    Without it an orphan goes to init and leaves our tree; with it the orphan's ``ppid``
    becomes ours, so ``descendants(os.getpid(), scan())`` finds every process the host
    ever caused to exist -- what a final sweep at shutdown needs. The price: adopted
    orphans become *our* zombies when they die, and must be reaped by pid
    (:func:`adopted_zombies`). Children created by fork do not inherit the setting;
    ``execve`` keeps it.

    :returns: whether the kernel accepted it (Linux 3.4 and later).
    """
    return _prctl(PR_SET_CHILD_SUBREAPER, 1) == 0


def is_child_subreaper() -> bool:
    """Whether :func:`set_child_subreaper` is in effect for this process."""
    flag = ctypes.c_int(0)
    return _prctl(PR_GET_CHILD_SUBREAPER, flag) == 0 and flag.value != 0
