"""A plugin in a real ledhost worker, driven from a plugin author's pytest.

Part of :mod:`sdk.testing` (import it from there). :class:`WorkerRunner` runs the plugin
exactly as the panel would (its own process, its schema checked and defaults filled by
the worker, contained like any worker, frames through shared memory) by starting the
``ledhost harness`` command and talking to it over JSON lines (the interface is
documented in ``docs/testing_plugins.md``). The SDK imports nothing of the host: the
command is the whole interface, so a test written against it keeps working across host
releases of the same major version.

Time is a fake clock: every render is given its ``now``, and each next frame's time is
``now`` plus the delay the previous frame asked for, so a clock plugin draws the same
digits on every run::

    from sdk.testing import WorkerRunner, assert_matches_golden

    def test_clock_face():
        with WorkerRunner(".", size=(64, 32), config={"format": "24h"}) as plugin:
            (frame,) = plugin.render("main", now=1767225600.0)
            assert_matches_golden(frame.pixels, GOLDEN / "main_64x32.png")

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import IO, Any

import numpy as np

from sdk.rendered import Frame
from sdk.runnerbase import Runner

__all__ = ["DEFAULT_NOW", "WorkerError", "WorkerRunner"]

#: The fake clock's default: 2026-01-01 00:00:00 UTC, a Thursday.
DEFAULT_NOW = 1767225600.0
#: Environment variable naming the command that runs ``ledhost`` (default: this Python's
#: ``-m host``), e.g. ``ledhost`` or ``/opt/ledhost/bin/ledhost``.
COMMAND_ENV = "LEDHOST_COMMAND"


class WorkerError(RuntimeError):
    """The plugin failed in its worker (or the request was refused).

    :ivar issues: for a config the schema refuses, ``[{"key", "message"}]``.
    :ivar errors: the hooks that raised, each ``{"hook", "message", "traceback"}``.

    .. versionadded:: 0.1
    """

    def __init__(
        self, message: str, issues: list[dict[str, str]], errors: list[dict[str, Any]]
    ) -> None:
        tracebacks = [e["traceback"] for e in errors if e.get("traceback")]
        super().__init__(message + ("\n\n" + tracebacks[-1] if tracebacks else ""))
        self.issues = issues
        self.errors = errors


class WorkerRunner(Runner):
    """One plugin in a real worker: ``setup``, a first ``refresh_data``, then requests.

    :param target: the plugin project folder (with ``pyproject.toml``; it need not be
        installed), a wheel, or an installed plugin's id.
    :param size: the panel ``(width, height)``.
    :param config: the plugin's options; the worker validates them and fills defaults
        exactly as the host does.
    :param secrets: its secrets (``writeOnly`` options), as the secrets file would hold.
    :param plugin_paths: more folders of plugin distributions (``--plugin-path``).
    :param timeout: seconds one request may take (a hung hook fails the test).
    :param command: the ``ledhost`` command (default: ``$LEDHOST_COMMAND`` or
        ``python -m host``).
    :raises WorkerError: the plugin did not start (import error, invalid config, setup
        raised); the message names why, with the worker's traceback.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        size: tuple[int, int] = (64, 32),
        config: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
        plugin_paths: Sequence[str | os.PathLike[str]] = (),
        timeout: float = 60.0,
        command: Sequence[str] | None = None,
    ) -> None:
        self.size = size
        self._start = {
            "op": "start",
            "size": list(size),
            "config": dict(config or {}),
            "secrets": dict(secrets or {}),
        }
        argv = list(command) if command else _command()
        argv += ["harness", str(target), "--timeout", str(timeout)]
        for folder in plugin_paths:
            argv += ["--plugin-path", str(folder)]
        self._argv = argv
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        #: The plugin's log lines so far: ``{"level", "logger", "message"}``.
        self.logs: list[dict[str, Any]] = []
        #: Hooks that raised so far: ``{"hook", "message", "traceback"}``.
        self.errors: list[dict[str, Any]] = []
        #: Filled by :meth:`start`: registered modes, actions, implemented hooks, the
        #: schema, the validated config, and ``has_content`` per mode.
        self.modes: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.hooks: list[str] = []
        self.schema: dict[str, Any] | None = None
        self.config: dict[str, Any] = {}
        self.content: dict[str, bool] = {}

    def start(self) -> None:
        """Start the worker: validate the config, ``setup``, the first ``refresh_data``."""
        if self._proc is not None:
            return
        # stderr to a file, not a pipe: the plugin's own prints (its worker inherits it)
        # must never fill a pipe nobody reads and stall the worker.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        try:
            answer = self._ask(self._start)
        except BaseException:
            self.close()
            raise
        self.modes, self.actions = answer["modes"], answer["actions"]
        self.hooks, self.schema = answer["hooks"], answer["schema"]
        self.config, self.content = answer["config"], answer["content"]

    def configure(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Send a new config through ``configure``; returns it validated, defaults filled.

        :raises WorkerError: the schema refuses it (``issues`` names each key); the
            running config is kept.
        """
        answer = self._ask({"op": "configure", "config": dict(config)})
        self.config, self.content = answer["config"], answer["content"]
        return dict(self.config)

    def refresh(self) -> None:
        """Run ``refresh_data`` once more, now; :attr:`content` is updated after it."""
        self.content = self._ask({"op": "refresh"})["content"]

    def has_content(self, mode: str) -> bool:
        """What the host concludes from ``has_content`` (only ``False`` means no)."""
        return bool(self._ask({"op": "has_content", "mode": mode})["has"])

    def render(self, mode: str, *, frames: int = 1, now: float = DEFAULT_NOW) -> list[Frame]:
        """Render ``frames`` frames of ``mode`` with a fake clock starting at ``now``.

        Each next frame is rendered at ``now`` plus the delays the frames before it asked
        for (a still frame, ``None``, keeps the time), with ``frame`` counting from 0 as
        the host counts it. For a mode drawn as a strip, use :meth:`render_strip`.

        :raises WorkerError: ``render_frame`` raised (with its traceback), or the mode is a
            strip.
        """
        answer = self._ask({"op": "render", "mode": mode, "frames": frames, "now": now})
        if answer["strip"] is not None:
            raise WorkerError(
                f"mode {mode!r} is drawn as a strip; use render_strip()", [], self.errors
            )
        return [
            Frame(pixels=_pixels(f), delay=f["delay"], now=float(f["now"]))
            for f in answer["frames"]
        ]

    def render_strip(self, mode: str) -> np.ndarray | None:
        """The strip ``mode`` draws (``(height, strip width, 3)``), or ``None`` if it
        renders frames instead."""
        answer = self._ask({"op": "render", "mode": mode, "frames": 1, "now": DEFAULT_NOW})
        strip = answer["strip"]
        return None if strip is None else _pixels(strip)

    def action(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call ``handle_action`` for a registered action; return its result."""
        return self._ask({"op": "action", "name": name, "params": dict(params or {})})["result"]

    def close(self) -> None:
        """``teardown`` and end the worker (killed if it does not stop in time)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.write(json.dumps({"op": "stop"}) + "\n")
                proc.stdin.close()
                proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise WorkerError("the runner is not started (use it as a context manager)", [], [])
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:
            line = ""
        if not line:
            proc.wait()
            stderr = ""
            if self._stderr is not None:
                self._stderr.seek(0)
                stderr = self._stderr.read().strip()[-4000:]
            raise WorkerError(
                f"ledhost harness ended (status {proc.returncode}): {stderr or 'no message'}",
                [],
                self.errors,
            )
        answer: dict[str, Any] = json.loads(line)
        self.logs.extend(answer.get("logs", []))
        self.errors.extend(answer.get("errors", []))
        if not answer.get("ok"):
            raise WorkerError(
                answer.get("error", "failed"), answer.get("issues", []), answer.get("errors", [])
            )
        return answer


def _command() -> list[str]:
    configured = os.environ.get(COMMAND_ENV, "").split()
    return configured or [sys.executable, "-m", "host"]


def _pixels(item: Mapping[str, Any]) -> np.ndarray:
    raw = base64.b64decode(item["rgb"])
    return np.frombuffer(raw, dtype=np.uint8).reshape(item["height"], item["width"], 3).copy()
