"""Which picture and which frame are on screen, and for how long: the slideshow's clock.

Pure logic over the ``now`` the worker passes to ``render_frame``: no drawing, no files,
no wall clock of its own, so tests step it through time exactly. It runs on the render
thread only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

#: A frame call this much before the frame's end counts as at its end (float noise).
_EARLY: Final = 0.001
#: Behind by more than this (a stalled worker, a clock set forward): skip, don't replay.
_RESYNC: Final = 2.0


class Playable(Protocol):
    """What the player needs to know of a picture."""

    @property
    def name(self) -> str: ...

    @property
    def mtime(self) -> float: ...

    @property
    def durations(self) -> tuple[float, ...]: ...


@dataclass(frozen=True)
class Step:
    """What to show now: ``pictures[index]``'s frame ``frame`` for ``delay`` seconds."""

    index: int
    frame: int
    delay: float
    #: The picture started with this step and is an animation (time to ask for more time).
    started_animation: bool
    #: How long the picture that started plays in all, when ``started_animation``.
    planned: float


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``img2.png`` before ``img10.png``, case-insensitively."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", name.casefold())
        if part
    )


def play_order(pictures: Sequence[Playable], order: str) -> list[str]:
    """Names in the order ``"name"`` or ``"newest"`` shows them (shuffle is stateful)."""
    if order == "newest":
        ranked = sorted(pictures, key=lambda p: natural_key(p.name))
        return [p.name for p in sorted(ranked, key=lambda p: -p.mtime)]
    return sorted((p.name for p in pictures), key=natural_key)


def planned_seconds(durations: Sequence[float], plays: int, seconds_per_image: float) -> float:
    """How long a picture stays: a still ``seconds_per_image``; an animation ``plays``
    loops, or with ``plays == 0`` as many whole loops as start within
    ``seconds_per_image`` (at least one)."""
    if len(durations) <= 1:
        return seconds_per_image
    loop = sum(durations)
    if plays > 0:
        return loop * plays
    whole = max(1, -(-seconds_per_image // loop))  # ceil: the last loop is finished
    return loop * whole


class Player:
    """The position in the slideshow, carried across activations of the mode.

    Each activation shows the picture after the one shown last, so a short rotation turn
    still walks through the whole folder over time.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        #: Name of the picture on screen (``None`` before the first).
        self.current: str | None = None
        #: Frame of the current picture on screen.
        self.frame = 0
        self._position = -1
        self._order: list[str] = []
        self._order_mode = ""
        self._frame_end = 0.0
        self._started = 0.0
        self._plays = 0
        self._advance_on_next = True
        self._pictures: Sequence[Playable] = ()
        self._index: dict[str, int] = {}

    def activate(self) -> None:
        """The mode became active: the next step starts the next picture."""
        self._advance_on_next = True

    def step(
        self,
        pictures: Sequence[Playable],
        now: float,
        *,
        order: str,
        seconds_per_image: float,
        animation_plays: int,
    ) -> Step:
        """Advance to what is due at ``now`` and say what to show and for how long.

        Called for every frame; a call before the current frame's end (a redraw) shows
        the same frame again for the time that is left.

        :raises ValueError: if ``pictures`` is empty (has_content said no content).
        """
        if not pictures:
            raise ValueError("the slideshow has no pictures")
        if pictures is not self._pictures or order != self._order_mode:
            # A new library (or order) from the refresh thread; the same one otherwise,
            # so most frames skip this.
            self._pictures = pictures
            self._index = {p.name: i for i, p in enumerate(pictures)}
            self._sync_order(pictures, order)
        started: str | None = None

        def start_next(at: float) -> None:
            nonlocal started
            started = self._next_name()
            self._start(pictures[self._index[started]], at, seconds_per_image)

        if self._advance_on_next or self.current not in self._index:
            self._advance_on_next = False
            start_next(now)
        else:
            if self.frame >= len(pictures[self._index[self.current]].durations):
                self.frame = 0  # the file changed under us: fewer frames now
            length = self._frame_length(pictures[self._index[self.current]], seconds_per_image)
            if now - self._frame_end > _RESYNC or self._frame_end - now > length + _RESYNC:
                # Stalled, or the clock was set: carry on from now instead of catching up.
                self._frame_end = now
            for _ in range(10_000):  # bounded anyway: frames last >= 0.02 s
                if now < self._frame_end - _EARLY:
                    break
                picture = pictures[self._index[self.current]]
                frames = len(picture.durations)
                if frames <= 1:
                    start_next(self._frame_end)
                    continue
                if self.frame == frames - 1:
                    self._plays += 1
                    if self._done(seconds_per_image, animation_plays):
                        start_next(self._frame_end)
                        continue
                self.frame = (self.frame + 1) % frames
                self._frame_end += picture.durations[self.frame]
        assert self.current is not None
        picture = pictures[self._index[self.current]]
        return Step(
            index=self._index[picture.name],
            frame=self.frame,
            delay=max(self._frame_end - now, 0.001),
            started_animation=started == self.current and len(picture.durations) > 1,
            planned=planned_seconds(picture.durations, animation_plays, seconds_per_image),
        )

    # -- internals ------------------------------------------------------------------------

    def _frame_length(self, picture: Playable, seconds_per_image: float) -> float:
        """How long the current frame shows: a still's whole time, else the frame's."""
        if len(picture.durations) <= 1:
            return seconds_per_image
        return picture.durations[self.frame]

    def _start(self, picture: Playable, at: float, seconds_per_image: float) -> None:
        self.current = picture.name
        self.frame = 0
        self._plays = 0
        self._started = at
        self._frame_end = at + self._frame_length(picture, seconds_per_image)

    def _done(self, seconds_per_image: float, plays: int) -> bool:
        """Whether an animation that just finished a loop has played enough.

        Asked only between loops, so an animation is never cut mid-loop.
        """
        if plays > 0:
            return self._plays >= plays
        return self._frame_end - self._started >= seconds_per_image - _EARLY

    def _next_name(self) -> str:
        self._position += 1
        if self._position >= len(self._order):
            if self._order_mode == "shuffle":
                self._reshuffle()
            self._position = 0
        return self._order[self._position]

    def _sync_order(self, pictures: Sequence[Playable], order: str) -> None:
        """Follow the library: new pictures join the order, removed ones leave it."""
        names = {p.name for p in pictures}
        if order == "shuffle" and self._order_mode == "shuffle":
            kept = [n for n in self._order if n in names]
            for name in sorted(names - set(kept)):
                kept.insert(self._rng.randint(0, len(kept)), name)
            self._order = kept
        elif order == "shuffle":
            self._order = sorted(names)
            self._rng.shuffle(self._order)
        else:
            self._order = play_order(pictures, order)
        self._order_mode = order
        # Keep the place: the picture on screen, or the one that followed it.
        if self.current in self._order:
            self._position = self._order.index(self.current)
        else:
            self._position = max(-1, min(self._position, len(self._order)) - 1)

    def _reshuffle(self) -> None:
        """A new random pass that does not start with the picture just shown."""
        last = self.current
        self._rng.shuffle(self._order)
        if len(self._order) > 1 and self._order[0] == last:
            self._order[0], self._order[-1] = self._order[-1], self._order[0]
