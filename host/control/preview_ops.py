"""Render one mode of a running instance, with its options, through a real worker.

The admin UI's per-mode preview: what the mode looks like now, without waiting for its
turn on the panel. The host never renders plugin content itself and its loop never waits:
the request starts ``ledhost render`` as a child process (the same command a user runs,
which starts a worker of its own, contained like any), and the reply is a
:class:`~host.control.handlers_base.Pending` that the server polls each loop pass until
the child has written its PNG, failed, or run out of time. One preview runs at a time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import tomlkit

from host.control.children import child_env
from host.control.handlers_base import Pending, Refused
from host.ipc import control

#: Longest one preview may take, plugin start-up and first refresh included.
TIMEOUT: Final = 45.0

_running: list[subprocess.Popen[bytes]] = []


def render_preview(host: Any, handle: Any, req: control.RenderMode, now: float) -> Pending:
    """Start rendering ``req.mode`` of ``handle``'s instance at the panel's size."""
    if req.mode not in handle.mode_names():
        modes = ", ".join(handle.mode_names()) or "none yet"
        raise Refused("no_such_mode", f"{req.instance!r} has no mode {req.mode!r} (modes: {modes})")
    if any(p.poll() is None for p in _running):
        raise Refused("busy", "another preview is being rendered; try again in a moment")
    _running.clear()
    width, height = host.cfg.display.width, host.cfg.display.height
    folder = Path(tempfile.mkdtemp(prefix="ledhost-preview-"))
    config = folder / "plugin.toml"
    section = {"plugin": handle.spec.plugin_id, **dict(handle.options)}
    config.write_text(tomlkit.dumps({"plugins": {req.instance: section}}))
    out, errors = folder / "preview.png", folder / "stderr.txt"
    command = [
        sys.executable, "-m", "host", "render", f"{req.instance}:{req.mode}",
        "--out", str(out), "--size", f"{width}x{height}", "--config", str(config),
        "--timeout", str(TIMEOUT - 5),
    ]  # fmt: skip
    for path in handle.spec.paths:
        command += ["--plugin-path", path]
    with errors.open("wb") as err:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            start_new_session=True, env=child_env(host),
        )  # fmt: skip
    _running.append(proc)
    deadline = now + TIMEOUT

    def poll(now: float) -> control.Ok | control.Failed | None:
        code = proc.poll()
        if code is None and now < deadline:
            return None
        try:
            if code is None:
                proc.kill()
                proc.wait(5)
                return control.Failed(code="timeout", message="the preview took too long",
                                      id=req.id)  # fmt: skip
            if code != 0 or not out.exists():
                lines = errors.read_text(errors="replace").strip().splitlines()
                why = lines[-1] if lines else f"ledhost render exited with {code}"
                return control.Failed(code="render_failed", message=why[:2000], id=req.id)
            data = {"width": width, "height": height, "png": out.read_bytes(),
                    "rendered_at": time.time()}  # fmt: skip
            return control.Ok(id=req.id, data=data)
        finally:
            if proc.poll() is not None:
                shutil.rmtree(folder, ignore_errors=True)

    return Pending(poll)
