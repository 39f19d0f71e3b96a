"""ledhost's own fork server: the zygote, forked from the host, that forks warm workers.

Why not ``multiprocessing``'s forkserver: that one is a separately exec'd interpreter (it
shares no page with the host), it brings a resource tracker process along, and stopping it
or reading its pid needs private APIs. This one is a plain ``os.fork`` of the host, made
early (before the panel opens and before any thread starts), so host, zygote and workers
share the interpreter's pages copy-on-write.

How a worker is made, and why that way:

* The host sends a request over a ``SOCK_SEQPACKET`` socketpair: the encoded
  :class:`~host.ipc.workerargs.WorkerArgs` and the worker's own descriptors (control socket,
  frame bus) as ``SCM_RIGHTS``. Only the host holds the other end, and the zygote decodes
  the request against the one declaration of WorkerArgs (no pickle: nothing in a
  request can run code).
* The zygote forks a short-lived *middle*, which forks the worker, notes the worker's
  start time (``/proc``; the worker cannot be reaped by anyone but the middle yet, so its
  pid cannot have been reused), tells the zygote and exits. The orphaned worker is
  adopted by the host, a child subreaper (:func:`~host.supervise.proctree.set_child_subreaper`,
  set before the zygote exists), so the host can wait for it (``waitpid``) and watch it
  through a pidfd, exactly like a spawned worker. From the fork until the host reaps it
  the worker's pid is pinned (as process or zombie), so the host's check that the pid is
  its own child with that start time rules out pid reuse.
* The worker waits until it has been adopted before it runs on, so that from its first
  line of plugin code its parent is the host, which can wait for it.
* The worker closes every descriptor but stdio, its control channel and its frame bus
  before any plugin code runs: above all the zygote's socket, so a plugin cannot ask the
  zygote for anything nor disturb other workers' launches.

The alternative, forking workers straight from the zygote and relaying their exit status,
would leave the host unable to ``waitpid`` them and make the zygote a second supervisor.

Asked to (:meth:`Zygote.undertake`), the zygote also serves as the undertaker
(:mod:`host.supervise.undertaker`), reading its lines in the same loop, rather than forking
a process for it: see :func:`_become_undertaker`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import importlib
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import NoReturn

import msgspec

from host.ipc.workerargs import WorkerArgs
from host.supervise import proctree, undertaker
from host.worker.main import run_forked

#: What the zygote imports once so every fork starts warm.
ZYGOTE_PRELOAD = (
    "numpy",
    "PIL.Image",
    "PIL.ImageDraw",
    "msgspec",
    "pluggy",
    "sdk",
    "host.worker.main",
    "host.worker.preload",
    # Every worker imports these at boot (pluggy's entry points; the config schema check).
    # Preloaded, a warm worker starts in ~35 ms instead of ~160 ms and shares ~4 MiB more
    # (benchmarks/memory.py).
    "importlib.metadata",
    "config",
    # The worker validates its own options (config.plugin_schema imports it on first use,
    # so the host itself never loads it).
    "jsonschema",
    "host.worker.validate",
    # importlib.metadata reads each distribution's METADATA with these on first use.
    "email.parser",
)

#: The request to serve as the undertaker, sent with one descriptor: the read end of the
#: undertaker's stdin.
UNDERTAKER_REQUEST = b"undertaker"
#: What an exec'd zygote sends, unasked, once it has preloaded (:func:`main`).
READY = b"ready"
#: A request is WorkerArgs as msgpack (their one declaration); a few hundred bytes.
_MAX_REQUEST = 1 << 16
#: Control socket, frame memfd, ready eventfd, free eventfd.
_FDS_PER_WORKER = 4
#: How long the host waits for the zygote's answer (its first one waits for the preload).
REPLY_TIMEOUT = 60.0
#: Exit status of a worker that failed before :func:`run_forked` (as the CLI's crash).
_SETUP_FAILED = 70


class Zygote:
    """The host's end of one zygote process: fork it, ask it for workers, stop it."""

    def __init__(self) -> None:
        """Fork the zygote now.

        :raises OSError: this system cannot have one (no fork, no subreaper); use spawn.
        """
        if not hasattr(os, "fork") or not hasattr(os, "pidfd_open"):
            raise OSError("os.fork or os.pidfd_open is not available")
        if not proctree.set_child_subreaper():
            raise OSError("the host cannot become a child subreaper")
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The parent-death signal follows the forking *thread*; from any other thread it
        # would fire when that thread ends, so rely on the socket's EOF alone then.
        die_with_parent = threading.current_thread() is threading.main_thread()
        # What the host holds now is shared with the zygote: out of the host's collections
        # too, or its first full one writes every object's header and copies those pages.
        # Garbage first (the CLI's parser): frozen, it would never be freed.
        gc.collect()
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the zygote; covered by tests/test_zygote.py
            status = 0
            try:
                host_end.close()
                _serve(zygote_end, die_with_parent)
            except BaseException:  # noqa: BLE001 - nothing may unwind into the host's code
                status = 1
                with contextlib.suppress(BaseException):
                    import traceback

                    traceback.print_exc()  # to the host's stderr: a zygote that failed
            os._exit(status)
        zygote_end.close()
        self._attach(pid, host_end)

    @classmethod
    def attach(cls, pid: int, host_end: socket.socket) -> Zygote:
        """The host's end of a zygote started otherwise: exec'd (:func:`main`) by
        :mod:`host.supervise.revival` after the first one died."""
        zygote = cls.__new__(cls)
        zygote._attach(pid, host_end)
        return zygote

    def _attach(self, pid: int, host_end: socket.socket) -> None:
        host_end.settimeout(REPLY_TIMEOUT)
        self.pid = pid
        self._sock = host_end
        self._pidfd = os.pidfd_open(pid)
        self._lock = threading.Lock()
        # A launcher dropped without close() (a Host never run) still stops and reaps it.
        self._stop = weakref.finalize(self, _stop, host_end, self._pidfd, pid)

    @property
    def sockfd(self) -> int:
        """Readable once an exec'd zygote has preloaded (:meth:`take_ready`)."""
        return self._sock.fileno()

    def take_ready(self) -> bool:
        """Read an exec'd zygote's :data:`READY` (without waiting); ``False`` if what came
        was anything else or nothing."""
        try:
            return self._sock.recv(16, socket.MSG_DONTWAIT) == READY
        except OSError:
            return False

    @property
    def pidfd(self) -> int:
        """Readable once the zygote has ended: the host's selector watches it."""
        return self._pidfd

    def alive(self) -> bool:
        """Whether the zygote still runs (its pidfd is not readable yet)."""
        return self._stop.alive and not select.select([self._pidfd], [], [], 0)[0]

    def reap(self) -> int | None:
        """Reap an ended zygote: its wait status (``os.waitpid``'s), ``None`` if it still
        runs or was reaped already. :meth:`close` after it only releases the descriptors."""
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        return status if pid == self.pid else None

    def fork_worker(self, args: WorkerArgs) -> tuple[int, int]:
        """Have the zygote start a worker; returns its pid and start time (``/proc`` ticks).

        :raises OSError: the zygote is gone or could not fork.
        """
        return self._ask(msgspec.msgpack.encode(args), [args.control_fd, *args.frame_fds])

    def undertake(self, stdin: int) -> tuple[int, int]:
        """Have the zygote serve as the undertaker, reading ``stdin`` (see
        :func:`_become_undertaker`); returns its pid and start time. Waits for the
        zygote's preload.

        :raises OSError: the zygote is gone or refused (it already serves).
        """
        return self._ask(UNDERTAKER_REQUEST, [stdin])

    def _ask(self, request: bytes, fds: list[int]) -> tuple[int, int]:
        with self._lock:
            try:
                socket.send_fds(self._sock, [request], fds)
                reply = self._sock.recv(256)
            except TimeoutError:
                # Its late answer would be taken for the next request's: end it instead.
                self.close()
                raise
        if not reply:
            raise ConnectionResetError("the zygote has ended")
        text = reply.decode(errors="replace")
        if text.startswith("!"):
            raise OSError(f"the zygote could not start a worker: {text[1:]}")
        pid, start_time = (int(part) for part in text.split())
        return pid, start_time

    def close(self) -> None:
        """Stop the zygote and reap it (see :func:`_stop`)."""
        self._stop()


