"""The headless backend: no panel, frames only counted, kept for the preview and recorded.

It is what ``auto`` picks off a Pi (a laptop, CI, a container), so a host without a panel
still runs every plugin and composites every frame; a snapshot GIF or PNG shows what the
panel would have shown.
"""

from __future__ import annotations

import numpy as np

from host.display.backends.snapshot import SnapshotRecorder


def check_frame(frame: np.ndarray, width: int, height: int) -> None:
    """Raise ``ValueError`` unless ``frame`` is a ``(height, width, 3)`` uint8 array.

    Cheap, and it turns a compositor bug into one clear line instead of a Pillow or
    rgbmatrix error (or a silently garbled panel).
    """
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
        raise ValueError(
            f"frame must be ({height}, {width}, 3) uint8 for this display, "
            f"got {frame.shape} {frame.dtype}"
        )


class HeadlessBackend:
    """Accept frames without a panel.

    :param recorder: records pushes for a snapshot written on :meth:`close`, or ``None``.
    """

    name = "headless"

    def __init__(
        self, *, width: int, height: int, recorder: SnapshotRecorder | None = None
    ) -> None:
        self.width = width
        self.height = height
        self.recorder = recorder
        self.frames_pushed = 0
        self.last_push_at: float | None = None
        self._last = np.zeros((height, width, 3), dtype=np.uint8)
        self._closed = False

    @property
    def last_frame(self) -> np.ndarray:
        """A read-only view of the newest frame (black before the first push)."""
        view = self._last.view()
        view.setflags(write=False)
        return view

    def push(self, frame: np.ndarray, at: float) -> None:
        """Count ``frame``, keep a copy of it as the newest, and record it for a snapshot."""
        if self._closed:
            raise RuntimeError("push() on a closed headless backend")
        check_frame(frame, self.width, self.height)
        np.copyto(self._last, frame)
        self.frames_pushed += 1
        self.last_push_at = at
        if self.recorder is not None:
            self.recorder.add(frame, at)

    def close(self) -> None:
        """Write the snapshot, if any; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        if self.recorder is not None:
            self.recorder.write()
