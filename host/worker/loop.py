"""The worker: one plugin's hooks served to the host, from boot to ``bye``.

:class:`Worker` loads the plugin and says hello, waits for the host's ``start`` (config,
secrets, deadlines), runs ``setup`` and then serves: one thread waits on the control
channel and a wake-up pipe, renders when a frame falls due and answers the host's
messages. It is wired from parts that each own their state:

- :class:`~host.worker.calls.HookCaller` calls hooks, records which call runs where, and
  reports errors; :class:`~host.worker.calls.Heartbeat` is the thread that tells the host;
- :class:`~host.worker.render.Renderer` draws the active mode as frames or a strip;
- :class:`~host.worker.refresh.Refresher` runs ``refresh_data`` on its own thread and
  reports ``has_content``;
- :class:`~host.worker.requests.HostRequests` carries the plugin's own requests
  (redraw, interrupt, more time) from any thread.

The instance's secrets arrive with ``start`` and ``configure`` and live in
``context.secrets`` only; every text the worker sends back (log records, errors,
tracebacks, action results) has them replaced by ``<redacted>`` (:mod:`host.worker.secrets`).
"""

from __future__ import annotations

import logging
import os
import resource
import select
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from host import namesafe
from host.errors import ProtocolError
from host.ipc import exitcodes, protocol
from host.ipc.channel import Channel
from host.ipc.framebus import FrameWriter, Geometry
from host.ipc.workerargs import WorkerArgs
from host.worker.boot import (
    BootError,
    ChannelLogHandler,
    StreamToLog,
    collect_actions,
    collect_modes,
    exception_text,
    load_plugin,
    make_plugin_manager,
)
from host.worker.calls import Heartbeat, HookCaller
from host.worker.refresh import Refresher
from host.worker.render import Renderer
from host.worker.requests import HostRequests
from host.worker.secrets import SecretScrubber, forget_config_environment, read_only
from sdk.context import PluginContext
from sdk.registration import ModeInfo

__all__ = ["HANDSHAKE_TIMEOUT", "Terminated", "Worker"]

#: Seconds to wait for the host's ``start`` after ``hello``.
HANDSHAKE_TIMEOUT = 30.0


class Terminated(BaseException):
    """Raised by the worker's SIGTERM handler.

    A ``BaseException``, so plugin code catching ``Exception`` does not swallow it, and
    not ``SystemExit``, so it is told apart from a plugin calling ``sys.exit()``.
    """


