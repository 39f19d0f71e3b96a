"""The housekeeping pass at idle rides on the wake-ups a plugin's frames cause (issue 15).

A clock draws once a second; the host wakes for each frame. The supervisor's pass is due
within a window one second wide (``TICK_EARLY`` to ``TICK``), so it always finds such a
wake-up and never wakes the host on its own, while no two passes are further apart than
``TICK``. Driven with a passed-in clock on a real supervisor: what is checked is which
wake-ups run the pass, never how long anything takes.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from host.supervise.supervisor import TICK, TICK_EARLY
from tests.conftest import Harness
from tests.livehost import LiveHost, run_live

#: Frames that arrive up to this late (a loaded machine) still carry the pass.
LATE = 0.15


def test_the_pass_rides_on_a_frame_each_second(harness: Harness) -> None:
    supervisor = harness.supervisor
    start = 1000.0
    supervisor.run_once(0.0, now=start)  # the first pass, at once
    passes = [start]
    # Frames due each second; some arrive at once, some late, in no regular pattern.
    lateness = itertools.cycle([0.001, LATE, 0.02, 0.0, LATE, 0.07, 0.003])
    for second in range(1, 61):
        arrives = start + second + next(lateness)
        # The host's wait ends at the frame or at the supervisor's deadline, whichever is
        # first: the deadline must never come first (a wake-up for the pass alone).
        assert supervisor.next_wakeup() > arrives, (second, passes)
        if supervisor.run_once(0.0, now=arrives):
            passes.append(arrives)
    gaps = [b - a for a, b in zip(passes, passes[1:], strict=False)]
    assert all(TICK_EARLY <= gap <= TICK for gap in gaps), gaps
    # Every other frame, not every one: a pass costs more than a frame's turn.
    assert 28 <= len(passes) <= 32, passes


def test_without_frames_the_pass_wakes_the_host_on_time(harness: Harness) -> None:
    supervisor = harness.supervisor
    last = 50.0
    supervisor.run_once(0.0, now=last)
    # Nothing else wakes the loop: its wait ends at the supervisor's deadline, TICK on.
    for _ in range(5):
        due = supervisor.next_wakeup()
        assert due == last + TICK
        # A wake-up before the window (a status request) does not run the pass.
        assert not supervisor.run_once(0.0, now=last + TICK_EARLY - 0.01)
        assert supervisor.run_once(0.0, now=due)
        last = due


def test_frames_of_the_slot_on_screen_are_pushed_without_a_decision(tmp_path: Path) -> None:
    """A wake-up that only brought frames of the mode on screen pushes them and decides
    nothing: a frame changes what is shown, not what should show. The housekeeping pass
    and the rotation's own deadlines still decide. A real host and a real worker."""

    def scenario(live: LiveHost) -> None:
        host = live.host
        live.wait_for(lambda: len(live.backend.pushes) > 3, "frames on the panel")
        decisions = [0]
        decide = host.director.decide

        def counted(now: float) -> None:
            decisions[0] += 1
            decide(now)

        host.director.decide = counted  # type: ignore[method-assign]
        pushed = len(live.backend.pushes)
        live.wait_for(lambda: len(live.backend.pushes) >= pushed + 16, "16 more frames")
        frames = len(live.backend.pushes) - pushed
        # Before: one decision per frame. Now: one per pass (~2 s) and per turn's end.
        assert decisions[0] <= frames // 2, (decisions, frames)
        assert host.director.current is not None and host.director.current.key == "a:fill"

    tables = {
        "rotation": {"modes": ["a:fill"]},
        "plugins": {"a": {"plugin": "solid", "fps": 4}},
    }
    run_live(tmp_path, tables, scenario)
