"""The supervisor with real worker processes: crashes, restarts, backoff, quarantine."""

from __future__ import annotations

import os
import selectors
import signal
import time

from host.discovery import PluginSpec
from host.supervise.restart_policy import RestartPolicy
from host.supervise.states import WorkerState
from tests.conftest import Harness


def test_killed_worker_is_noticed_and_restarted(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify SIGKILL of a running worker: BACKOFF with the reason, then RUNNING again."""
    harness.supervisor.policy = RestartPolicy(base_delay=0.2, jitter=0.0)
    handle = harness.start(test_specs["solid"])
    harness.wait_running(handle)
    first_pid = handle.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    harness.wait_for(lambda: handle.state is WorkerState.BACKOFF, what="the crash to be seen")
    assert handle.last_exit == "killed by SIGKILL (perhaps out of memory)"
    harness.wait_running(handle)
    assert handle.restarts == 1 and handle.pid != first_pid


def test_crash_loop_backs_off_with_growing_delays_then_quarantines(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    policy = RestartPolicy(base_delay=0.2, max_delay=5.0, jitter=0.0, max_failures=4, window=60.0)
    harness.supervisor.policy = policy
    handle = harness.start(test_specs["crashrender"])
    starts: list[float] = []
    deadline = time.monotonic() + 30.0
    while handle.state is not WorkerState.QUARANTINED:
        assert time.monotonic() < deadline, f"not quarantined: {handle.state}"
        if handle.state is WorkerState.RUNNING and handle.active_mode is None:
            starts.append(time.monotonic())
            harness.supervisor.activate(handle, "boom")  # the render that kills it
        harness.pump(0.01)
    assert handle.last_exit == "killed by SIGABRT"
    assert handle.restarts == 3 and len(starts) == 4
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # Each wait is at least the policy's delay (0.2, 0.4, 0.8 s), so they grow.
    assert all(gap >= delay for gap, delay in zip(gaps, (0.2, 0.4, 0.8), strict=True))
    harness.pump(1.0)
    assert handle.state is WorkerState.QUARANTINED and handle.process is None


def test_events_left_over_from_a_reaped_worker_are_ignored(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """One select() may return a worker's exit with its control and frame fds; handled
    after the exit, those keys are stale and must not be taken for a host failure (which
    once replaced the plugin's own error with 'host could not handle its control')."""
    harness.supervisor.policy = RestartPolicy(base_delay=60.0, jitter=0.0)
    handle = harness.start(test_specs["solid"])
    harness.wait_running(handle)
    assert handle.pid is not None
    os.kill(handle.pid, signal.SIGKILL)
    harness.wait_for(lambda: handle.state is WorkerState.BACKOFF, what="the crash to be seen")
    assert handle.channel is None and handle.bus is None
    before = (handle.state, handle.last_exit, handle.last_error)
    for kind in ("control", "frames"):
        key = selectors.SelectorKey(None, -1, selectors.EVENT_READ, (handle, kind))
        harness.supervisor.messenger.dispatch(key, time.monotonic(), selectors.EVENT_READ)
    assert (handle.state, handle.last_exit, handle.last_error) == before
