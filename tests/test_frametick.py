"""The on-screen worker's frame bus is read at the host loop's deadline (issue 15).

A worker drawing at the frame rate cost the host two wake-ups a frame (its eventfd, then
the push the frame-rate ceiling allowed a little later). While the loop wakes within a
frame period anyway, :class:`~host.supervise.frametick.FrameTick` mutes that worker's
ready fd and reads its bus at the deadline. Real workers, real shared memory and eventfds;
the tick's decisions take a passed-in clock, the counts compare wake-ups with frames.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from host.discovery import PluginSpec
from host.ipc.epoll import LeanEpollSelector
from host.ipc.framebus import Geometry
from host.supervise.frametick import FrameTick
from host.supervise.handle import WorkerHandle
from host.supervise.rules import WorkerRules
from host.supervise.spawner import SpawnLauncher
from host.supervise.supervisor import Supervisor
from tests.conftest import Harness
from tests.livehost import LiveHost, run_live

PERIOD = 1.0 / 60


@pytest.fixture
def lean(tmp_path: Path) -> Iterator[Harness]:
    """A harness whose supervisor waits in the host's lean selector, as the host's does."""
    selector = LeanEpollSelector()
    harness = Harness(supervisor=None, selector=selector)  # type: ignore[arg-type]
    harness.supervisor = Supervisor(
        launcher=SpawnLauncher(),
        geometry=Geometry(64, 32),
        selector=selector,
        listener=harness,
        data_dir=tmp_path / "plugin-data",
        rules=WorkerRules(heartbeat_timeout=2.0),
    )
    try:
        yield harness
    finally:
        harness.supervisor.stop_all(graceful_timeout=3.0)
        selector.close()


def _frames_reported(harness: Harness, handle: WorkerHandle) -> bool:
    """Whether a select now reports ``handle``'s ready fd (the loop would be woken)."""
    return any(key.data == (handle, "frames") for key, _ in harness.selector.select(0))


def _drawing(
    harness: Harness, specs: dict[str, PluginSpec]
) -> tuple[WorkerHandle, FrameTick, float]:
    """A worker drawing ``fill`` twice a second, its first frame read; a fresh tick; and
    when its next frame is due."""
    handle = harness.start(specs["solid"], {"fps": 2})
    harness.wait_running(handle)
    harness.supervisor.activate(handle, "fill")
    harness.wait_for(lambda: handle.frame is not None and handle.frame_due is not None)
    due = handle.frame_due
    assert due is not None
    return handle, FrameTick(harness.supervisor, PERIOD), due


def _next_frame_written(handle: WorkerHandle) -> None:
    """Until the worker has announced its next frame (the fd readable; nothing read)."""
    assert handle.bus is not None
    ready, _, _ = select.select([handle.bus.ready_fd], [], [], 20.0)
    assert ready, "the worker's next frame never came"


def test_a_frame_published_while_the_host_sleeps_on_its_tick_is_shown_on_that_tick(
    lean: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    handle, tick, due = _drawing(lean, test_specs)
    now = due - PERIOD / 2  # the clock, as passed in: its next frame is due within a period
    # The loop would sleep 10 s; the frame is due sooner and the push is allowed already.
    assert tick.plan(handle, now + 10.0, now - 1.0, now) == due
    assert tick.muted is handle
    shown = len(lean.frames)
    _next_frame_written(handle)
    assert not _frames_reported(lean, handle)  # the loop sleeps on: no wake-up per frame
    assert tick.read(due) is True  # read at the deadline ...
    assert len(lean.frames) == shown + 1  # ... and given to the display on that turn
    assert tick.reads == 1 and tick.taken == 1
    assert handle.frame_due is not None and handle.frame_due > due  # the next one's time

    # Nothing else on screen: the fd wakes the loop again, a frame already there at once.
    _next_frame_written(handle)
    tick.plan(None, now + 10.0, now - 1.0, now)
    assert tick.muted is None
    assert _frames_reported(lean, handle)


def test_a_frame_not_there_at_its_time_is_looked_for_once_then_waited_for(
    lean: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    handle, tick, due = _drawing(lean, test_specs)
    assert tick.plan(handle, due + 10.0, due - 1.0, due - PERIOD / 2) == due
    # The clock says it is due; the worker (2 fps) has not drawn it yet.
    assert tick.read(due) is False
    # Not looked for again: the loop's own deadline stands, far off, so the fd wakes it.
    assert tick.plan(handle, due + 10.0, due - 1.0, due) == due + 10.0
    assert tick.muted is None
    _next_frame_written(handle)
    assert _frames_reported(lean, handle)


def test_a_frame_due_further_than_a_period_leaves_the_loop_its_deadline(
    lean: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify that a worker drawing twice a second (a clock: once) neither moves the
    loop's deadline to its due time nor is muted: its eventfd wakes the loop, once."""
    handle, tick, due = _drawing(lean, test_specs)
    now = due - 0.25
    assert tick.plan(handle, due + 0.5, now - 1.0, now) == due + 0.5
    assert tick.muted is None
    _next_frame_written(handle)
    assert _frames_reported(lean, handle)


def test_a_host_showing_60_fps_frames_wakes_about_once_a_frame(tmp_path: Path) -> None:
    """Verify that a real host showing a worker's 60 fps frames reads most of them at its
    deadline (not two wake-ups a frame, as before), and shows each whole and in order."""

    def scenario(live: LiveHost) -> None:
        host = live.host
        live.wait_for(lambda: len(live.backend.pushes) > 10, "frames on the panel")
        tick, supervisor = host.frame_tick, host.supervisor
        waits = [0]
        run_once = supervisor.run_once

        def counted(*args: object, **kwargs: object) -> bool:
            waits[0] += 1
            return run_once(*args, **kwargs)  # type: ignore[arg-type]

        supervisor.run_once = counted  # type: ignore[method-assign]
        pushed, taken = len(live.backend.pushes), tick.taken
        live.wait_for(lambda: tick.taken > taken + 60, "60 frames read at the deadline")
        frames = len(live.backend.pushes) - pushed
        # Before, two wake-ups a frame: its eventfd, then the push the ceiling allowed.
        assert tick.taken - taken >= frames // 2, (tick.taken - taken, frames)
        assert waits[0] < 2 * frames + 10, (waits, frames)
        # solid fills each frame with one value, one more than the last: whole, in order.
        values = [int(p[0][0, 0, 0]) for p in live.backend.pushes[pushed:]]
        assert all(np.all(p[0] == p[0][0, 0, 0]) for p in live.backend.pushes[pushed:])
        steps = [(b - a) % 256 for a, b in zip(values, values[1:], strict=False)]
        assert all(0 < s < 128 for s in steps), steps

    tables = {
        "display": {"fps": 60},
        "transitions": {"kind": "cut"},
        "rotation": {"modes": ["solid:fill"]},
        "plugins": {"solid": {"fps": 60}},
    }
    run_live(tmp_path, tables, scenario)
