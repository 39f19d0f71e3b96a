"""The messenger: everything the host says to its workers and hears from them.

It shares the host loop's selector (the host waits on everything in one place: every
worker's ready eventfd, process sentinel and control socket) and turns what arrives into
calls on the :class:`~host.supervise.listener.Listener` -- the host's display side -- and into
records on each :class:`~host.supervise.handle.WorkerHandle`. Whatever a worker sends, no
exception leaves here: a broken message or frame ends that worker through the
:class:`~host.supervise.enforcer.Enforcer`, with the reason recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from config.atomic import make_dirs
from config.errors import ConfigError, ConfigIssue
from config.model import PluginInstanceConfig
from host.errors import ProtocolError
from host.ipc import protocol
from host.ipc.framebus import Geometry
from host.ipc.strip import StripImage
from host.supervise.enforcer import Enforcer
from host.supervise.handle import WorkerHandle
from host.supervise.plugin_logs import PluginLog
from host.supervise.states import WorkerState

if TYPE_CHECKING:
    from host.supervise.listener import Listener

log = logging.getLogger("ledhost.supervisor")


def _issues(issues: list[protocol.Issue]) -> list[ConfigIssue]:
    return [ConfigIssue(i.source, i.key, i.message) for i in issues]


class Messenger:
    """Talks to every worker of one supervisor over its control channel and frame bus.

    :param logs: each instance's log ring, by instance id.
    :param reap: the supervisor's reaper, called when a worker's sentinel fires.
    """

    def __init__(
        self,
        *,
        geometry: Geometry,
        selector: selectors.BaseSelector,
        listener: Listener,
        data_dir: Path,
        enforcer: Enforcer,
        logs: Mapping[str, PluginLog],
        reap: Callable[[WorkerHandle, float], None],
    ) -> None:
        self.geometry = geometry
        #: Each instance's log, by instance id (the supervisor's).
        self.logs = logs
        self.selector = selector
        self.listener = listener
        self.data_dir = data_dir
        self.enforcer = enforcer
        self.reap = reap

    def activate(
        self,
        handle: WorkerHandle,
        mode: str,
        size: tuple[int, int] | None = None,
        ticker: bool = False,
    ) -> None:
        """Ask ``handle`` to render ``mode``; frames of earlier activations are ignored.

        :param size: ``(width, height)`` of a layout region to draw at; ``None`` for the
            whole display.
        :param ticker: the mode feeds the continuous ticker, which carries only strips.
        """
        handle.token += 1
        handle.active_mode = mode
        handle.active_size = size or (self.geometry.width, self.geometry.height)
        handle.frame = None
        handle.strip = None
        now = time.monotonic()
        if handle.frame_due is not None and handle.frame_due > now:
            handle.frame_due = None  # not begun: the new activation's answer tells the rest
        # (A due time already past stays: that render may be hanging; the first answer to
        # the activation replaces it.) Answered by a frame, a strip or an error.
        handle.asked.setdefault("activate", now)
        self.send(
            handle, protocol.Activate(mode=mode, token=handle.token, size=size, ticker=ticker)
        )

    def deactivate(self, handle: WorkerHandle) -> None:
        if handle.active_mode is not None:
            handle.active_mode = None
            handle.token += 1
            handle.answered("activate")
            # The frame timing stays until the worker says it took this: a scheduled
            # render under way may hang, and nothing else would time it.
            handle.asked["deactivate"] = time.monotonic()
            self.send(handle, protocol.Deactivate())

    def sources(
        self, handle: WorkerHandle, section: PluginInstanceConfig | None = None
    ) -> protocol.Sources:
        """Where ``handle``'s values (or ``section``'s) came from, for the worker's issues."""
        key_sources: Mapping[str, str]
        if section is None:
            source, key_sources = handle.options_source, handle.key_sources
            file_keys, secrets_file = handle.file_keys, handle.secrets_file
        else:
            source, key_sources = section.source, section.key_sources
            file_keys, secrets_file = section.file_keys, section.secrets_source
        return protocol.Sources(
            where=f"plugins.{handle.instance_id}",
            source=source,
            key_sources=dict(key_sources),
            file_keys=sorted(file_keys),
            secrets_file=secrets_file,
        )

    def configure(
        self,
        handle: WorkerHandle,
        options: Mapping[str, Any],
        secrets: Mapping[str, Any] | None = None,
        *,
        section: PluginInstanceConfig | None = None,
        check: bool = False,
    ) -> int:
        """Give a running instance new options (and secrets) without a restart.

        The worker validates them against its own schema -- the host never runs a
        plugin's schema -- and answers :class:`~host.ipc.protocol.Configured`: then, unless
        ``check``, the handle takes the values (``handle.config`` becomes the validated
        options); a refusal keeps the running config and is logged. The answer is also
        kept in ``handle.config_answers[id]``.

        :param options: the new options (``PluginInstanceConfig.options``).
        :param secrets: the new values from the secrets file; ``None`` for those of
            ``section``, or without one, the worker's current ones.
        :param section: the new config of the instance when it comes from a (re)loaded
            config: which file set each key, so a secret written into the config file is
            refused and issues name the right file; ``None`` for what the handle knows.
        :param check: only validate (the first phase of a reload); change nothing.
        :returns: the request's id.
        """
        if secrets is None and section is not None:
            secrets = dict(section.secrets)
        handle.config_seq += 1
        request = handle.config_seq
        if not check:
            handle.config_pending[request] = (dict(options), secrets, section)
        handle.asked[f"configure {request}"] = time.monotonic()
        self.send(
            handle,
            protocol.Configure(
                id=request,
                options=dict(options),
                sources=self.sources(handle, section),
                secrets=None if secrets is None else dict(secrets),
                check=check,
            ),
        )
        return request

    def _handle_configured(self, handle: WorkerHandle, answer: protocol.Configured) -> None:
        """The worker's verdict on a :meth:`configure`: take the values, or keep the old."""
        if answer.id > handle.config_seq:
            raise ProtocolError(f"configured: no configure request {answer.id}")
        handle.config_answers[answer.id] = answer
        handle.answered(f"configure {answer.id}")
        for key in sorted(handle.config_answers)[:-16]:
            del handle.config_answers[key]
        pending = handle.config_pending.pop(answer.id, None)
        if pending is None:
            return  # a check only
        if answer.issues is not None:
            log.error(
                "plugin instance %r keeps its config: %s",
                handle.instance_id,
                ConfigError(_issues(answer.issues)),
            )
            return
        options, secrets, section = pending
        if section is not None:
            handle.take_section(section)
        handle.options = options
        if secrets is not None:
            handle.secrets = dict(secrets)
        handle.config = answer.config

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
        handle.asked[f"action {handle.action_seq}"] = time.monotonic()
        self.send(
            handle, protocol.Action(id=handle.action_seq, name=name, params=dict(params or {}))
        )
        return handle.action_seq

    def send(self, handle: WorkerHandle, message: protocol.HostMessage) -> None:
        if handle.channel is None or handle.channel.closed:
            return
        try:
            handle.channel.send(message)
        except (EOFError, OSError):
            return  # the sentinel will tell us it died
        except ProtocolError as exc:
            self.enforcer.kill(handle, f"not reading its control channel ({exc})", time.monotonic())
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
        gone = handle.channel is None if kind == "control" else handle.bus is None
        if kind != "exit" and gone:
            # One select() can return a worker's exit and its other fds together; once
            # the exit is handled (reaped: channel and bus closed), the rest are stale.
            return
        try:
            if kind == "exit":
                self.reap(handle, now)
            elif kind == "frames":
                self._read_frames(handle, now)
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
            self.enforcer.kill(
                handle, f"host could not handle its {kind}: {type(exc).__name__}: {exc}", now
            )

    def _read_frames(self, handle: WorkerHandle, now: float) -> None:
        assert handle.bus is not None
        try:
            frame, errors = handle.bus.poll()
        except ProtocolError as exc:
            self.enforcer.kill(handle, str(exc), now)
            return
        for error in errors:
            self.enforcer.record_error(handle, f"frame rejected: {error}")
        if frame is None and not errors:
            return
        # Any frame, even a rejected one, shows the worker took the activation in hand
        # (frames of the old one may still be in the ring); one of the current activation
        # says when the next is due.
        handle.last_sign = now
        handle.answered("activate")
        if frame is None:
            return
        handle.frames += 1
        handle.render_done()
        if frame.token == handle.token and handle.active_mode is not None:
            # Never before now: a worker behind its schedule stamps a due time already
            # past, and is not late for that.
            handle.frame_due = None if frame.next_due is None else max(frame.next_due, now)
            width, height = handle.active_size
            if frame.pixels.shape[:2] != (height, width):
                got = f"{frame.pixels.shape[1]}x{frame.pixels.shape[0]}"
                self.enforcer.record_error(
                    handle, f"frame rejected: {got}, but the host asked for {width}x{height}"
                )
                return
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
            self._refuse(handle, exc, now)
            return
        if messages:
            handle.last_sign = now
        for message in messages:
            try:
                self.handle_message(handle, message, now)
            except ProtocolError as exc:
                self._refuse(handle, exc, now)
                return

    def _refuse(self, handle: WorkerHandle, exc: ProtocolError, now: float) -> None:
        """The worker broke the protocol: kill it, and hear nothing more from it.

        The channel is closed at once, so nothing it sent after the bad message -- not
        even "last words" read when it is reaped -- is believed.
        """
        self.enforcer.kill(handle, f"protocol error: {exc}", now)
        if handle.channel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(handle.channel.sock)
            handle.channel.close()

    def handle_message(
        self, handle: WorkerHandle, message: protocol.WorkerMessage, now: float
    ) -> None:
        """Act on one decoded message of ``handle``'s worker.

        Each message was checked against its declaration on decoding; what is left here
        is what the host allows (known modes, bounds on dwell and strips).
        """
        match message:
            case protocol.Heartbeat(busy=busy):
                handle.record_heartbeat(now, list(busy))
                if handle.busy:
                    self.enforcer.check_deadline(handle, now)
            case protocol.Log():
                self._handle_log(handle, message, now)
            case protocol.Hello():
                if handle.hello_seen:
                    raise ProtocolError("a second 'hello' message (a worker says hello once)")
                handle.hello_seen = True
                self._handle_hello(handle, message)
            case protocol.Started(config=config):
                if handle.state is WorkerState.STARTING and handle.config is None:
                    handle.config = config
                    self.listener.on_hello(handle)
            case protocol.Refused(issues=issues):
                self._handle_refused(handle, issues)
            case protocol.Configured():
                self._handle_configured(handle, message)
            case protocol.Ready():
                # A worker asked to stop (a reload retired it) may still report ready.
                if handle.state is WorkerState.STARTING:
                    handle.change_state(WorkerState.RUNNING, now)
                    handle.last_heartbeat = now
                    self.listener.on_state(handle)
            case protocol.Content(mode=mode, has=has):
                handle.content[mode] = has
                self.listener.on_content(handle)
            case protocol.Refreshed():
                handle.refreshes += 1
            case protocol.Deactivated():
                handle.answered("deactivate")
                if handle.active_mode is None:
                    handle.frame_due = None  # no render under way, none to come
            case protocol.Strip():
                self._handle_strip(handle, message)
            case protocol.Error(hook=hook, message=text, traceback=traceback):
                if hook in ("activate", "render_frame", "render_strip"):
                    # The render failed: no frame follows until the host asks again.
                    handle.answered("activate")
                    handle.frame_due = None
                self.enforcer.record_error(handle, f"{hook}: {text}")
                handle.last_traceback = traceback
                if traceback:
                    log.debug("plugin instance %r traceback:\n%s", handle.instance_id, traceback)
            case protocol.Dwell(mode=mode, seconds=seconds):
                if mode in handle.mode_names():
                    self.listener.on_dwell(handle, mode, min(seconds, 86400.0))
            case protocol.Interrupt(mode=mode) | protocol.Release(mode=mode):
                if mode not in handle.mode_names():
                    self.enforcer.record_error(handle, f"interrupt for unknown mode {mode!r}")
                elif isinstance(message, protocol.Interrupt):
                    self.listener.on_interrupt(handle, mode, message.priority, message.seconds)
                else:
                    self.listener.on_interrupt(handle, mode, 0, None)
            case protocol.ActionResult(id=request_id):
                handle.answered(f"action {request_id}")
                handle.action_results[request_id] = {
                    "ok": message.ok,
                    "result": message.result,
                    "error": message.error,
                }
                for key in sorted(handle.action_results)[:-50]:
                    del handle.action_results[key]
            case protocol.Bye(cpu=cpu):
                handle.cpu_seconds = cpu
                handle.cpu_final = True

    def _handle_log(self, handle: WorkerHandle, message: protocol.Log, now: float) -> None:
        """Rate-limit, keep and forward one log record, tagged with the instance id."""
        decision = self.logs[handle.instance_id].add_message(now, time.time(), message)
        plugin_log = logging.getLogger(f"ledhost.plugin.{handle.instance_id}")
        if decision.summary is not None:
            plugin_log.warning("%s", decision.summary)
        if decision.record is not None:
            plugin_log.log(decision.record.level, "%s", decision.record.message)

    def _handle_hello(self, handle: WorkerHandle, message: protocol.Hello) -> None:
        handle.modes = [msgspec.structs.asdict(m) for m in message.modes]
        handle.hooks = list(message.hooks)
        handle.refreshes = 0
        handle.actions = [msgspec.structs.asdict(a) for a in message.actions]
        handle.schema = message.schema
        handle.loaded_from = (
            None if message.distribution is None else msgspec.structs.asdict(message.distribution)
        )
        handle.config = None  # until the worker validated it (protocol.Started)
        data_dir = self.data_dir / handle.instance_id
        try:
            self.prepare_data_dir(handle)
        except OSError as exc:
            handle.last_error = f"cannot create its data folder {data_dir}: {exc.strerror}"
            log.error(
                "plugin instance %r does not start: %s", handle.instance_id, handle.last_error
            )
            handle.config = None
            self.send(handle, protocol.Stop())
            return
        rules = self.enforcer.rules
        self.send(
            handle,
            protocol.Start(
                # Raw: the worker validates them against its own schema.
                options=dict(handle.options),
                # This instance's own secrets, to its own worker: the only place they
                # leave the host.
                secrets=dict(handle.secrets),
                sources=self.sources(handle),
                data_dir=str(data_dir),
                heartbeat=rules.heartbeat,
                deadlines=protocol.Deadlines(
                    render=rules.render_timeout, refresh=rules.refresh_timeout
                ),
            ),
        )

    def _handle_refused(self, handle: WorkerHandle, issues: list[protocol.Issue]) -> None:
        """The worker found its config invalid and exits; say why, as the host did."""
        if handle.config is not None:
            raise ProtocolError("refused: the config was already accepted")
        # The issues never quote a secret (config.plugin_schema), so they may be
        # logged and shown as they are.
        exc = ConfigError(_issues(issues))
        handle.last_error = f"invalid config: {exc}"
        log.error("plugin instance %r does not start: %s", handle.instance_id, exc)

    def prepare_data_dir(self, handle: WorkerHandle) -> Path:
        """Make ``handle``'s data folder, its worker user's own (0700), and return it.

        Missing parents are made 0711 whatever the umask: workers under uids of their
        own must pass through them to reach their folders, but nobody but the host may
        list which instances exist. Done before the worker starts (its ``HOME``) and
        again at its hello (the folder may have been removed meanwhile).

        :raises OSError: it cannot be made or handed over; the message names why.
        """
        data_dir = self.data_dir / handle.instance_id
        make_dirs(data_dir, mode=0o700, parents_mode=0o711)
        self._hand_over(data_dir, handle.run_uid)
        return data_dir

    def _hand_over(self, data_dir: Path, uid: int | None) -> None:
        """Give the worker's user (``uid``; ``None``: the host's) its data folder, 0700.

        It must reach the folder from ``/``; 0700 because with a uid per instance nobody
        else may look inside.

        :raises OSError: naming the folder that the worker user cannot pass through.
        """
        if uid is None:
            return
        for parent in data_dir.parents:
            st = parent.stat()
            if not st.st_mode & 0o001 and st.st_uid != uid:
                raise OSError(
                    0,
                    f"workers run as user {self.enforcer.rules.user!r}, who cannot enter {parent} "
                    "(mode {:o}); set paths.data_dir to a folder outside it, such as "
                    "/var/lib/ledhost".format(st.st_mode & 0o777),
                )
        gid = uid if self.enforcer.rules.uid_range is not None else self.enforcer.rules.gid
        os.chown(data_dir, uid, gid if gid is not None else uid)
        os.chmod(data_dir, 0o700)

    def _handle_strip(self, handle: WorkerHandle, message: protocol.Strip) -> None:
        handle.answered("activate")  # even a rejected strip: nothing else follows it
        width, height = message.width, message.height
        if height != handle.active_size[1] or len(message.pixels) != width * height * 3:
            self.enforcer.record_error(
                handle,
                f"strip rejected: {width}x{height} with {len(message.pixels)} "
                f"bytes; strips are {handle.active_size[1]} pixels high here",
            )
            return
        if message.token != handle.token:
            return  # drawn for an earlier activation
        handle.frame_due = None  # the host scrolls a strip itself
        pixels = np.frombuffer(message.pixels, dtype=np.uint8).reshape(height, width, 3)
        strip = StripImage(
            mode=message.mode,
            token=handle.token,
            pixels=pixels,
            speed=max(1.0, min(message.speed, 2000.0)),
            gap=message.gap,
        )
        handle.strip = strip
        handle.frames += 1  # a strip is one delivered image, like a frame
        self.listener.on_strip(handle, strip)
