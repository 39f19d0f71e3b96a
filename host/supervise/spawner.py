"""Starting, signalling and reaping worker processes: the only code that does so.

Two launchers, one interface:

* :class:`ZygoteLauncher` forks workers from a zygote -- ledhost's own fork server
  (:mod:`host.supervise.zygote`), forked from the host early, with numpy, Pillow, msgpack,
  pluggy and the SDK imported already. Measured (``benchmarks/memory.py --quick``, x86):
  ~50 ms to RUNNING and ~10 MiB PSS per worker against ~480 ms and ~25 MiB for a plain
  spawn. Used for plugins that run in ledhost's own environment.
* :class:`SpawnLauncher` runs ``<python> -m host.worker`` with the plugin environment's
  interpreter: for environments that override a preloaded package, and as the fallback.

Each worker is the leader of its own process group, so signals reach the children a
plugin may start (supervisor's ``killasgroup``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Final, Protocol

from host.ipc.workerargs import WorkerArgs
from host.supervise import proctree
from host.supervise.zygote import ZYGOTE_PRELOAD, Zygote

__all__ = [
    "ZYGOTE_PRELOAD",
    "LaunchRequest",
    "SpawnLauncher",
    "Undertaker",
    "WorkerProcess",
    "ZygoteLauncher",
    "check_runs_as",
    "worker_command",
    "fork_zygote_early",
    "kill",
    "make_launcher",
    "process_cpu_seconds",
    "terminate",
]

log = logging.getLogger("ledhost.spawner")


class WorkerProcess(Protocol):
    """A started worker as the supervisor sees it."""

    pid: int

    @property
    def sentinel(self) -> int:
        """A file descriptor that becomes readable when the process ends."""

    def poll(self) -> int | None:
        """The return code once ended (negative: killed by that signal), else ``None``."""

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the worker's whole process group."""

    def close(self) -> None:
        """Release OS resources after the process has been reaped."""


def _child_environ() -> dict[str, str]:
    """The environment for a process we start: ours, without config overrides.

    ``LEDHOST_PLUGINS__<ID>__<KEY>`` may hold one plugin's secret; the host has read them
    already, and no worker (or helper that starts workers) should see them.
    """
    from host.worker.secrets import forget_config_environment

    env = dict(os.environ)
    forget_config_environment(env)
    # systemd's notify socket and watchdog are the host's (host.system.sdnotify): a
    # plugin has no business talking to the service manager.
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(name, None)
    return env


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    # The worker calls setsid() first thing; if it died before that, its group is not its
    # own yet, so signal the process itself as well.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


class _SpawnedProcess:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self._pidfd = os.pidfd_open(popen.pid)

    @property
    def sentinel(self) -> int:
        return self._pidfd

    def poll(self) -> int | None:
        return self._popen.poll()

    def signal_group(self, sig: int) -> None:
        if self._popen.returncode is None:
            _signal_group(self.pid, sig)
        else:
            # Reaped already: the pid may be reused, but the group may still hold children.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    def close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


class _ForkedProcess:
    """A worker forked by the zygote and adopted by the host (see :mod:`host.supervise.zygote`)."""

    def __init__(self, pid: int, start_time: int) -> None:
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        self.returncode: int | None = None
        # Our child with that start time: the pid is pinned until we reap it, so the
        # pidfd just opened is that worker and no other process that reused its pid.
        info = proctree.proc_info(pid)
        if info is None or info.ppid != os.getpid() or info.start_time != start_time:
            if info is not None and info.start_time == start_time:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            self.close()
            raise OSError(f"worker {pid} forked by the zygote is not this host's child")

    @property
    def sentinel(self) -> int:
        return self._pidfd

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Reaped by someone else: the status is lost, count it as killed.
                self.returncode = -signal.SIGKILL
            else:
                if pid == self.pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def signal_group(self, sig: int) -> None:
        if self.returncode is None:
            _signal_group(self.pid, sig)
        else:
            # Reaped already: the pid may be reused, but the group may still hold children.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    def close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


@dataclass(frozen=True)
class LaunchRequest:
    """One worker to start: its arguments and the environment it runs in."""

    args: WorkerArgs
    #: The interpreter of the plugin's environment (``sys.executable`` for ledhost's own).
    python: str = sys.executable
    #: Extra environment variables for the worker.
    env: tuple[tuple[str, str], ...] = ()


#: A preload module: one of ledhost's own (``host.``), named as Python would.
_MODULE_NAME: Final = re.compile(r"host(\.[A-Za-z_][A-Za-z0-9_]*)+")


