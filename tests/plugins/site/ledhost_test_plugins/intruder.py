"""Attacks another plugin instance, the host's secrets and ledhost's code when asked.

The bad behaviour, for ``tests/test_hostile_priv.py``: action ``attack`` tries, each for
real, to read and write the victim instance's data folder (option ``victim_data``),
signal (SIGSTOP) and ``PTRACE_ATTACH`` the victim's worker (``victim_pid``), open the
victim's frame memfd through ``/proc/<pid>/fd`` and paint into it, read ``secret_file``,
and create a file in ``code_dir`` and in ``/etc``. It returns ``{attack: "ok" | error}``.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

PTRACE_ATTACH = 16


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("still")


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register("attack", title="Attack the victim, the secrets and ledhost's code")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "victim_pid": {"type": "integer"},
            "victim_data": {"type": "string"},
            "secret_file": {"type": "string"},
            "code_dir": {"type": "string"},
        },
    }


@hookimpl
def render_frame(canvas: Canvas) -> float | None:
    canvas.clear((255, 0, 0))
    return None


def _try(attempt: Callable[[], object]) -> str:
    try:
        attempt()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return "ok"


def _ptrace(pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _paint(pid: int) -> None:
    for name in os.listdir(f"/proc/{pid}/fd"):
        if os.readlink(f"/proc/{pid}/fd/{name}").startswith("/memfd:"):
            with open(f"/proc/{pid}/fd/{name}", "r+b") as f:
                f.write(b"\xff" * 4096)
            return
    raise OSError(0, "no memfd seen")


def _plant(folder: str) -> None:
    path = Path(folder) / "ledhost_intruder_was_here.py"
    path.write_text("pwned = True\n")


@hookimpl
def handle_action(context: PluginContext, name: str) -> dict[str, Any] | None:
    if name != "attack":
        return None
    config = context.config
    pid = int(config["victim_pid"])
    data = Path(str(config["victim_data"]))
    return {
        "read_data": _try(lambda: os.listdir(data)),
        "write_data": _try(lambda: (data / "evil").write_text("x")),
        "signal": _try(lambda: os.kill(pid, signal.SIGSTOP)),
        "ptrace": _try(lambda: _ptrace(pid)),
        "paint": _try(lambda: _paint(pid)),
        "secrets": _try(lambda: Path(str(config["secret_file"])).read_bytes()),
        "code": _try(lambda: _plant(str(config["code_dir"]))),
        "etc": _try(lambda: _plant("/etc")),
    }
