"""``ledhost check``: keeps 100 MiB of touched memory from ``setup`` on (a Pi 4's budget
for a plugin is 64 MiB; the host's kill limit, 256 MiB, is not reached); draws normally."""

from __future__ import annotations

from typing import Any

from sdk import Canvas, PluginContext, hookimpl

_HOARD: list[bytearray] = []
_SIZE = 100 * 1024 * 1024


@hookimpl
def register_modes(register: Any) -> None:
    register("hoard", title="Hoard")


@hookimpl
def setup(context: PluginContext) -> None:
    hoard = bytearray(_SIZE)
    hoard[::4096] = b"x" * (_SIZE // 4096)  # touch every page: resident, not just mapped
    _HOARD.append(hoard)


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.text_centered("hoard", "small", "#ffffff")