class SpawnLauncher:
    """Start each worker as ``python -m host.worker`` (a fresh interpreter).

    :param preload: a module of ledhost's own (dotted name) whose ``install()`` the worker
        runs before its main, e.g. ``ledhost check``'s instrumentation
        (:mod:`host.author.probe`); ``""``: none, as for every worker of the host. Importing
        such a module does nothing by itself: a process that merely imports it (the check
        command, a test, and every zygote forked from them) stays uninstrumented.
    """

    name = "spawn"

    def __init__(self, preload: str = "") -> None:
        if preload and not _MODULE_NAME.fullmatch(preload):
            raise ValueError(f"preload {preload!r} is not a module of ledhost's host package")
        self.preload: Final = preload

    def launch(self, request: LaunchRequest) -> WorkerProcess:
        args = request.args
        env = _child_environ()
        env.update(request.env)
        if not args.network:
            # numpy's OpenBLAS starts a thread when imported, before contain() runs, and
            # unshare(CLONE_NEWUSER) -- the unprivileged way to an empty network
            # namespace -- refuses a process with more than one thread (EINVAL): the
            # worker kept the network. One BLAS thread is plenty for a plugin anyway.
            # (A zygote-forked worker has one thread: fork copies only the caller.)
            env.setdefault("OPENBLAS_NUM_THREADS", "1")
        popen = subprocess.Popen(
            worker_command(request.python, env.pop("PYTHONPATH", ""), args.to_argv(), self.preload),
            pass_fds=args.fds,
            env=env,
            cwd="/",
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        return _SpawnedProcess(popen)

    def close(self) -> None:
        """Nothing to release: every spawned worker is reaped by the supervisor."""


def worker_command(python: str, pythonpath: str, argv: list[str], preload: str = "") -> list[str]:
    """The command line of a spawned worker: ``python`` in isolated mode (``-I``).

    Isolated mode puts neither the current folder nor the script's on ``sys.path`` and
    ignores ``PYTHON*`` variables and the user's site-packages, so nothing planted where
    the host was started (a ``pluggy.py``) is imported, as root, before the worker drops
    privileges. What the worker must import (``host`` and ``sdk``, also from another
    plugin environment, and absolute ``PYTHONPATH`` entries the host was given) is put
    on ``sys.path`` explicitly instead; the interpreter's own site-packages stay found.

    ledhost's folder comes first only to import :mod:`host.namesafe`, whose finder then
    answers for ledhost's own package names from that folder alone (a plugin
    environment shipping a ``config`` or ``sdk`` cannot replace ours); after that it
    goes last, with the ``PYTHONPATH`` entries, so everything else -- the libraries a
    plugin's environment pins -- is found in that environment first.
    """
    (root,) = _ledhost_paths()
    extra = [root, *(p for p in pythonpath.split(os.pathsep) if os.path.isabs(p))]
    boot = (
        f"import sys; sys.path.insert(0, {root!r}); import host.namesafe; "
        f"host.namesafe.install({root!r}); del sys.path[0]; sys.path += {extra!r}; "
        + (f"import {preload}; {preload}.install(); " if preload else "")
        + "from host.worker.main import main; main(sys.argv[1:])"
    )
    return [python, "-I", "-c", boot, *argv]


def check_runs_as(uid: int, gid: int, python: str = sys.executable) -> str | None:
    """Try whether user ``uid`` can run a worker's imports with ``python``; say why not.

    Workers drop root before loading a plugin, so the interpreter, its standard library
    and ledhost's packages must be readable by the worker user. A Python installed under
    ``/root`` (pyenv, for one) is not; finding that out once here gives one clear message
    instead of every plugin failing to import.

    :returns: ``None`` if it works, else the error as the user should read it.
    """
    env = _child_environ()
    env["PYTHONPATH"] = os.pathsep.join(_ledhost_paths())
    try:
        result = subprocess.run(
            [python, "-c", "import importlib.metadata, host.worker.main"],
            user=uid,
            group=gid,
            extra_groups=[],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{python} cannot be started as uid {uid}: {exc}"
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        return f"{python} fails as uid {uid}: {lines[-1] if lines else result.returncode}"
    return None


def _ledhost_paths() -> list[str]:
    """The folder holding ledhost's top-level packages (editable or installed)."""
    import host

    return [os.path.dirname(os.path.dirname(os.path.abspath(host.__file__)))]


class ZygoteLauncher:
    """Fork workers from ledhost's zygote (:mod:`host.supervise.zygote`).

    The zygote is forked when the launcher is made, so make it before any thread starts
    (the host does so in its constructor). It makes the host a child subreaper: forked
    workers are the host's children. If the zygote dies, later workers are spawned.
    """

    name = "zygote"

    def __init__(self) -> None:
        """:raises OSError: no zygote on this system (see :func:`make_launcher`)."""
        self._zygote: Zygote | None = Zygote()
        #: Told of a zygote found dead at a launch (:mod:`host.supervise.revival` sets it).
        self.on_death: Callable[[Zygote], None] | None = None

    @property
    def pid(self) -> int | None:
        """The zygote's pid while it runs (the host reads its CPU time by it)."""
        return self._zygote.pid if self._zygote is not None else None

    @property
    def zygote(self) -> Zygote | None:
        """The zygote while the launcher has one (it also forks the undertaker)."""
        return self._zygote

    def launch(self, request: LaunchRequest) -> WorkerProcess:
        zygote = self._zygote
        if zygote is not None and not zygote.alive():
            if self.on_death is not None:  # the host's watch, before its selector told it
                self.on_death(zygote)
            else:
                log.warning("the zygote has died: spawning workers from now on")
                self.replace(None)
            zygote = self._zygote
        if zygote is None:
            return SpawnLauncher().launch(request)
        try:
            pid, start_time = zygote.fork_worker(request.args)
        except OSError:
            if not zygote.alive():  # the next launch spawns; the supervisor retries this one
                self.close()
            raise
        return _ForkedProcess(pid, start_time)

    def replace(self, zygote: Zygote | None) -> None:
        """Fork from ``zygote`` from now on (``None``: spawn); the old one is closed."""
        old, self._zygote = self._zygote, zygote
        if old is not None and old is not zygote:
            old.close()

    def close(self) -> None:
        """Stop the zygote, so a host that ends leaves no process behind."""
        self.replace(None)


class Undertaker:
    """The host's end of :mod:`host.supervise.undertaker`: tells it what to kill if the host dies.

    With a live zygote the zygote itself serves (:meth:`Zygote.undertake`): no process of
    its own (issue 15's memory goal). Without one it is ``python -m
    host.supervise.undertaker``, spawned.

    Everything here is best effort: if the undertaker cannot start or has died, the host
    logs that once and runs on, because the host's own clean-up still works while it
    lives.
    """

    def __init__(self) -> None:
        self._process: _Started | None = None
        self._told: dict[int, set[tuple[int, int]]] = {}
        #: Each watched worker's own lines (``w``, ``c``), told again to a new undertaker.
        self._lines: dict[int, list[str]] = {}
        #: Whether the zygote serves (then its death ends the job: :meth:`restart`).
        self.in_zygote = False

    def start(self, launcher: SpawnLauncher | ZygoteLauncher | None = None) -> bool:
        """Hand the job to the zygote if ``launcher`` has a live one (it then waits for the
        zygote's preload), else spawn the undertaker; ``False`` if neither worked."""
        return self._begin(functools.partial(self._hand_to_zygote, launcher))

    def restart(self, hand: Callable[[int], bool]) -> bool:
        """Start again after the zygote that served died, and tell the new undertaker all
        the old one was told. ``hand`` gives the new stdin's read end to a new zygote
        (``False``: the undertaker is spawned instead); see :mod:`host.supervise.revival`.
        """
        self.close()
        if not self._begin(hand):
            return False
        for worker, lines in self._lines.items():
            for line in lines:
                self._write(line)
            for pid, start_time in self._told.get(worker, ()):
                self._write(f"k {pid} {start_time} {worker}")
        return self._process is not None

    def _begin(self, hand: Callable[[int], bool]) -> bool:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        stdin = open(write_end, "wb")  # noqa: SIM115 - held until close()
        try:
            self.in_zygote = hand(read_end)
            if self.in_zygote:
                self._process = _Started(None, None, stdin, None)
                return True
            popen = self._spawn(read_end)
            pidfd = os.pidfd_open(popen.pid)
        except OSError:
            stdin.close()  # its end of file, if it started: it exits at once
            return False
        finally:
            os.close(read_end)
        self._process = _Started(popen.pid, pidfd, stdin, popen)
        return True

    @staticmethod
    def _hand_to_zygote(launcher: SpawnLauncher | ZygoteLauncher | None, stdin: int) -> bool:
        """Whether the launcher's zygote now serves as the undertaker."""
        zygote = launcher.zygote if isinstance(launcher, ZygoteLauncher) else None
        if zygote is None or not zygote.alive():
            return False
        try:
            zygote.undertake(stdin)
        except OSError as exc:
            log.warning("the zygote could not serve as the undertaker (%s): spawning it", exc)
            return False
        return True

    @staticmethod
    def _spawn(stdin: int) -> subprocess.Popen[bytes]:
        env = _child_environ()
        env["PYTHONPATH"] = os.pathsep.join(
            [*_ledhost_paths(), *filter(None, [env.get("PYTHONPATH")])]
        )
        return subprocess.Popen(
            [sys.executable, "-m", "host.supervise.undertaker"],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd="/",
        )

    def _write(self, line: str) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.stdin.write(line.encode() + b"\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._process = None  # it died; the host's own clean-up still works

    @property
    def pid(self) -> int | None:
        """The spawned undertaker's pid while it runs; ``None`` when the zygote serves (its
        pid is the launcher's) or there is none."""
        return self._process.pid if self._process is not None else None

    def watch(
        self, pid: int, start_time: int | None, cgroup: os.PathLike[str] | None = None
    ) -> None:
        """Remember a new worker, and its cgroup if it has one (killed and removed too)."""
        if start_time is not None:
            self._told[pid] = set()
            lines = [f"w {pid} {start_time}"]
            if cgroup is not None and "\n" not in os.fspath(cgroup):
                lines.append(f"c {pid} {os.fspath(cgroup)}")
            self._lines[pid] = lines
            for line in lines:
                self._write(line)

    def know(self, worker: int, processes: frozenset[tuple[int, int]]) -> None:
        """Remember the processes seen below ``worker`` (only new ones are sent)."""
        told = self._told.get(worker)
        if told is None:
            return
        for pid, start_time in processes - told:
            self._write(f"k {pid} {start_time} {worker}")
        told |= processes

    def forget(self, worker: int) -> None:
        """The worker and what it left behind are gone."""
        self._lines.pop(worker, None)
        if self._told.pop(worker, None) is not None:
            self._write(f"f {worker}")

    def close(self, timeout: float = 5.0) -> None:
        """End it after a normal shutdown (it sweeps once more, finding nothing); a zygote
        that serves reads the end of file, sweeps and serves on."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            process.stdin.close()
        if process.pid is None or process.pidfd is None:
            return
        if not select.select([process.pidfd], [], [], timeout)[0]:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(process.pidfd, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, 0)
        os.close(process.pidfd)


@dataclass(frozen=True, slots=True)
class _Started:
    """A running undertaker: the write end of its stdin, and when spawned its pid, a pidfd
    to wait on and its Popen (kept so that subprocess never reaps it behind our back)."""

    pid: int | None
    pidfd: int | None
    stdin: BinaryIO
    popen: subprocess.Popen[bytes] | None


#: A zygote forked by :func:`fork_zygote_early`, for the next :func:`make_launcher`.
_early: list[ZygoteLauncher] = []


def fork_zygote_early() -> None:
    """Fork the zygote now, before the config is read, for the host to take later.

    Whatever the host holds when it forks, every worker inherits in its memory; a zygote
    forked before the config (and its secrets file) is read cannot hand one plugin's API
    key to another plugin's worker. Configuration overrides in the environment, read
    later, are scrubbed in the zygote itself. Quietly does nothing where there can be no
    zygote: :func:`make_launcher` says so when the host asks.
    """
    if not _early:
        with contextlib.suppress(OSError):
            _early.append(ZygoteLauncher())


def make_launcher(name: str) -> SpawnLauncher | ZygoteLauncher:
    """``"zygote"`` or ``"spawn"`` (and spawn when this system cannot have a zygote)."""
    if name == "zygote":
        if _early:
            return _early.pop()
        try:
            return ZygoteLauncher()
        except OSError as exc:
            log.warning("no zygote (%s): spawning every worker", exc)
            return SpawnLauncher()
    if name == "spawn":
        return SpawnLauncher()
    raise ValueError(f"unknown launcher {name!r}: use 'zygote' or 'spawn'")


def terminate(process: WorkerProcess) -> None:
    """The polite signal to the whole group."""
    process.signal_group(signal.SIGTERM)


def kill(process: WorkerProcess) -> None:
    """SIGKILL to the whole group."""
    process.signal_group(signal.SIGKILL)


def process_cpu_seconds(pid: int, *, children: bool = False) -> float | None:
    """User+system CPU seconds of ``pid`` from ``/proc`` (works for non-children too)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime (reaped children)
    return ticks / os.sysconf("SC_CLK_TCK")
