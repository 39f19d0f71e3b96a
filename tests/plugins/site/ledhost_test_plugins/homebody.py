"""Writes ``~/.cache/x`` as a library that caches would, and says where it landed.

For ``tests/test_hostile_priv.py`` (issue 13): a worker running as a uid of its own has no
passwd entry and so no home; the host makes the instance's own data folder its ``HOME``
(and ``XDG_CACHE_HOME``, ``XDG_CONFIG_HOME`` below it). ``HOME`` is read at import, as a
library imported at module level would; ``setup`` writes ``~/.cache/x`` through
``os.path.expanduser`` and into ``$XDG_CACHE_HOME``. Action ``where`` returns what
happened: ``{"home_at_import", "home", "xdg_cache", "xdg_config", "cache_file",
"written", "uid", "mode", "file_mode"}`` (``written``: ``"ok"`` or the error; the modes
of ``~/.cache`` and of the file).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

#: What ``HOME`` was when the plugin was imported (before any hook ran).
HOME_AT_IMPORT = os.environ.get("HOME")
_report: dict[str, Any] = {}


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("still")


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register("where", title="Where ~/.cache/x landed")


@hookimpl
def setup(context: PluginContext) -> None:
    path = os.path.expanduser("~/.cache/x")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("cached\n")
        with open(os.path.join(os.environ["XDG_CACHE_HOME"], "y"), "w") as f:
            f.write("cached\n")
        written = "ok"
    except (OSError, KeyError) as exc:
        written = f"{type(exc).__name__}: {exc}"
    _report.update(
        home_at_import=HOME_AT_IMPORT,
        home=os.environ.get("HOME"),
        xdg_cache=os.environ.get("XDG_CACHE_HOME"),
        xdg_config=os.environ.get("XDG_CONFIG_HOME"),
        cache_file=path,
        written=written,
        uid=os.getuid(),
        mode=os.stat(os.path.dirname(path)).st_mode & 0o777 if written == "ok" else None,
        file_mode=os.stat(path).st_mode & 0o777 if written == "ok" else None,
    )


@hookimpl
def handle_action(name: str, params: dict[str, Any]) -> dict[str, Any]:
    return dict(_report)


@hookimpl
def render_frame(canvas: Canvas) -> float | None:
    canvas.clear((0, 0, 255))
    return None