def _stop(sock: socket.socket, pidfd: int, pid: int, timeout: float = 5.0) -> None:
    """Stop a zygote and reap it.

    It holds no state (no files, no shared memory, no workers: they are the host's
    children), so SIGTERM is a clean stop even in the middle of its preload; closing the
    socket alone would only be noticed after it.
    """
    sock.close()
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
    if not select.select([pidfd], [], [], timeout)[0]:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    os.close(pidfd)


# -- in the zygote ----------------------------------------------------------------------


def _serve(
    sock: socket.socket,
    die_with_parent: bool,
    undertaker_fd: int | None = None,
    announce: bool = False,
) -> None:
    """The zygote's life: become a clean, warm process, then fork workers until EOF.

    Once the host has handed it the undertaker's stdin (a request, or ``undertaker_fd``
    from the start), it also reads the undertaker's lines
    (:class:`~host.supervise.undertaker.Duty`), and at the host's end -- EOF on the
    socket without the SIGTERM of an orderly stop -- kills what the host left behind.
    """
    keep = {sock.fileno()} if undertaker_fd is None else {sock.fileno(), undertaker_fd}
    _become_zygote(keep, die_with_parent)
    duty = None if undertaker_fd is None else _become_undertaker(undertaker_fd)
    if announce:
        sock.send(READY)  # the host forks from it only now: no launch waits for the preload
    while True:
        watched = [sock.fileno()] if duty is None else [sock.fileno(), duty.fd]
        ready = select.select(watched, [], [])[0]
        if duty is not None and duty.fd in ready and not duty.read():
            duty.finish()  # closed by the host (nothing left to kill) or the host has gone
            duty = None
        if sock.fileno() not in ready:
            continue
        try:
            data, fds, flags, _ = socket.recv_fds(sock, _MAX_REQUEST, _FDS_PER_WORKER)
        except OSError:
            data, fds, flags = b"", [], 0
        if not data and not fds:
            # The host closed its end: it stopped us (SIGTERM follows at once) or it has
            # ended, and then the undertaker's stdin ends too.
            if duty is not None:
                duty.finish()
            return
        try:
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                raise ValueError(f"malformed request ({len(data)} bytes, {len(fds)} fds)")
            if data == UNDERTAKER_REQUEST and len(fds) == 1:
                if duty is not None:
                    raise ValueError("already the undertaker")
                duty = _become_undertaker(fds.pop())
                info = proctree.proc_info(os.getpid())
                reply = f"{os.getpid()} {info.start_time if info is not None else -1}"
            elif len(fds) != _FDS_PER_WORKER:
                raise ValueError(f"malformed request ({len(data)} bytes, {len(fds)} fds)")
            else:
                args = msgspec.msgpack.decode(data, type=WorkerArgs)
                reply = _launch(functools.partial(_become_worker, args, fds))
        except Exception as exc:  # noqa: BLE001 - the host learns why; the zygote lives on
            reply = "!" + f"{type(exc).__name__}: {exc}".replace("\n", " ")[:200]
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        try:
            sock.send(reply.encode())
        except OSError:
            if duty is not None:
                duty.finish()
            return


