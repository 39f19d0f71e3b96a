"""One plugin in a real worker for ``ledhost dev``: frames, logs, errors, reloads.

:class:`DevSession` drives a :class:`~host.supervise.supervisor.Supervisor` with one
worker on a thread of its own (the same supervisor, limits and protocol as on the panel;
spawned, so every start imports the plugin's files afresh). It keeps what the page shows
(the newest frame, the plugin's log and errors, the modes, schema and config) behind one
lock, and takes requests from the web threads (pick a mode, apply a config, reload) as
callables queued to its loop, so only the loop thread ever touches the supervisor.

A file change (:class:`~host.author.devwatch.SourceWatcher`) retires the worker and
starts a new one with the config in effect; a crash is shown and the supervisor's
restart policy applies, and the session itself never ends because of the plugin.

Interface: ``DevSession(resolve, width=, height=, options=, rules=, data_dir=)``,
:meth:`~DevSession.start`, :meth:`~DevSession.stop`, :meth:`~DevSession.status`,
:meth:`~DevSession.wait_frame`, :meth:`~DevSession.set_mode`,
:meth:`~DevSession.configure`, :meth:`~DevSession.reload`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
import selectors
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np

from host.author.devwatch import SourceWatcher, forget_bytecode
from host.author.target import Target
from host.display.compositor import Compositor
from host.errors import HostError
from host.ipc.framebus import Frame, Geometry
from host.ipc.strip import StripImage
from host.supervise.handle import WorkerHandle
from host.supervise.rules import WorkerRules
from host.supervise.spawner import SpawnLauncher
from host.supervise.states import WorkerState
from host.supervise.supervisor import Supervisor

__all__ = ["DevSession"]

log = logging.getLogger(__name__)

#: Events (log lines, errors, reloads, state changes) the page can scroll back through.
MAX_EVENTS: Final = 500
#: Seconds between two scans of the plugin's files.
POLL_EVERY: Final = 0.25
#: Frames a second at most when the host scrolls a strip for the page.
STRIP_FPS: Final = 30.0
#: Seconds a configure request waits for the worker's answer.
CONFIGURE_TIMEOUT: Final = 15.0


class DevSession:
    """A plugin under development, running in a real worker, watched for changes.

    :param resolve: finds the plugin again (called at start and on every reload, so a
        changed ``pyproject.toml`` is read again).
    :param options: the plugin's options at start (its config section, raw).
    """

    def __init__(
        self,
        resolve: Callable[[], Target],
        *,
        width: int,
        height: int,
        options: dict[str, Any],
        rules: WorkerRules,
        data_dir: Path,
        debounce: float = 0.3,
    ) -> None:
        self.resolve = resolve
        self.width, self.height = width, height
        self.options = dict(options)
        #: Values of the schema's ``writeOnly`` options, as a secrets file would hold them.
        self.secrets: dict[str, Any] = {}
        self.target = resolve()
        self.watcher = SourceWatcher(self.target.watch, debounce)
        self._lock = threading.Condition()
        self._events: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_EVENTS)
        self._event_seq = 0
        self._frame: np.ndarray = np.zeros((height, width, 3), dtype=np.uint8)
        self._frame_seq = 0
        self._strip: StripImage | None = None
        self._strip_since = 0.0
        self._compositor = Compositor(width, height)
        self._commands: collections.deque[Callable[[], None]] = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledhost-dev", daemon=True)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.sup = Supervisor(
            launcher=SpawnLauncher(),
            geometry=Geometry(width, height),
            selector=self._selector,
            listener=self,
            data_dir=data_dir,
            rules=rules,
        )
        self.handle: WorkerHandle | None = None
        self.mode: str | None = None
        self.reloads = 0
        self._log_seq = 0
        self._last_error: tuple[str | None, float | None] = (None, None)
        #: Configure requests waiting for their answer: ``(request id, future)``.
        self._configuring: list[tuple[WorkerHandle, int, concurrent.futures.Future[Any]]] = []

    # -- lifecycle (any thread) -----------------------------------------------------------

    def start(self) -> None:
        """Start the worker and the loop thread."""
        self._call(self._start_worker)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker (teardown, then the stop ladder) and the loop thread."""
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=30.0)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- what the web threads ask ---------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Everything the page shows but the frame, as plain data."""
        with self._lock:
            handle = self.handle
            return {
                "plugin": self.target.spec.plugin_id,
                "distribution": self.target.spec.distribution,
                "source": self.target.spec.source,
                "width": self.width,
                "height": self.height,
                "state": handle.state.value if handle is not None else "stopped",
                "modes": handle.modes if handle is not None else [],
                "mode": self.mode,
                # has_content per mode, as the worker last said (the rotation would skip
                # a mode without).
                "content": dict(handle.content) if handle is not None else {},
                "schema": handle.schema if handle is not None else None,
                "config": handle.config if handle is not None else None,
                "options": self.options,
                "last_error": handle.last_error if handle is not None else None,
                "traceback": handle.last_traceback if handle is not None else None,
                "last_exit": handle.last_exit if handle is not None else None,
                "reloads": self.reloads,
                "frame_seq": self._frame_seq,
                "event_seq": self._event_seq,
                "events": list(self._events),
            }

    def wait_frame(self, seq: int, event_seq: int, timeout: float) -> tuple[Any, int, int]:
        """Wait until a frame newer than ``seq`` or an event newer than ``event_seq``.

        :returns: ``(pixels or None, frame seq, event seq)``; pixels only if newer.
        """
        with self._lock:
            self._lock.wait_for(
                lambda: self._frame_seq != seq or self._event_seq != event_seq or self.closed,
                timeout,
            )
            pixels = self._frame.copy() if self._frame_seq != seq else None
            return pixels, self._frame_seq, self._event_seq

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def frame(self) -> tuple[np.ndarray, int]:
        """The newest frame and its number."""
        with self._lock:
            return self._frame.copy(), self._frame_seq

    def set_mode(self, mode: str) -> None:
        """Show ``mode`` from now on (and after reloads).

        :raises ValueError: the plugin has no such mode.
        """
        with self._lock:
            names = self.handle.mode_names() if self.handle is not None else []
        if mode not in names:
            raise ValueError(f"no mode {mode!r} (modes: {', '.join(names) or 'none yet'})")

        def switch() -> None:
            self.mode = mode
            self._activate()

        self._call(switch)

    def configure(
        self, options: dict[str, Any], secrets: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Validate ``options`` in the worker and apply them; kept across reloads.

        A plugin that is not running (its last config was refused, it crashed) is started
        again with them instead: its worker checks them at start, and a refusal shows
        as its error.

        :param secrets: values for some of the schema's ``writeOnly`` options; the others
            keep theirs (``None``: keep all).
        :returns: ``{"config": validated}``, ``{"restarted": True}`` or ``{"issues":
            [{"key", "message"}...]}``.
        :raises HostError: no answer in time.
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if secrets is not None:
            secrets = {**self.secrets, **secrets}  # typed ones replace, the rest stay

        def send() -> None:
            handle = self.handle
            if handle is None or handle.state is not WorkerState.RUNNING:
                self.options = dict(options)
                if secrets is not None:
                    self.secrets = dict(secrets)
                self._reload("config changed while the plugin was not running")
                future.set_result(None)
                return
            request = self.sup.configure(handle, options, secrets)
            self._configuring.append((handle, request, future))

        self._call(send)
        try:
            answer = future.result(CONFIGURE_TIMEOUT)
        except concurrent.futures.TimeoutError:
            raise HostError("the plugin did not answer the new config in time") from None
        if answer is None:
            return {"restarted": True}
        if answer.issues:
            return {"issues": [{"key": i.key, "message": i.message} for i in answer.issues]}
        self.options = dict(options)
        if secrets is not None:
            self.secrets = dict(secrets)
        self._event("config", "config applied")
        return {"config": answer.config}

    def reload(self, why: str = "reload asked") -> None:
        """Start a fresh worker (the plugin's files imported again)."""
        self._call(lambda: self._reload(why))

    # -- the loop thread ------------------------------------------------------------------

    def _call(self, command: Callable[[], None]) -> None:
        self._commands.append(command)
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _other(self, key: selectors.SelectorKey) -> None:
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass

    def _run(self) -> None:
        next_poll = 0.0
        try:
            while not self._stop.is_set():
                while self._commands:
                    self._commands.popleft()()
                now = time.monotonic()
                if now >= next_poll:
                    next_poll = now + POLL_EVERY
                    changed = self.watcher.poll(now)
                    if changed:
                        shown = ", ".join(os.path.basename(p) for p in changed[:3])
                        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                        self._reload(f"changed: {shown}{more}")
                wake = min(next_poll, self.sup.next_wakeup())
                if self._strip is not None:
                    wake = min(wake, now + 1.0 / STRIP_FPS)
                self.sup.run_once(max(0.0, wake - time.monotonic()), other=self._other)
                self._after_pass()
        except Exception:  # noqa: BLE001 - shown, not fatal to the dev server
            log.exception("ledhost dev: the session loop failed")
            self._event("error", "the dev session loop failed; see the terminal")
        finally:
            self.sup.stop_all(graceful_timeout=3.0)
            with self._lock:
                self._lock.notify_all()

    def _start_worker(self) -> None:
        forget_bytecode(self.watcher.sources())
        handle = WorkerHandle(
            instance_id=self.target.spec.plugin_id,
            spec=self.target.spec,
            options=self.options,
            secrets=self.secrets,
        )
        with self._lock:
            self.handle = handle
            self._strip = None
            self._last_error = (None, None)
        self.sup.start_soon(handle, time.monotonic())

    def _reload(self, why: str) -> None:
        try:
            target = self.resolve()
        except HostError as exc:
            self._event("error", f"reload failed: {exc}")
            return
        old = self.handle
        if old is not None:
            self.sup.retire(old, time.monotonic())
        self.target = target
        self.reloads += 1
        self._event("reload", f"reloading ({why})")
        self._start_worker()

    def _activate(self) -> None:
        handle = self.handle
        if handle is None or handle.state is not WorkerState.RUNNING:
            return
        names = handle.mode_names()
        if not names:
            return
        if self.mode not in names:
            self.mode = names[0]
        with self._lock:
            self._strip = None
        self.sup.activate(handle, self.mode)
        self._event("state", f"showing mode {self.mode!r}")

    def _after_pass(self) -> None:
        """Logs, errors and configure answers since the last pass; the strip's next step."""
        handle = self.handle
        if handle is None:
            return
        plugin_log = self.sup.logs.get(handle.instance_id)
        if plugin_log is not None:
            for record in plugin_log.records(self._log_seq):
                self._log_seq = record.seq
                level = logging.getLevelName(record.level)
                self._event("log", f"{level} {record.logger}: {record.message}", record.time)
        error = (handle.last_error, handle.last_error_at)
        if error != self._last_error and handle.last_error is not None:
            self._last_error = error
            self._event("error", handle.last_error, traceback=handle.last_traceback)
        for item in list(self._configuring):
            owner, request, future = item
            answer = owner.config_answers.get(request)
            if answer is not None or owner.process is None:
                self._configuring.remove(item)
                if answer is None:
                    future.set_exception(HostError("the worker ended before it answered"))
                else:
                    future.set_result(answer)
        strip = self._strip
        if strip is not None:
            offset = int((time.monotonic() - self._strip_since) * strip.speed)
            self._publish(self._compositor.compose_strip(strip, offset))

    def _publish(self, pixels: np.ndarray) -> None:
        with self._lock:
            if pixels.shape != self._frame.shape:
                frame = np.zeros_like(self._frame)
                h, w = min(pixels.shape[0], self.height), min(pixels.shape[1], self.width)
                frame[:h, :w] = pixels[:h, :w]
                pixels = frame
            elif np.array_equal(pixels, self._frame):
                return
            self._frame = pixels.copy()
            self._frame_seq += 1
            self._lock.notify_all()

    def _event(
        self, kind: str, text: str, at: float | None = None, traceback: str | None = None
    ) -> None:
        with self._lock:
            self._event_seq += 1
            event: dict[str, Any] = {
                "seq": self._event_seq,
                "kind": kind,
                "time": time.time() if at is None else at,
                "text": text,
            }
            if traceback:
                event["traceback"] = traceback
            self._events.append(event)
            self._lock.notify_all()

    # -- supervisor listener (loop thread) -------------------------------------------------

    def on_hello(self, handle: WorkerHandle) -> None:
        self._event("state", "plugin loaded; setting up")

    def on_state(self, handle: WorkerHandle) -> None:
        if handle is not self.handle:
            return
        text = f"worker {handle.state.value}"
        if handle.state is not WorkerState.RUNNING and handle.last_exit:
            text += f": {handle.last_exit}"
        self._event("state", text)
        if handle.state is WorkerState.RUNNING:
            self._activate()

    def on_content(self, handle: WorkerHandle) -> None: ...

    def on_dwell(self, handle: WorkerHandle, mode: str, seconds: float) -> None: ...

    def on_interrupt(
        self, handle: WorkerHandle, mode: str, priority: int, seconds: float | None
    ) -> None:
        if seconds is not None:
            self._event("state", f"the plugin asks to interrupt with {mode!r} for {seconds:g}s")

    def on_frame(self, handle: WorkerHandle, frame: Frame) -> None:
        if handle is self.handle:
            self._publish(frame.pixels)

    def on_strip(self, handle: WorkerHandle, strip: StripImage) -> None:
        if handle is self.handle:
            with self._lock:
                self._strip = strip
                self._strip_since = time.monotonic()
