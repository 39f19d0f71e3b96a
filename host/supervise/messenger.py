"""The messenger: everything the host says to its workers and hears from them.

It shares the host loop's selector (the host waits on everything in one place: every
worker's ready eventfd, process sentinel and control socket) and turns what arrives into
calls on the :class:`~host.supervise.supervisor.Listener` -- the host's display side -- and into
records on each :class:`~host.supervise.handle.WorkerHandle`. Whatever a worker sends, no
exception leaves here: a broken message or frame ends that worker through the
:class:`~host.supervise.enforcer.Enforcer`, with the reason recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from config.errors import ConfigError
from config.model import PluginInstanceConfig
from config.plugin_schema import PluginConfig, validate_plugin_config
from host.errors import ProtocolError
from host.ipc.channel import Message, field
from host.ipc.framebus import Geometry
from host.supervise.enforcer import Enforcer, busy_calls
from host.supervise.handle import StripImage, WorkerHandle
from host.supervise.states import WorkerState

if TYPE_CHECKING:
    from host.supervise.supervisor import Listener

log = logging.getLogger("ledhost.supervisor")


class Messenger:
    """Talks to every worker of one supervisor over its control channel and frame bus.

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
        reap: Callable[[WorkerHandle, float], None],
    ) -> None:
        self.geometry = geometry
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
        message = {"t": "activate", "mode": mode, "token": handle.token}
        if size is not None:
            message["size"] = list(size)
        if ticker:
            message["ticker"] = True
        self.send(handle, message)

    def deactivate(self, handle: WorkerHandle) -> None:
        if handle.active_mode is not None:
            handle.active_mode = None
            handle.token += 1
            self.send(handle, {"t": "deactivate"})

    def check(
        self,
        handle: WorkerHandle,
        options: Mapping[str, Any],
        secrets: Mapping[str, Any] | None = None,
        *,
        section: PluginInstanceConfig | None = None,
    ) -> PluginConfig:
        """Validate new values as :meth:`configure` would, without sending anything.

        A live reload checks every changed instance first, so that one bad value refuses
        the whole edit before any worker hears of it.

        :param options: the new options (``PluginInstanceConfig.options``).
        :param secrets: the new values from the secrets file
            (``PluginInstanceConfig.secrets``); ``None`` for those of ``section``, or
            without one, the handle's current ones.
        :param section: the new config of the instance when it comes from a (re)loaded
            config: which file set each key, so a secret written into the config file is
            refused and issues name the right file; ``None`` for what the handle knows
            (options from the API or a test).
        :returns: the validated options and secrets, apart.
        :raises ConfigError: a value does not fit the plugin's schema, or a secret is in
            the wrong file; no issue quotes a secret.
        """
        key_sources: Mapping[str, str]
        if section is None:
            source, key_sources = handle.options_source, handle.key_sources
            file_keys, secrets_file = handle.file_keys, handle.secrets_file
            current = handle.secrets
        else:
            source, key_sources = section.source, section.key_sources
            file_keys, secrets_file = section.file_keys, section.secrets_source
            current = dict(section.secrets)
        return validate_plugin_config(
            handle.schema,
            options,
            current if secrets is None else secrets,
            where=f"plugins.{handle.instance_id}",
            source=source,
            key_sources=key_sources,
            file_keys=file_keys,
            secrets_file=secrets_file,
        )

    def configure(
        self,
        handle: WorkerHandle,
        options: Mapping[str, Any],
        secrets: Mapping[str, Any] | None = None,
        *,
        section: PluginInstanceConfig | None = None,
    ) -> None:
        """Give a running instance new options (and secrets) without a restart.

        The worker gets the validated options and its own secrets in one ``configure``
        message; ``context.secrets`` changes with ``context.config``. Parameters as for
        :meth:`check`.

        :raises ConfigError: the values do not fit; the running config stays as it was.
        """
        validated = self.check(handle, options, secrets, section=section)
        if section is not None:
            handle.take_section(section)
        handle.options = dict(options)
        if secrets is not None:
            handle.secrets = dict(secrets)
        handle.config = validated.options
        self.send(
            handle, {"t": "configure", "config": validated.options, "secrets": validated.secrets}
        )

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
        self.send(
            handle, {"t": "action", "id": handle.action_seq, "name": name, "params": params or {}}
        )
        return handle.action_seq

    def send(self, handle: WorkerHandle, message: Message) -> None:
        if handle.channel is None or handle.channel.closed:
            return
        try:
            handle.channel.send(message)
        except (EOFError, OSError):
            return  # the sentinel will tell us it died
        except ProtocolError as exc:
            self.enforcer.kill(handle, f"not reading its control channel ({exc})")
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
            self.enforcer.kill(
                handle, f"host could not handle its {kind}: {type(exc).__name__}: {exc}"
            )

    def _read_frames(self, handle: WorkerHandle) -> None:
        assert handle.bus is not None
        try:
            frame, errors = handle.bus.poll()
        except ProtocolError as exc:
            self.enforcer.kill(handle, str(exc))
            return
        for error in errors:
            self.enforcer.record_error(handle, f"frame rejected: {error}")
        if frame is None:
            return
        handle.frames += 1
        if frame.token == handle.token and handle.active_mode is not None:
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
            self.enforcer.kill(handle, f"protocol error: {exc}")
            return
        for message in messages:
            try:
                self.handle_message(handle, message, now)
            except ProtocolError as exc:
                self.enforcer.kill(handle, f"protocol error: {exc}")
                return

    def handle_message(self, handle: WorkerHandle, message: Message, now: float) -> None:
        kind = message["t"]
        if kind == "hb":
            handle.last_heartbeat = now
            handle.busy = busy_calls(message.get("busy"))
            if handle.busy:
                self.enforcer.check_deadline(handle, now)
        elif kind == "log":
            self.enforcer.handle_log(handle, message, now)
        elif kind == "hello":
            self._handle_hello(handle, message)
        elif kind == "ready":
            # A worker asked to stop (a reload retired it) may still report ready.
            if handle.state is WorkerState.STARTING:
                handle.change_state(WorkerState.RUNNING, now)
                handle.last_heartbeat = now
                self.listener.on_state(handle)
        elif kind == "content":
            handle.content[field(message, "mode", str)] = bool(message.get("has"))
            self.listener.on_content(handle)
        elif kind == "refreshed":
            handle.refreshes += 1
        elif kind == "strip":
            self._handle_strip(handle, message)
        elif kind == "error":
            hook = message.get("hook", "?")
            self.enforcer.record_error(handle, f"{hook}: {message.get('message')}")
            if message.get("traceback"):
                log.debug(
                    "plugin instance %r traceback:\n%s", handle.instance_id, message["traceback"]
                )
        elif kind == "dwell":
            mode = field(message, "mode", str)
            seconds = message.get("seconds")
            if mode in handle.mode_names() and isinstance(seconds, int | float):
                self.listener.on_dwell(handle, mode, max(0.0, min(float(seconds), 86400.0)))
        elif kind in ("interrupt", "release"):
            mode = field(message, "mode", str)
            if mode not in handle.mode_names():
                self.enforcer.record_error(handle, f"interrupt for unknown mode {mode!r}")
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

    def _handle_hello(self, handle: WorkerHandle, message: Message) -> None:
        handle.modes = list(field(message, "modes", list))
        handle.hooks = list(field(message, "hooks", list))
        handle.refreshes = 0
        handle.actions = list(message.get("actions") or [])
        schema = message.get("schema")
        handle.schema = schema if isinstance(schema, dict) else None
        try:
            validated = self.check(handle, handle.options)
        except ConfigError as exc:
            # The issues never quote a secret (config.plugin_schema), so they may be
            # logged and shown as they are.
            handle.last_error = f"invalid config: {exc}"
            log.error("plugin instance %r does not start: %s", handle.instance_id, exc)
            handle.config = None
            self.send(handle, {"t": "stop"})
            return
        handle.config = validated.options
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
            self.send(handle, {"t": "stop"})
            return
        self.send(
            handle,
            {
                "t": "start",
                "config": validated.options,
                # This instance's own secrets, to its own worker: the only place they
                # leave the host.
                "secrets": validated.secrets,
                "data_dir": str(data_dir),
                "heartbeat": self.enforcer.rules.heartbeat,
                "deadlines": {
                    "render": self.enforcer.rules.render_timeout,
                    "refresh": self.enforcer.rules.refresh_timeout,
                },
            },
        )
        self.listener.on_hello(handle)

    def _hand_over(self, data_dir: Path) -> None:
        """Give the worker user its data folder, which it must reach from ``/``.

        :raises OSError: naming the folder that the worker user cannot pass through.
        """
        uid, gid = self.enforcer.rules.uid, self.enforcer.rules.gid
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
        os.chown(data_dir, uid, gid if gid is not None else uid)

    def _handle_strip(self, handle: WorkerHandle, message: Message) -> None:
        width = field(message, "width", int)
        height = field(message, "height", int)
        data = field(message, "pixels", bytes)
        if height != handle.active_size[1] or len(data) != width * height * 3:
            self.enforcer.record_error(
                handle,
                f"strip rejected: {width}x{height} with {len(data)} "
                f"bytes; strips are {handle.active_size[1]} pixels high here",
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