def _become_zygote(keep_fds: set[int], die_with_parent: bool) -> None:
    """Shed the host: signals, descriptors, environment, logging, cwd and ``sys.path``.

    Then import :data:`ZYGOTE_PRELOAD` and freeze the heap, so neither the cyclic garbage
    collector's writes nor a stale host object's finaliser touch shared pages or close a
    descriptor number the zygote has since reused.
    """
    gc.freeze()  # the host's objects: never collected here
    set_process_name(ZYGOTE_NAME)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's to handle
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    parent = os.getppid()
    if die_with_parent:
        _set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(0)  # the host died before the signal was armed
    _drop_logging_handlers()
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    close_fds_except({0, 1, 2, *keep_fds})
    from host.worker.secrets import forget_config_environment

    forget_config_environment(os.environ)  # no worker should see another's secret
    _safe_sys_path()
    os.chdir("/")
    for name in ZYGOTE_PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.freeze()


def _drop_logging_handlers() -> None:
    """Workers log over their channel; the host's handlers (files, stderr) are not theirs."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()


def _safe_sys_path() -> None:
    """Drop the cwd (``''``, relative entries, the cwd itself) from ``sys.path``.

    The host was started from some folder; a ``numpy.py`` planted there must not be
    what the zygote, and so every worker, imports. ledhost's own folder stays even when it
    is the cwd (``python -m host.cli`` from a checkout).
    """
    import host

    ours = os.path.dirname(os.path.dirname(os.path.abspath(host.__file__)))
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    sys.path[:] = [
        p
        for p in sys.path
        if os.path.isabs(p) and (os.path.normpath(p) != cwd or os.path.normpath(p) == ours)
    ]


#: What ``ps -o comm``, ``top`` and ``/proc/<pid>/comm`` show for these forks, whose
#: command line is the host's (the names the tests and benchmarks look for).
ZYGOTE_NAME = b"ledhost-zygote"
WORKER_NAME = b"ledhost-worker"


def set_process_name(name: bytes) -> None:
    """Set ``/proc/self/comm`` (15 bytes at most): how ``ps`` tells the host's forks apart."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_name = 15
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_name, ctypes.c_char_p(name), 0, 0, 0)


