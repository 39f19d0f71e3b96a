"""The zygote's death noticed when it happens, and a new zygote started.

The zygote (:mod:`host.supervise.zygote`) forks workers and serves as the undertaker. If it
dies -- the OOM killer, a bug, a kill -- the host used to learn it only at the next worker
launch, and meanwhile nothing would have killed what plugins left had the host died too.
:class:`ZygoteWatch` puts the zygote's pidfd in the host's one selector (no polling: the
pidfd becomes readable when it ends), and at its death:

* reaps it and logs one line with the cause (exit status or signal);
* starts a new zygote at once, or after a backoff when zygotes keep dying (1 s, doubling
  up to :data:`MAX_DELAY`, for deaths less than :data:`STABLE` seconds after a start);
  meanwhile, and until the new one says it has preloaded (its socket becomes readable:
  :data:`~host.supervise.zygote.READY`), workers are spawned
  (:class:`~host.supervise.spawner.SpawnLauncher`), so no launch makes the host's loop
  wait for a preload (seconds on a Pi);
* restarts the undertaker and tells it every worker, process and cgroup the old one had
  been told (:meth:`~host.supervise.spawner.Undertaker.restart`): handed to the new
  zygote with its stdin from the start, or, while a backoff lasts, spawned (and then kept).

Running workers are safe throughout: each was adopted by the host (a child subreaper) when
its middle process exited, holds no descriptor of the zygote's and never talks to it, so
the host still signals, waits for and reaps it exactly as before; only launches needed the
zygote. A launch under way when it died fails and is retried by the supervisor; a worker
whose middle was orphaned by the death comes to the host, outside the host's session, and
the stray sweep kills it (its control channel's other end is gone with the failed launch).

The new zygote is exec'd (``python -P``), never forked: the running host's heap now holds
the config and its secrets, which a fork would hand to every later worker. It shares no
page with the host (~16 MiB PSS more than a forked one; only after a death).

Interface for the supervisor: construct with the launcher, the selector and how to find
the undertaker; :meth:`ZygoteWatch.on_event` with the fd of each ready key whose data is
the watch; :meth:`ZygoteWatch.poll` on each housekeeping pass; :attr:`respawn_at` among
the deadlines; :meth:`ZygoteWatch.close` when stopping, before the launcher closes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable

from host.supervise.spawner import Undertaker, ZygoteLauncher, _child_environ, _ledhost_paths
from host.supervise.zygote import Zygote

log = logging.getLogger("ledhost.supervisor")

#: A zygote that lived this long (seconds) died of something that need not recur: the
#: next one starts at once.
STABLE = 60.0
#: The longest wait before starting a zygote again (seconds).
MAX_DELAY = 60.0
#: What the exec'd zygote runs; its arguments are its descriptors.
_ENTRY = "import sys; from host.supervise.zygote import main; main(sys.argv[1:])"


class ZygoteWatch:
    """Notices the launcher's zygote's death from the host's selector and starts another."""

    def __init__(
        self,
        launcher: ZygoteLauncher,
        selector: selectors.BaseSelector,
        undertaker: Callable[[], Undertaker | None],
    ) -> None:
        self.launcher = launcher
        self.selector = selector
        self._undertaker = undertaker
        #: Deaths in a row, each within :data:`STABLE` seconds of its zygote's start.
        self.deaths = 0
        #: When to start the next zygote (monotonic), while there is none.
        self.respawn_at: float | None = None
        #: Zygotes started here so far.
        self.respawns = 0
        self._born = time.monotonic()
        self._watched: Zygote | None = None
        #: A new zygote still preloading: workers are spawned until it says it is ready.
        self.pending: Zygote | None = None
        launcher.on_death = self._found_dead
        if launcher.zygote is not None:
            self._watch(launcher.zygote)

    def _watch(self, zygote: Zygote) -> None:
        self.selector.register(zygote.pidfd, selectors.EVENT_READ, self)
        self._watched = zygote

    def _unwatch(self) -> Zygote | None:
        zygote, self._watched = self._watched, None
        fds = [] if zygote is None else [zygote.pidfd]
        if zygote is not None and zygote is self.pending:
            fds.append(zygote.sockfd)
        for fd in fds:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
        self.pending = None
        return zygote

    def on_event(self, fd: int, now: float) -> None:
        """A key of the watch's is ready: the zygote's pidfd (it died) or a new zygote's
        socket (it has preloaded: workers are forked from it from now on)."""
        zygote = self._watched
        if zygote is None:
            return
        if fd == zygote.pidfd:
            self.died(now)
        elif zygote is self.pending and fd == zygote.sockfd:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
            self.pending = None
            if zygote.take_ready():
                self.launcher.replace(zygote)
                log.info("a new zygote (pid %d) forks workers", zygote.pid)
                return
            # It ended while preloading (end of file), or said something else: not one to
            # fork from. Either way a death: logged with its cause, and another after the
            # backoff.
            if zygote.alive():
                log.warning("the new zygote (pid %d) said something else: ending it", zygote.pid)
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(zygote.pidfd, signal.SIGKILL)
            self.died(now)

    def _found_dead(self, zygote: Zygote) -> None:
        """A launch found it dead before the selector said so."""
        if zygote is self._watched:
            self.died(time.monotonic())

    def died(self, now: float) -> None:
        """The watched zygote has ended: reap it, say why once, start another or wait."""
        zygote = self._unwatch()
        if zygote is None:
            return
        status = zygote.reap()
        if self.launcher.zygote is zygote:
            self.launcher.replace(None)
        else:  # it died preloading: never the launcher's
            zygote.close()
        self.deaths = 1 if now - self._born >= STABLE else self.deaths + 1
        delay = 0.0 if self.deaths == 1 else min(MAX_DELAY, 2.0 ** (self.deaths - 2))
        log.warning(
            "the zygote (pid %d) has died, %s: running workers are unaffected (the host's "
            "children); %s",
            zygote.pid,
            describe_status(status),
            "starting a new one"
            if delay == 0
            else f"starting a new one in {delay:g} s, spawning workers meanwhile",
        )
        self.respawn_at = now + delay
        if delay == 0:
            self.poll(now)
            return
        undertaker = self._undertaker()
        if undertaker is not None and undertaker.in_zygote:  # spawned meanwhile, then kept
            if not undertaker.restart(lambda stdin: False):
                log.warning("could not start the undertaker again after the zygote's death")

    def poll(self, now: float) -> None:
        """Start the new zygote once its time has come (the housekeeping pass calls this)."""
        if self.respawn_at is None or now < self.respawn_at:
            return
        self.respawn_at = None
        failed: list[OSError] = []

        def hand(stdin: int | None) -> bool:
            try:
                return self._respawn(stdin)
            except OSError as exc:
                failed.append(exc)
                return False

        undertaker = self._undertaker()
        if undertaker is not None and undertaker.in_zygote:
            # Its new stdin goes to the new zygote from the start (or to a spawned one).
            if not undertaker.restart(hand):
                log.warning("could not start the undertaker again after the zygote's death")
        else:
            hand(None)
        if failed:
            self._born = now
            self.deaths += 1
            delay = min(MAX_DELAY, 2.0 ** (self.deaths - 2))
            self.respawn_at = now + delay
            log.warning(
                "could not start a new zygote (%s): spawning workers, trying again in %g s",
                failed[0],
                delay,
            )

    def _respawn(self, undertaker_stdin: int | None) -> bool:
        """Exec a new zygote, watched for its death and its word that it is ready; workers
        are spawned until then (a launch would otherwise wait for its preload, seconds on
        a Pi, with the host's loop)."""
        zygote = spawn_zygote(undertaker_stdin)
        self._born = time.monotonic()
        self.respawns += 1
        self._watch(zygote)
        self.pending = zygote
        self.selector.register(zygote.sockfd, selectors.EVENT_READ, self)
        return undertaker_stdin is not None

    def close(self) -> None:
        """Stop watching (before the launcher stops the zygote); a zygote still preloading
        is stopped here (it was never the launcher's)."""
        pending = self.pending
        self._unwatch()
        if pending is not None:
            pending.close()
        self.respawn_at = None
        self.launcher.on_death = None


def spawn_zygote(undertaker_stdin: int | None = None) -> Zygote:
    """Exec a new zygote (:func:`host.supervise.zygote.main`): a session of its own, the
    host's scrubbed environment, ``-P`` (nothing imported from the cwd), OpenBLAS on one
    thread (a zygote forks: its own threads must not exist), and with ``undertaker_stdin``
    serving as the undertaker from the start.

    :raises OSError: it could not be started.
    """
    env = _child_environ()
    env["PYTHONPATH"] = os.pathsep.join([*_ledhost_paths(), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fds = [zygote_end.fileno(), *([] if undertaker_stdin is None else [undertaker_stdin])]
    try:
        for fd in fds:
            os.set_inheritable(fd, True)
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-P", "-c", _ENTRY, *map(str, fds)],
            env,
            setsid=True,
            setsigdef=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD),
        )
    except BaseException:
        host_end.close()
        raise
    finally:
        zygote_end.close()
        if undertaker_stdin is not None:
            os.set_inheritable(undertaker_stdin, False)
    return Zygote.attach(pid, host_end)


def describe_status(status: int | None) -> str:
    """``os.waitpid``'s status in words: the exit status or the signal, by name."""
    if status is None:
        return "its status unknown"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {number} ({name})"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
