"""Reports what its worker process inherited, for ``tests/test_zygote.py``.

The action ``inspect`` returns the worker's open descriptors (number -> what
``/proc/self/fd`` says they are), its cwd, its ``sys.path``, whether a module named
``ledhost_planted`` could be imported, its parent pid, the modules of ledhost's own packages
it holds (``tests/test_lean_host.py``) and whether SIGHUP has its default action. The
action ``scribble`` writes junk into every descriptor above stdio (its own channel too, so
the host may well end it): a plugin trying to disturb whatever it inherited.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl


def _fds() -> dict[str, str]:
    found = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found[name] = os.readlink(f"/proc/self/fd/{name}")
    return found


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("still")


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register("inspect", title="What this process inherited")
    register("scribble", title="Write junk into every inherited descriptor")


@hookimpl
def render_frame(canvas: Canvas) -> float | None:
    canvas.clear((0, 0, 64))
    return None


@hookimpl
def handle_action(context: PluginContext, name: str) -> dict[str, Any] | None:
    if name == "inspect":
        return {
            "fds": _fds(),
            "cwd": os.getcwd(),
            "path": list(sys.path),
            "planted": importlib.util.find_spec("ledhost_planted") is not None,
            "ppid": os.getppid(),
            "ledhost_modules": sorted(
                m for m in sys.modules if m.split(".")[0] in ("host", "store", "web", "config")
            ),
            "sighup_default": signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,
        }
    if name == "scribble":
        took = 0
        for fd in (int(n) for n in _fds()):
            if fd > 2:
                with contextlib.suppress(OSError):
                    os.set_blocking(fd, False)  # a full pipe must not hang the test
                    os.write(fd, b"\x00garbage\xff" * 64)
                    took += 1
        return {"took": took}
    return None
