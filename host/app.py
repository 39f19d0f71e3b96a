"""The host: wires backend, frame bus, compositor, scheduler and supervisor into one loop.

One thread waits on everything in one place (every worker's ready eventfd, sentinel and
control socket, plus a signal pipe) with a timeout to the next thing that falls due: a
scroll step, the end of a mode's turn, a restart. It composites and pushes only when
something changed, never more often than the frame-rate ceiling, and never waits on a
worker: until a new mode's first frame arrives, the panel keeps what it shows. An edited
config file is noticed by :mod:`host.reload` on the same loop and applied by
:mod:`host.reconfigure`, restarting only what cannot change otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import time
from typing import Any

from config import HostConfig
from host import __version__
from host.control.server import ControlServer, start_control
from host.director import Director
from host.discovery import discover
from host.display.backends import Backend, open_backend
from host.display.compositor import Compositor
from host.display.presenter import Presenter
from host.display.wall import WallFeed
from host.errors import HostError
from host.heap import trim_heap
from host.ipc.epoll import make_selector
from host.ipc.framebus import Frame, Geometry
from host.ipc.strip import StripImage
from host.outputs import close_backend, helpers_cpu, write_stats
from host.planning import (
    RunOptions,
    checked_rules,
    matrix_options,
    plan_instances,
    private_file_problems,
    rules_from_config,
)
from host.reconfigure import Reconfigurer
from host.safemode import explain_missing, restricted
from host.schedule.caps import PLUGIN_SOURCE, admit_plugin_interrupt
from host.schedule.lineup import Lineup
from host.schedule.refs import shown_instances, unknown_mode_issues, unshown_message
from host.schedule.rotation import Scheduler, Slot
from host.schedule.timetable import Timetable
from host.sidecars import Sidecars
from host.stats import RunStats, own_cpu_seconds
from host.supervise import proctree
from host.supervise.frametick import FrameTick
from host.supervise.handle import WorkerHandle
from host.supervise.spawner import (
    Undertaker,
    make_launcher,
)
from host.supervise.supervisor import Supervisor
from host.syncing import SyncRole
from host.system.sdnotify import ServiceNotifier
from host.system.started import note_started
from host.upgrades import UpgradeWatch
from store.layout import StorePaths

log = logging.getLogger("ledhost.host")

#: Seconds between two samples of the host's own memory for the stats.
MEMORY_SAMPLE = 0.5


class Host:
    """One run of the display host."""

    def __init__(
        self, cfg: HostConfig, options: RunOptions | None = None, backend: Backend | None = None
    ) -> None:
        self.cfg = cfg
        self.options = restricted(options or RunOptions())
        display = cfg.display
        self.geometry = Geometry(display.width, display.height)
        self.min_interval = 1.0 / display.fps
        self.selector = make_selector()
        self.scheduler = Scheduler(max_dwell=cfg.rotation.max_dwell)
        self.compositor = Compositor(
            display.width, display.height, display.brightness, display.gamma
        )
        #: Given by tests that record what is pushed; otherwise opened by :meth:`run`.
        self.backend: Backend | None = backend
        try:
            rules = rules_from_config(cfg.workers)
        except ValueError as exc:
            raise HostError(str(exc)) from None
        self.supervisor = Supervisor(
            launcher=make_launcher(self.options.launcher),
            geometry=self.geometry,
            selector=self.selector,
            listener=self,
            data_dir=cfg.paths.data_dir / "plugins",
            rules=rules,
            trace=self.options.trace_plugins,
        )
        self.missing: dict[str, dict[str, Any]] = {}
        #: The MQTT bridge's last report of its broker connection (host.control.handlers).
        self.mqtt_state: dict[str, Any] | None = None
        self.stats = RunStats(started=time.monotonic())
        self.presenter = Presenter(self.compositor, self.min_interval, self.stats)
        #: Reads the on-screen worker's frame bus at the loop's deadline while it is near.
        self.frame_tick = FrameTick(self.supervisor, self.min_interval)
        self._stop = False
        #: Set by :meth:`request_restart`: the command runs the host again once it stopped.
        self.restart_requested = False
        #: Ready fds of the host's own handled (signal pipe, control socket).
        self._own_events = 0
        #: Frames of the slot on screen received: events that change what is pushed,
        #: never what to decide (:meth:`_stirs`).
        self._screen_frames = 0
        #: Why the run ends with status 1 (the rotation can show nothing), if it does.
        self._fatal: str | None = None
        self._first_hellos_seen = False
        self._started_noted = False
        self._trimmed = False
        #: Outputs (snapshot, stats file) that could not be written, one line each.
        self.output_errors: list[str] = []
        self.timetable = Timetable(cfg.schedule)
        self._warned: set[str] = set()
        self.lineup = Lineup(cfg, self.warn_once)
        #: Applies config edits while running; its watcher notices them.
        self.reconfigurer = Reconfigurer(self)
        #: Restarts a plugin's workers when its installed distribution changes.
        self.upgrades = UpgradeWatch(self.reconfigurer)
        #: The control socket's server, while running (:mod:`host.control`).
        self.control: ControlServer | None = None
        #: The web process and the MQTT bridge, as ``[web]`` and ``[mqtt]`` say (live).
        self.sidecars = Sidecars(self._bridge_exited)
        #: systemd's notify socket and watchdog, under a ``Type=notify`` unit (set by run).
        self.notifier: ServiceNotifier | None = None
        #: This sign's part in a set of synchronised signs (``[sync]``).
        self.sync = SyncRole(self, cfg.sync)
        #: A wall follower's slice, shown instead of the rotation while the leader sends.
        follower_wall = cfg.sync.wall and cfg.sync.role == "follower"
        self.wall = WallFeed(self.compositor) if follower_wall else None
        #: Decides what shows, and takes the user's pins, skips, power and brightness.
        self.director = Director(self)

    # -- set-up ---------------------------------------------------------------------------

    def _add_instances(self) -> None:
        specs = discover(
            self.options.plugin_paths,
            environment=self.options.environment_plugins,
            store=StorePaths.for_data_dir(self.cfg.paths.data_dir).root,
        )
        runnable, missing = plan_instances(self.cfg, specs, self.options.only)
        missing = explain_missing(self.options, missing)
        self.reconfigurer.add_instances(runnable, missing, None)
        if not runnable and missing and not self.options.safe_mode:
            # Asked for plugins and none can run: a dark panel is not what anyone wanted.
            raise HostError("nothing to show: " + "; ".join(f"{i}: {why}" for i, _, why in missing))
        if not runnable:
            log.warning("no plugin to run: the panel stays dark")
        elif self.options.only is None:
            shown = shown_instances(self.cfg, self.supervisor.handles)
            for iid in self.supervisor.handles:
                if iid not in shown:
                    log.warning("%s", unshown_message(iid))

    def restyle(self, now: float) -> None:
        """Brightness, gamma or the schedule were reconfigured: new colours, redrawn."""
        self.director.follow_schedule(now, restyle=True)

    def regroup(self, new: HostConfig, now: float) -> None:
        """A new ticker and layouts; one on screen is shown again from its start.

        Its members are told to stop drawing for the old one, so that the next decision
        activates them afresh for the new one (a member already drawing would otherwise
        never send the new band its strip).
        """
        current = self.director.current
        on_screen = current is not None and self.lineup.is_group(current.instance)
        members = self.lineup.instances_of(current) if current is not None and on_screen else set()
        self.lineup = Lineup(new, self.warn_once)
        if not on_screen:
            return
        for iid in members:
            handle = self.supervisor.handles.get(iid)
            if handle is not None:
                self.supervisor.deactivate(handle)
        self.director.current = None
        self.presenter.switched(None)
        self.rebuild_rotation()
        self.director.decide(now)
        if self.director.current is None:
            self.presenter.blank(now)  # the group is gone and nothing else can show

    def rebuild_rotation(self) -> None:
        """Turn the configured rotation into slots, now that these modes are known."""
        handles = self.supervisor.handles
        slots = self.lineup.build(handles, self.options.only is not None)
        self.scheduler.set_slots(slots)
        self.timetable.set_windows({k: e.when for k, e in self.lineup.entries.items()})
        if self._fatal is None and not self._first_hellos_seen:
            self._check_showable(slots)

    def _check_showable(self, slots: list[Slot]) -> None:
        """Once every worker said its first hello: a rotation that can show nothing ends
        the run with the reason (a typo in ``rotation.modes`` once left the panel dark and
        the exit status 0). Later, a reload or a restart only warns: the sign keeps going.
        """
        handles = self.supervisor.handles
        if not all(h.hello_seen for h in handles.values()):
            return
        self._first_hellos_seen = True
        if slots:
            return
        modes = {iid: h.mode_names() for iid, h in handles.items()}
        typos = [f"{ref.key} {m}" for ref, m in unknown_mode_issues(self.cfg, modes)]
        self._fatal = "nothing to show: " + (
            "; ".join(typos) or "the rotation names no mode the running plugins offer"
        )
        self._stop = True

    def warn_once(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            log.warning("%s", text)

    # -- listener (called by the supervisor) ---------------------------------------------

    def on_hello(self, handle: WorkerHandle) -> None:
        self.rebuild_rotation()

    def on_state(self, handle: WorkerHandle) -> None:
        if handle.process is None:
            self.lineup.forget(handle, self.presenter)
            # An interrupt ends with its worker: a restarted, quarantined or removed
            # instance starts over rather than holding the screen from beyond.
            if self.scheduler.release(handle.instance_id, source=PLUGIN_SOURCE):
                log.info("%s: its interrupts ended with its worker", handle.instance_id)

    def on_content(self, handle: WorkerHandle) -> None:
        pass  # read by the next decision

    def on_frame(self, handle: WorkerHandle, frame: Frame) -> None:
        now = time.monotonic()
        current = self.director.current
        if current is not None and handle.instance_id == current.instance:
            self._screen_frames += 1
        self.lineup.deliver_frame(current, handle, frame, self.presenter, now)

    def on_strip(self, handle: WorkerHandle, strip: StripImage) -> None:
        now = time.monotonic()
        self.lineup.deliver_strip(self.director.current, handle, strip, self.presenter, now)

    def on_interrupt(
        self, handle: WorkerHandle, mode: str, priority: int, seconds: float | None
    ) -> None:
        if seconds is None:
            self.scheduler.release(handle.instance_id, mode)
            return
        duration = next((m["duration"] for m in handle.modes if m["name"] == mode), None)
        rotation = self.cfg.rotation
        slot = Slot(handle.instance_id, mode, float(duration or rotation.default_duration))
        admit_plugin_interrupt(
            self.scheduler, slot, priority, seconds, time.monotonic(),
            max_seconds=rotation.interrupt_max_seconds,
            max_queued=rotation.interrupt_max_queued,
        )  # fmt: skip

    def on_dwell(self, handle: WorkerHandle, mode: str, seconds: float) -> None:
        """A plugin asks to keep its mode on screen longer (capped by rotation.max_dwell)."""
        self.scheduler.extend(
            handle.instance_id, mode, seconds, time.monotonic(), self.cfg.rotation.max_dwell
        )

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        """Run until the duration ends or a signal arrives; returns the exit status."""
        display = self.cfg.display
        if self.backend is None:
            backend = self.options.backend or display.backend
            self.backend = open_backend(
                backend,
                width=display.width,
                height=display.height,
                options=matrix_options(self.cfg, backend),
                snapshot=self.options.snapshot,
            )
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        old_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        self.selector.register(wake_r, selectors.EVENT_READ, "signal")
        # Orphans of plugin processes come to us rather than to init, so they can be
        # found and killed (host.supervise.proctree); Linux-only, harmless if refused.
        proctree.set_child_subreaper()
        # And if the host is killed outright, the undertaker kills what plugins started.
        undertaker = Undertaker()
        if undertaker.start(self.supervisor.launcher):
            self.supervisor.enforcer.undertaker = undertaker
        else:
            log.warning(
                "could not start the undertaker: if the host is killed, processes "
                "started by plugins may survive it"
            )
        try:
            self._add_instances()
            if self.supervisor.handles:
                self.supervisor.rules = checked_rules(self.cfg, self.supervisor.rules)
            if os.geteuid() == 0:
                for problem in private_file_problems(self.cfg):
                    log.warning("%s", problem)
            log.info(
                "ledhost %s: %dx%d on the %s backend, plugins: %s",
                __version__,
                display.width,
                display.height,
                self.backend.name,
                ", ".join(self.supervisor.handles) or "none",
            )
            now = time.monotonic()
            self.stats = RunStats(started=now)
            self.presenter.stats = self.stats
            self.supervisor.start_all(now)
            self.control = start_control(self)
            self.sidecars.start(self.cfg)
            self.notifier = ServiceNotifier.from_environ()
            self._loop()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            self.shutdown()
            self.selector.unregister(wake_r)
            os.close(wake_r)
            os.close(wake_w)
        if self._fatal is not None:
            log.error("%s", self._fatal)
        for text in self.output_errors:
            log.error("%s", text)
        return 1 if self._fatal is not None or self.output_errors else 0

    def bridge_reported(self, connected: bool, error: str | None, pid: int | None) -> None:
        """The bridge's word on its broker connection, for the status. A report from a
        bridge the host has stopped (``[mqtt]`` disabled or changed) is that bridge's last,
        read from its socket after the host cleared the state: dropped, or the status
        would show a broker the config no longer has. A bridge the host did not start
        (run by hand) is heard as any other."""
        if pid is not None and pid in self.sidecars.stopped_bridges:
            return
        self.mqtt_state = {"connected": connected, "error": error, "since": round(time.time(), 3)}

    def _bridge_exited(self, why: str | None) -> None:
        """The bridge cannot report its own end: the status says so until it is back
        (``None``: stopped because ``[mqtt]`` was disabled; nothing to show)."""
        if why is None:
            self.mqtt_state = None
            return
        self.mqtt_state = {"connected": False, "error": why, "since": round(time.time(), 3)}

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop:
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for workers
        self._stop = True

    def _loop(self) -> None:
        """Wait for the next thing due, handle it, decide once, push if due.

        One decision per turn, after the wait: nothing between a push and the next wait
        changes what should show, and a deadline that falls due meanwhile makes the wait
        return at once. A turn that only a push fell due for (a scroll step, a frame of a
        transition) pushes without deciding, and the next keeps its deadlines: nothing a
        decision or a deadline reads changed; after one, while only time moves what
        shows, the steps that follow glide (:meth:`_glide`) until an event or the next
        full turn. The config watcher's look and the upgrade check, when they alone fell
        due, decide only if they found something. Memory is
        sampled when the loop is awake anyway (never a wake-up of its own: at idle,
        wake-ups are most of the host's CPU).
        """
        end = None if self.options.duration is None else self.stats.started + self.options.duration
        next_sample = 0.0
        watcher = self.reconfigurer.watcher
        # When a push-only turn kept them: the housekeeping's and the decision's deadlines,
        # and when the next full turn is due (the decision's or the polls', the first).
        known: tuple[float, float, float] | None = None
        self.director.decide(time.monotonic())
        while not self._stop:
            now = time.monotonic()
            if end is not None and now >= end:
                break
            if known is None:  # after a push-only turn they are as they were
                housekeeping = self.supervisor.next_wakeup()
                deadlines = [
                    self.reconfigurer.next_wakeup(),
                    now + max(0.0, self.timetable.until - time.time()),
                    self.scheduler.next_change(),
                    self.director.stall_wakeup(now),
                    housekeeping,
                    self.sync.next_wakeup(),
                    end,
                ]
                decide_by = min(t for t in deadlines if t is not None)
                # The config watcher's look (1 s) and the upgrade check (5 s) do not wake
                # the loop: they ride on the next full turn after they fall due, and the
                # supervisor's housekeeping makes one at least every TICK (2.2 s).
                full_by = min(decide_by, self.upgrades.next_check)
                if watcher is not None:
                    full_by = min(full_by, watcher.next_look())
            else:
                housekeeping, decide_by, full_by = known
            known = None
            if self.wall is None:
                push_at = self.presenter.next_push_at(now)
            else:  # while a wall's frames own the panel, the presenter's pushes wait
                pushes = [None if self.wall.active else self.presenter.next_push_at(now)]
                pushes.append(self.wall.next_push_at(now))
                push_at = min((t for t in pushes if t is not None), default=None)
            due = decide_by if push_at is None else min(push_at, decide_by)
            # A worker's frame on screen: its bus is read at this deadline while that is
            # within a frame period, rather than waking the loop per frame (frametick).
            source, tick = self.presenter.source, self.frame_tick
            framed = self.wall is None and source is not None and type(source[1]) is Frame
            screen = source[0] if framed and source is not None else None
            if screen is not None or tick.muted is not None:
                due = tick.plan(screen, due, self.presenter.earliest_push(), now)
            stirs = self._stirs()
            woken = self._wait(due, housekeeping)
            fresh = tick.muted is not None and tick.read(time.monotonic())
            if woken is None and not fresh:
                continue  # woken by read-only control requests alone, answered already
            now = time.monotonic()
            # Woken by frames of the slot on screen alone (a clock's second), or found
            # one at the deadline: they change what is pushed, not what to decide, and the
            # polls wait for the next pass's turn (issue 15). Deadlines are worked out
            # again: a frame moves them.
            routine = (bool(woken) or fresh) and self._stirs() == stirs
            full = (woken and not routine) or now >= decide_by or not self.stats.modes_shown
            if not full and not routine and now >= full_by:
                # Only the config watcher's look or the upgrade check fell due: a look
                # that finds nothing new leaves nothing to decide (issue 15: a full turn
                # each second while text scrolls). Their next looks move the full turn.
                applied = watcher is not None and watcher.poll(now)
                full = self.upgrades.poll(now) or applied
                full_by = min(decide_by, self.upgrades.next_check)
                if watcher is not None:
                    full_by = min(full_by, watcher.next_look())
            if full:
                if watcher is not None:
                    watcher.poll(now)
                self.upgrades.poll(now)
                # A reload waiting for its workers' checks finishes once all answered.
                self.reconfigurer.poll(now)
                self.sync.poll(now)
                self.director.decide(now)
                if now >= next_sample:  # on full turns only: scroll steps stay lean
                    next_sample = now + MEMORY_SAMPLE
                    self.stats.sample_memory()
            elif not routine:
                known = (housekeeping, decide_by, full_by)  # nothing moved them
            assert self.backend is not None
            now = time.monotonic()
            if self.wall is None:
                # After a push-only turn, the presenter's answer before the wait still holds.
                self.presenter.push_if_due(now, self.backend, at=None if known is None else push_at)
            elif not self.wall.push_if_due(now, self.backend, self.presenter):
                self.presenter.push_if_due(now, self.backend)
            if not self._started_noted and self.stats.frames_shown:  # once, for self-update
                self._started_noted = note_started(self.cfg.paths.data_dir, self.options.problems)
            if not self._trimmed and self.stats.frames_shown:  # start-up's garbage (host.heap)
                trim_heap()
                self._trimmed = True
            # With no client connected, a scroll step leaves the control server nothing
            # to send; its store jobs are followed on the next full turn (<= TICK, 2.2 s, away).
            if self.control is not None and (known is None or self.control.clients):
                if known is None:
                    self.control.tick(now)
                else:  # a scroll step: a preview's frame, the rest only if it has work
                    self.control.step(now)
            self.sidecars.tick(now)
            if self.notifier is not None:
                self._tell_service(now)
            if (
                known is not None
                and screen is None
                and tick.muted is None
                and self.wall is None
                and self._trimmed
                and (self.control is None or self.control.steps_alone)
            ):
                self._glide(full_by)

    def _glide(self, until: float) -> None:
        """Scroll steps alone, in the reference's loop shape, until ``until`` (the next
        full turn's deadline) or any event: wait for the next push, push, again.

        Entered after a turn that only a push fell due for, when nothing but time moves
        what shows (a strip the host scrolls, no worker frame on screen, no wall, and no
        control client that wants more of a step than an open preview's frame, which each
        step here publishes): the next turns would be the same, so they skip the loop's
        bookkeeping (the counters around the wait, the deadlines kept, the checks after
        the push; issue 15: ~15-20 us of a ~180 us step). Any ready fd ends it without
        reading it: epoll is level-triggered, so the loop's own wait sees it at once.
        """
        presenter, backend, select = self.presenter, self.backend, self.selector.select
        control = self.control
        assert backend is not None
        monotonic = time.monotonic
        now = monotonic()
        while not self._stop:
            push_at = presenter.next_push_at(now)
            if push_at is None or push_at >= until:
                return
            if push_at > now and select(push_at - now):
                return
            now = monotonic()
            if self._stop or now >= until:
                return
            presenter.push_if_due(now, backend, at=push_at)
            if control is not None:
                control.step(now)  # an open preview's frame (steps_alone: nothing else)
            if self.notifier is not None:
                self._tell_service(now)

    def _tell_service(self, now: float) -> None:
        """Ready, status and watchdog for systemd, from the loop itself (a stuck loop
        stops pinging; :mod:`host.system.sdnotify`)."""
        assert self.notifier is not None
        current = self.director.current
        key = current.key if current is not None else None
        self.notifier.turn(now, self.stats.frames_shown, key, self.director.settled_dark(now))

    def _wait(self, due: float, housekeeping: float) -> bool | None:
        """The supervisor's passes (worker events, then its housekeeping when due: a restart
        or a rung of the stop ladder as soon as it falls due) until ``due`` or an event
        that may change what to decide or show.

        ``True`` when such an event came or the housekeeping ran; ``False`` when only time
        brought ``due``; ``None`` when only read-only control requests woke it before
        ``due``, so the turn's decision, push and polls would find nothing new (the
        housekeeping may have run meanwhile: the loop works out its deadlines again). While
        nothing but such requests come, the wait goes on with the same deadlines: nothing
        that moves them happened (issue 17: status at 50/s must cost the host < 1 % of a
        core, and working them out again was a fifth of a request's host CPU).
        """
        supervisor, control = self.supervisor, self.control
        while True:
            # Events that may change what to decide or show: every worker event and every
            # event of the host's own, less the control server's read-only requests (a
            # status poll), which leave the turn's decision, push and polls nothing new
            # (issue 17: status at 50/s must cost the host < 1 % of a core, and the turn
            # after the wait was half of a request's cost). Counted inline, not by a
            # helper: this runs on every wake-up, scroll steps included.
            events = supervisor.dispatched + self._own_events
            quiet = control.quiet_events if control is not None else 0
            timeout = max(0.0, due - time.monotonic())
            ran = supervisor.run_once(timeout, other=self._on_own_event, due=housekeeping)
            moved = supervisor.dispatched + self._own_events - events
            if moved > (control.quiet_events if control is not None else 0) - quiet:
                return True
            if time.monotonic() >= due:
                return ran
            if ran:
                return None

    def _stirs(self) -> tuple[int, int, int]:
        """Counters that move when a wake-up may change what to decide: worker events
        other than frames of the slot on screen, housekeeping passes, and the host's own
        events less read-only control requests."""
        quiet = self.control.quiet_events if self.control is not None else 0
        supervisor = self.supervisor
        others = supervisor.dispatched - self._screen_frames
        return others, supervisor.passes, self._own_events - quiet

    def _on_own_event(self, key: selectors.SelectorKey) -> None:
        """A ready fd of the host's own: the signal pipe (the handler already set _stop)."""
        self._own_events += 1
        if key.data == "signal":
            with contextlib.suppress(BlockingIOError):
                os.read(key.fd, 512)
        elif callable(key.data):  # the control socket's fds (host.control.server)
            key.data(key.events)

    def shutdown(self) -> None:
        """Stop workers, close the backend, write the stats."""
        ended = time.monotonic()
        # The zygote and the undertaker end below; read what they used while they exist.
        helpers = helpers_cpu(self.supervisor)
        if self.notifier is not None:
            self.notifier.stopping(restarting=self.restart_requested)
        if self.control is not None:
            self.control.close()
            self.control = None
        self.sidecars.close()
        self.supervisor.stop_all()
        if self.supervisor.enforcer.undertaker is not None:
            self.supervisor.enforcer.undertaker.close()
            self.supervisor.enforcer.undertaker = None
        # Last, whatever plugin process is still below the host (adopted from a worker that
        # exited first, between two scans): the host leaves nothing of a plugin behind.
        swept = proctree.kill_below_self()
        if swept:
            log.warning("shutdown: killed %d process(es) plugins left behind", swept)
        cpu_before = own_cpu_seconds()
        self.supervisor.log_failures()
        self.output_errors += close_backend(self.backend, self.options)
        if self.options.stats_json is not None:
            cpu = cpu_before + helpers + self.supervisor.workers_cpu()
            data = self.stats.to_dict(ended, cpu, self.status())
            data["display"] = self.director.display_status(ended)
            if self._fatal is not None:
                data["error"] = self._fatal
            data["safe_mode"] = self.options.safe_mode
            data["selfcheck"] = list(self.options.problems)
            self.output_errors += write_stats(self.options, data)

    # -- what the control socket asks of the host itself ---------------------------

    def request_restart(self) -> None:
        """Stop as on SIGTERM, then start again (``ledhost run`` execs itself; see
        :func:`host.cli.main.cmd_run`): the admin UI's Restart."""
        self.restart_requested = True
        self._stop = True

    def status(self) -> dict[str, Any]:
        """Per-instance status, including instances that could not start at all."""
        status = dict(self.missing)
        status.update(self.supervisor.status())
        return status


__all__ = ["Host", "HostError", "RunOptions", "checked_rules", "plan_instances"]
