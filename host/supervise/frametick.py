"""The frame bus on screen, read at the host's own deadline instead of waking it per frame.

A worker that draws at the frame rate (an animation, 60 fps) used to cost the host two
wake-ups a frame: its ready eventfd woke the loop as the frame came, and since pushes
are paced by the frame-rate ceiling, a frame that came a little before the next push was
allowed had the loop sleep again until then (pushes are at least one period apart, so
once one frame was late by a little, every later one arrived "early": measured, 1132
waits for 566 frames in 10 s). Each wake-up of a sleeping process costs ~50 us of CPU
here, as much as the rest of the frame's hand-off.

So while the host will wake within one frame period anyway, the on-screen worker's ready
fd is muted (kept registered, not reported: :meth:`host.ipc.epoll.LeanEpollSelector.mute`)
and its bus is read at each wake-up, and the loop's deadline includes when that worker's
next frame should be there: when it said the frame is due (``frame_due``, stamped on each
frame), plus how long its last frame took after its due time (at most a period), and
never before the next push is allowed. A frame that is there by then is pushed on that
same wake-up; one that is not yet is waited for as before: its due time is looked for
once, then the fd is unmuted and wakes the loop when the frame comes. A frame therefore
waits at most one frame period beyond the push it could have had, and only while pushes
are paced anyway. Frames stay whole: a muted bus is read by the same
:meth:`~host.ipc.framebus.FrameBus.poll`, after the same eventfd read.

Only the worker whose frame is the content is muted (not a strip, a ticker or a layout's
regions), and only with the host's lean selector; everything else wakes the loop as it
did. Hang detection is unchanged: it reads ``frame_due`` and the time of the last frame,
which a read at the deadline keeps up to date.

Interface for the loop (:meth:`host.app.Host._loop`): :meth:`FrameTick.plan` before each
wait (returns the wait's deadline), :meth:`FrameTick.read` after it (whether a frame of
the screen's worker came).
"""

from __future__ import annotations

import contextlib

from host.ipc.epoll import LeanEpollSelector
from host.supervise.handle import WorkerHandle
from host.supervise.supervisor import Supervisor

__all__ = ["FrameTick"]


class FrameTick:
    """Mutes the on-screen worker's frame bus while the loop wakes within a period anyway.

    :param period: the frame period, ``1 / fps`` (the host's push pacing).
    """

    def __init__(self, supervisor: Supervisor, period: float) -> None:
        self.supervisor = supervisor
        self.period = period
        #: The lean selector, or ``None`` when the loop waits in another (nothing muted).
        self._selector = (
            supervisor.selector if isinstance(supervisor.selector, LeanEpollSelector) else None
        )
        #: The muted worker and its ready fd (a restarted worker has a new one).
        self.muted: WorkerHandle | None = None
        self._fd = -1
        #: The ``frame_due`` already looked for at its time (looked for once only).
        self._looked: float | None = None
        #: How long after its due time the muted worker's last frame was done.
        self._lag = 0.0
        #: Reads at the deadline, and the frames they brought (for tests and probes).
        self.reads = 0
        self.taken = 0

    def plan(
        self, handle: WorkerHandle | None, due: float, earliest_push: float, now: float
    ) -> float:
        """The loop's deadline ``due``, or earlier when ``handle``'s next frame should be
        there sooner; ``handle``'s ready fd muted while that deadline is within a period.

        :param handle: the worker whose frame is on screen; ``None`` if the content is
            anything else (then nothing is muted).
        :param earliest_push: when the next push is allowed by the frame-rate ceiling.
        """
        if handle is not None and self._selector is not None and handle.bus is not None:
            at = due
            expected = handle.frame_due
            if expected is not None and expected != self._looked:
                at = min(due, max(expected + self._lag, earliest_push))
            if at - now <= self.period:
                self._mute(handle)
                return at
        # Further off (a clock's next second): the fd wakes the loop when the frame comes,
        # and the loop keeps its own deadline (waking at the due time as well would be a
        # second wake-up for the same frame).
        self._unmute()
        return due

    def read(self, now: float) -> bool:
        """After a wait: read the muted bus. ``True`` when a frame came."""
        handle = self.muted
        if handle is None:
            return False
        expected = handle.frame_due
        if expected is not None and now >= expected:
            self._looked = expected  # looked for at its time: not again
        frames = handle.frames
        self.reads += 1
        self.supervisor.read_frames(handle, now)
        if handle.frames == frames:
            return False
        self.taken += 1
        frame = handle.frame
        if frame is not None and expected is not None:
            # The worker's own clock stamp, so bounded: a frame may be waited for a
            # period at most (NaN fails both comparisons).
            lag = frame.done_at - expected
            self._lag = lag if 0.0 <= lag <= self.period else (self.period if lag > 0 else 0.0)
        return True

    def _mute(self, handle: WorkerHandle) -> None:
        assert self._selector is not None and handle.bus is not None
        fd = handle.bus.ready_fd
        if handle is self.muted and fd == self._fd:
            return
        self._unmute()
        try:
            self._selector.mute(fd, True)
        except (KeyError, OSError):
            return  # not registered, or closed (its worker is being reaped): not muted
        self.muted, self._fd, self._lag = handle, fd, 0.0

    def _unmute(self) -> None:
        if self.muted is None:
            return
        handle, fd = self.muted, self._fd
        self.muted, self._fd = None, -1
        # Only the fd it muted: once its worker is reaped (no bus), the number may be
        # another file's.
        if self._selector is not None and handle.bus is not None and handle.bus.ready_fd == fd:
            with contextlib.suppress(KeyError, OSError):
                self._selector.mute(fd, False)