def _set_parent_death_signal(sig: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, sig, 0, 0, 0)


def close_fds_except(keep: set[int]) -> None:
    """Close every open descriptor not in ``keep`` (``os.closerange`` around the kept ones)."""
    try:
        high = max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        high = os.sysconf("SC_OPEN_MAX")
    low = 0
    for fd in [*sorted(keep), high]:
        # Never an empty range: os.closerange(n, n) becomes close_range(n, n - 1), and
        # for n = 0 that is close_range(0, UINT_MAX) -- every descriptor.
        if fd > low:
            os.closerange(low, fd)
        low = max(low, fd + 1)


def _launch(child: Callable[[int], NoReturn]) -> str:
    """Fork the middle, which forks the worker (``child``, given the middle's pid);
    returns ``"<pid> <start time>"``."""
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # pragma: no cover - the middle
        try:
            os.close(read_end)
            _middle(child, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 256):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(middle, 0)  # once reaped, the worker has been adopted by the host
    reply = b"".join(chunks).decode()
    if not reply:
        raise OSError("the middle process died before forking the worker")
    return reply


def _middle(child: Callable[[int], NoReturn], report: int) -> None:
    middle = os.getpid()
    try:
        worker = os.fork()
    except OSError as exc:
        os.write(report, f"!{exc}".encode())
        return
    if worker == 0:
        child(middle)
    info = proctree.proc_info(worker)
    os.write(report, f"{worker} {info.start_time if info is not None else -1}".encode())


def _become_worker(args: WorkerArgs, fds: list[int], middle: int) -> NoReturn:
    """In the new worker: keep only its own descriptors, wait for adoption, run."""
    try:
        close_fds_except({0, 1, 2, *fds})
        set_process_name(WORKER_NAME)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # ignored by the undertaking zygote
        # The middle exits right after telling the zygote our pid; a few ms at most.
        while os.getppid() == middle:
            time.sleep(0.0005)
        control, memfd, ready, free = fds
        fixed = msgspec.structs.replace(args, control_fd=control, frame_fds=(memfd, ready, free))
    except BaseException:  # noqa: BLE001 - never unwind into the zygote's loop
        os._exit(_SETUP_FAILED)
    try:
        run_forked(fixed)
    finally:
        os._exit(_SETUP_FAILED)  # only if something escaped run_forked's own exit


def _become_undertaker(stdin: int) -> undertaker.Duty:
    """Take on the undertaker's job (:mod:`host.supervise.undertaker`) beside the zygote's.

    It must outlive the host it serves: no parent-death signal any more, a session of its
    own (neither the host's process group nor its terminal's hang-up reach it) and
    SIGHUP ignored; SIGINT was already. SIGTERM still ends it: only the host's orderly
    stop (:func:`_stop`) or a service manager that kills the whole service sends it.
    The zygote, not a fork of it: a forked undertaker kept its own copy of every page the
    zygote wrote after the fork (~2.4 MiB PSS with one clock; ``benchmarks/memory.py``).
    """
    _set_parent_death_signal(0)
    with contextlib.suppress(OSError):
        os.setsid()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return undertaker.Duty(stdin)


def main(argv: list[str]) -> NoReturn:
    """``python -P -c 'from host.supervise.zygote import main; main(...)'`` with ``<socket
    fd> [<undertaker stdin fd>]``: a zygote exec'd rather than forked, once the host runs
    (:mod:`host.supervise.revival`).

    With the undertaker's stdin it serves as the undertaker from the start (no request to
    wait for while it preloads); without, it dies with the host like a forked one. Once
    preloaded it sends :data:`READY` (:meth:`Zygote.take_ready`).
    """
    status = 0
    try:
        fds = [int(arg) for arg in argv]
        if len(fds) not in (1, 2) or min(fds) < 3:
            raise ValueError(f"a socket fd and maybe the undertaker's stdin, not {argv}")
        sock = socket.socket(fileno=fds[0])
        undertaker_fd = fds[1] if len(fds) > 1 else None
        _serve(sock, len(fds) == 1, undertaker_fd, announce=True)
    except BaseException:  # noqa: BLE001 - same end as a forked zygote's
        status = 1
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
    os._exit(status)
