"""The stop ladder as edges of the one state table, stepped with the time passed in.

Real workers (``tests/plugins/site``) under the real supervisor. The deadlines here are a
minute long, so no rung is ever taken because the wall clock moved: each one is taken
because the test passes ``now`` past it to :meth:`Supervisor.run_once`. The worker's own
end (its exit, seen through its sentinel) is real and awaited.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from host.discovery import PluginSpec
from host.supervise.rules import WorkerRules, deadline_of, next_rung
from host.supervise.states import ALLOWED, WorkerState
from tests.conftest import Harness

S = WorkerState
#: Long deadlines: only the ``now`` a test passes takes a rung.
SLOW = WorkerRules(render_timeout=60.0, stop_timeout=60.0, heartbeat_timeout=120.0)
#: What ``stubborn`` logs as its render begins to hang (its module's ``HANGING``).
HANGING = "stubborn: this render never returns"


def _states(handle: object) -> list[WorkerState]:
    return [state for _, state in handle.history]  # type: ignore[attr-defined]


def _logged(harness: Harness, instance: str, text: str) -> bool:
    """Whether the instance's worker logged ``text`` (its records reach the host's ring)."""
    return any(r.message == text for r in harness.supervisor.logs[instance].records(limit=1000))


def _step_past(harness: Harness, seconds: float) -> None:
    """One supervisor pass at ``seconds`` after the handle's current state began."""
    handles = [*harness.supervisor.handles.values(), *harness.supervisor.retiring]
    since = max(h.state_since for h in handles)
    harness.supervisor.run_once(0.0, now=since + seconds)


@pytest.fixture
def slow(harness: Harness) -> Harness:
    harness.supervisor.rules = replace(SLOW, policy=harness.supervisor.rules.policy)
    return harness


def test_every_edge_of_the_ladder_is_in_the_table() -> None:
    """Verify the rungs are edges of the one table, not a machine beside it."""
    assert S.TERMINATING in ALLOWED[S.STOPPING]
    assert S.KILLING in ALLOWED[S.TERMINATING]
    assert {S.EXITED, S.BACKOFF} <= ALLOWED[S.KILLING]
    assert S.STARTING not in ALLOWED[S.KILLING]  # a killed worker is reaped first


def test_transition_running_to_stopping_to_exited_when_it_stops_as_asked(
    slow: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    handle = slow.start(test_specs["solid"])
    slow.wait_running(handle)
    slow.supervisor.retire(handle, handle.state_since + 1.0)
    assert handle.state is S.STOPPING and handle.stop_requested
    slow.wait_for(lambda: handle.process is None, what="solid to stop")
    assert _states(handle)[-3:] == [S.RUNNING, S.STOPPING, S.EXITED]
    assert handle.last_failure is None and handle.failure_times == []


def test_transition_stopping_to_terminating_to_killing_to_exited_when_ignored(
    slow: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify a worker that ignores ``stop`` and SIGTERM climbs every rung at the time
    passed in, and that its end still counts as the stop it was asked for."""
    handle = slow.start(test_specs["stubborn"])
    slow.wait_running(handle)
    slow.supervisor.activate(handle, "main")
    # Its next render hangs (deadlines: a minute); before that, it would stop as asked.
    slow.wait_for(lambda: _logged(slow, "stubborn", HANGING), what="stubborn's hang")
    slow.supervisor.retire(handle, handle.state_since + 1.0)
    assert handle.state is S.STOPPING
    assert deadline_of(handle, slow.supervisor.rules) == handle.state_since + 60.0
    _step_past(slow, 59.0)
    assert handle.state is S.STOPPING  # not yet: the rung is a minute away
    _step_past(slow, 60.0)
    assert handle.state is S.TERMINATING  # SIGTERM, which it ignores
    assert handle.process is not None and handle.process.poll() is None
    _step_past(slow, 60.0)
    assert handle.state is S.KILLING
    slow.wait_for(lambda: handle.process is None, what="stubborn to be reaped")
    assert _states(handle)[-4:] == [S.STOPPING, S.TERMINATING, S.KILLING, S.EXITED]
    assert handle.last_exit == "did not stop when asked"
    assert handle.last_failure is None  # asked to stop: not a failure, however hard


def test_transition_running_to_terminating_to_killing_to_backoff_when_hung(
    slow: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify a hung call takes the ladder from its second rung and counts as a failure.

    The render deadline is a real second here (a heartbeat must report the hung call);
    the rung after SIGTERM is stepped."""
    slow.supervisor.rules = replace(slow.supervisor.rules, render_timeout=1.0)
    handle = slow.start(test_specs["stubborn"])
    slow.wait_running(handle)
    slow.supervisor.activate(handle, "main")
    slow.wait_for(lambda: handle.state is S.TERMINATING, what="SIGTERM for the hung render")
    assert handle.ending_reason == "hung in render_frame (no answer within 1 s)"
    assert next_rung(handle, slow.supervisor.rules, handle.state_since + 59.0) is None
    _step_past(slow, 60.0)
    assert handle.state is S.KILLING
    slow.wait_for(lambda: handle.process is None, what="stubborn to be reaped")
    assert _states(handle)[-4:] == [S.RUNNING, S.TERMINATING, S.KILLING, S.BACKOFF]
    assert handle.last_failure == "hung in render_frame (no answer within 1 s)"


def test_transition_starting_to_killing_to_backoff_on_a_protocol_error(
    slow: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    handle = slow.start(test_specs["forgedhello"])
    slow.wait_for(lambda: handle.failure_times, what="the forged hello to fail")
    assert _states(handle)[:3] == [S.STARTING, S.KILLING, S.BACKOFF]
    assert handle.last_failure is not None and "protocol error" in handle.last_failure
