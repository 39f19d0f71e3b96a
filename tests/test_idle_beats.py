"""Issue 15: heartbeats flow only while a hook call runs; an idle worker costs nothing.

A worker between calls sends no beat and the host sets no deadline for it: liveness of an
idle worker shows through its open channel (a dead one closes it), and a hung one matters
only once the host counts on it -- a request it sent, a call the worker reported, or the
next frame of a mode on screen (stamped by the worker on its last frame). These tests use
real workers and a real supervisor; they wait for what they check, never for a time.
"""

from __future__ import annotations

import os
import signal

import pytest

from host.discovery import PluginSpec
from host.supervise.enforcer import STOPPED
from host.supervise.rules import WorkerRules
from host.supervise.states import WorkerState
from tests.conftest import Harness

QUICK = WorkerRules(heartbeat_timeout=1.0)


def test_an_idle_worker_sends_no_beats_and_is_not_killed(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Several heartbeat timeouts of an idle worker: no beat arrives, it stays running,
    and the supervisor's next wake-up is not on its account."""
    harness.supervisor.rules = QUICK
    handle = harness.start(test_specs["solid"])
    harness.wait_running(handle)
    ready_at = handle.last_heartbeat
    harness.pump(4 * QUICK.heartbeat_timeout)
    assert handle.state is WorkerState.RUNNING
    assert handle.last_heartbeat == ready_at  # set by "ready", never by a beat
    assert handle.owed_since() is None
    assert harness.supervisor.next_deadline() is None


def test_short_calls_cost_no_beat_their_frames_are_the_sign(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """A mode on screen rendering short frames: frames arrive, no beat, and the host owes
    its watch to the next frame's due time the worker stamped."""
    harness.supervisor.rules = QUICK
    handle = harness.start(test_specs["solid"], {"fps": 20})
    harness.wait_running(handle)
    ready_at = handle.last_heartbeat
    harness.supervisor.activate(handle, "fill")
    harness.wait_for(lambda: handle.frames >= 40, what="two seconds of frames")
    assert handle.state is WorkerState.RUNNING
    assert handle.last_heartbeat == ready_at
    assert handle.frame_due is not None and handle.frame_due >= handle.last_sign - 1.0
    harness.supervisor.deactivate(handle)
    # Timed until the worker says it took the switch (a render may be under way).
    harness.wait_for(lambda: handle.owed_since() is None, what="the worker's 'deactivated'")
    assert handle.frame_due is None and handle.state is WorkerState.RUNNING


def test_a_long_call_is_reported_beats_while_it_runs_and_its_end_is_told(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """``slowdata``'s first refresh sleeps 2 s with a 1 s heartbeat timeout: the worker
    reports the call, keeps beating (so it is not taken for hung), then says it is over."""
    harness.supervisor.rules = QUICK
    handle = harness.start(test_specs["slowdata"], {"delay": 2.0})
    seen: list[list[tuple[str, float]]] = []
    harness.wait_for(
        lambda: bool(handle.busy) and not seen.append(list(handle.busy)),
        what="the slow refresh to be reported",
    )
    assert [hook for hook, _ in seen[0]] == ["refresh_data"]
    harness.wait_for(lambda: handle.refreshes >= 1, what="the refresh's end")
    harness.wait_for(lambda: not handle.busy, what="the beat saying the call is over")
    assert handle.state is WorkerState.RUNNING
    assert handle.owed_since() is None


@pytest.mark.parametrize("request_kind", ["activate", "action"])
def test_a_worker_stopped_while_idle_is_found_once_asked(
    harness: Harness, test_specs: dict[str, PluginSpec], request_kind: str
) -> None:
    """SIGSTOP on an idle worker: nothing owed, so it is left alone (it may be continued);
    the first request the host sends makes it owe an answer, and it is killed as stopped."""
    harness.supervisor.rules = QUICK
    spec = test_specs["solid" if request_kind == "activate" else "grumpy"]
    handle = harness.start(spec)
    harness.wait_running(handle)
    assert handle.pid is not None
    os.kill(handle.pid, signal.SIGSTOP)
    try:
        harness.pump(3 * QUICK.heartbeat_timeout)
        assert handle.state is WorkerState.RUNNING  # idle: not judged
        if request_kind == "activate":
            harness.supervisor.activate(handle, "fill")
        else:
            harness.supervisor.request_action(handle, "poke")
        harness.wait_for(lambda: handle.last_exit is not None, what="the stopped worker's end")
    finally:
        if handle.process is not None and handle.pid is not None:
            os.kill(handle.pid, signal.SIGCONT)
    assert handle.last_exit == STOPPED
