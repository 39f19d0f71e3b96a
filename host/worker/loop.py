"""The worker's main loop: one plugin's hooks served to the host.

:class:`Worker` says hello, waits for its config, runs ``setup`` and then serves the
host: renders the active mode when a frame falls due and hands frames over through the
frame bus, sends strips and content reports, runs actions, and refreshes data on a thread
of its own, off the render path. Every hook call is wrapped: an exception is reported to
the host with the hook name and traceback, and the worker carries on.

The instance's secrets arrive with ``start`` and ``configure`` and live in
``context.secrets`` only; every text the worker sends back (log records, errors,
tracebacks, action results) has them replaced by ``<redacted>``
(:mod:`host.worker.secrets`).

The worker is split by concept into mixins that :class:`Worker` puts together, so that
no module outgrows STYLE.md rule 21: :mod:`host.worker.core` (shared state, hook-call
bookkeeping, heartbeats, error reports), :mod:`host.worker.render` (frames and strips),
:mod:`host.worker.refresh` (``refresh_data`` and content reports) and
:mod:`host.worker.messages` (host messages, plugin requests). This module keeps the
lifecycle: boot, the handshake, the main loop and shutdown.
"""

from __future__ import annotations

import logging
import os
import selectors
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from host.errors import ProtocolError
from host.ipc import exitcodes, protocol
from host.ipc.framebus import FrameWriter, Geometry
from host.worker.boot import (
    BootError,
    ChannelLogHandler,
    StreamToLog,
    collect_actions,
    collect_modes,
    distribution_of,
    exception_text,
    load_plugin,
)
from host.worker.messages import MessageMixin
from host.worker.secrets import forget_config_environment, read_only

__all__ = ["HANDSHAKE_TIMEOUT", "Terminated", "Worker"]

#: Seconds to wait for the host's ``start`` after ``hello``.
HANDSHAKE_TIMEOUT = 30.0


class Terminated(BaseException):
    """Raised by the worker's SIGTERM handler.

    A ``BaseException``, so plugin code catching ``Exception`` does not swallow it, and
    not ``SystemExit``, so it is told apart from a plugin calling ``sys.exit()``.
    """


