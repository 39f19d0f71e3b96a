"""The presenter with a real compositor: how a scrolling mode takes a newer strip."""

from __future__ import annotations

from typing import Any

import numpy as np

from host.display.compositor import Compositor
from host.display.presenter import Presenter
from host.ipc.strip import StripImage
from host.stats import RunStats

W, H = 8, 2


class Panel:
    def __init__(self) -> None:
        self.frames: list[tuple[float, np.ndarray]] = []

    def push(self, frame: np.ndarray, at: float) -> None:
        self.frames.append((at, frame.copy()))


def strip(value: int, width: int = 4, speed: float = 1.0, mode: str = "ticker") -> StripImage:
    pixels = np.full((H, width, 3), value, dtype=np.uint8)
    return StripImage(mode=mode, token=1, pixels=pixels, speed=speed, gap=None)


def run(presenter: Presenter, panel: Panel, start: float, end: float) -> None:
    now = start
    while now <= end:
        presenter.push_if_due(now, panel)
        now = round(now + 0.25, 6)


def columns(frame: np.ndarray) -> list[int]:
    return [int(v) for v in frame[0, :, 0]]


def make() -> tuple[Presenter, Panel, Any]:
    presenter = Presenter(Compositor(W, H), min_interval=0.0, stats=RunStats(started=0.0))
    return presenter, Panel(), object()


def test_a_newer_strip_of_the_scrolling_mode_waits_for_the_loop_end() -> None:
    """Verify that new data never makes a scrolling strip jump back to the right edge:
    the old strip finishes its loop (period = 4 px + a gap of the panel's 8 = 12 px at
    1 px/s), then the new one enters from the right as if it had been scrolling all along."""
    presenter, panel, handle = make()
    old = strip(10)
    presenter.strip(handle, old, 0.0)  # type: ignore[arg-type]
    run(presenter, panel, 0.0, 3.0)
    presenter.strip(handle, strip(20), 3.0)  # type: ignore[arg-type]
    run(presenter, panel, 3.25, 11.75)
    # Until then, exactly the old strip moving on from where it was: no jump back.
    reference = Compositor(W, H)
    for at, frame in panel.frames:
        assert columns(frame) == columns(reference.strip_view(old, int(at))), at
    run(presenter, panel, 12.0, 18.0)
    frames = dict(panel.frames)
    # At t=12 the first loop ended: the new strip's first pixels show up right after,
    # one column per second from the right edge.
    assert 20 not in columns(frames[12.0])
    assert columns(frames[13.0])[-1] == 20 and columns(frames[13.0]).count(20) == 1
    assert columns(frames[16.0]).count(20) == 4
    assert all(10 not in columns(f) for at, f in panel.frames if at >= 12.0)


def test_a_strip_for_a_newly_shown_mode_starts_at_once() -> None:
    presenter, panel, handle = make()
    presenter.strip(handle, strip(10), 0.0)  # type: ignore[arg-type]
    run(presenter, panel, 0.0, 2.0)
    presenter.switched(None)
    presenter.strip(handle, strip(30, mode="board"), 2.0)  # type: ignore[arg-type]
    run(presenter, panel, 2.25, 3.0)
    assert columns(panel.frames[-1][1])[-1] == 30


def test_a_push_told_when_it_is_due_pushes_what_a_push_that_asks_does() -> None:
    """Verify that the host's scroll step, which passes the presenter's own answer from
    before its wait (``at``), pushes the same frames at the same instants as a push that
    asks again, through a strip's loop and a newer strip taking over."""
    asking, told = make(), make()
    for presenter, _, handle in (asking, told):
        presenter.min_interval = 0.25
        presenter.strip(handle, strip(10, speed=3.0), 0.0)  # type: ignore[arg-type]
    now, newer = 0.0, False
    while now < 12.0:
        at = told[0].next_push_at(now)
        assert at is not None and at == asking[0].next_push_at(now)
        now = at + 0.001  # woken a little after it was due, as a real wait is
        if now > 6.0 and not newer:  # new data: a full turn, which asks again
            newer = True
            for presenter, _, handle in (asking, told):
                presenter.strip(handle, strip(20, speed=3.0), now)  # type: ignore[arg-type]
            continue
        asking[0].push_if_due(now, asking[1])
        told[0].push_if_due(now, told[1], at=at)
    assert len(told[1].frames) > 20
    assert [(t, columns(f)) for t, f in told[1].frames] == [
        (t, columns(f)) for t, f in asking[1].frames
    ]
