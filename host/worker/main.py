"""The worker process: runs exactly one plugin instance in a process of its own.

Started either forked from the zygote (:mod:`host.supervise.spawner`) or spawned with the plugin
environment's interpreter as ``python -m host.worker.main``; both end in :func:`run`, which
sets the process up (own session, child subreaper, signals), then boots and
serves the plugin with :class:`host.worker.loop.Worker` and turns how that ended into an
exit status from :mod:`host.ipc.exitcodes`. Nothing here imports host-side modules beyond the
wire formats, so the worker stays small in every plugin environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import sys
from typing import Final, NoReturn

from host.errors import ProtocolError
from host.ipc import exitcodes, protocol
from host.ipc.workerargs import WorkerArgs
from host.worker.boot import BootError
from host.worker.loop import Terminated, Worker

__all__ = ["Terminated", "contain", "main", "run", "run_forked"]


def _become_subreaper() -> None:
    """Adopt the orphans of the plugin's processes (Linux ``PR_SET_CHILD_SUBREAPER``).

    Without it a plugin's double fork (a ``setsid()`` daemon whose parent exits at once)
    re-parents to init and leaves the worker's tree unseen; with it every process the
    plugin starts stays below the worker, so its limits count them and ending the worker
    ends them. Set before any plugin code runs; kept across ``setuid``.

    There is no ``PR_SET_PDEATHSIG`` any more: killing the worker when the host dies
    would orphan its tree to init before the undertaker (:mod:`host.supervise.undertaker`)
    could find it. The undertaker kills each worker's tree top-down instead, while the
    worker still holds it; a worker that notices the host is gone holds its tree too
    (:func:`_hold_tree`).
    """
    with contextlib.suppress(OSError, AttributeError):
        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _hold_tree() -> None:
    """The host is gone: wait for the plugin's processes, keeping them below us.

    Exiting now would hand them to init just as the undertaker comes to kill our tree;
    waiting keeps them linked until it has. Returns at once when there are none.
    """
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def contain(args: WorkerArgs) -> None:
    """Apply the worker's limits and drop root, before any plugin code runs.

    Order matters: the cgroup first (joining needs the host's privileges, and whatever
    runs later -- all of the plugin -- is born inside it), niceness and limits next
    (raising them again needs privileges the worker is about to give up), then groups,
    gid and uid (uid last, or setgid would be refused), then the home of that uid.

    :raises OSError: a limit or the privilege drop could not be applied; the worker must
        not run the plugin then.
    """
    if args.cgroup:
        # Our own pid, never "0": read back by the host as a member like any other.
        with open(os.path.join(args.cgroup, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    if args.nice > 0:
        os.nice(args.nice)
    if args.max_open_files > 0:
        _lower_limit(resource.RLIMIT_NOFILE, args.max_open_files)
    if not args.network:
        _leave_network()
    if args.uid is not None and os.geteuid() == 0:
        gid = args.gid if args.gid is not None else args.uid
        os.setgroups([])
        os.setgid(gid)
        os.setuid(args.uid)
        if os.geteuid() == 0 or os.getuid() == 0:
            raise OSError("still root after setuid")
        # Whatever umask the host was given (0 from a careless service manager), what
        # the plugin creates -- in /tmp above all, which every uid shares -- is its own.
        os.umask(0o077)
    if args.home:
        _take_home(args.home)


#: Where a worker's libraries keep their caches, settings and data, below its ``HOME``
#: (the XDG base directory spec's defaults, made explicit: the host's own values, which
#: a worker inherits, name the host's folders).
HOME_DIRS: Final = {
    "XDG_CACHE_HOME": ".cache",
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
}


def _take_home(home: str) -> None:
    """Make ``home`` (the instance's own data folder) ``HOME`` and the XDG folders' base.

    Libraries that cache (matplotlib, fontconfig, requests-cache) look there; without
    it they would try the host's ``HOME`` and fail, or write where other plugins read.
    ``.cache`` and ``.config`` are made now, as the worker's uid, private to it; the
    host's ``XDG_RUNTIME_DIR`` (``/run/user/0``) is not the worker's and goes.
    """
    os.environ["HOME"] = home
    os.environ.pop("XDG_RUNTIME_DIR", None)
    for variable, name in HOME_DIRS.items():
        path = os.path.join(home, name)
        os.environ[variable] = path
        if "/" not in name:
            with contextlib.suppress(OSError):
                os.mkdir(path, 0o700)


#: ``unshare(2)`` flags (linux/sched.h).
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
#: Why the worker kept the network although its plugin did not ask for it (``None``: it
#: did not, or it was asked for); the worker reports it so the status can say so.
network_kept: str | None = None


def _leave_network() -> None:
    """Enter an empty network namespace: no interface but a loopback that is down.

    As root (before dropping it) a plain ``CLONE_NEWNET``; otherwise a new user namespace
    grants the right to make one, where the kernel allows unprivileged user namespaces.
    If neither works the worker keeps the network, and :data:`network_kept` says why.
    """
    global network_kept
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        network_kept = f"no libc to call unshare: {exc}"
        return
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        network_kept = f"unshare failed: {os.strerror(errno)}"


def _lower_limit(which: int, value: int) -> None:
    """Set both soft and hard limits to at most ``value`` (never raise them)."""
    soft, hard = resource.getrlimit(which)
    new_hard = value if hard == resource.RLIM_INFINITY else min(hard, value)
    resource.setrlimit(which, (min(value, new_hard), new_hard))


def limit_address_space(memory_limit: int, headroom: int = 256 * 1024 * 1024) -> None:
    """Cap the address space as a backstop to the host's resident-memory limit.

    The host samples each worker's resident memory and kills it over the limit; between
    two samples a runaway allocation could still exhaust a Pi's RAM. ``RLIMIT_AS`` stops
    it at once with a ``MemoryError``. It counts address space, not memory: the mapped
    interpreter, numpy and thread stacks are already part of it, so the cap is what is
    mapped now plus the limit plus headroom for threads and their malloc arenas (which
    :func:`_cap_malloc_arenas` keeps few).
    """
    if memory_limit <= 0:
        return
    mapped = 0
    with contextlib.suppress(OSError, ValueError), open("/proc/self/statm", "rb") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    _cap_malloc_arenas()
    _lower_limit(resource.RLIMIT_AS, mapped + memory_limit + headroom)


def _cap_malloc_arenas() -> None:
    """Allow glibc two malloc arenas: each reserves 64 MiB of address space per thread."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        m_arena_max = -8
        libc.mallopt(m_arena_max, 2)


def run(args: WorkerArgs) -> int:
    """Run a worker to the end and return its exit status."""
    if os.getpid() != os.getsid(0):
        os.setsid()  # own process group, so the host can signal the plugin's children too
    _become_subreaper()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's to handle
    signal.signal(signal.SIGTERM, _on_sigterm)
    worker = Worker(args)
    try:
        contain(args)
    except OSError as exc:
        _report_boot_error(worker, f"could not apply the worker's limits: {exc}")
        return exitcodes.CONTAINMENT_FAILED
    if network_kept is not None:
        logging.getLogger("ledhost.worker").warning(
            "plugin %r keeps the network although it did not declare it (%s): the host "
            "cannot make an empty network namespace here",
            args.plugin_id,
            network_kept,
        )
    try:
        worker.boot()
        if args.describe:
            return exitcodes.OK
        limit_address_space(args.memory_limit)
        if not worker.wait_for_start():
            return exitcodes.OK  # asked to stop before starting (e.g. invalid config)
        worker.serve()
    except BootError as exc:
        _report_boot_error(worker, str(exc))
        return exc.status
    except Terminated:
        return exitcodes.TERMINATED
    except (EOFError, ConnectionError):
        _hold_tree()
        return exitcodes.HOST_GONE
    except ProtocolError as exc:
        _report_boot_error(worker, f"protocol error: {exc}")
        return exitcodes.HANDSHAKE_FAILED
    except MemoryError as exc:
        with contextlib.suppress(Exception):
            worker.report_error("worker", exc)
        return exitcodes.OVER_MEMORY
    except SystemExit as exc:
        # Not ours (the worker exits by returning): the plugin called sys.exit() in a hook.
        with contextlib.suppress(Exception):
            worker.report_error("worker", RuntimeError(f"the plugin called sys.exit({exc.code!r})"))
        return exitcodes.CRASHED
    except Exception as exc:
        # A bug in the worker or a plugin doing something unexpected outside a hook: tell
        # the host what it was instead of leaving only a traceback on a console nobody reads.
        with contextlib.suppress(Exception):
            worker.report_error("worker", exc)
        return exitcodes.CRASHED
    try:
        worker.shutdown()
    except Terminated:
        return exitcodes.TERMINATED
    return exitcodes.OK


def _report_boot_error(worker: Worker, message: str) -> None:
    try:
        worker.channel.send(protocol.Error(hook="boot", message=message[:65536], fatal=True))
    except (EOFError, OSError, ProtocolError):
        pass


def run_forked(args: WorkerArgs) -> NoReturn:
    """Entry point in a worker forked by the zygote (:mod:`host.supervise.zygote`)."""
    status = run(args)
    _exit(status)


def _exit(status: int) -> NoReturn:
    logging.shutdown()
    sys.stdout.flush()
    os._exit(status)


def main(argv: list[str] | None = None) -> NoReturn:
    _exit(run(WorkerArgs.from_argv(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
