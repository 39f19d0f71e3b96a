"""The worker's main loop: one plugin's hooks served to the host.

:class:`Worker` says hello, waits for its config, runs ``setup`` and then serves the
host: renders the active mode when a frame falls due and hands frames over through the
frame bus, sends strips and content reports, runs actions, and refreshes data on a thread
of its own, off the render path. Every hook call is wrapped: an exception is reported to
the host with the hook name and traceback, and the worker carries on.

The instance's secrets arrive with ``start`` and ``configure`` and live in
``context.secrets`` only; every text the worker sends back (log records, errors,
tracebacks, action results) has them replaced by ``<redacted>``
(:mod:`host.worker_secrets`).
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host import exitcodes
from host.control import Channel, Message, field
from host.errors import FrameError, ProtocolError
from host.framebus import FrameWriter, Geometry
from host.worker_boot import (
    BootError,
    ChannelLogHandler,
    StreamToLog,
    collect_actions,
    collect_modes,
    distribution_of,
    exception_text,
    load_plugin,
    make_plugin_manager,
)
from host.worker_secrets import SecretScrubber, forget_config_environment, read_only

#: Seconds to wait for the host's ``start`` after ``hello``.
HANDSHAKE_TIMEOUT = 30.0
#: Longest strip accepted from a plugin, in pixels.
MAX_STRIP_WIDTH = 16384


@dataclass(frozen=True)
class WorkerArgs:
    """What a worker needs to start; plain data so it crosses fork, spawn or pickling."""

    plugin_id: str
    instance_id: str
    control_fd: int
    frame_fds: tuple[int, int, int]
    width: int
    height: int
    slots: int
    #: Extra ``sys.path`` entries (a plugin environment's site-packages, test plugins).
    paths: tuple[str, ...] = ()
    #: Only report hello (modes, schema) and exit: ``ledhost plugins`` uses this.
    describe: bool = False
    #: Log every hook call (the ``LEDHOST_TRACE_PLUGINS`` switch).
    trace: bool = False
    #: Memory limit in bytes (0: none); see :func:`host.worker.limit_address_space`.
    memory_limit: int = 0
    #: ``RLIMIT_NOFILE`` for the worker (0: leave as inherited).
    max_open_files: int = 0
    #: Niceness to add.
    nice: int = 0
    #: User and group to switch to when started as root (``None``: keep).
    uid: int | None = None
    gid: int | None = None
    #: Seconds between heartbeats.
    heartbeat: float = 1.0


class Terminated(BaseException):
    """Raised by the worker's SIGTERM handler.

    A ``BaseException``, so plugin code catching ``Exception`` does not swallow it, and
    not ``SystemExit``, so it is told apart from a plugin calling ``sys.exit()``.
    """


#: Which deadline applies to a hook call the worker reports as busy.
REFRESH_HOOKS: frozenset[str] = frozenset({"refresh_data"})


class Worker:
    """The running worker: one plugin, one channel, one frame writer."""

    def __init__(self, args: WorkerArgs) -> None:
        self.args = args
        sock = socket.socket(fileno=args.control_fd)
        self.channel = Channel(sock, peer="host", blocking_send=True)
        self.pm = make_plugin_manager()
        self.log = logging.getLogger(f"ledhost.plugin.{args.instance_id}")
        self.modes: list[dict[str, Any]] = []
        self.context: Any = None
        self.writer: FrameWriter | None = None
        self.active: str | None = None
        self.token = 0
        #: Whether the active mode feeds the host's ticker (``render_strip``'s ``ticker``).
        self.for_ticker = False
        self.frame_index = 0
        self.next_due: float | None = None
        self.content: dict[str, bool] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._redraw = threading.Event()
        self._refresh_wake = threading.Event()
        self._refreshed = threading.Event()
        self._stopping = threading.Event()
        self.heartbeat_interval = args.heartbeat
        #: Hook calls under way, by thread role: ``{"main": ("render_frame", t0)}``.
        #: Read by the heartbeat thread, so the host learns which call hangs and since when.
        self.busy: dict[str, tuple[str, float]] = {}
        #: ``(width, height)`` drawn for the current activation: the display or a region.
        self.size = (args.width, args.height)
        #: Deadlines in seconds by kind ("render", "refresh"), from the host's ``start``.
        self.deadlines: dict[str, float] = {}
        #: Keeps this instance's secrets out of every log line and error sent to the host.
        self.scrubber = SecretScrubber()

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
            {
                "t": "hello",
                "plugin": self.args.plugin_id,
                "instance": self.args.instance_id,
                "pid": os.getpid(),
                "modes": self.modes,
                "actions": actions,
                "schema": schema,
                "hooks": hooks,
                "distribution": distribution_of(self.pm),
            }
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

    def _send_hello(self, hello: Message) -> None:
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
                if message["t"] == "stop":
                    return False
                if message["t"] != "start":
                    continue
                config = field(message, "config", dict)
                secrets = field(message, "secrets", dict)
                self.scrubber.remember(secrets)
                data_dir = Path(field(message, "data_dir", str))
                self.heartbeat_interval = float(message.get("heartbeat", self.heartbeat_interval))
                deadlines = message.get("deadlines")
                if isinstance(deadlines, dict):
                    self.deadlines = {
                        str(k): float(v) for k, v in deadlines.items() if isinstance(v, int | float)
                    }
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
                self.channel.send({"t": "ready"})
                return True

    # -- requests from the plugin (sdk.context.Requests), any thread ---------------------

    def request_redraw(self, mode: str | None) -> None:
        if mode is None or mode == self.active:
            self._redraw.set()
            self._wake()

    def request_interrupt(self, mode: str, priority: int, seconds: float) -> None:
        self.channel.send(
            {"t": "interrupt", "mode": mode, "priority": int(priority), "seconds": float(seconds)}
        )

    def release_interrupt(self, mode: str) -> None:
        self.channel.send({"t": "release", "mode": mode})

    def request_more_time(self, mode: str, seconds: float) -> None:
        self.channel.send({"t": "dwell", "mode": mode, "seconds": float(seconds)})

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    # -- running --------------------------------------------------------------------------

    def report_error(self, hook: str, exc: BaseException) -> None:
        """Tell the host a hook failed; the worker itself carries on.

        Except after a ``MemoryError``: the plugin hit its memory limit and its state is
        unknown, so the worker exits at once with :data:`exitcodes.OVER_MEMORY` (from
        whichever thread saw it) and the host restarts it with backoff.
        """
        out_of_memory = isinstance(exc, MemoryError)
        if out_of_memory:
            text = shown = f"{hook}: MemoryError (over the worker's memory limit)"
        else:
            text = self.scrubber.text("".join(traceback.format_exception(exc)))[-8000:]
            shown = self.scrubber.text(exception_text(exc))
        try:
            self.channel.send(
                {"t": "error", "hook": hook, "message": shown[:1000], "traceback": text}
            )
        finally:
            if out_of_memory:
                os._exit(exitcodes.OVER_MEMORY)

    # -- heartbeats and deadlines ---------------------------------------------------------

    def _enter(self, role: str, hook: str) -> None:
        self.busy[role] = (hook, time.monotonic())

    def _leave(self, role: str) -> None:
        self.busy.pop(role, None)

    def _deadline_of(self, hook: str) -> float | None:
        return self.deadlines.get("refresh" if hook in REFRESH_HOOKS else "render")

    def _beat_loop(self) -> None:
        """Beat every interval, and at once when a call runs past its deadline.

        A thread of its own, so a plugin stuck in a Python loop on the main or refresh
        thread still lets the host hear which call hangs (the GIL is handed over every few
        milliseconds). Code that holds the GIL for good stops the beats as well, which the
        host's heartbeat timeout catches. The parent check is gunicorn's
        ``is_parent_alive``: a re-parented worker exits instead of running orphaned.
        """
        parent = os.getppid()
        reported: set[tuple[str, float]] = set()
        next_beat = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            busy = list(self.busy.values())
            overdue = []
            wake = next_beat
            for hook, started in busy:
                limit = self._deadline_of(hook)
                if limit is None:
                    continue
                if now - started >= limit and (hook, started) not in reported:
                    overdue.append((hook, started))
                elif now - started < limit:
                    wake = min(wake, started + limit + 0.01)
            if now >= next_beat or overdue:
                reported.update(overdue)
                if os.getppid() != parent:
                    os._exit(exitcodes.HOST_GONE)
                try:
                    self.channel.send(
                        {"t": "hb", "busy": [[hook, now - started] for hook, started in busy]}
                    )
                except (OSError, EOFError, ProtocolError):
                    return
                next_beat = now + self.heartbeat_interval
                wake = min(wake, next_beat)
            self._stopping.wait(max(0.005, wake - time.monotonic()))

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
                self.channel.send({"t": "refreshed"})
            if self._redraw.is_set():
                self._redraw.clear()
                if self.active is not None:
                    self._render_active(restart=False)
                    continue
            if self.next_due is not None and time.monotonic() >= self.next_due:
                self._render_frame()

    def handle(self, message: Message) -> bool:
        """Act on one host message; ``False`` means stop."""
        kind = message["t"]
        if kind == "activate":
            mode = field(message, "mode", str)
            self.token = field(message, "token", int)
            self._set_size(message.get("size"))
            self.for_ticker = message.get("ticker") is True
            if mode not in {m["name"] for m in self.modes}:
                self.channel.send(
                    {"t": "error", "hook": "activate", "message": f"no mode {mode!r}"}
                )
                return True
            self.active = mode
            self._render_active(restart=True)
        elif kind == "deactivate":
            self.active = None
            self.next_due = None
        elif kind == "configure":
            config = field(message, "config", dict)
            self.context.config = config
            secrets = message.get("secrets")
            if isinstance(secrets, dict):
                self.scrubber.remember(secrets)
                self.context.secrets = read_only(secrets)
            self._enter("main", "configure")
            try:
                self.pm.hook.configure(context=self.context, config=config)
            except Exception as exc:
                self.report_error("configure", exc)
            finally:
                self._leave("main")
            self._refresh_wake.set()
            self._update_content()
            if self.active is not None:
                self._render_active(restart=False)
        elif kind == "action":
            self._handle_action(message)
        elif kind == "stop":
            return False
        return True

    def _set_size(self, size: Any) -> None:
        """Draw at ``size`` (a layout region) until the next activation, else full size.

        ``context.width`` and ``context.height`` follow, so a plugin that lays out by
        them fits its region.
        """
        width, height = self.args.width, self.args.height
        if (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(v, int) for v in size)
            and 1 <= size[0] <= width
            and 1 <= size[1] <= height
        ):
            width, height = size
        self.size = (width, height)
        if self.context is not None:
            self.context.width, self.context.height = width, height

    def _handle_action(self, message: Message) -> None:
        request_id = message.get("id")
        self._enter("main", "handle_action")
        try:
            result = self.pm.hook.handle_action(
                context=self.context,
                name=field(message, "name", str),
                params=message.get("params") or {},
            )
        except Exception as exc:
            self._leave("main")
            self.report_error("handle_action", exc)
            self.channel.send(
                {
                    "t": "action_result",
                    "id": request_id,
                    "ok": False,
                    "error": self.scrubber.text(f"{type(exc).__name__}: {exc}"),
                }
            )
            return
        self._leave("main")
        try:
            self.channel.send(
                {
                    "t": "action_result",
                    "id": request_id,
                    "ok": True,
                    "result": self.scrubber.data(result),
                }
            )
        except (TypeError, ValueError, ProtocolError) as exc:
            # Encoding failed before anything was queued: say so instead of dying.
            error = TypeError(f"handle_action returned something that is not plain data: {exc}")
            self.report_error("handle_action", error)
            self.channel.send(
                {"t": "action_result", "id": request_id, "ok": False, "error": str(error)}
            )

    def _update_content(self) -> None:
        for mode in self.modes:
            name = mode["name"]
            self._enter("main", "has_content")
            try:
                answer = self.pm.hook.has_content(context=self.context, mode=name)
            except Exception as exc:
                self.report_error("has_content", exc)
                answer = False
            finally:
                self._leave("main")
            has = answer is not False
            if self.content.get(name) != has:
                self.content[name] = has
                self.channel.send({"t": "content", "mode": name, "has": has})

    def _render_active(self, *, restart: bool) -> None:
        """Start showing the active mode: a strip if the plugin draws one, else frames."""
        assert self.active is not None
        if restart:
            self.frame_index = 0
        if self.pm.hook.render_strip.get_hookimpls():
            self._enter("main", "render_strip")
            try:
                strip = self.pm.hook.render_strip(
                    context=self.context,
                    mode=self.active,
                    height=self.size[1],
                    ticker=self.for_ticker,
                )
            except Exception as exc:
                self._leave("main")
                self.report_error("render_strip", exc)
                strip = None
                self.next_due = None
                return
            self._leave("main")
            if strip is not None:
                self.next_due = None
                try:
                    self._send_strip(strip)
                except Exception as exc:
                    self.report_error("render_strip", exc)
                return
        self.next_due = time.monotonic()
        self._render_frame()

    def _send_strip(self, strip: Any) -> None:
        from sdk.canvas import Canvas
        from sdk.strip import Strip

        if not isinstance(strip, Strip) or not isinstance(strip.canvas, Canvas):
            raise TypeError(
                f"render_strip must return an sdk.Strip holding an sdk.Canvas or None, "
                f"not {type(strip).__name__}"
            )
        pixels = strip.canvas.to_array()
        height, width = pixels.shape[:2]
        if height != self.size[1] or not 1 <= width <= MAX_STRIP_WIDTH:
            self.report_error(
                "render_strip",
                FrameError(
                    f"strip of {width}x{height}; it must be {self.size[1]} high and "
                    f"1-{MAX_STRIP_WIDTH} wide"
                ),
            )
            return
        self.channel.send(
            {
                "t": "strip",
                "mode": self.active,
                "token": self.token,
                "width": width,
                "height": height,
                "pixels": pixels.tobytes(),
                "speed": float(strip.speed),
                "gap": strip.gap,
            }
        )

    def _render_frame(self) -> None:
        from sdk.canvas import Canvas

        assert self.active is not None and self.writer is not None
        canvas = Canvas(*self.size)
        due = self.next_due or time.monotonic()
        now = time.time() + (due - time.monotonic())
        self._enter("main", "render_frame")
        try:
            delay = self.pm.hook.render_frame(
                context=self.context,
                canvas=canvas,
                mode=self.active,
                frame=self.frame_index,
                now=now,
            )
            pixels = canvas.to_array()
            full = self.size == (self.args.width, self.args.height)
            self.writer.publish(pixels, self.token, None if full else self.size)
        except Exception as exc:
            self.report_error("render_frame", exc)
            self.next_due = None
            return
        finally:
            self._leave("main")
        self.frame_index += 1
        if isinstance(delay, int | float) and delay >= 0:
            # Schedule from when this frame was due, not from now, so timing doesn't drift.
            self.next_due = max(due + max(float(delay), 0.001), time.monotonic() - 1.0)
        else:
            self.next_due = None

    def _refresh_loop(self) -> None:
        """Call ``refresh_data`` on the plugin's own schedule, on this thread only."""
        failures = 0
        while not self._stopping.is_set():
            wait: float | None
            try:
                # Not firstresult: pluggy returns the list of non-None answers.
                self._enter("refresh", "refresh_data")
                try:
                    answers = self.pm.hook.refresh_data(context=self.context)
                finally:
                    self._leave("refresh")
                failures = 0
                delays = [float(d) for d in answers if isinstance(d, int | float)]
                wait = max(min(delays), 0.1) if delays else None
            except Exception as exc:
                self.report_error("refresh_data", exc)
                failures += 1
                wait = min(300.0, 5.0 * 2 ** min(failures, 6))
            self._refreshed.set()
            self._wake()
            self._refresh_wake.wait(timeout=wait)
            self._refresh_wake.clear()

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
            self.channel.send({"t": "bye", "cpu": cpu})
        except (EOFError, OSError):
            pass
