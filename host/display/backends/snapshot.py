"""Record what a backend showed and write it as an LED-look GIF or PNG when it closes.

A snapshot is how a headless run (CI, a laptop, a bug report) shows what the panel would
have shown. The GIF is timed from the ``at`` of each push, so a clock that pushes once a
second plays back at one frame a second, not at a fixed frame rate.

GIF delays are whole centiseconds, and browsers treat delays under 20 ms as 100 ms, which
would make fast content play back five times too slowly. So pushes are placed on the
centisecond grid as they arrive, and a push less than 20 ms after the previous GIF frame
replaces that frame's pixels (the newest push in the bin wins) instead of starting a new
one. Every frame then lasts at least 20 ms and the total duration stays that of the run.

Recording is capped in time and memory, because a host left running for a week with a
snapshot path must not eat the Pi's RAM: past either cap it stops recording, logs one
warning, and the snapshot ends at that point.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

from host.display.backends.base import BackendError
from host.display.backends.ledlook import DEFAULT_SCALE, led_image

log = logging.getLogger(__name__)

FORMATS = {".gif": "GIF", ".png": "PNG"}
"""Snapshot suffix -> Pillow format."""

MIN_FRAME_CS = 2
"""Shortest GIF frame, in centiseconds: browsers show shorter delays as 100 ms."""

MAX_FRAME_CS = 65535
"""Longest GIF frame: the delay field is 16 bits of centiseconds (about 11 minutes)."""

MAX_SECONDS = 600.0
"""Default cap on the recorded span, from the first push."""

MAX_BYTES = 256 * 1024 * 1024
"""Default cap on memory: recorded copies plus what Pillow holds to encode them."""


def snapshot_format(path: Path) -> str:
    """Return the Pillow format for ``path``, or raise :class:`BackendError`.

    Called when the backend opens, so a typo in the path fails at start, not after an
    hour's run when the snapshot is written.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BackendError(
            f"snapshot {str(path)!r}: unsupported extension {path.suffix!r}; use .gif or .png"
        )
    parent = path.parent
    if not parent.is_dir():
        raise BackendError(f"snapshot {str(path)!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BackendError(f"snapshot {str(path)!r}: folder {str(parent)!r} is not writable")
    return fmt


def atomic_save(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it.

    A snapshot cut short (crash, full disk, power loss) leaves the old file or none, never
    half an image. The temporary name is hidden and unique so two hosts never collide.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fp:
            write(fp)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # the rename is done; making it durable is best effort
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_png(frame: np.ndarray, path: Path, scale: int = DEFAULT_SCALE) -> None:
    """Write ``frame`` in LED look as a PNG, atomically."""
    image = led_image(frame, scale)
    atomic_save(path, lambda fp: image.save(fp, format="PNG"))


class SnapshotRecorder:
    """Keep copies of pushed frames with their times; write them out once, on :meth:`write`.

    For a PNG only the last frame is kept. For a GIF each kept frame is a pair of its start
    on the centisecond grid and a private copy of its pixels (the host reuses the buffer it
    pushes, so keeping a reference would record the wrong pixels).

    :param clock: where the end of the last frame comes from at :meth:`write`; tests pass
        a fixed value so they can push frames with synthetic times.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        scale: int = DEFAULT_SCALE,
        max_seconds: float = MAX_SECONDS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.format = snapshot_format(self.path)
        self.width = width
        self.height = height
        self.scale = scale
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self._clock = clock
        self._t0: float | None = None
        self._starts: list[int] = []
        self._frames: list[np.ndarray] = []
        self._stopped_at: float | None = None
        # A kept frame costs its copy plus the palette image Pillow holds per GIF frame.
        self._frame_cost = width * height * 3 + width * height * scale * scale

    @property
    def frame_count(self) -> int:
        """How many frames the snapshot holds so far."""
        return len(self._frames)

    def add(self, frame: np.ndarray, at: float) -> None:
        """Record ``frame``, shown from monotonic time ``at`` until the next push."""
        if self._stopped_at is not None:
            return
        if self.format == "PNG":
            if self._frames:
                np.copyto(self._frames[0], frame)
            else:
                self._frames.append(frame.copy())
            return
        if self._t0 is None:
            self._t0 = at
        if at - self._t0 > self.max_seconds:
            self._stop(at, f"{self.max_seconds:g} s of recording")
            return
        last_start = self._starts[-1] if self._starts else 0
        start = max(round((at - self._t0) * 100), last_start)
        if self._frames and start - last_start < MIN_FRAME_CS:
            np.copyto(self._frames[-1], frame)  # same 20 ms bin: the newest push wins
            return
        if self._frames and np.array_equal(self._frames[-1], frame):
            return  # unchanged: the previous frame simply lasts longer
        if (len(self._frames) + 1) * self._frame_cost > self.max_bytes:
            self._stop(at, f"the memory cap of {self.max_bytes // 2**20} MiB")
            return
        self._starts.append(start)
        self._frames.append(frame.copy())

    def _stop(self, at: float, reason: str) -> None:
        self._stopped_at = at
        log.warning(
            "snapshot %s: stopped recording after %d frames (%s); the snapshot ends there",
            self.path,
            len(self._frames),
            reason,
        )

    def durations_ms(self) -> list[int]:
        """Return each GIF frame's duration in milliseconds (multiples of 10, at least 20).

        The last frame lasts until recording stopped, or until now (the close).
        """
        if not self._frames or self._t0 is None:
            return [MIN_FRAME_CS * 10]
        end_at = self._stopped_at if self._stopped_at is not None else self._clock()
        end = max(round((end_at - self._t0) * 100), self._starts[-1] + MIN_FRAME_CS)
        bounds = [*self._starts, end]
        return [min(b - a, MAX_FRAME_CS) * 10 for a, b in itertools.pairwise(bounds)]

    def write(self) -> None:
        """Write the snapshot (atomically); an empty recording gives one black frame."""
        frames = self._frames or [np.zeros((self.height, self.width, 3), dtype=np.uint8)]
        if self.format == "PNG":
            save_png(frames[-1], self.path, self.scale)
            return
        durations = self.durations_ms()
        # Images are made one at a time as Pillow consumes them, so only Pillow's palette
        # copies (counted in the memory cap), not full RGB images, pile up while encoding.
        images: Iterator[Image.Image] = (led_image(f, self.scale) for f in frames)
        first = next(images)

        def write_gif(fp: IO[bytes]) -> None:
            first.save(
                fp,
                format="GIF",
                save_all=True,
                append_images=images,
                duration=durations,
                loop=0,
                disposal=1,
            )

        atomic_save(self.path, write_gif)
