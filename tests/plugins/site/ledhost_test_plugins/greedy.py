"""Tries to hold the screen forever (issue 13, attack 8), once per data folder.

It writes raw ``Interrupt`` messages into its channel, past what the SDK allows:
priority 2**31-1 and 1e9 s, for more modes than the host lets one instance queue. It
does so only on its first start (a marker in its data folder), so a test can tell
whether its interrupts outlive a restart.
"""

from __future__ import annotations

from typing import Any

from host.ipc import protocol
from sdk import Canvas, PluginContext, hookimpl

MODES = ("a", "b", "c", "d", "e")


@hookimpl
def register_modes(register: Any) -> None:
    for mode in MODES:
        register(mode, duration=1.0)


@hookimpl
def setup(context: PluginContext) -> None:
    marker = context.data_dir / "asked"
    if marker.exists():
        return
    marker.write_text("once")
    channel = context._requests.channel  # type: ignore[attr-defined]  # as an attacker would
    for mode in MODES:
        channel.send(protocol.Interrupt(mode=mode, priority=2**31 - 1, seconds=1e9))


@hookimpl
def render_frame(canvas: Canvas) -> None:
    canvas.image.paste((0, 0, 255), (0, 0, canvas.width, canvas.height))
