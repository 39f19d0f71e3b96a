"""The supervisor: starts workers, reaps them, restarts them under the policy.

The loop is gunicorn's Arbiter shape over the host's one selector. :meth:`Supervisor.
run_once` is one pass -- wait for events (up to a timeout the caller gives), dispatch each
worker fd to the :class:`~host.supervise.messenger.Messenger` (what workers say and are
told) and hand the caller's own fds back to it, then, when due, :meth:`Supervisor.tick`:
restarts whose backoff is over, the stop ladder and limits through the
:class:`~host.supervise.enforcer.Enforcer`, CPU figures, log summaries. The host's loop
and the tests drive the same pass; time is passed in where a caller has it. A plugin
failing in any way ends here as a recorded reason and a restart with backoff, or
quarantine; nothing a worker does raises out of this module.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from config.model import PluginInstanceConfig
from host.errors import ProtocolError
from host.ipc import exitcodes, protocol
from host.ipc.channel import Channel
from host.ipc.framebus import FrameBus, Geometry
from host.ipc.lograte import LogLimits
from host.ipc.workerargs import WorkerArgs
from host.supervise import proctree, spawner
from host.supervise.enforcer import Enforcer
from host.supervise.handle import WorkerHandle
from host.supervise.listener import Listener
from host.supervise.messenger import Messenger
from host.supervise.plugin_logs import PluginLog
from host.supervise.restart_policy import RestartPolicy
from host.supervise.revival import ZygoteWatch
from host.supervise.rules import WorkerRules, deadline_of
from host.supervise.spawner import process_cpu_seconds
from host.supervise.states import WorkerState
from host.supervise.uidmap import UidMap
from host.supervise.worker_cgroups import WorkerCgroups

log = logging.getLogger("ledhost.supervisor")

#: Seconds after a pass from which the next one runs whenever the loop is awake anyway.
#: Passes then ride on the wake-ups that happen regardless (a clock's frame each second)
#: rather than waking the host on their own: a 1 s tick of its own beside a 1 s frame
#: meant two wake-ups a second whatever their phase (issue 15, ``benchmarks/idle.py``).
#: A pass costs ~0.3 ms of CPU at this pace (cold caches), most of an idle host's; every
#: ~2 s instead of every second, memory limits the kernel does not enforce are caught
#: within about two seconds (``memory.max`` and the worker's own rlimit act at once).
TICK_EARLY = 1.2
#: Seconds between two housekeeping passes at the most (restarts and deadlines that fall
#: due between them wake the loop on their own: :meth:`Supervisor.next_wakeup`). One
#: second after :data:`TICK_EARLY`, so the window always holds a wake-up of a plugin that
#: draws once a second (the frame 2 s after the last pass, with 0.2 s to spare for a late
#: one): with 1.5-2.0 s, that frame came just after the deadline, and every other second
#: the host woke for the pass alone, 50 ms before the frame (issue 15: 1.5 wake-ups a
#: second at idle instead of 1).
TICK = TICK_EARLY + 1.0


#: How a worker that ended with status 0 without being asked to is reported.
EXITED_UNASKED: Final = "exited on its own (status 0)"


class Supervisor:
    """Owns every worker process of the host.

    :param selector: the host loop's selector; fds are registered with ``(handle, kind)``.
    """

    def __init__(
        self,
        *,
        launcher: spawner.SpawnLauncher | spawner.ZygoteLauncher,
        geometry: Geometry,
        selector: selectors.BaseSelector,
        listener: Listener,
        data_dir: Path,
        rules: WorkerRules | None = None,
        log_limits: LogLimits | None = None,
        trace: bool = False,
    ) -> None:
        self.launcher = launcher
        self.geometry = geometry
        self.selector = selector
        self.listener = listener
        #: Each instance's log, kept across restarts (the lines before a crash matter).
        self.logs: dict[str, PluginLog] = {}
        self.enforcer = Enforcer(rules or WorkerRules(), self.logs)
        self.log_limits = log_limits or LogLimits()
        self.trace = trace
        self._uids: UidMap | None = None
        #: The workers' cgroups: looked for at the first start, when the rules are final.
        self.cgroups: WorkerCgroups | None = None
        self.handles: dict[str, WorkerHandle] = {}
        #: Worker events dispatched so far: the host loop sees whether a wake-up had any.
        self.dispatched = 0
        #: Housekeeping passes run so far: the host loop decides again after one.
        self.passes = 0
        self._next_tick = 0.0
        self._early_tick = 0.0
        #: :meth:`next_wakeup`'s last answer, until :meth:`run_once` takes it.
        self._wakeup: float | None = None
        #: Workers of instances taken out of :attr:`handles` (a live reload removed or
        #: replaced them), until their process is reaped.
        self.retiring: list[WorkerHandle] = []
        #: The host's own helper processes in sessions of their own (store jobs, mode
        #: previews, updates: :mod:`host.control.children`). The stray sweep kills every
        #: other child of the host outside its session as a plugin's orphan; these are
        #: not, until they have ended.
        self.helpers: list[subprocess.Popen[bytes]] = []
        #: Instances to start once the retiring worker of the same id is gone.
        self.pending: set[str] = set()
        self.messenger = Messenger(
            geometry=geometry,
            selector=selector,
            listener=listener,
            data_dir=data_dir,
            enforcer=self.enforcer,
            logs=self.logs,
            reap=self.reap,
        )
        #: Notices the zygote's death at once and starts another (host.supervise.revival).
        self.zygote_watch = (
            ZygoteWatch(launcher, selector, lambda: self.enforcer.undertaker)
            if isinstance(launcher, spawner.ZygoteLauncher)
            else None
        )

    @property
    def rules(self) -> WorkerRules:
        """Limits and deadlines of every worker (held by the :class:`Enforcer`)."""
        return self.enforcer.rules

    @rules.setter
    def rules(self, rules: WorkerRules) -> None:
        self.enforcer.rules = rules

    @property
    def policy(self) -> RestartPolicy:
        """The restart policy, part of :attr:`rules`; settable on its own for tests."""
        return self.enforcer.rules.policy

    @policy.setter
    def policy(self, policy: RestartPolicy) -> None:
        self.enforcer.rules = replace(self.enforcer.rules, policy=policy)

    @property
    def data_dir(self) -> Path:
        """The folder holding each instance's data folder (used by the messenger)."""
        return self.messenger.data_dir

    @data_dir.setter
    def data_dir(self, path: Path) -> None:
        self.messenger.data_dir = path

    # -- starting -------------------------------------------------------------------------

    def add(self, handle: WorkerHandle) -> None:
        self.handles[handle.instance_id] = handle
        self.logs.setdefault(handle.instance_id, PluginLog(self.log_limits))

    def start_all(self, now: float) -> None:
        for handle in self.handles.values():
            if handle.state is WorkerState.STOPPED:
                self.start(handle, now)

    def start_soon(self, handle: WorkerHandle, now: float) -> None:
        """Add ``handle`` and start it now, or once the old worker of its instance is gone.

        A replaced instance's new worker waits for the old one: both would use the same
        data folder, and a plugin may hold files or ports there.
        """
        self.add(handle)
        if self._retiring(handle.instance_id):
            self.pending.add(handle.instance_id)
        else:
            self.start(handle, now)

    def _uid_map(self) -> UidMap:
        """The instance -> uid map of the current data folder and uid range (one per run,
        so uids given out earlier stay taken until their folders exist)."""
        assert self.rules.uid_range is not None
        uid_map = self._uids
        if (
            uid_map is None
            or uid_map.data_dir != self.data_dir
            or (uid_map.base, uid_map.count) != self.rules.uid_range
        ):
            uid_map = self._uids = UidMap(self.data_dir, *self.rules.uid_range)
        return uid_map

    def worker_cgroups(self) -> WorkerCgroups:
        """The workers' cgroups (found once, as ``workers.cgroups`` says; logged)."""
        if self.cgroups is None:
            self.cgroups = self.enforcer.cgroups = WorkerCgroups(self.rules.cgroups)
            log.info("%s", self.cgroups.describe())
        return self.cgroups

    def _home(self, handle: WorkerHandle) -> str:
        """The instance's data folder, made now, as its worker's ``HOME`` ("" if it cannot
        be made: the worker's hello then reports why and it does not start)."""
        try:
            return str(self.messenger.prepare_data_dir(handle))
        except OSError:
            return ""

    def _retiring(self, instance_id: str) -> bool:
        return any(h.instance_id == instance_id for h in self.retiring)

    def start(self, handle: WorkerHandle, now: float) -> None:
        """Spawn ``handle``'s worker; a failure to spawn is a failure like any other.

        A plugin the rules refuse to run (third-party code that would run as root) is
        quarantined at once with the reason: retrying cannot help until the install does.
        """
        refusal = self.rules.refusal(handle.spec.source)
        if refusal is not None:
            handle.record_error(refusal, time.time())
            handle.last_exit = refusal
            handle.change_state(WorkerState.QUARANTINED, now)
            log.error("plugin instance %r: %s", handle.instance_id, refusal)
            self.listener.on_state(handle)
            return
        containment = self.rules.containment(handle.memory_limit)
        if self.rules.uid_range is not None:
            try:
                uid = self._uid_map().uid_for(handle.instance_id)
            except OSError as exc:
                handle.record_error(f"no uid of its own: {exc.strerror or exc}", time.time())
                handle.last_exit = handle.last_error
                handle.change_state(WorkerState.QUARANTINED, now)
                log.error("plugin instance %r: %s", handle.instance_id, handle.last_error)
                self.listener.on_state(handle)
                return
            containment.update(uid=uid, gid=uid)
        handle.run_uid = containment["uid"]
        if handle.run_uid is not None:
            containment["home"] = self._home(handle)
        cgroups = self.worker_cgroups()
        cgroups.assign(handle, containment["memory_limit"], self.rules.max_processes)
        host_sock, worker_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        bus = FrameBus(handle.instance_id, self.geometry)
        args = WorkerArgs(
            plugin_id=handle.spec.plugin_id,
            instance_id=handle.instance_id,
            control_fd=worker_sock.fileno(),
            frame_fds=bus.worker_fds(),
            width=self.geometry.width,
            height=self.geometry.height,
            slots=self.geometry.slots,
            paths=handle.spec.paths,
            distribution=handle.spec.distribution,
            location=handle.spec.location,
            entry_point=handle.spec.value,
            version=handle.spec.version,
            trace=self.trace,
            network=handle.spec.network,
            cgroup=str(handle.cgroup or ""),
            **containment,
        )
        handle.change_state(WorkerState.STARTING, now)
        try:
            launcher = self.launcher
            if handle.spec.python != spawner.LaunchRequest.python and not isinstance(
                launcher, spawner.SpawnLauncher
            ):
                launcher = spawner.SpawnLauncher()  # another environment: its interpreter
            process = launcher.launch(spawner.LaunchRequest(args, handle.spec.python))
        except Exception as exc:  # noqa: BLE001 - e.g. fork failing under memory pressure
            host_sock.close()
            bus.close()
            if handle.cgroup is not None:
                cgroups.release(handle.cgroup)
                handle.cgroup = None
            handle.record_error(f"could not start worker: {exc}", time.time())
            log.error("plugin instance %r: %s", handle.instance_id, handle.last_error)
            handle.last_exit = handle.last_error
            self._failed(handle, now, boot=True)
            return
        finally:
            worker_sock.close()
        info = proctree.proc_info(process.pid)
        pid_start = info.start_time if info is not None else None
        if self.enforcer.undertaker is not None:
            self.enforcer.undertaker.watch(process.pid, pid_start, handle.cgroup)
        channel = Channel(
            host_sock,
            peer=f"plugin instance {handle.instance_id!r}",
            decode=protocol.decode_from_worker,
        )
        handle.begin_run(process, pid_start, channel, bus, now)
        self.selector.register(channel.sock, selectors.EVENT_READ, (handle, "control"))
        self.selector.register(bus.ready_fd, selectors.EVENT_READ, (handle, "frames"))
        self.selector.register(process.sentinel, selectors.EVENT_READ, (handle, "exit"))
        self.listener.on_state(handle)

    # -- what the host asks of workers (the messenger does the talking) -----------------

    def activate(
        self,
        handle: WorkerHandle,
        mode: str,
        size: tuple[int, int] | None = None,
        ticker: bool = False,
    ) -> None:
        """Ask ``handle`` to render ``mode``; see :meth:`Messenger.activate`."""
        self.messenger.activate(handle, mode, size, ticker)

    def deactivate(self, handle: WorkerHandle) -> None:
        self.messenger.deactivate(handle)

    def configure(
        self,
        handle: WorkerHandle,
        options: Mapping[str, Any],
        secrets: Mapping[str, Any] | None = None,
        *,
        section: PluginInstanceConfig | None = None,
        check: bool = False,
    ) -> int:
        """Ask the worker to validate (and unless ``check``, apply) new options.

        See :meth:`Messenger.configure`; the answer lands in ``handle.config_answers``.
        """
        return self.messenger.configure(handle, options, secrets, section=section, check=check)

    def request_action(
        self, handle: WorkerHandle, name: str, params: dict[str, Any] | None = None
    ) -> int:
        """See :meth:`Messenger.request_action`."""
        return self.messenger.request_action(handle, name, params)

    def dispatch(self, key: selectors.SelectorKey, now: float, events: int = 0) -> None:
        """Handle one ready fd registered by this supervisor (see :meth:`Messenger.dispatch`)."""
        self.messenger.dispatch(key, now, events)

    def read_frames(self, handle: WorkerHandle, now: float) -> None:
        """Read ``handle``'s frame bus now, as if its ready fd had woken the loop (the host
        reads a muted bus at its own deadline: :mod:`host.supervise.frametick`)."""
        if handle.bus is not None:
            self.dispatched += 1
            fd = handle.bus.ready_fd
            key = selectors.SelectorKey(fd, fd, selectors.EVENT_READ, (handle, "frames"))
            self.messenger.dispatch(key, now, selectors.EVENT_READ)

    # -- ends of processes ----------------------------------------------------------------

    def reap(self, handle: WorkerHandle, now: float) -> None:
        """The process ended: clean up, kill what it left behind, decide what comes next."""
        process = handle.process
        if process is None:
            return
        code = process.poll()
        if code is None:
            return
        self._sample_cpu(handle)
        for fd in (process.sentinel, handle.bus.ready_fd if handle.bus else None):
            if fd is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(fd)
        if handle.channel is not None and not handle.channel.closed:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(handle.channel.sock)
            with contextlib.suppress(EOFError, ProtocolError, OSError):
                for message in handle.channel.receive():
                    # Last words only: an error, a log record, the CPU it used.
                    if isinstance(message, protocol.Error | protocol.Log | protocol.Bye):
                        with contextlib.suppress(ProtocolError):
                            self.messenger.handle_message(handle, message, now)
            handle.channel.close()
        # Children a plugin left behind die with it, also those that left its group.
        self.enforcer.kernel_kill_reason(handle, code)
        self.enforcer.kill_leftovers(handle, process.pid)
        process.close()
        if handle.bus is not None:
            handle.bus.close()
        requested = handle.end_run(exitcodes.describe(code))
        if requested or (
            handle.last_exit == handle.last_exit_status
            and code == exitcodes.OK
            and handle.config is None
        ):
            # STOPPING/TERMINATING/KILLING -> EXITED: it ended as asked (however hard);
            # STARTING -> EXITED: it declined to start when told its config is invalid.
            handle.change_state(WorkerState.EXITED, now)
        else:
            if code == exitcodes.OK and handle.last_exit == handle.last_exit_status:
                # Nobody asked it to go: "exited cleanly" would read as a requested stop.
                handle.last_exit = EXITED_UNASKED
            if handle.last_exit == handle.last_exit_status:
                # A reason of our own (a hang, a limit) was logged when we acted on it:
                # one event, one line.
                log.warning("plugin instance %r %s", handle.instance_id, handle.last_exit)
            self._failed(handle, now, boot=code in exitcodes.BOOT_FAILURES)
        self.listener.on_state(handle)

    def _failed(self, handle: WorkerHandle, now: float, *, boot: bool) -> None:
        """Count a failed run; back off, or quarantine one that keeps failing."""
        stable = bool(handle.started_at) and self.policy.was_stable(handle.started_at, now)
        handle.record_failure(now, time.time(), stable=stable and not boot)
        if self.policy.should_quarantine(handle.failure_times, now):
            # * -> QUARANTINED
            handle.quarantine(now, time.time())
            log.error(
                "plugin instance %r quarantined after %d failures within %g s (last: %s); "
                "it stays stopped until retried",
                handle.instance_id,
                len([t for t in handle.failure_times if now - t <= self.policy.window]),
                self.policy.window,
                handle.last_exit,
            )
            return
        # * -> BACKOFF
        handle.back_off(now + self.policy.delay(handle.consecutive_failures), now)

    def tick(self, now: float) -> None:
        """Housekeeping: restarts due, deadlines, limits, CPU figures, log summaries."""
        self.passes += 1
        self._next_tick = now + TICK
        self._early_tick = now + TICK_EARLY
        self.retiring = [h for h in self.retiring if h.process is not None]
        for instance_id in list(self.pending):
            if not self._retiring(instance_id):
                self.pending.discard(instance_id)
                handle = self.handles.get(instance_id)
                if handle is not None and handle.state is WorkerState.STOPPED:
                    self.start(handle, now)
        for handle in self.handles.values():
            if handle.state is WorkerState.BACKOFF and handle.restart_at is not None:
                if now >= handle.restart_at:
                    # BACKOFF -> STARTING
                    handle.restarts += 1
                    self.start(handle, now)
        if self.zygote_watch is not None:
            self.zygote_watch.poll(now)
        if self.cgroups is not None:
            self.cgroups.sweep()
        self.enforcer.check_deadlines([*self.handles.values(), *self.retiring], now)
        self.enforcer.monitor(self.handles.values(), now, keep=self.own_children)
        wall = time.time()
        for instance_id, plugin_log in self.logs.items():
            summary = plugin_log.summarize(now, wall)
            if summary is not None:
                logging.getLogger(f"ledhost.plugin.{instance_id}").warning("%s", summary)

    def run_once(
        self,
        timeout: float,
        now: float | None = None,
        other: Callable[[selectors.SelectorKey], None] | None = None,
        due: float | None = None,
    ) -> bool:
        """One pass of the loop: wait, dispatch, and the housekeeping when it is due.

        The host's loop and the tests both drive this (supervisor's ``options.test``
        break). The selector is the host's one selector: fds that are not a worker's go
        to ``other`` (the host's signal pipe).

        :param timeout: seconds to wait for events at the most; the caller includes
            :meth:`next_wakeup` in it.
        :param now: the monotonic time to handle events and deadlines at; ``None``: the
            clock, read after the wait. A test may pass its own to step deadlines.
        :param other: called with each ready key this supervisor did not register.
        :param due: :meth:`next_wakeup`'s answer, when the caller knows nothing moved it
            since (the host's wait after a wake-up that only answered read-only control
            requests): saves the walk over the workers.
        :returns: whether the housekeeping ran (it may have moved :meth:`next_wakeup`).
        """
        # Before the wait: events only move deadlines later (a restart after a reap) or
        # add future ones, so this is the pass's due time; the loop computed it just now
        # for its timeout (one walk over the workers per loop turn, not two).
        if due is None:
            due = self._wakeup if self._wakeup is not None else self.next_wakeup()
        self._wakeup = None
        for key, events in self.selector.select(max(0.0, timeout)):
            if isinstance(key.data, tuple) and isinstance(key.data[0], WorkerHandle):
                self.dispatched += 1
                self.dispatch(key, time.monotonic() if now is None else now, events)
            elif isinstance(key.data, ZygoteWatch):
                key.data.on_event(key.fd, time.monotonic() if now is None else now)
            elif other is not None:
                other(key)
        now = time.monotonic() if now is None else now
        if now >= due or now >= self._early_tick:
            self.tick(now)
            return True
        return False

    def next_wakeup(self) -> float:
        """When :meth:`run_once` next has housekeeping to do (monotonic)."""
        deadline = self.next_deadline()
        due = self._next_tick if deadline is None else min(self._next_tick, deadline)
        self._wakeup = due  # for the run_once that follows
        return due

    def next_deadline(self) -> float | None:
        """The next moment :meth:`tick` has work: a restart, or a rung of the stop ladder.

        The host loop wakes then instead of at its regular tick, so a due restart or a
        silent worker's heartbeat timeout is handled on time.
        """
        respawn = self.zygote_watch.respawn_at if self.zygote_watch is not None else None
        times: list[float] = [] if respawn is None else [respawn]
        for h in [*self.handles.values(), *self.retiring]:
            if h.restart_at is not None:
                times.append(h.restart_at)
            deadline = deadline_of(h, self.rules)
            if deadline is not None:
                times.append(deadline)
        return min(times) if times else None

    def retry(self, handle: WorkerHandle, now: float) -> None:
        """Start a quarantined, backing-off or stopped instance now, with a clean record.

        The user's "retry now": the failures counted toward quarantine are forgotten, so
        a plugin fixed by a config change or an update gets the full number of tries.

        :raises ValueError: if the instance has a live worker already.
        """
        if handle.process is not None:
            raise ValueError(
                f"plugin instance {handle.instance_id!r} is {handle.state.value}; "
                "only a stopped, exited, backing-off or quarantined instance can be retried"
            )
        handle.forget_failures()
        log.info("plugin instance %r: retry requested", handle.instance_id)
        self.start(handle, now)

    def _sample_cpu(self, handle: WorkerHandle) -> None:
        if handle.process is None or handle.cpu_final:
            return
        seconds = process_cpu_seconds(handle.process.pid, children=True)
        if seconds is not None:
            handle.cpu_seconds = seconds

    # -- stopping -------------------------------------------------------------------------

    def retire(self, handle: WorkerHandle, now: float) -> None:
        """Take an instance out (the config no longer has it) and stop its worker.

        It leaves :attr:`handles` at once, so nothing shows or restarts it; a live process
        is asked to stop and, like any stop, gets SIGTERM and then SIGKILL if it takes
        longer than the stop timeout (:meth:`tick`). It is reaped as usual.
        """
        if self.handles.get(handle.instance_id) is handle:
            del self.handles[handle.instance_id]
        self.pending.discard(handle.instance_id)
        handle.restart_at = None
        if handle.process is None:
            if handle.state in (WorkerState.BACKOFF, WorkerState.EXITED, WorkerState.QUARANTINED):
                handle.change_state(WorkerState.STOPPED, now)
            return
        self.messenger.send(handle, protocol.Stop())
        handle.request_stop(now)  # STARTING/RUNNING -> STOPPING
        self.retiring.append(handle)

    def stop_all(self, graceful_timeout: float | None = None) -> None:
        """The stop ladder (gunicorn ``stop()``): ask, wait, SIGKILL the trees, reap.

        :param graceful_timeout: seconds workers get to stop; ``None`` for the rules'
            ``stop_timeout``.
        """
        if graceful_timeout is None:
            graceful_timeout = self.rules.stop_timeout
        now = time.monotonic()
        self.pending.clear()
        if self.zygote_watch is not None:
            # No new zygote while stopping, and a zygote that dies now (a service stop
            # signals every process) must not keep the waits below returning at once.
            self.zygote_watch.close()
        for handle in self.handles.values():
            if handle.state in (WorkerState.STARTING, WorkerState.RUNNING):
                self.messenger.send(handle, protocol.Stop())
                handle.request_stop(now)  # STARTING/RUNNING -> STOPPING
            elif handle.process is not None:
                handle.stop_requested = True  # already on a rung: its end is a stop too
            elif handle.state is WorkerState.BACKOFF:
                handle.restart_at = None
                handle.change_state(WorkerState.STOPPED, now)  # BACKOFF -> STOPPED
        deadline = now + graceful_timeout
        everyone = [*self.handles.values(), *self.retiring]
        while any(h.process is not None for h in everyone):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, events in self.selector.select(min(remaining, 0.1)):
                if isinstance(key.data, tuple) and isinstance(key.data[0], WorkerHandle):
                    self.dispatch(key, time.monotonic(), events)
        for handle in everyone:
            if handle.process is not None:
                handle.stop_requested = True
                # * -> KILLING: the shutdown's last rung (kill logs the one line).
                reason = f"did not stop in time (killed after {graceful_timeout:g} s)"
                self.enforcer.kill(handle, reason, time.monotonic())
        end = time.monotonic() + 2.0
        while any(h.process is not None for h in everyone) and time.monotonic() < end:
            for handle in everyone:
                self.reap(handle, time.monotonic())
            time.sleep(0.01)
        self.launcher.close()
        self.enforcer.kept.close()
        if self.cgroups is not None:
            self.cgroups.close()  # the host leaves no cgroup behind

    def own_children(self) -> set[int]:
        """Pids of the host's children that are not plugin leftovers (for the sweeps)."""
        own = {h.process.pid for h in self.retiring if h.process is not None}
        # poll() only reads a finished helper's status (the one who waits for it reads it
        # again from the Popen); an ended helper's pid may be reused by a stray.
        self.helpers = [p for p in self.helpers if p.poll() is None]
        own.update(p.pid for p in self.helpers)
        undertaker = self.enforcer.undertaker
        pending = self.zygote_watch.pending if self.zygote_watch is not None else None
        for helper in (
            self.launcher.pid if isinstance(self.launcher, spawner.ZygoteLauncher) else None,
            undertaker.pid if undertaker is not None else None,
            pending.pid if pending is not None else None,  # a new zygote still preloading
        ):
            if helper is not None:
                own.add(helper)
        return own

    def log_failures(self) -> None:
        """One line per instance that failed during the run: what a headless user reads."""
        for handle in self.handles.values():
            if handle.last_failure is None:
                continue
            log.warning(
                "plugin instance %r failed %d time(s), %d restart(s)%s; last failure: %s",
                handle.instance_id,
                len(handle.failure_times),
                handle.restarts,
                ", quarantined" if handle.quarantined_at is not None else "",
                handle.last_failure,
            )

    def workers_cpu(self) -> float:
        """CPU seconds of every instance's workers over the run, restarts included."""
        return sum(h.cpu_past + h.cpu_seconds for h in self.handles.values())

    def status(self, *, log_tail: int = 20) -> dict[str, Any]:
        """Every instance's status, with its log counters and its last log records.

        :param log_tail: how many of the newest log records to include per instance.
        """
        now = time.monotonic()
        return {
            iid: {**handle.status(now), **self.logs[iid].status(log_tail)}
            for iid, handle in self.handles.items()
        }
