"""The presenter: what is on the panel, and when the next push is due.

The host decides *which* mode is shown (the scheduler); this holds the content of that
mode as workers deliver it -- a frame, or a strip the host slides -- and pushes it
through the compositor when something changed: a new frame, the next pixel of a strip,
a step of a transition. The frame rate is a ceiling for moving content, never a constant
tick, so a clock that changes once a second costs one push a second. It never waits on
a worker: until a new mode's first frame arrives, the panel keeps what it shows, and the
transition to the new mode starts when that frame is there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from host.display.compositor import Compositor
from host.display.layout_show import LayoutShow
from host.display.ticker import TickerStream
from host.display.transitions import TransitionSpec
from host.ipc.framebus import Frame
from host.ipc.strip import StripImage
from host.stats import RunStats

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from host.supervise.handle import WorkerHandle


@dataclass(eq=False)
class TickerSource:
    """The ticker as content: a stream of several plugins' strips and its speed."""

    stream: TickerStream
    speed: float


Scrolling = StripImage | TickerSource


class Panel(Protocol):
    """Where pushed frames go (a backend)."""

    def push(self, frame: npt.NDArray[np.uint8], at: float) -> None: ...


class Presenter:
    """Holds the shown content and pushes it when due.

    :param min_interval: seconds between two pushes at least (``1 / fps``).
    :param stats: where every push and its lateness are counted.
    """

    def __init__(self, compositor: Compositor, min_interval: float, stats: RunStats) -> None:
        self.compositor = compositor
        self.min_interval = min_interval
        self.stats = stats
        self.source: tuple[WorkerHandle | None, Frame | Scrolling | LayoutShow] | None = None
        self._strip_t0 = 0.0
        self._strip_offset = -1
        #: A newer strip of the scrolling mode, shown from the current one's next loop.
        self._next_strip: StripImage | None = None
        self._due: float | None = None  # when unpushed content became due
        self._last_push = -math.inf
        self._blank_pending = False
        self._transition: TransitionSpec | None = None
        self._recolour = False
        self._settle = False

    # -- what changes ----------------------------------------------------------------------

    def switched(self, transition: TransitionSpec | None) -> None:
        """Another mode is on: drop the old content; ``transition`` starts with the new."""
        self.source = None
        self._next_strip = None
        self._transition = transition

    def blank(self, now: float) -> None:
        """Nothing to show: push a dark panel."""
        self.source = None
        self._next_strip = None
        self._transition = None
        self._blank_pending = True
        self._mark_due(now)

    def frame(self, handle: WorkerHandle, frame: Frame, now: float) -> None:
        """A frame of the shown mode arrived."""
        self._begin(now)
        self.source = (handle, frame)
        self._mark_due(min(frame.done_at, now))

    def strip(self, handle: WorkerHandle, strip: StripImage, now: float) -> None:
        """A strip of the shown mode arrived: it slides in from the right from now on.

        A newer strip of a strip already scrolling (new prices, an edited message) waits
        for the current one's loop to end: restarting from the right edge at once would
        make the text jump back every time the data changes.
        """
        if (
            self.source is not None
            and self.source[0] is handle
            and isinstance(self.source[1], StripImage)
            and self.source[1].mode == strip.mode
            and self._strip_offset >= 0
        ):
            self._next_strip = strip
            return
        self._begin(now)
        self.source = (handle, strip)
        self._next_strip = None
        self._strip_t0 = now
        self._strip_offset = -1
        self._mark_due(now)

    def redraw(self, now: float) -> None:
        """Push what is on the panel again, e.g. because brightness or tint changed."""
        self._recolour = True
        self._mark_due(now)

    def ticker(self, source: TickerSource, now: float) -> None:
        """The ticker has a strip to show: it slides in from the right from now on."""
        self._begin(now)
        self.source = (None, source)
        self._strip_t0 = now
        self._strip_offset = -1
        self._mark_due(now)

    def layout(self, show: LayoutShow, now: float) -> None:
        """A region of the shown layout has a new frame."""
        if self.source is None or self.source[1] is not show:
            self._begin(now)
            self.source = (None, show)
        self._mark_due(now)

    def drop(self, handle: WorkerHandle) -> None:
        """``handle``'s worker is gone: its frame's memory is no longer ours to read."""
        if self.source is not None and self.source[0] is handle:
            self.source = None

    def _begin(self, now: float) -> None:
        if self._transition is not None:
            self.compositor.begin_transition(self._transition, now)
            self._transition = None

    def _mark_due(self, at: float) -> None:
        if self._due is None or at < self._due:
            self._due = at

    # -- pushing ---------------------------------------------------------------------------

    def _take_next_strip(self, now: float) -> None:
        """Swap in the waiting strip once the shown one has finished a loop by ``now``."""
        if self._next_strip is None or self.source is None:
            return
        handle, current = self.source
        assert isinstance(current, StripImage)
        period = self.compositor.strip_period(current)
        loops = int((now - self._strip_t0) * current.speed) // period
        if loops < 1 + max(self._strip_offset, 0) // period:
            return
        # The new strip starts where the old one's loop ended, as if it had always run.
        loop_end = max(self._strip_offset, 0) // period * period + period
        self._strip_t0 += loop_end / current.speed
        self.source = (handle, self._next_strip)
        self._next_strip = None
        self._strip_offset = -1

    def earliest_push(self) -> float:
        """When the frame-rate ceiling next allows a push."""
        return self._last_push + self.min_interval

    def next_push_at(self, now: float) -> float | None:
        """When the loop must wake to push next; ``None`` if nothing is pending."""
        earliest = self._last_push + self.min_interval
        if self._due is not None:
            return max(self._due, earliest)
        if self.compositor.transitioning(now) or self._settle:
            return earliest  # every frame of a transition, and one more once it ended
        if self.source is not None and isinstance(self.source[1], LayoutShow):
            step = self.source[1].next_step(now)
            return None if step is None else max(step, earliest)
        if self.source is not None and isinstance(self.source[1], Scrolling):
            strip = self.source[1]
            step_at = self._strip_t0 + (self._strip_offset + 1) / strip.speed
            return max(step_at, earliest)
        return None

    def push_if_due(
        self, now: float, panel: Panel, clock: float | None = None, at: float | None = None
    ) -> None:
        """Compose and push if a push is due at ``now``.

        :param clock: the time of the push as recorded (``now`` if ``None``).
        :param at: what :meth:`next_push_at` answered, when nothing changed since (the
            host's turn that only a push fell due for, a scroll step): not asked twice.
        """
        if at is None:
            at = self.next_push_at(now)
        if at is None or now < at:
            return
        due = self._due if self._due is not None else at
        # Asked once: compose below sees the same ``now``, so the same answer.
        moving = self.compositor.transitioning(now)
        changed = self._due is not None or moving or self._settle
        blank_now, self._blank_pending = self._blank_pending, False
        image = None
        if self.source is not None:
            if self._next_strip is not None:
                self._take_next_strip(now)
            content = self.source[1]
            if isinstance(content, Scrolling):
                # The strip's offset at ``now``, if it moved since the last push.
                step = int((now - self._strip_t0) * content.speed)
                if step != self._strip_offset:
                    self._strip_offset = step
                    step_at = self._strip_t0 + step / content.speed
                    due = max(min(due, step_at), self._last_push + self.min_interval)
                    changed = True
                offset = max(self._strip_offset, 0)
                if isinstance(content, TickerSource):
                    # Start one panel left of the band, so it slides in from the right.
                    image = content.stream.view(offset - content.stream.width)
                else:
                    image = self.compositor.strip_view(content, offset)
            elif isinstance(content, LayoutShow):
                moves_at = content.next_step(now)
                if moves_at is not None and moves_at <= now:
                    due = max(min(due, moves_at), self._last_push + self.min_interval)
                    changed = True
                image = content.view(now)
            else:
                image = content.pixels
        self._due = None
        if image is None and not blank_now and self._recolour:
            image = self.compositor.shown  # what the panel holds, in the new colours
        self._recolour = False
        if not changed or (image is None and not blank_now):
            self._settle = False
            return  # nothing new, or the content went away: the panel keeps its frame
        frame = self.compositor.compose(image, now)
        # A transition's last frames are pushed at progress < 1; once it ends, the pure
        # new content must still reach the panel, so one more push follows.
        self._settle = moving
        pushed_at = now if clock is None else clock
        panel.push(frame, pushed_at)
        self._last_push = pushed_at
        self.stats.record_push(pushed_at, due)
