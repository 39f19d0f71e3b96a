"""``ledhost harness``: one plugin in a real worker, driven step by step over stdin/stdout.

This is how :mod:`sdk.testing` runs a plugin author's tests through the same worker the
panel uses (import, schema check, containment, the frame bus) without importing anything
of the host: the SDK starts ``python -m host harness TARGET`` and talks JSON lines. It is a
small, stable interface, versioned by ``protocol`` in the first answer; a later version
only adds operations and fields.

Every request is one JSON object on one line; every answer is one JSON object on one
line, in order. Each answer has ``"ok"``; ``false`` comes with ``"error"`` (text) and,
for a config, ``"issues"`` (``[{"key", "message"}]``). Each answer also carries
``"logs"`` (the plugin's log lines since the last answer: ``{"level", "logger",
"message"}``) and ``"errors"`` (hooks that raised since then: ``{"hook", "message",
"traceback"}``).

- ``{"op": "start", "size": [w, h], "config": {...}, "secrets": {...}}``, first and once:
  boots the worker, validates the config as the host does, runs ``setup`` and waits for
  the first ``refresh_data``. Answer: ``protocol``, ``plugin``, ``modes``, ``actions``,
  ``hooks``, ``schema``, ``config`` (validated, defaults filled), ``content``.
- ``{"op": "configure", "config": {...}}``: ``configure``, then the ``refresh_data`` the
  worker runs after every config change; answer ``config`` and ``content``, or
  ``ok: false`` and ``issues`` (the running config is kept).
- ``{"op": "refresh"}``: one ``refresh_data`` now; answer ``content``.
- ``{"op": "has_content", "mode": m}``: answer ``has`` (the worker's last report).
- ``{"op": "render", "mode": m, "frames": n, "now": t}``: activates ``m`` and renders
  ``n`` frames, the first at ``t`` and each next one at ``t`` plus the delays the frames
  asked for (a still frame keeps the time). Answer ``frames``: ``[{"rgb": base64 of
  height*width*3 bytes, "width", "height", "now", "delay"}]``; or, for a mode drawn as
  a strip, ``strip``: ``{"rgb", "width", "height", "speed", "gap"}`` and no frames.
- ``{"op": "action", "name": a, "params": {...}}``: answer ``result``.
- ``{"op": "stop"}``: ``teardown``, then the worker exits; answer, then this command ends.

End of input stops the worker too. A worker that dies or hangs (past ``--timeout``) ends
the session with ``ok: false``.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

import msgspec

from host.discovery import PluginSpec
from host.errors import HostError, ProtocolError
from host.ipc import protocol
from host.ipc.channel import Channel
from host.ipc.framebus import FrameBus, Geometry
from host.ipc.workerargs import WorkerArgs
from host.supervise.rules import WorkerRules
from host.supervise.spawner import LaunchRequest, SpawnLauncher, WorkerProcess

__all__ = ["PROTOCOL", "HarnessSession", "serve"]

#: The version of the JSON-lines interface above.
PROTOCOL: Final = 1
#: Most frames one ``render`` may ask for.
MAX_FRAMES: Final = 1000


class HarnessError(HostError):
    """The request cannot be done (bad request, or the worker failed)."""


class HarnessSession:
    """One worker, started by :meth:`start`, driven one request at a time."""

    def __init__(
        self, spec: PluginSpec, rules: WorkerRules, data_dir: Path, timeout: float
    ) -> None:
        self.spec = spec
        self.rules = rules
        self.data_dir = data_dir
        self.timeout = timeout
        self.process: WorkerProcess | None = None
        self.channel: Channel[protocol.WorkerMessage] | None = None
        self.bus: FrameBus | None = None
        self.selector = selectors.DefaultSelector()
        self.hello: protocol.Hello | None = None
        self.content: dict[str, bool] = {}
        self.logs: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self._inbox: list[protocol.WorkerMessage] = []
        self._token = 0
        self._requests = 0
        #: The worker died or hung: the session answers this request and ends.
        self.failed = False
        #: Why the worker's channel or process ended, once it did.
        self._gone: str | None = None

    # -- the worker ---------------------------------------------------------------------

    def start(
        self, width: int, height: int, config: dict[str, Any], secrets: dict[str, Any]
    ) -> dict[str, Any]:
        if self.process is not None:
            raise HarnessError("the plugin is started already (start comes once)")
        refusal = self.rules.refusal(self.spec.source)
        if refusal is not None:
            raise HarnessError(refusal)
        host_sock, worker_sock = socket.socketpair()
        self.bus = FrameBus(self.spec.plugin_id, Geometry(width, height))
        containment = self.rules.containment()
        args = WorkerArgs(
            plugin_id=self.spec.plugin_id,
            instance_id=self.spec.plugin_id,
            control_fd=worker_sock.fileno(),
            frame_fds=self.bus.worker_fds(),
            width=width,
            height=height,
            paths=self.spec.paths,
            distribution=self.spec.distribution,
            location=self.spec.location,
            network=self.spec.network,
            **containment,
        )
        data = self.data_dir / self.spec.plugin_id
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if args.uid is not None and os.geteuid() == 0:
            os.chown(data, args.uid, args.gid if args.gid is not None else args.uid)
        try:
            self.process = SpawnLauncher().launch(LaunchRequest(args, self.spec.python))
        finally:
            worker_sock.close()
        self.channel = Channel(
            host_sock, peer=f"plugin {self.spec.plugin_id!r}", decode=protocol.decode_from_worker
        )
        self.selector.register(host_sock, selectors.EVENT_READ, "control")
        self.selector.register(self.process.sentinel, selectors.EVENT_READ, "exit")
        self.hello = self._expect(protocol.Hello, "boot")
        self.channel.send(
            protocol.Start(
                options=config,
                secrets=secrets,
                sources=protocol.Sources(where=f"plugins.{self.spec.plugin_id}"),
                data_dir=str(data),
                heartbeat=self.rules.heartbeat,
                deadlines=protocol.Deadlines(
                    render=self.rules.render_timeout, refresh=self.rules.refresh_timeout
                ),
            )
        )
        answer = self._expect((protocol.Started, protocol.Refused), "config check")
        if isinstance(answer, protocol.Refused):
            self.failed = True  # the worker exits: nothing more can be asked of it
            return self._refused(answer.issues)
        self._expect(protocol.Ready, "setup")
        if "refresh_data" in self.hello.hooks:
            self._expect(protocol.Refreshed, "the first refresh_data")
        return {
            "ok": True,
            "protocol": PROTOCOL,
            "plugin": self.hello.plugin,
            "modes": msgspec.to_builtins(self.hello.modes),
            "actions": msgspec.to_builtins(self.hello.actions),
            "hooks": list(self.hello.hooks),
            "schema": self.hello.schema,
            "config": answer.config,
            "content": self._content(),
        }

    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel()
        self._requests += 1
        request = self._requests
        channel.send(
            protocol.Configure(
                id=request,
                options=config,
                sources=protocol.Sources(where=f"plugins.{self.spec.plugin_id}"),
            )
        )
        answer = self._expect(protocol.Configured, "configure", lambda m: m.id == request)
        if answer.issues:
            return self._refused(answer.issues)
        if self.hello is not None and "refresh_data" in self.hello.hooks:
            # The worker refreshes after every config change: answer once that is done,
            # so the content (and a later refresh) are the new config's.
            self._expect(protocol.Refreshed, "refresh_data after configure")
        return {"ok": True, "config": answer.config, "content": self._content()}

    def refresh(self) -> dict[str, Any]:
        if self.hello is None or "refresh_data" not in self.hello.hooks:
            raise HarnessError("the plugin does not implement refresh_data")
        # A refresh reported before this request is not the one asked for.
        self._inbox = [m for m in self._inbox if not isinstance(m, protocol.Refreshed)]
        self._channel().send(protocol.Refresh())
        self._expect(protocol.Refreshed, "refresh_data")
        return {"ok": True, "content": self._content()}

    def has_content(self, mode: str) -> dict[str, Any]:
        self._check_mode(mode)
        return {"ok": True, "has": self.content.get(mode, True)}

    def render(self, mode: str, frames: int, now: float) -> dict[str, Any]:
        self._check_mode(mode)
        if not 1 <= frames <= MAX_FRAMES:
            raise HarnessError(f"frames: 1-{MAX_FRAMES}, not {frames}")
        channel, bus = self._channel(), self.bus
        assert bus is not None
        self._token += 1
        token = self._token
        channel.send(protocol.Activate(mode=mode, token=token, stepped=True))
        rendered: list[dict[str, Any]] = []
        for _ in range(frames):
            channel.send(protocol.Step(now=now))
            answer = self._expect(
                (protocol.Stepped, protocol.Strip),
                "render_frame",
                lambda m: not isinstance(m, protocol.Strip) or m.token == token,
            )
            if isinstance(answer, protocol.Strip):
                self._expect(protocol.Stepped, "render_frame")  # the step that followed
                strip = {
                    "rgb": base64.b64encode(answer.pixels).decode(),
                    "width": answer.width,
                    "height": answer.height,
                    "speed": answer.speed,
                    "gap": answer.gap,
                }
                channel.send(protocol.Deactivate())
                return {"ok": True, "frames": [], "strip": strip}
            if not answer.ok:
                error = self.errors[-1]["message"] if self.errors else "render_frame failed"
                raise HarnessError(f"render_frame of {mode!r} failed: {error}")
            frame, problems = bus.poll()
            if frame is None:
                why = "; ".join(str(p) for p in problems) or "no frame arrived"
                raise HarnessError(f"render_frame of {mode!r}: {why}")
            rendered.append(
                {
                    "rgb": base64.b64encode(frame.pixels.tobytes()).decode(),
                    "width": int(frame.pixels.shape[1]),
                    "height": int(frame.pixels.shape[0]),
                    "now": now,
                    "delay": answer.delay,
                }
            )
            now += answer.delay or 0.0
        channel.send(protocol.Deactivate())
        return {"ok": True, "frames": rendered, "strip": None}

    def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.hello is None or name not in {a.name for a in self.hello.actions}:
            known = [a.name for a in self.hello.actions] if self.hello else []
            raise HarnessError(f"no action {name!r}; the plugin registered {known}")
        self._requests += 1
        request = self._requests
        self._channel().send(protocol.Action(id=request, name=name, params=params))
        answer = self._expect(protocol.ActionResult, "handle_action", lambda m: m.id == request)
        if not answer.ok:
            raise HarnessError(f"handle_action {name!r} failed: {answer.error}")
        return {"ok": True, "result": answer.result}

    def stop(self) -> None:
        """``teardown`` and exit; SIGKILL to the worker's group if it does not go."""
        process = self.process
        if process is None:
            return
        try:
            if self.channel is not None and process.poll() is None:
                self.channel.send(protocol.Stop())
                end = time.monotonic() + self.rules.stop_timeout
                while process.poll() is None and time.monotonic() < end:
                    self._pump(0.05)
        except (OSError, EOFError, ProtocolError, HarnessError):
            pass
        process.signal_group(9)
        while process.poll() is None:
            time.sleep(0.005)
        process.close()
        self.process = None
        if self.channel is not None:
            self.channel.close()
        if self.bus is not None:
            self.bus.close()
        self.selector.close()

    # -- plumbing -----------------------------------------------------------------------

    def take_notes(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Log lines and hook errors since the last call."""
        logs, errors = self.logs, self.errors
        self.logs, self.errors = [], []
        return logs, errors

    def _channel(self) -> Channel[protocol.WorkerMessage]:
        if self.channel is None or self.hello is None:
            raise HarnessError("start the plugin first")
        return self.channel

    def _check_mode(self, mode: str) -> None:
        self._channel()  # started first
        names = [m.name for m in self.hello.modes] if self.hello else []
        if mode not in names:
            raise HarnessError(f"no mode {mode!r}; the plugin registered {names}")

    def _content(self) -> dict[str, bool]:
        names = [m.name for m in self.hello.modes] if self.hello else []
        return {name: self.content.get(name, True) for name in names}

    def _refused(self, issues: list[protocol.Issue]) -> dict[str, Any]:
        listed = [{"key": i.key, "message": i.message} for i in issues]
        text = "; ".join(f"{i.key}: {i.message}" for i in issues)
        return {"ok": False, "error": f"invalid config: {text}", "issues": listed}

    def _expect(
        self,
        kinds: Any,
        what: str,
        match: Callable[[Any], bool] | None = None,
    ) -> Any:
        """Wait for the first message of ``kinds`` (that ``match`` accepts); note the rest."""
        deadline = time.monotonic() + self.timeout
        while True:
            # Notes first: an error reported before the answer belongs with it.
            self._inbox = [m for m in self._inbox if not self._note(m)]
            for index, message in enumerate(self._inbox):
                if isinstance(message, kinds) and (match is None or match(message)):
                    del self._inbox[index]
                    return message
            if self._gone is not None:
                self._ended()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.failed = True
                raise HarnessError(f"the plugin did not finish {what} within {self.timeout:g}s")
            self._pump(remaining)

    def _pump(self, timeout: float) -> None:
        """Read what arrived within ``timeout``; note (not raise) that the worker ended.

        An exit can be seen before the last messages are read (the selector reports both
        at once): what the worker sent before it ended is read first, so a refused
        config is answered as such, not as a dead worker.
        """
        assert self.channel is not None and self.process is not None
        if self._gone is not None:
            time.sleep(min(timeout, 0.05))  # nothing more will come; the caller polls the exit
            return
        for key, _ in self.selector.select(timeout):
            if key.data == "control":
                try:
                    self._inbox.extend(self.channel.receive())
                except (EOFError, ProtocolError) as exc:
                    self._gone = str(exc)
            elif self.process.poll() is not None:
                try:
                    while got := self.channel.receive_blocking(0.2):
                        self._inbox.extend(got)
                except (EOFError, ProtocolError, OSError):
                    pass
                self._gone = "it exited"

    def _ended(self) -> None:
        self.failed = True
        fatal = [e["message"] for e in self.errors if e.get("fatal")]
        why = fatal[-1] if fatal else self._gone or "it exited"
        raise HarnessError(f"the plugin's worker ended: {why}")

    def _note(self, message: protocol.WorkerMessage) -> bool:
        """Keep what is reported on its own (logs, errors, content); ``True``: consumed."""
        match message:
            case protocol.Log(level=level, logger=logger, msg=text):
                self.logs.append({"level": level, "logger": logger, "message": text})
            case protocol.Error(hook=hook, message=text, traceback=tb, fatal=fatal):
                self.errors.append({"hook": hook, "message": text, "traceback": tb, "fatal": fatal})
            case protocol.Content(mode=mode, has=has):
                self.content[mode] = has
            case protocol.Heartbeat() | protocol.Deactivated() | protocol.Bye():
                pass
            case _:
                return False
        return True


def _handle(session: HarnessSession, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "start":
        size = request.get("size", [64, 32])
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(isinstance(v, int) and 1 <= v <= 1024 for v in size)
        ):
            raise HarnessError("size: [width, height], each 1-1024")
        return session.start(
            size[0], size[1], _object(request, "config"), _object(request, "secrets")
        )
    if op == "configure":
        return session.configure(_object(request, "config"))
    if op == "refresh":
        return session.refresh()
    if op == "has_content":
        return session.has_content(_text(request, "mode"))
    if op == "render":
        frames, now = request.get("frames", 1), request.get("now")
        if not isinstance(frames, int) or isinstance(frames, bool):
            raise HarnessError("frames: an integer")
        if not isinstance(now, int | float) or isinstance(now, bool) or not 0 <= now <= 1e11:
            raise HarnessError("now: epoch seconds (a number)")
        return session.render(_text(request, "mode"), frames, float(now))
    if op == "action":
        return session.action(_text(request, "name"), _object(request, "params"))
    raise HarnessError(f"unknown op {op!r}")


def _object(request: dict[str, Any], key: str) -> dict[str, Any]:
    value = request.get(key, {})
    if not isinstance(value, dict):
        raise HarnessError(f"{key}: a JSON object")
    return value


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise HarnessError(f"{key}: a string")
    return value


def serve(session: HarnessSession, stdin: IO[str], stdout: IO[str]) -> int:
    """Answer requests until ``stop``, end of input, or the worker's end."""
    try:
        for line in stdin:
            if not line.strip():
                continue
            op = None
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise HarnessError("each request is a JSON object")
                op = request.get("op")
                if op == "stop":
                    session.stop()
                    answer: dict[str, Any] = {"ok": True}
                else:
                    answer = _handle(session, request)
            except json.JSONDecodeError as exc:
                answer = {"ok": False, "error": f"not JSON: {exc}"}
            except HarnessError as exc:
                answer = {"ok": False, "error": str(exc)}
            logs, errors = session.take_notes()
            answer.update(logs=logs, errors=errors)
            stdout.write(json.dumps(answer) + "\n")
            stdout.flush()
            if op == "stop" or session.failed:
                break
    finally:
        session.stop()
    return 0


def main_loop(session: HarnessSession) -> int:
    """:func:`serve` on this process's stdin and stdout.

    The answers get a descriptor of their own and file descriptor 1 becomes stderr, so
    nothing a plugin's worker (or a program it starts) writes to its inherited stdout can
    end up inside the JSON stream.
    """
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        return serve(session, sys.stdin, answers)
    finally:
        answers.close()
