"""A follower's slice of a wall of panels: frames from the leader, shown at their instant.

On a wall (``[sync] wall_width`` / ``wall_height``; docs/mqtt.md "A wall of panels") the
leader renders the whole canvas and its bridge sends each composed frame over the broker
with the instant to show it, in the leader's clock. A follower's bridge cuts this sign's
slice out and passes it here (control request ``wall_frame``) with the measured clock
offset. This holds the few frames not yet due and, from the host's loop, pushes each one
when its instant comes; while frames arrive it stands in for the presenter (whose rotation
goes on unseen), and when they stop for :data:`STALE` seconds the presenter is asked to
redraw, so the sign falls back to its own rotation rather than going dark.

Never waits: :meth:`WallFeed.add` only queues (a full queue drops the oldest), and
:meth:`WallFeed.push_if_due` pushes at most one frame per call.

Interface for the host loop: ``next_push_at``, ``push_if_due``; for the control handler
(:mod:`host.control.sync_ops`): ``add`` (its reply), ``status``.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from host.errors import HostError

if TYPE_CHECKING:
    from host.display.compositor import Compositor
    from host.display.presenter import Panel, Presenter

__all__ = ["AHEAD", "PENDING", "STALE", "WallFeed"]

#: Frames kept waiting for their instant; more (a flood) drops the oldest.
PENDING: Final = 8
#: Seconds without a frame before the sign goes back to its own rotation.
STALE: Final = 3.0
#: Latest a frame may be due (seconds ahead); later ones are refused, not held.
AHEAD: Final = 5.0


class WallFeed:
    """This sign's slice of the wall, as the leader's frames arrive."""

    def __init__(self, compositor: Compositor) -> None:
        self.compositor = compositor
        #: (monotonic instant, pixels), sorted by instant.
        self._pending: list[tuple[float, np.ndarray[Any, np.dtype[np.uint8]]]] = []
        self._last_heard: float | None = None
        self._active = False
        self.shown = 0
        self.late = 0

    @property
    def active(self) -> bool:
        """The wall's frames own the panel (the presenter's pushes wait)."""
        return self._active

    def add(self, rgb: bytes, width: int, height: int, at: float, now: float) -> str:
        """Queue one slice to show at ``at`` (this sign's monotonic clock).

        :raises HostError: it is not this display's size, or due too far ahead.
        """
        shape = self.compositor.out.shape
        if (height, width) != shape[:2] or len(rgb) != width * height * 3:
            raise HostError(
                f"a wall frame of {width}x{height} ({len(rgb)} bytes) does not fit this "
                f"{shape[1]}x{shape[0]} display"
            )
        if at > now + AHEAD:
            raise HostError(f"a wall frame due in {at - now:.1f} s (more than {AHEAD} s ahead)")
        pixels = np.frombuffer(rgb, dtype=np.uint8).reshape(height, width, 3)
        bisect.insort(self._pending, (at, pixels), key=lambda item: item[0])
        del self._pending[:-PENDING]
        self._last_heard = now
        return "queued"

    def next_push_at(self, now: float) -> float | None:
        """When the loop must wake: the next frame's instant, or the fall-back's."""
        if self._pending:
            return self._pending[0][0]
        if self._active and self._last_heard is not None:
            return self._last_heard + STALE
        return None

    def push_if_due(self, now: float, panel: Panel, presenter: Presenter) -> bool:
        """Push the newest frame that is due; ``True`` while the wall owns the panel (the
        caller then skips the presenter's push)."""
        if self._last_heard is None or now - self._last_heard >= STALE:
            self._pending.clear()
            if self._active:
                self._active = False
                presenter.redraw(now)  # back to this sign's own rotation
            return False
        due = [item for item in self._pending if item[0] <= now]
        if due:
            at, pixels = due[-1]
            self.late += len(due) - 1  # older frames that were due: skipped, never shown
            del self._pending[: len(due)]
            out = self.compositor.fresh_out()
            np.copyto(out, pixels)
            panel.push(out, now)
            presenter.stats.record_push(now, at)
            self.shown += 1
            self._active = True
        return self._active

    def status(self, now: float) -> dict[str, Any]:
        """``display.sync.wall.feed`` of a status: whether the wall owns the panel, and
        the slices shown, skipped (late) and waiting."""
        return {
            "active": self._active,
            "shown": self.shown,
            "skipped": self.late,
            "pending": len(self._pending),
        }
