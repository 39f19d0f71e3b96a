"""Worker state edges and the restart policy: pure, with ``now`` passed in."""

from __future__ import annotations

import random

import pytest

from host.discovery import PluginSpec
from host.ipc import exitcodes
from host.supervise.handle import WorkerHandle
from host.supervise.restart_policy import RestartPolicy
from host.supervise.states import ALLOWED, WorkerState

S = WorkerState


def _handle() -> WorkerHandle:
    spec = PluginSpec("clock", "plugins_builtin.clock", "ledhost", "0.1.0", "builtin")
    return WorkerHandle(instance_id="clock", spec=spec, options={})


@pytest.mark.parametrize(
    "path",
    [
        [S.STARTING, S.RUNNING, S.STOPPING, S.EXITED],  # a normal life
        [S.STARTING, S.BACKOFF, S.STARTING, S.RUNNING],  # boot failure then recovery
        [S.STARTING, S.RUNNING, S.BACKOFF, S.QUARANTINED],  # keeps failing
        [S.STARTING, S.EXITED],  # invalid config: told to stop during the handshake
        [S.QUARANTINED, S.STARTING],  # the user says "retry now"
    ],
)
def test_allowed_paths(path: list[WorkerState]) -> None:
    handle = _handle()
    for i, state in enumerate(path):
        handle.change_state(state, float(i))
    assert handle.state is path[-1]
    assert [s for _, s in handle.history] == path


def test_transition_running_to_starting_is_refused_naming_plugin_and_states() -> None:
    handle = _handle()
    handle.change_state(S.STARTING, 0.0)
    handle.change_state(S.RUNNING, 1.0)
    with pytest.raises(AssertionError, match="'clock': running -> starting"):
        handle.change_state(S.STARTING, 2.0)


def test_every_state_has_an_exit() -> None:
    assert set(ALLOWED) == set(WorkerState)
    assert all(ALLOWED[s] for s in WorkerState)


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    policy = RestartPolicy(base_delay=0.5, max_delay=8.0, jitter=0.1)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 8)]
    bases = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for delay, base in zip(delays, bases, strict=True):
        assert base <= delay <= min(8.0, base * 1.1)


def test_quarantine_after_max_failures_inside_the_window() -> None:
    policy = RestartPolicy(max_failures=3, window=60.0)
    assert not policy.should_quarantine([0.0, 10.0], now=20.0)
    assert policy.should_quarantine([0.0, 10.0, 20.0], now=20.0)
    assert not policy.should_quarantine([0.0, 10.0, 100.0], now=100.0)  # old ones forgotten


def test_stable_run_resets_backoff() -> None:
    policy = RestartPolicy(start_secs=5.0)
    assert policy.was_stable(10.0, 15.0)
    assert not policy.was_stable(10.0, 14.9)


@pytest.mark.parametrize(
    "code, text",
    [
        (0, "exited cleanly"),
        (exitcodes.IMPORT_FAILED, "plugin failed to import"),
        (exitcodes.SETUP_FAILED, "plugin setup failed"),
        (-9, "killed by SIGKILL (perhaps out of memory)"),
        (-11, "killed by SIGSEGV"),
        (42, "exited with status 42"),
    ],
)
def test_exit_descriptions(code: int, text: str) -> None:
    assert exitcodes.describe(code) == text
