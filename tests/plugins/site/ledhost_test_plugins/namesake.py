"""Reports which files ledhost's own package names mean inside its worker.

For ``tests/test_namesafe.py``, which puts a plugin path holding packages named ``config``
and ``sdk`` (and ``store``, ``web``) beside it: the action ``whoami`` imports each of
ledhost's top-level packages, as a plugin may, and returns ``{name: __file__}`` plus the
worker's ``sys.path``, so the test can see from inside the worker which ones won.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

#: ledhost's top-level packages (``host.namesafe.OWN_PACKAGES``, not imported here: a
#: plugin sees only what any plugin would).
NAMES = ("config", "host", "plugins_builtin", "sdk", "store", "web")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("still")


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register("whoami", title="Which files ledhost's package names mean here")


@hookimpl
def render_frame(canvas: Canvas) -> float | None:
    canvas.clear((0, 64, 0))
    return None


@hookimpl
def handle_action(context: PluginContext, name: str) -> dict[str, Any] | None:
    if name != "whoami":
        return None
    files: dict[str, str | None] = {}
    for package in NAMES:
        try:
            files[package] = getattr(importlib.import_module(package), "__file__", None)
        except Exception as exc:  # noqa: BLE001 - what happened is the answer
            files[package] = f"{type(exc).__name__}: {exc}"
    return {"files": files, "path": list(sys.path)}
