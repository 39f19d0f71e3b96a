"""Render one mode of a running instance, with its options, through a real worker.

The admin UI's per-mode preview: what the mode looks like now, without waiting for its
turn on the panel. The host never renders plugin content itself and its loop never waits:
the request starts ``ledhost render`` as a child process (the same command a user runs,
which starts a worker of its own, contained like any), and the reply is a
:class:`~host.control.handlers_base.Pending` that the server polls each loop pass until
the child has written its PNG, failed, or run out of time. One preview runs at a time.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import tomlkit

from host.control.children import command, last_error, outputs, pending_reply, spawn
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
    argv = command(
        "render", f"{req.instance}:{req.mode}", "--out", str(folder / "preview.png"),
        "--size", f"{width}x{height}", "--config", str(config), "--timeout", str(TIMEOUT - 5),
    )  # fmt: skip
    for path in handle.spec.paths:
        argv += ["--plugin-path", path]
    proc, _ = spawn(host, argv, "", folder)
    _running.append(proc)

    def done(code: int, folder: Path) -> control.Ok | control.Failed:
        png = folder / "preview.png"
        if code != 0 or not png.exists():
            why = last_error(outputs(folder)[1], code)
            return control.Failed(code="render_failed", message=why, id=req.id)
        data = {"width": width, "height": height, "png": png.read_bytes(),
                "rendered_at": time.time()}  # fmt: skip
        return control.Ok(id=req.id, data=data)

    return pending_reply(req.id, proc, folder, now + TIMEOUT, "the preview took too long", done)
