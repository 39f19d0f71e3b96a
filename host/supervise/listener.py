"""What the display side of the host hears from the supervisor.

A protocol of its own module, so the supervisor and its messenger (which both call it)
and the host (which implements it) need not import one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from host.ipc.framebus import Frame
from host.ipc.strip import StripImage
from host.supervise.handle import WorkerHandle

__all__ = ["FrameCollector", "Listener"]


class Listener(Protocol):
    """Called on the host's loop thread for what workers do."""

    def on_hello(self, handle: WorkerHandle) -> None:
        """The worker said what it offers (modes, schema)."""

    def on_state(self, handle: WorkerHandle) -> None:
        """The worker's state changed (started, running, ended)."""

    def on_content(self, handle: WorkerHandle) -> None:
        """A mode of the worker gained or lost content."""

    def on_frame(self, handle: WorkerHandle, frame: Frame) -> None:
        """A frame of the active mode arrived."""

    def on_strip(self, handle: WorkerHandle, strip: StripImage) -> None:
        """A strip of the active mode arrived."""

    def on_interrupt(
        self, handle: WorkerHandle, mode: str, priority: int, seconds: float | None
    ) -> None:
        """The plugin asked to interrupt the rotation (``seconds`` ``None``: release)."""

    def on_dwell(self, handle: WorkerHandle, mode: str, seconds: float) -> None:
        """The plugin asked for more time on screen."""


@dataclass
class FrameCollector:
    """A :class:`Listener` that keeps the frames and the last strip of one worker.

    For the commands that run one plugin and look at what it drew (``ledhost render``,
    ``ledhost check``); the rest of what a worker does is of no interest to them.
    """

    frames: list[np.ndarray] = field(default_factory=list)
    strip: StripImage | None = None

    def on_hello(self, handle: WorkerHandle) -> None: ...
    def on_state(self, handle: WorkerHandle) -> None: ...
    def on_content(self, handle: WorkerHandle) -> None: ...
    def on_dwell(self, handle: WorkerHandle, mode: str, seconds: float) -> None: ...
    def on_interrupt(
        self, handle: WorkerHandle, mode: str, priority: int, seconds: float | None
    ) -> None: ...

    def on_frame(self, handle: WorkerHandle, frame: Frame) -> None:
        self.frames.append(frame.pixels.copy())

    def on_strip(self, handle: WorkerHandle, strip: StripImage) -> None:
        self.strip = strip
