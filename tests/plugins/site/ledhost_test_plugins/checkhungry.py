"""``ledhost check``: keeps 160 MiB of touched memory from ``setup`` on (a Pi's budget is
far less); draws normally."""

from __future__ import annotations

from typing import Any

from sdk import Canvas, PluginContext, hookimpl

_HOARD: list[bytearray] = []


@hookimpl
def register_modes(register: Any) -> None:
    register("hoard", title="Hoard")


@hookimpl
def setup(context: PluginContext) -> None:
    _HOARD.append(bytearray(b"x" * (160 * 1024 * 1024)))


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.text_centered("hoard", "small", "#ffffff")