class Worker(MessageMixin):
    """The running worker: one plugin, one channel, one frame writer."""

    # -- boot ---------------------------------------------------------------------------

    def boot(self) -> None:
        """Load the plugin, say hello; unless describing, wait for config and set up."""
        handler = ChannelLogHandler(self.channel)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(self.scrubber)
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        sys.stdout = StreamToLog(self.log, logging.INFO)
        sys.stderr = StreamToLog(self.log, logging.WARNING)
        for path in reversed(self.args.paths):
            if path not in sys.path:
                sys.path.insert(0, path)
        # Before any plugin code runs: a config variable may hold another plugin's secret.
        forget_config_environment()
        load_plugin(self.pm, self.args.plugin_id)
        if self.args.trace:
            self.pm.add_hookcall_monitoring(self._trace_before, self._trace_after)
        self.modes = self._boot_call("register_modes", lambda: collect_modes(self.pm))
        actions = self._boot_call("register_actions", lambda: collect_actions(self.pm))
        schema = self._boot_call("config_schema", lambda: self.pm.hook.config_schema())
        if schema is not None:
            self._check_schema(schema)
        hooks = sorted(
            name
            for name in self.pm.hook.__dict__
            if not name.startswith("_") and getattr(self.pm.hook, name).get_hookimpls()
        )
        self._send_hello(
            protocol.Hello(
                plugin=self.args.plugin_id,
                instance=self.args.instance_id,
                pid=os.getpid(),
                modes=[
                    protocol.ModeInfo(name=m.name, title=m.title, duration=m.duration)
                    for m in self.modes
                ],
                actions=[
                    protocol.ActionInfo(name=a.name, title=a.title, params=a.params)
                    for a in actions
                ],
                schema=schema,
                hooks=hooks,
                distribution=distribution_of(self.pm),
            )
        )

    def _check_schema(self, schema: Any) -> None:
        """A broken schema is the plugin author's bug: refuse to boot, naming it."""
        from config import PluginSchemaError, check_schema

        if not isinstance(schema, dict):
            raise BootError("config_schema must return a dict or None", exitcodes.HOOKS_INVALID)
        try:
            check_schema(schema, plugin_id=self.args.plugin_id)
        except PluginSchemaError as exc:
            raise BootError(str(exc), exitcodes.HOOKS_INVALID) from exc

    def _send_hello(self, hello: protocol.Hello) -> None:
        try:
            self.channel.send(hello)
        except (TypeError, ValueError, ProtocolError) as exc:
            raise BootError(
                f"modes, actions and config schema must be plain data (JSON-like): {exc}",
                exitcodes.HOOKS_INVALID,
            ) from exc

    def _boot_call(self, hook: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except BootError:
            raise
        except Exception as exc:
            raise BootError(
                f"{hook} raised {type(exc).__name__}: {exc}", exitcodes.HOOKS_INVALID
            ) from exc

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
        from sdk.context import PluginContext

        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BootError("no start message from the host", exitcodes.HANDSHAKE_FAILED)
            for message in self.channel.receive_blocking(remaining):
                if isinstance(message, protocol.Stop):
                    return False
                if not isinstance(message, protocol.Start):
                    continue
                config, secrets = message.config, message.secrets
                self.scrubber.remember(secrets)
                data_dir = Path(message.data_dir)
                self.heartbeat_interval = message.heartbeat
                self.deadlines = message.deadlines
                self.context = PluginContext(
                    plugin_id=self.args.plugin_id,
                    instance_id=self.args.instance_id,
                    width=self.args.width,
                    height=self.args.height,
                    config=config,
                    secrets=read_only(secrets),
                    data_dir=data_dir,
                    requests_to_host=self,
                    logger=self.log,
                )
                self.writer = FrameWriter(
                    self.args.frame_fds,
                    Geometry(self.args.width, self.args.height, self.args.slots),
                )
                try:
                    self.pm.hook.setup(context=self.context)
                except SystemExit as exc:
                    # A plugin's sys.exit() in setup is a failed setup, whatever its status.
                    raise BootError(
                        self.scrubber.text(
                            f"setup failed: the plugin called sys.exit({exc.code!r})"
                        ),
                        exitcodes.SETUP_FAILED,
                    ) from None
                except Exception as exc:
                    self.report_error("setup", exc)
                    raise BootError(
                        f"setup failed: {self.scrubber.text(exception_text(exc))}",
                        exitcodes.SETUP_FAILED,
                    ) from exc
                self.channel.send(protocol.Ready())
                return True

    # -- running --------------------------------------------------------------------------

    def serve(self) -> None:
        """The main loop: control messages, due frames, heartbeats, until ``stop``."""
        threading.Thread(target=self._beat_loop, name="heartbeat", daemon=True).start()
        refresher = threading.Thread(target=self._refresh_loop, name="refresh", daemon=True)
        if self.pm.hook.refresh_data.get_hookimpls():
            refresher.start()
        self._update_content()
        selector = selectors.DefaultSelector()
        selector.register(self.channel.sock, selectors.EVENT_READ, "control")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        while True:
            timeout = None
            if self.next_due is not None:
                timeout = max(0.0, self.next_due - time.monotonic())
            for key, _ in selector.select(timeout):
                if key.data == "wake":
                    os.read(self._wake_r, 4096)
                    continue
                for message in self.channel.receive():
                    if not self.handle(message):
                        return
            if self._refreshed.is_set():
                self._refreshed.clear()
                self._update_content()
                # After the content report, so whoever waits for data sees both.
                self.channel.send(protocol.Refreshed())
            if self._redraw.is_set():
                self._redraw.clear()
                if self.active is not None:
                    self._render_active(restart=False)
                    continue
            if self.next_due is not None and time.monotonic() >= self.next_due:
                self._render_frame()

    def shutdown(self) -> None:
        self._stopping.set()
        self._refresh_wake.set()
        if self.context is not None:
            try:
                self.pm.hook.teardown(context=self.context)
            except Exception as exc:
                self.report_error("teardown", exc)
            self.context.close()
        self._send_bye()

    def _send_bye(self) -> None:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        try:
            self.channel.send(protocol.Bye(cpu=cpu))
        except (EOFError, OSError):
            pass