class Worker:
    """One plugin instance in its worker process."""

    def __init__(self, args: WorkerArgs) -> None:
        self.args = args
        self.channel: Channel[protocol.HostMessage] = Channel(
            socket.socket(fileno=args.control_fd),
            peer="host",
            decode=protocol.decode_from_host,
            blocking_send=True,
        )
        self.log = logging.getLogger(f"ledhost.plugin.{args.instance_id}")
        #: Keeps this instance's secrets out of every log line and error sent to the host.
        self.scrubber = SecretScrubber()
        self.calls = HookCaller(make_plugin_manager(), self.channel, self.scrubber)
        self.modes: list[ModeInfo] = []
        #: The plugin's config schema (``config_schema``), which only this worker runs.
        self.schema: dict[str, Any] | None = None
        #: The raw secrets of the running config, for a ``configure`` that keeps them.
        self.secrets: dict[str, Any] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.requests = HostRequests(self.channel, self._active_mode, self._wake)
        # Made by wait_for_start(), once the host has sent the config:
        self.context: PluginContext | None = None
        self.renderer: Renderer | None = None
        self.refresher: Refresher | None = None
        self.heartbeat: Heartbeat | None = None

    def report_error(self, hook: str, exc: BaseException) -> None:
        """Tell the host ``hook`` (or the worker itself) failed."""
        self.calls.report_error(hook, exc)

    def _active_mode(self) -> str | None:
        return self.renderer.active if self.renderer is not None else None

    def _wake(self) -> None:
        """Wake the main loop, from any thread."""
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # a wake-up is already pending

    # -- boot ---------------------------------------------------------------------------

    def boot(self) -> None:
        """Route logs to the host, load the plugin, check what it offers, say hello."""
        handler = ChannelLogHandler(self.channel)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(self.scrubber)
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        sys.stdout = StreamToLog(self.log, logging.INFO)
        sys.stderr = StreamToLog(self.log, logging.WARNING)
        # Plugin paths go last, and ledhost's own names keep meaning ledhost's own files
        # whatever a plugin path holds (a top-level ``config`` or ``sdk``): the finder is
        # in place before the first plugin path is (a forked worker has it from the host).
        namesafe.install()
        for path in self.args.paths:
            if path not in sys.path:
                sys.path.append(path)
        # Before any plugin code runs: a config variable may hold another plugin's secret.
        forget_config_environment()
        pm = self.calls.pm
        args = self.args
        loaded = load_plugin(
            pm, args.plugin_id, args.distribution, args.location, args.entry_point, args.version
        )
        if self.args.trace:
            pm.add_hookcall_monitoring(self._trace_before, self._trace_after)
        self.modes = _boot_call("register_modes", lambda: collect_modes(pm))
        actions = _boot_call("register_actions", lambda: collect_actions(pm))
        schema = _boot_call("config_schema", lambda: pm.hook.config_schema())
        if schema is not None:
            self._check_schema(schema)
        self.schema = schema
        hooks = sorted(
            name
            for name in pm.hook.__dict__
            if not name.startswith("_") and getattr(pm.hook, name).get_hookimpls()
        )
        try:
            self.channel.send(
                protocol.Hello(
                    plugin=self.args.plugin_id,
                    instance=self.args.instance_id,
                    pid=os.getpid(),
                    modes=[protocol.ModeInfo(m.name, m.title, m.duration) for m in self.modes],
                    actions=[protocol.ActionInfo(a.name, a.title, a.params) for a in actions],
                    schema=schema,
                    hooks=hooks,
                    distribution=loaded,
                )
            )
        except (TypeError, ValueError, ProtocolError) as exc:
            raise BootError(
                f"modes, actions and config schema must be plain data (JSON-like): {exc}",
                exitcodes.HOOKS_INVALID,
            ) from exc

    def _check_schema(self, schema: Any) -> None:
        """A broken schema is the plugin author's bug: refuse to boot, naming it."""
        from config import PluginSchemaError, check_schema

        if not isinstance(schema, dict):
            raise BootError("config_schema must return a dict or None", exitcodes.HOOKS_INVALID)
        try:
            check_schema(schema, plugin_id=self.args.plugin_id)
        except PluginSchemaError as exc:
            raise BootError(str(exc), exitcodes.HOOKS_INVALID) from exc

    def _trace_before(
        self, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> None:
        self.log.info("calling %s(%s)", hook_name, ", ".join(kwargs))

    def _trace_after(self, outcome: Any, hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        self.log.info("%s returned %r", hook_name, outcome.get_result())

    def wait_for_start(self) -> bool:
        """Wait for the host's ``start`` with config, then run ``setup``.

        :returns: ``False`` if the host said ``stop`` instead (e.g. the config is invalid).
        """
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BootError("no start message from the host", exitcodes.HANDSHAKE_FAILED)
            for message in self.channel.receive_blocking(remaining):
                if isinstance(message, protocol.Stop):
                    return False
                if isinstance(message, protocol.Start):
                    return self._start(message)

    def _validate(
        self, options: Mapping[str, Any], secrets: Mapping[str, Any], sources: protocol.Sources
    ) -> Any:
        """Options and secrets against this plugin's schema (see :mod:`host.worker.validate`).

        The raw secrets are remembered first, so nothing sent afterwards can quote them.
        """
        # Imported here, as _check_schema does: jsonschema costs a worker memory and boot
        # time, and the zygote does not preload it.
        from host.worker.validate import validate

        self.scrubber.remember(dict(secrets))
        # validate_plugin_config never quotes a secret; the scrubber is the second lock.
        return validate(
            self.schema, self.args.plugin_id, options, secrets, sources, self.scrubber.text
        )

    def _start(self, start: protocol.Start) -> bool:
        """Validate the config ``start`` carries; if it fits, set up. ``False``: refused."""
        checked = self._validate(start.options, start.secrets, start.sources)
        if isinstance(checked, list):
            self.channel.send(protocol.Refused(issues=checked))
            return False
        self.channel.send(protocol.Started(config=checked.options))
        self._setup(start, checked.options, checked.secrets)
        return True

    def _setup(
        self, message: protocol.Start, config: dict[str, Any], secrets: dict[str, Any]
    ) -> None:
        self.secrets = dict(message.secrets)
        self.calls.deadlines = message.deadlines
        display = (self.args.width, self.args.height)
        context = PluginContext(
            plugin_id=self.args.plugin_id,
            instance_id=self.args.instance_id,
            width=display[0],
            height=display[1],
            config=config,
            secrets=read_only(secrets),
            data_dir=Path(message.data_dir),
            requests_to_host=self.requests,
            logger=self.log,
        )
        self.context = context
        writer = FrameWriter(self.args.frame_fds, Geometry(*display, self.args.slots))
        self.renderer = Renderer(self.calls, self.channel, context, writer, display)
        self.refresher = Refresher(self.calls, self.channel, context, self._wake)
        self.heartbeat = Heartbeat(self.calls, self.channel, message.heartbeat)
        try:
            self.calls.hook.setup(context=context)
        except SystemExit as exc:
            # A plugin's sys.exit() in setup is a failed setup, whatever its status.
            raise BootError(
                self.scrubber.text(f"setup failed: the plugin called sys.exit({exc.code!r})"),
                exitcodes.SETUP_FAILED,
            ) from None
        except Exception as exc:
            self.report_error("setup", exc)
            raise BootError(
                f"setup failed: {self.scrubber.text(exception_text(exc))}",
                exitcodes.SETUP_FAILED,
            ) from exc
        self.channel.send(protocol.Ready())

    # -- running --------------------------------------------------------------------------

    def serve(self) -> None:
        """The main loop: control messages, due frames, content reports, until ``stop``."""
        renderer, refresher, heartbeat = self.renderer, self.refresher, self.heartbeat
        assert renderer is not None and refresher is not None and heartbeat is not None
        heartbeat.start()
        refresher.start()
        refresher.update_content(self.modes)
        # epoll itself rather than a selectors wrapper: this wait ends every frame, and at
        # a frame a second the wrapper's Python is paid with cold caches (issue 15).
        poller = select.epoll()
        poller.register(self.channel.sock.fileno(), select.EPOLLIN)
        poller.register(self._wake_r, select.EPOLLIN)
        try:
            while True:
                timeout = -1.0
                if renderer.next_due is not None:
                    timeout = max(0.0, renderer.next_due - time.monotonic())
                woken = False
                for fd, _ in poller.poll(timeout):
                    if fd == self._wake_r:
                        os.read(self._wake_r, 4096)
                        woken = True
                        continue
                    for message in self.channel.receive():
                        if not self.handle(message):
                            return
                # A refresh and a redraw request are set before the wake-up pipe is
                # written (:meth:`_wake`): without a wake-up, neither can be pending.
                if woken and refresher.take_refreshed():
                    refresher.update_content(self.modes)
                    # After the content report, so whoever waits for data sees both.
                    self.channel.send(protocol.Refreshed())
                if woken and self.requests.take_redraw() and renderer.active is not None:
                    renderer.render_active(restart=False)
                    continue
                if renderer.next_due is not None and time.monotonic() >= renderer.next_due:
                    renderer.render_due(scheduled=renderer.published_due)
        finally:
            poller.close()

    def handle(self, message: protocol.HostMessage) -> bool:
        """Act on one host message (main thread); ``False`` means stop."""
        renderer, refresher = self.renderer, self.refresher
        assert renderer is not None and refresher is not None and self.context is not None
        match message:
            case protocol.Activate(mode=mode):
                if mode not in {m.name for m in self.modes}:
                    self.channel.send(protocol.Error(hook="activate", message=f"no mode {mode!r}"))
                else:
                    renderer.activate(message)
            case protocol.Deactivate():
                renderer.deactivate()
                self.channel.send(protocol.Deactivated())
            case protocol.Configure():
                if not self._configure(message):
                    return True
                refresher.poke()
                refresher.update_content(self.modes)
                if renderer.active is not None:
                    renderer.render_active(restart=False)
            case protocol.Action():
                self._action(message)
                # An action may give a mode content (the text plugin's notification).
                refresher.update_content(self.modes)
            case protocol.Step(now=now):
                renderer.step(now)
            case protocol.Refresh():
                refresher.poke()
            case protocol.Stop():
                return False
        return True

    def _configure(self, message: protocol.Configure) -> bool:
        """Validate new options; apply them unless it is only a check. ``True``: applied.

        Validation runs under the ``configure`` deadline, so a schema that hangs here is
        ended like any hung hook.
        """
        assert self.context is not None
        secrets = message.secrets if message.secrets is not None else self.secrets
        with self.calls.running("main", "configure"):
            checked = self._validate(message.options, secrets, message.sources)
        if isinstance(checked, list):
            self.channel.send(protocol.Configured(id=message.id, issues=checked))
            return False
        self.channel.send(protocol.Configured(id=message.id, config=checked.options))
        if message.check:
            return False
        self.context.config = checked.options
        self.secrets = dict(secrets)
        self.context.secrets = read_only(checked.secrets)
        try:
            with self.calls.running("main", "configure"):
                self.calls.hook.configure(context=self.context, config=checked.options)
        except Exception as exc:
            self.report_error("configure", exc)
        return True

    def _action(self, message: protocol.Action) -> None:
        try:
            with self.calls.running("main", "handle_action"):
                result = self.calls.hook.handle_action(
                    context=self.context, name=message.name, params=message.params
                )
        except Exception as exc:
            self.report_error("handle_action", exc)
            error = self.scrubber.text(f"{type(exc).__name__}: {exc}")[:65536]
            self.channel.send(protocol.ActionResult(id=message.id, ok=False, error=error))
            return
        try:
            answer = protocol.ActionResult(
                id=message.id, ok=True, result=self.scrubber.data(result)
            )
            self.channel.send(answer)
        except (TypeError, ValueError, ProtocolError) as exc:
            # Nothing was queued: say so instead of dying.
            failure = TypeError(f"handle_action returned something that is not plain data: {exc}")
            self.report_error("handle_action", failure)
            self.channel.send(protocol.ActionResult(id=message.id, ok=False, error=str(failure)))

    def shutdown(self) -> None:
        """``teardown``, then ``bye`` with the CPU the worker's tree used."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.refresher is not None:
            self.refresher.stop()
        if self.context is not None:
            try:
                self.calls.hook.teardown(context=self.context)
            except Exception as exc:
                self.report_error("teardown", exc)
            self.context.close()
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        try:
            self.channel.send(protocol.Bye(cpu=cpu))
        except (EOFError, OSError):
            pass


def _boot_call(hook: str, call: Callable[[], Any]) -> Any:
    """Run a boot hook; anything it raises is a boot failure naming the hook."""
    try:
        return call()
    except BootError:
        raise
    except Exception as exc:
        raise BootError(
            f"{hook} raised {type(exc).__name__}: {exc}", exitcodes.HOOKS_INVALID
        ) from exc
