"""The supervisor: starts workers, talks to them, reaps them, restarts them.

It shares the host loop's selector (the host waits on everything in one place: every
worker's ready eventfd, process sentinel and control socket) and turns what arrives into
calls on a :class:`Listener` -- the host's display side -- and state changes on each
:class:`~host.worker_handle.WorkerHandle`. A plugin failing in any way ends here as a
recorded reason and a restart with backoff; nothing a worker does raises out of this
module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from config.errors import ConfigError
from config.plugin_schema import validate_plugin_options
from host import exitcodes, proctree, spawner
from host.control import Channel, Message, field
from host.errors import ProtocolError
from host.framebus import Frame, FrameBus, Geometry
from host.plugin_logs import LogLimits, PluginLog
from host.spawner import process_cpu_seconds
from host.states import WorkerState
from host.watchdog import WorkerRules, over_limit, overdue
from host.worker import WorkerArgs
from host.worker_handle import StripImage, WorkerHandle

log = logging.getLogger("ledhost.supervisor")

#: Seconds between two measurements of every worker's memory and processes.
MONITOR_INTERVAL = 0.5
#: Seconds the zombies of a killed plugin tree are looked for, to be reaped.
GRAVE_WATCH = 5.0


class Listener(Protocol):
    """What the display side of the host hears from the supervisor."""

    def on_hello(self, handle: WorkerHandle) -> None: ...
    def on_state(self, handle: WorkerHandle) -> None: ...
    def on_content(self, handle: WorkerHandle) -> None: ...
    def on_frame(self, handle: WorkerHandle, frame: Frame) -> None: ...
    def on_strip(self, handle: WorkerHandle, strip: StripImage) -> None: ...
    def on_interrupt(
        self, handle: WorkerHandle, mode: str, priority: int, seconds: float | None
    ) -> None: ...


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
        self.data_dir = data_dir
        self.rules = rules or WorkerRules()
        #: The restart policy; a separate attribute so tests can swap it on its own.
        self.policy = self.rules.policy
        self.log_limits = log_limits or LogLimits()
        self.trace = trace
        self.handles: dict[str, WorkerHandle] = {}
        #: Each instance's log, kept across restarts (the lines before a crash matter).
        self.logs: dict[str, PluginLog] = {}
        self._next_monitor = 0.0
        #: Killed trees still to reap: ``(worker pid, known processes, watch until)``.
        self._graves: list[tuple[int, frozenset[tuple[int, int]], float]] = []

    # -- starting -------------------------------------------------------------------------

    def add(self, handle: WorkerHandle) -> None:
        self.handles[handle.instance_id] = handle
        self.logs.setdefault(handle.instance_id, PluginLog(self.log_limits))

    def start_all(self, now: float) -> None:
        for handle in self.handles.values():
            if handle.state is WorkerState.STOPPED:
                self.start(handle, now)

    def start(self, handle: WorkerHandle, now: float) -> None:
        """Spawn ``handle``'s worker; a failure to spawn is a failure like any other."""
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
            trace=self.trace,
            memory_limit=self.rules.memory_limit_of(handle),
            max_open_files=self.rules.max_open_files,
            nice=self.rules.nice,
            uid=self.rules.uid,
            gid=self.rules.gid,
            heartbeat=self.rules.heartbeat,
        )
        handle.change_state(WorkerState.STARTING, now)
        try:
            launcher = self.launcher
            if handle.spec.python != spawner.LaunchRequest.python and not isinstance(
                launcher, spawner.SpawnLauncher
            ):
                launcher = spawner.SpawnLauncher()  # another environment: its interpreter
            handle.process = launcher.launch(spawner.LaunchRequest(args, handle.spec.python))
        except Exception as exc:  # noqa: BLE001 - e.g. fork failing under memory pressure
            host_sock.close()
            bus.close()
            handle.last_error = f"could not start worker: {exc}"
            log.error("plugin instance %r: %s", handle.instance_id, handle.last_error)
            self._failed(handle, now, boot=True)
            return
        finally:
            worker_sock.close()
        handle.pid = handle.process.pid
        info = proctree.proc_info(handle.pid)
        handle.pid_start = info.start_time if info is not None else None
        handle.channel = Channel(host_sock, peer=f"plugin instance {handle.instance_id!r}")
        handle.bus = bus
        handle.started_at = now
        handle.last_heartbeat = now
        handle.busy = []
        handle.kill_reason = None
        handle.term_at = None
        handle.stop_requested_at = None
        handle.tree = frozenset()
        handle.token = 0
        handle.active_mode = None
        handle.frame = None
        handle.strip = None
        self.selector.register(handle.channel.sock, selectors.EVENT_READ, (handle, "control"))
        self.selector.register(bus.ready_fd, selectors.EVENT_READ, (handle, "frames"))
        self.selector.register(handle.process.sentinel, selectors.EVENT_READ, (handle, "exit"))
        self.listener.on_state(handle)

    # -- what the host asks of workers ----------------------------------------------------

    def activate(self, handle: WorkerHandle, mode: str) -> None:
        """Ask ``handle`` to render ``mode``; frames of earlier activations are ignored."""
        handle.token += 1
        handle.active_mode = mode
        handle.frame = None
        handle.strip = None
        self._send(handle, {"t": "activate", "mode": mode, "token": handle.token})

    def deactivate(self, handle: WorkerHandle) -> None:
        if handle.active_mode is not None:
            handle.active_mode = None
            handle.token += 1
            self._send(handle, {"t": "deactivate"})

    def configure(self, handle: WorkerHandle, options: dict[str, Any]) -> None:
        """Give a running instance new options without a restart.

        :raises ConfigError: the options do not fit the plugin's schema; the running
            config stays as it was.
        """
        config = validate_plugin_options(
            handle.schema, options, where=f"plugins.{handle.instance_id}"
        )
        handle.options = dict(options)
        handle.config = config
        self._send(handle, {"t": "configure", "config": config})

    def request_action(
        self, handle: WorkerHandle, name: str, params: dict[str, Any] | None = None
    ) -> int:
        """Forward a user action; the answer lands in ``handle.action_results[id]``."""
        known = {a["name"] for a in handle.actions}
        if name not in known:
            raise ValueError(
                f"plugin instance {handle.instance_id!r} has no action {name!r} "
                f"(actions: {', '.join(sorted(known)) or 'none'})"
            )
        handle.action_seq += 1
        self._send(
            handle, {"t": "action", "id": handle.action_seq, "name": name, "params": params or {}}
        )
        return handle.action_seq

    def _send(self, handle: WorkerHandle, message: Message) -> None:
        if handle.channel is None or handle.channel.closed:
            return
        try:
            handle.channel.send(message)
        except (EOFError, OSError):
            return  # the sentinel will tell us it died
        except ProtocolError as exc:
            self._kill(handle, f"not reading its control channel ({exc})")
            return
        if handle.channel.backlog:
            # The socket buffer is full: finish the message when the worker reads.
            self._watch_writable(handle, True)

    def _watch_writable(self, handle: WorkerHandle, on: bool) -> None:
        assert handle.channel is not None
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(handle.channel.sock, events, (handle, "control"))

    # -- events ---------------------------------------------------------------------------

    def dispatch(self, key: selectors.SelectorKey, now: float, events: int = 0) -> None:
        """Handle one ready fd registered by this supervisor.

        :param events: the ready events (``EVENT_READ``/``EVENT_WRITE``) the selector gave.
        """
        handle, kind = key.data
        try:
            if kind == "exit":
                self.reap(handle, now)
            elif kind == "frames":
                self._read_frames(handle)
            elif kind == "control":
                if events & selectors.EVENT_WRITE and handle.channel is not None:
                    with contextlib.suppress(EOFError, OSError):
                        handle.channel.flush()
                    if not handle.channel.backlog:
                        self._watch_writable(handle, False)
                self._read_control(handle, now)
        except Exception as exc:  # noqa: BLE001 - the plugin boundary (STYLE.md rule 16)
            # Whatever went wrong while handling this worker stays with this worker: the
            # host and every other plugin go on.
            log.exception("plugin instance %r: error handling its %s", handle.instance_id, kind)
            self._kill(handle, f"host could not handle its {kind}: {type(exc).__name__}: {exc}")

    def _read_frames(self, handle: WorkerHandle) -> None:
        assert handle.bus is not None
        try:
            frame, errors = handle.bus.poll()
        except ProtocolError as exc:
            self._kill(handle, str(exc))
            return
        for error in errors:
            self._record_error(handle, f"frame rejected: {error}")
        if frame is None:
            return
        handle.frames += 1
        if frame.token == handle.token and handle.active_mode is not None:
            handle.frame = frame
            self.listener.on_frame(handle, frame)

    def _read_control(self, handle: WorkerHandle, now: float) -> None:
        assert handle.channel is not None
        try:
            messages = handle.channel.receive()
        except EOFError:
            # The worker is exiting; its sentinel follows within milliseconds.
            self.selector.unregister(handle.channel.sock)
            handle.channel.close()
            return
        except ProtocolError as exc:
            self._kill(handle, f"protocol error: {exc}")
            return
        for message in messages:
            try:
                self._handle_message(handle, message, now)
            except ProtocolError as exc:
                self._kill(handle, f"protocol error: {exc}")
                return

    def _handle_message(self, handle: WorkerHandle, message: Message, now: float) -> None:
        kind = message["t"]
        if kind == "hb":
            handle.last_heartbeat = now
            handle.busy = _busy_calls(message.get("busy"))
            if handle.busy:
                self._check_deadline(handle, now)
        elif kind == "log":
            self._handle_log(handle, message, now)
        elif kind == "hello":
            self._handle_hello(handle, message)
        elif kind == "ready":
            handle.change_state(WorkerState.RUNNING, now)
            handle.last_heartbeat = now
            self.listener.on_state(handle)
        elif kind == "content":
            handle.content[field(message, "mode", str)] = bool(message.get("has"))
            self.listener.on_content(handle)
        elif kind == "strip":
            self._handle_strip(handle, message)
        elif kind == "error":
            hook = message.get("hook", "?")
            self._record_error(handle, f"{hook}: {message.get('message')}")
            if message.get("traceback"):
                log.debug(
                    "plugin instance %r traceback:\n%s", handle.instance_id, message["traceback"]
                )
        elif kind in ("interrupt", "release"):
            mode = field(message, "mode", str)
            if mode not in handle.mode_names():
                self._record_error(handle, f"interrupt for unknown mode {mode!r}")
                return
            seconds = float(message.get("seconds", 30.0)) if kind == "interrupt" else None
            self.listener.on_interrupt(handle, mode, int(message.get("priority", 50)), seconds)
        elif kind == "action_result":
            request_id = message.get("id")
            if isinstance(request_id, int):
                handle.action_results[request_id] = {
                    k: message.get(k) for k in ("ok", "result", "error")
                }
                del_keys = sorted(handle.action_results)[:-50]
                for key in del_keys:
                    del handle.action_results[key]
        elif kind == "bye":
            handle.cpu_seconds = float(message.get("cpu", handle.cpu_seconds))
            handle.cpu_final = True

    def _handle_log(self, handle: WorkerHandle, message: Message, now: float) -> None:
        """Rate-limit, keep and forward one log record, tagged with the instance id."""
        decision = self.logs[handle.instance_id].add_message(now, time.time(), message)
        plugin_log = logging.getLogger(f"ledhost.plugin.{handle.instance_id}")
        if decision.summary is not None:
            plugin_log.warning("%s", decision.summary)
        if decision.record is not None:
            plugin_log.log(decision.record.level, "%s", decision.record.message)

    def _handle_hello(self, handle: WorkerHandle, message: Message) -> None:
        handle.modes = list(field(message, "modes", list))
        handle.hooks = list(field(message, "hooks", list))
        handle.actions = list(message.get("actions") or [])
        schema = message.get("schema")
        handle.schema = schema if isinstance(schema, dict) else None
        try:
            handle.config = validate_plugin_options(
                handle.schema,
                handle.options,
                where=f"plugins.{handle.instance_id}",
                source=handle.options_source,
            )
        except ConfigError as exc:
            handle.last_error = f"invalid config: {exc}"
            log.error("plugin instance %r does not start: %s", handle.instance_id, exc)
            handle.config = None
            self._send(handle, {"t": "stop"})
            return
        data_dir = self.data_dir / handle.instance_id
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._hand_over(data_dir)
        except OSError as exc:
            handle.last_error = f"cannot create its data folder {data_dir}: {exc.strerror}"
            log.error(
                "plugin instance %r does not start: %s", handle.instance_id, handle.last_error
            )
            handle.config = None
            self._send(handle, {"t": "stop"})
            return
        self._send(
            handle,
            {
                "t": "start",
                "config": handle.config,
                "secrets": {},
                "data_dir": str(data_dir),
                "heartbeat": self.rules.heartbeat,
                "deadlines": {
                    "render": self.rules.render_timeout,
                    "refresh": self.rules.refresh_timeout,
                },
            },
        )
        self.listener.on_hello(handle)

    def _hand_over(self, data_dir: Path) -> None:
        """Give the worker user its data folder, which it must reach from ``/``.

        :raises OSError: naming the folder that the worker user cannot pass through.
        """
        uid, gid = self.rules.uid, self.rules.gid
        if uid is None:
            return
        os.chown(data_dir, uid, gid if gid is not None else uid)
        for parent in data_dir.parents:
            st = parent.stat()
            if not st.st_mode & 0o001 and st.st_uid != uid:
                raise OSError(
                    0,
                    f"workers run as user {self.rules.user!r}, who cannot enter {parent} "
                    "(mode {:o}); set paths.data_dir to a folder outside it, such as "
                    "/var/lib/ledhost".format(st.st_mode & 0o777),
                )

    def _handle_strip(self, handle: WorkerHandle, message: Message) -> None:
        width = field(message, "width", int)
        height = field(message, "height", int)
        data = field(message, "pixels", bytes)
        if height != self.geometry.height or len(data) != width * height * 3:
            self._record_error(
                handle,
                f"strip rejected: {width}x{height} with {len(data)} "
                f"bytes; strips are {self.geometry.height} pixels high",
            )
            return
        if field(message, "token", int) != handle.token:
            return  # drawn for an earlier activation
        pixels = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
        gap = message.get("gap")
        strip = StripImage(
            mode=field(message, "mode", str),
            token=handle.token,
            pixels=pixels,
            speed=max(1.0, min(float(message.get("speed", 30.0)), 2000.0)),
            gap=gap if isinstance(gap, int) and gap >= 0 else None,
        )
        handle.strip = strip
        handle.frames += 1  # a strip is one delivered image, like a frame
        self.listener.on_strip(handle, strip)

    def _record_error(self, handle: WorkerHandle, text: str) -> None:
        """Keep ``text`` as the last error; log it within the instance's log rate limit.

        A plugin that fails on every frame must not flood the host's log through its
        errors any more than through its log records.
        """
        wall = time.time()
        handle.last_error = text[:2000]
        handle.last_error_at = wall
        decision = self.logs[handle.instance_id].add(
            time.monotonic(), wall, logging.WARNING, "ledhost.host", text
        )
        if decision.summary is not None:
            log.warning("plugin instance %r: %s", handle.instance_id, decision.summary)
        if decision.record is not None:
            log.warning("plugin instance %r: %s", handle.instance_id, decision.record.message)

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
        if handle.channel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(handle.channel.sock)
            with contextlib.suppress(EOFError, ProtocolError, OSError):
                for message in handle.channel.receive():  # last words: error, bye
                    with contextlib.suppress(ProtocolError):
                        self._handle_message(handle, message, now)
            handle.channel.close()
            handle.channel = None
        handle.cpu_past += handle.cpu_seconds
        handle.cpu_seconds = 0.0
        handle.cpu_final = False
        # Children a plugin left behind die with it, also those that left its group.
        self._kill_leftovers(handle, process.pid)
        process.close()
        handle.process = None
        if handle.bus is not None:
            handle.bus.close()
            handle.bus = None
        handle.frame = None
        handle.strip = None
        handle.active_mode = None
        handle.busy = []
        handle.rss = 0
        handle.processes = 0
        handle.last_exit_status = exitcodes.describe(code)
        handle.last_exit = handle.kill_reason or handle.last_exit_status
        if handle.kill_reason is None and (
            handle.state is WorkerState.STOPPING or (code == exitcodes.OK and handle.config is None)
        ):
            handle.change_state(WorkerState.EXITED, now)
        elif handle.state is WorkerState.STOPPING:
            handle.change_state(WorkerState.EXITED, now)
        else:
            log.warning("plugin instance %r %s", handle.instance_id, handle.last_exit)
            handle.last_failure = handle.last_exit
            handle.last_failure_at = time.time()
            self._failed(handle, now, boot=code in exitcodes.BOOT_FAILURES)
        handle.kill_reason = None
        handle.term_at = None
        self.listener.on_state(handle)

    def _kill_leftovers(self, handle: WorkerHandle, pid: int) -> None:
        killed = proctree.kill_tree(pid, known=handle.tree, start_time=handle.pid_start)
        if killed:
            log.info(
                "plugin instance %r: killed %d process(es) it left behind",
                handle.instance_id,
                killed,
            )
            # They die a moment later; those re-parented to the host (a child subreaper)
            # become its zombies, reaped by later monitor passes.
            self._graves.append((pid, handle.tree, time.monotonic() + GRAVE_WATCH))
        handle.tree = frozenset()

    def _reap_graves(self, table: dict[int, proctree.ProcInfo], now: float) -> None:
        """Reap the zombies of killed plugin processes that were re-parented to us."""
        keep = []
        for pid, tree, until in self._graves:
            proctree.reap_zombie_children(proctree.adopted_zombies(pid, table, known=tree))
            if now < until:
                keep.append((pid, tree, until))
        self._graves = keep

    def _failed(self, handle: WorkerHandle, now: float, *, boot: bool) -> None:
        if handle.started_at and self.policy.was_stable(handle.started_at, now) and not boot:
            handle.consecutive_failures = 0
        handle.consecutive_failures += 1
        handle.failure_times.append(now)
        del handle.failure_times[:-50]
        if self.policy.should_quarantine(handle.failure_times, now):
            handle.change_state(WorkerState.QUARANTINED, now)
            handle.quarantined_at = now
            handle.quarantined_wall = time.time()
            log.error(
                "plugin instance %r quarantined after %d failures within %g s (last: %s); "
                "it stays stopped until retried",
                handle.instance_id,
                len([t for t in handle.failure_times if now - t <= self.policy.window]),
                self.policy.window,
                handle.last_exit,
            )
            return
        handle.restart_at = now + self.policy.delay(handle.consecutive_failures)
        handle.change_state(WorkerState.BACKOFF, now)

    def _kill(self, handle: WorkerHandle, reason: str) -> None:
        """End the worker now: SIGKILL to it and every process below it."""
        self._record_error(handle, reason)
        if handle.kill_reason is None:
            handle.kill_reason = reason
        handle.term_at = None
        if handle.process is not None:
            proctree.kill_tree(handle.process.pid, known=handle.tree, start_time=handle.pid_start)

    def _terminate(self, handle: WorkerHandle, reason: str, now: float) -> None:
        """Ask a hung worker to go (SIGTERM to its group); SIGKILL follows on a later pass.

        gunicorn's "WORKER TIMEOUT": the polite signal lets the plugin's ``finally``
        blocks run, the stop timeout bounds how long that may take.
        """
        if handle.kill_reason is not None or handle.process is None:
            return
        handle.kill_reason = reason
        handle.term_at = now
        self._record_error(handle, reason)
        log.error("WORKER TIMEOUT: plugin instance %r %s", handle.instance_id, reason)
        spawner.terminate(handle.process)

    def _check_deadline(self, handle: WorkerHandle, now: float) -> None:
        reason = overdue(handle, self.rules, now)
        if reason is not None:
            self._terminate(handle, reason, now)

    def check_deadlines(self, now: float) -> None:
        """Terminate workers past a deadline; SIGKILL those that ignored SIGTERM."""
        for handle in self.handles.values():
            if handle.process is None:
                continue
            if handle.term_at is not None:
                if now - handle.term_at >= self.rules.stop_timeout:
                    log.error(
                        "plugin instance %r ignored SIGTERM for %g s; sending SIGKILL",
                        handle.instance_id,
                        self.rules.stop_timeout,
                    )
                    self._kill(handle, handle.kill_reason or "did not stop")
            elif handle.kill_reason is not None:
                continue  # SIGKILL sent; the sentinel follows
            elif handle.stop_requested_at is not None:
                if now - handle.stop_requested_at >= self.rules.stop_timeout:
                    self._terminate(handle, "did not stop when asked", now)
            else:
                self._check_deadline(handle, now)

    def monitor(self, now: float) -> None:
        """Measure every worker's tree; kill those over their memory or process limit."""
        if now < self._next_monitor:
            return
        self._next_monitor = now + MONITOR_INTERVAL
        live = [h for h in self.handles.values() if h.process is not None]
        if not live and not self._graves:
            return
        table = proctree.scan()
        self._reap_graves(table, now)
        for handle in live:
            assert handle.process is not None
            pid = handle.process.pid
            handle.tree = proctree.snapshot(pid, table, known=handle.tree)
            use = proctree.usage(pid, table, known=handle.tree)
            handle.rss, handle.processes = use.rss_bytes, use.processes
            if handle.kill_reason is None:
                reason = over_limit(handle, self.rules, use.rss_bytes, use.processes)
                if reason is not None:
                    log.error("plugin instance %r %s: killing it", handle.instance_id, reason)
                    self._kill(handle, reason)

    def tick(self, now: float) -> None:
        """Housekeeping: restarts due, deadlines, limits, CPU figures, log summaries."""
        for handle in self.handles.values():
            if handle.state is WorkerState.BACKOFF and handle.restart_at is not None:
                if now >= handle.restart_at:
                    handle.restart_at = None
                    handle.restarts += 1
                    self.start(handle, now)
            elif handle.process is not None:
                self._sample_cpu(handle)
        self.check_deadlines(now)
        self.monitor(now)
        wall = time.time()
        for instance_id, plugin_log in self.logs.items():
            summary = plugin_log.summarize(now, wall)
            if summary is not None:
                logging.getLogger(f"ledhost.plugin.{instance_id}").warning("%s", summary)

    def next_deadline(self) -> float | None:
        times = [h.restart_at for h in self.handles.values() if h.restart_at is not None]
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
        handle.failure_times.clear()
        handle.consecutive_failures = 0
        handle.quarantined_at = handle.quarantined_wall = None
        handle.restart_at = None
        log.info("plugin instance %r: retry requested", handle.instance_id)
        self.start(handle, now)

    def _sample_cpu(self, handle: WorkerHandle) -> None:
        if handle.process is None or handle.cpu_final:
            return
        seconds = process_cpu_seconds(handle.process.pid, children=True)
        if seconds is not None:
            handle.cpu_seconds = seconds

    # -- stopping -------------------------------------------------------------------------

    def stop_all(self, graceful_timeout: float | None = None) -> None:
        """The stop ladder (gunicorn ``stop()``): ask, wait, SIGKILL the trees, reap.

        :param graceful_timeout: seconds workers get to stop; ``None`` for the rules'
            ``stop_timeout``.
        """
        if graceful_timeout is None:
            graceful_timeout = self.rules.stop_timeout
        now = time.monotonic()
        for handle in self.handles.values():
            if handle.state in (WorkerState.STARTING, WorkerState.RUNNING):
                self._send(handle, {"t": "stop"})
                handle.change_state(WorkerState.STOPPING, now)
                handle.stop_requested_at = now
            elif handle.state is WorkerState.BACKOFF:
                handle.restart_at = None
                handle.change_state(WorkerState.STOPPED, now)
        deadline = now + graceful_timeout
        while any(h.process is not None for h in self.handles.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, events in self.selector.select(min(remaining, 0.1)):
                if isinstance(key.data, tuple) and isinstance(key.data[0], WorkerHandle):
                    self.dispatch(key, time.monotonic(), events)
        for handle in self.handles.values():
            if handle.process is not None:
                log.warning(
                    "plugin instance %r did not stop in %.1fs; killing it",
                    handle.instance_id,
                    graceful_timeout,
                )
                if handle.state is not WorkerState.STOPPING:
                    handle.change_state(WorkerState.STOPPING, time.monotonic())
                proctree.kill_tree(
                    handle.process.pid, known=handle.tree, start_time=handle.pid_start
                )
        end = time.monotonic() + 2.0
        while any(h.process is not None for h in self.handles.values()) and time.monotonic() < end:
            for handle in self.handles.values():
                self.reap(handle, time.monotonic())
            time.sleep(0.01)
        self.launcher.close()

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        result = {}
        for iid, handle in self.handles.items():
            entry = handle.status(now)
            entry["logs"] = dict(self.logs[iid].stats())
            result[iid] = entry
        return result


def _busy_calls(raw: object) -> list[tuple[str, float]]:
    """The ``busy`` field of a heartbeat, checked: ``[(hook name, seconds running)]``."""
    calls: list[tuple[str, float]] = []
    if isinstance(raw, list):
        for item in raw[:8]:
            if (
                isinstance(item, list | tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], int | float)
            ):
                calls.append((item[0][:64], float(item[1])))
    return calls
