"""Deadlines, limits and worker rules: pure decisions with ``now`` passed in, no processes."""

from __future__ import annotations

import pwd
from typing import Any

import pytest

from config import load_config
from host.discovery import PluginSpec
from host.planning import rules_from_config
from host.supervise.handle import WorkerHandle
from host.supervise.restart_policy import RestartPolicy
from host.supervise.rules import MIB, WorkerRules, deadline_of, next_rung, over_limit, overdue
from host.supervise.states import WorkerState

S = WorkerState

#: Stands in for a live process: ``overdue`` only asks whether there is one.
LIVE: Any = object()

#: Allowed paths from STOPPED to each state, so handles get there through change_state().
PATHS: dict[WorkerState, list[WorkerState]] = {
    S.STOPPED: [],
    S.STARTING: [S.STARTING],
    S.RUNNING: [S.STARTING, S.RUNNING],
    S.BACKOFF: [S.STARTING, S.BACKOFF],
    S.STOPPING: [S.STARTING, S.RUNNING, S.STOPPING],
    S.EXITED: [S.STARTING, S.EXITED],
    S.QUARANTINED: [S.QUARANTINED],
}

RULES = WorkerRules(
    render_timeout=5.0,
    refresh_timeout=120.0,
    setup_timeout=30.0,
    heartbeat_timeout=10.0,
    memory_limit=256 * MIB,
    max_processes=32,
)

#: The moment the worker started (and, unless a test says otherwise, last beat).
T0 = 1000.0


def _handle(
    state: WorkerState,
    *,
    process: Any = LIVE,
    last_heartbeat: float = T0,
    busy: list[tuple[str, float]] | None = None,
    modes: list[dict[str, Any]] | None = None,
    memory_limit: int = 0,
) -> WorkerHandle:
    spec = PluginSpec(
        "solid", "ledhost_test_plugins.solid", "ledhost-test-plugins", "0.1.0", "path"
    )
    handle = WorkerHandle(instance_id="solid", spec=spec, options={}, memory_limit=memory_limit)
    for step in PATHS[state]:
        handle.change_state(step, T0)
    handle.process = process
    handle.started_at = T0
    handle.last_heartbeat = handle.last_sign = last_heartbeat
    handle.busy = list(busy or [])
    if state is S.RUNNING and not busy:
        # Owing a sign of life since the last beat, as a worker asked something does;
        # the idle case (owing nothing) has tests of its own below.
        handle.asked["activate"] = last_heartbeat
    handle.modes = list(modes or [])
    return handle


# -- overdue: starting -------------------------------------------------------------------


@pytest.mark.parametrize(
    "modes, config, after, expected",
    [
        ([], None, 29.9, None),
        ([], None, 30.0, None),  # the limit itself is still in time
        ([], None, 30.1, "hung in starting (import or handshake) (not ready within 30 s)"),
        ([{"name": "fill"}], None, 10.0, None),
        ([{"name": "fill"}], None, 31.0, "hung in checking its config (not ready within 30 s)"),
        ([{"name": "fill"}], {}, 31.0, "hung in setup (not ready within 30 s)"),
    ],
)
def test_overdue_starting_against_setup_timeout(
    modes: list[dict[str, Any]], config: dict[str, Any] | None, after: float, expected: str | None
) -> None:
    """Verify the phase named: import/handshake before hello, then the worker's own
    config check, then "setup" once the worker accepted its config."""
    handle = _handle(S.STARTING, modes=modes)
    handle.config = config
    assert overdue(handle, RULES, T0 + after) == expected


def test_overdue_starting_ignores_heartbeats_and_busy_calls() -> None:
    """Verify a starting worker answers to setup_timeout alone, not heartbeat or render."""
    handle = _handle(S.STARTING, last_heartbeat=T0 - 500.0, busy=[("render_frame", 400.0)])
    assert overdue(handle, RULES, T0 + 20.0) is None


# -- overdue: running --------------------------------------------------------------------


@pytest.mark.parametrize("silent", [0.0, 5.0, 9.9, 10.0])
def test_overdue_running_with_fresh_heartbeat(silent: float) -> None:
    handle = _handle(S.RUNNING, last_heartbeat=T0)
    assert overdue(handle, RULES, T0 + silent) is None


@pytest.mark.parametrize(
    "silent, expected",
    [
        (10.1, "hung: no heartbeat for 10.1 s (code holding the interpreter, limit 10 s)"),
        (42.0, "hung: no heartbeat for 42.0 s (code holding the interpreter, limit 10 s)"),
    ],
)
def test_overdue_running_with_stale_heartbeat(silent: float, expected: str) -> None:
    handle = _handle(S.RUNNING, last_heartbeat=T0)
    assert overdue(handle, RULES, T0 + silent) == expected


def test_overdue_running_stale_heartbeat_wins_over_busy_call() -> None:
    """Verify silence is reported as such even when the last beat named a busy call."""
    handle = _handle(S.RUNNING, last_heartbeat=T0, busy=[("render_frame", 1.0)])
    reason = overdue(handle, RULES, T0 + 11.0)
    assert reason is not None and reason.startswith("hung: no heartbeat for 11.0 s")


@pytest.mark.parametrize(
    "hook, reported, since_beat, expected",
    [
        # the elapsed estimate is what the beat said plus the time since that beat
        ("render_frame", 1.0, 0.0, None),
        ("render_frame", 4.9, 0.0, None),
        ("render_frame", 5.0, 0.0, "hung in render_frame (no answer within 5 s)"),
        ("render_frame", 3.0, 1.9, None),
        ("render_frame", 3.0, 2.0, "hung in render_frame (no answer within 5 s)"),
        ("render_frame", 0.5, 4.6, "hung in render_frame (no answer within 5 s)"),
        ("refresh_data", 5.0, 0.0, None),  # refreshes get the long deadline
        ("refresh_data", 110.0, 9.0, None),
        ("refresh_data", 115.0, 5.0, "hung in refresh_data (no answer within 120 s)"),
        ("refresh_data", 200.0, 0.0, "hung in refresh_data (no answer within 120 s)"),
        # every other hook is held to the render deadline
        ("handle_action", 5.5, 0.0, "hung in handle_action (no answer within 5 s)"),
        ("render_strip", 4.0, 0.5, None),
        ("has_content", 4.0, 1.0, "hung in has_content (no answer within 5 s)"),
    ],
)
def test_overdue_running_busy_call_against_its_deadline(
    hook: str, reported: float, since_beat: float, expected: str | None
) -> None:
    handle = _handle(S.RUNNING, last_heartbeat=T0 + 50.0, busy=[(hook, reported)])
    assert overdue(handle, RULES, T0 + 50.0 + since_beat) == expected


def test_overdue_running_call_past_render_deadline() -> None:
    """Verify a slow refresh beside a hung render: the render is the one named."""
    busy = [("refresh_data", 60.0), ("render_frame", 6.0)]
    handle = _handle(S.RUNNING, last_heartbeat=T0, busy=busy)
    assert overdue(handle, RULES, T0 + 0.5) == "hung in render_frame (no answer within 5 s)"


def test_overdue_running_first_late_call_is_named() -> None:
    busy = [("refresh_data", 130.0), ("render_frame", 6.0)]
    handle = _handle(S.RUNNING, last_heartbeat=T0, busy=busy)
    assert overdue(handle, RULES, T0) == "hung in refresh_data (no answer within 120 s)"


def test_overdue_uses_the_rules_given() -> None:
    """Verify the deadlines come from the rules, not from constants."""
    rules = WorkerRules(render_timeout=0.5, heartbeat_timeout=2.0)
    handle = _handle(S.RUNNING, last_heartbeat=T0, busy=[("render_frame", 0.3)])
    assert overdue(handle, rules, T0 + 0.1) is None
    assert overdue(handle, rules, T0 + 0.25) == "hung in render_frame (no answer within 0.5 s)"


# -- overdue: running, what the worker owes ---------------------------------------------


def _idle(last_sign: float = T0) -> WorkerHandle:
    handle = _handle(S.RUNNING, last_heartbeat=T0)
    handle.asked.clear()
    handle.last_sign = last_sign
    return handle


@pytest.mark.parametrize("after", [10.1, 3600.0, 86400.0])
def test_idle_worker_owing_nothing_is_never_hung_and_sets_no_deadline(after: float) -> None:
    """Verify an idle worker (no call reported, nothing asked, no frame due) may stay
    silent for good: it sends no beats, and the host wakes for nothing on its account."""
    handle = _idle()
    assert handle.owed_since() is None
    assert overdue(handle, RULES, T0 + after) is None
    assert deadline_of(handle, RULES) is None


@pytest.mark.parametrize(
    "asked_after, now_after, expected",
    [
        (500.0, 509.9, None),  # silent for days, then asked: the clock starts at the ask
        (500.0, 510.0, None),
        (500.0, 510.5, "hung: no heartbeat for 10.5 s (code holding the interpreter, limit 10 s)"),
    ],
)
def test_a_request_unanswered_counts_from_when_it_was_asked(
    asked_after: float, now_after: float, expected: str | None
) -> None:
    handle = _idle()
    handle.asked["action 1"] = T0 + asked_after
    assert overdue(handle, RULES, T0 + now_after) == expected
    assert deadline_of(handle, RULES) == T0 + asked_after + 10.0


def test_a_sign_of_life_after_the_request_restarts_the_count() -> None:
    """Verify a message or frame after the ask (the worker works on it) pushes the limit."""
    handle = _idle()
    handle.asked["configure 3"] = T0 + 5.0
    handle.last_sign = T0 + 12.0
    assert overdue(handle, RULES, T0 + 21.0) is None
    assert deadline_of(handle, RULES) == T0 + 22.0
    assert overdue(handle, RULES, T0 + 22.5) is not None


def test_an_answered_request_is_owed_no_more() -> None:
    handle = _idle()
    handle.asked["action 7"] = T0
    handle.answered("action 7")
    handle.answered("action 8")  # an answer to nothing asked changes nothing
    assert overdue(handle, RULES, T0 + 100.0) is None


@pytest.mark.parametrize(
    "now_after, expected",
    [
        (34.9, None),  # the next frame was due at +30: render_timeout (5 s) from then
        (35.0, "hung in render_frame (no answer within 5 s)"),
    ],
)
def test_a_due_frame_that_never_comes_is_a_hung_render(
    now_after: float, expected: str | None
) -> None:
    """Verify the next frame's due time, stamped by the worker on its last frame, is when
    the render the host times itself began: the worker sends no beat per frame."""
    handle = _idle()
    handle.frame_due = T0 + 30.0
    assert handle.render_running_since() == T0 + 30.0
    assert overdue(handle, RULES, T0 + now_after) == expected
    assert deadline_of(handle, RULES) == T0 + 35.0


def test_a_due_frame_waits_on_a_reported_main_thread_call() -> None:
    """Verify a frame held up by a long call of the worker's main thread (reported by a
    beat) is not a hung render: that call answers to its own deadline."""
    handle = _idle()
    handle.frame_due = T0 + 1.0
    handle.record_heartbeat(T0 + 1.0, [("handle_action", 0.5)])
    assert overdue(handle, RULES, T0 + 4.0) is None
    assert overdue(handle, RULES, T0 + 5.5) == "hung in handle_action (no answer within 5 s)"


def test_a_due_frame_is_still_timed_beside_a_refresh() -> None:
    """Verify a refresh runs on a thread of its own: it does not excuse a late frame."""
    handle = _idle()
    handle.frame_due = T0 + 1.0
    handle.record_heartbeat(T0 + 1.0, [("refresh_data", 0.5)])
    assert overdue(handle, RULES, T0 + 6.5) == "hung in render_frame (no answer within 5 s)"


def test_a_call_reported_owes_beats_from_its_last_one() -> None:
    handle = _idle()
    handle.record_heartbeat(T0 + 50.0, [("refresh_data", 0.3)])
    assert handle.owed_since() == T0 + 50.0
    assert overdue(handle, RULES, T0 + 59.0) is None
    reason = overdue(handle, RULES, T0 + 60.5)
    assert reason is not None and reason.startswith("hung: no heartbeat for 10.5 s")
    handle.record_heartbeat(T0 + 55.0, [])  # the calls are over: nothing owed
    assert overdue(handle, RULES, T0 + 600.0) is None


# -- overdue: every other state, and no process ------------------------------------------


@pytest.mark.parametrize("state", [S.STOPPED, S.BACKOFF, S.STOPPING, S.EXITED, S.QUARANTINED])
def test_overdue_other_states_are_never_hung(state: WorkerState) -> None:
    """Verify only STARTING and RUNNING workers are judged, however old their records."""
    handle = _handle(state, last_heartbeat=T0 - 1000.0, busy=[("render_frame", 999.0)])
    assert overdue(handle, RULES, T0 + 1000.0) is None


@pytest.mark.parametrize("state", [S.STARTING, S.RUNNING])
def test_overdue_without_process_is_none(state: WorkerState) -> None:
    handle = _handle(state, process=None, last_heartbeat=T0, busy=[("render_frame", 99.0)])
    assert overdue(handle, RULES, T0 + 1000.0) is None


# -- the ladder's rungs fall due exactly when deadline_of says ---------------------------

#: Start times ``t`` whose ``(t + 60.0) - t`` or ``(t + 5.0) - t`` comes out an ulp short in
#: floating point (the sum crosses a power of two), beside an ordinary one; a host up
#: about 18 h (2**16 s) has such times.
AWKWARD_STARTS = [T0, 65500.00000000001, 65533.00000000001, 131070.00000000001]


@pytest.mark.parametrize("start", AWKWARD_STARTS)
def test_each_rung_is_taken_at_the_deadline_the_host_wakes_for(start: float) -> None:
    """Verify a pass run at :func:`deadline_of`'s answer takes the rung it was woken for.

    The stop-ladder test once saw TERMINATING where KILLING was due: it stepped to
    ``state_since + stop_timeout``, and ``now - state_since`` came out an ulp short of
    ``stop_timeout``."""
    rules = WorkerRules(stop_timeout=60.0, render_timeout=5.0)
    handle = _handle(S.RUNNING)
    handle.request_stop(start)
    stopping = deadline_of(handle, rules)
    assert stopping is not None
    assert next_rung(handle, rules, stopping - 1e-3) is None
    assert next_rung(handle, rules, stopping) == ("terminate", "did not stop when asked")
    handle.terminate("did not stop when asked", stopping)
    terminating = deadline_of(handle, rules)
    assert terminating is not None
    assert next_rung(handle, rules, terminating - 1e-3) is None
    assert next_rung(handle, rules, terminating) == ("kill", "did not stop when asked")


@pytest.mark.parametrize("start", AWKWARD_STARTS)
def test_a_due_frame_is_hung_at_the_deadline_the_host_wakes_for(start: float) -> None:
    handle = _idle(last_sign=start)
    handle.frame_due = start
    deadline = deadline_of(handle, RULES)
    assert deadline == start + RULES.render_timeout
    assert overdue(handle, RULES, deadline - 1e-3) is None
    assert overdue(handle, RULES, deadline) == "hung in render_frame (no answer within 5 s)"


# -- over_limit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "own_limit, rss, expected",
    [
        (0, 100 * MIB, None),
        (0, 256 * MIB, None),  # the limit itself is allowed
        (0, 256 * MIB + 1, "over memory limit (256 MiB resident, limit 256 MiB)"),
        (0, 300 * MIB, "over memory limit (300 MiB resident, limit 256 MiB)"),
        # the instance's own limit overrides the host-wide one, either way
        (512 * MIB, 300 * MIB, None),
        (512 * MIB, 600 * MIB, "over memory limit (600 MiB resident, limit 512 MiB)"),
        (64 * MIB, 100 * MIB, "over memory limit (100 MiB resident, limit 64 MiB)"),
        (64 * MIB, 64 * MIB, None),
    ],
)
def test_over_limit_memory(own_limit: int, rss: int, expected: str | None) -> None:
    handle = _handle(S.RUNNING, memory_limit=own_limit)
    assert over_limit(handle, RULES, rss, 1) == expected


@pytest.mark.parametrize(
    "processes, expected",
    [
        (1, None),
        (32, None),
        (33, "too many processes (33, limit 32)"),
        (500, "too many processes (500, limit 32)"),
    ],
)
def test_over_limit_process_count(processes: int, expected: str | None) -> None:
    handle = _handle(S.RUNNING)
    assert over_limit(handle, RULES, 10 * MIB, processes) == expected


def test_over_limit_memory_is_named_before_process_count() -> None:
    handle = _handle(S.RUNNING)
    reason = over_limit(handle, RULES, 1024 * MIB, 100)
    assert reason is not None and reason.startswith("over memory limit")


# -- WorkerRules ---------------------------------------------------------------------------


@pytest.mark.parametrize("timeout, beat", [(10.0, 2.5), (2.0, 0.5), (0.2, 0.05)])
def test_rules_heartbeat_is_a_quarter_of_the_timeout(timeout: float, beat: float) -> None:
    assert WorkerRules(heartbeat_timeout=timeout).heartbeat == pytest.approx(beat)


@pytest.mark.parametrize(
    "hook, deadline",
    [
        ("refresh_data", 90.0),
        ("render_frame", 2.5),
        ("render_strip", 2.5),
        ("has_content", 2.5),
        ("handle_action", 2.5),
        ("configure", 2.5),
    ],
)
def test_rules_deadline_per_hook(hook: str, deadline: float) -> None:
    rules = WorkerRules(render_timeout=2.5, refresh_timeout=90.0)
    assert rules.deadline(hook) == deadline


@pytest.mark.parametrize("own, expected", [(0, 256 * MIB), (32 * MIB, 32 * MIB)])
def test_rules_memory_limit_of_instance(own: int, expected: int) -> None:
    assert RULES.memory_limit_of(_handle(S.RUNNING, memory_limit=own)) == expected


# -- rules_from_config ---------------------------------------------------------------------


def _workers(**settings: Any) -> Any:
    return load_config(None, env={}, overrides={"workers": settings}).workers


def test_rules_from_config_maps_every_setting() -> None:
    workers = _workers(
        user="nobody",
        memory_limit_mb=96,
        max_processes=7,
        max_open_files=64,
        nice=3,
        render_timeout=1.5,
        refresh_timeout=30.0,
        setup_timeout=4.0,
        heartbeat_timeout=6.0,
        stop_timeout=0.7,
        restart_delay=0.25,
        restart_max_delay=8.0,
        stable_after=12.0,
        quarantine_after=3,
        quarantine_window=90.0,
    )
    rules = rules_from_config(workers, euid=1000)
    assert rules == WorkerRules(
        memory_limit=96 * MIB,
        max_processes=7,
        max_open_files=64,
        nice=3,
        render_timeout=1.5,
        refresh_timeout=30.0,
        setup_timeout=4.0,
        heartbeat_timeout=6.0,
        stop_timeout=0.7,
        uid=None,
        gid=None,
        user=None,
        policy=RestartPolicy(
            start_secs=12.0, base_delay=0.25, max_delay=8.0, max_failures=3, window=90.0
        ),
    )


@pytest.mark.parametrize("setting, expected", [("auto", True), ("off", False)])
def test_rules_from_config_cgroups_auto_or_off(setting: str, expected: bool) -> None:
    assert rules_from_config(_workers(cgroups=setting), euid=1000).cgroups is expected


def test_rules_from_config_max_delay_is_never_below_first_delay() -> None:
    rules = rules_from_config(_workers(restart_delay=5.0, restart_max_delay=1.0), euid=1000)
    assert rules.policy.base_delay == 5.0 and rules.policy.max_delay == 5.0


@pytest.mark.parametrize("user", ["", "auto", "nobody", "root", "no-such-user-ledhost"])
def test_rules_from_config_unprivileged_host_keeps_its_user(user: str) -> None:
    """Verify a host that is not root switches no user, whatever workers.user says."""
    rules = rules_from_config(_workers(user=user), euid=1000)
    assert (rules.uid, rules.gid, rules.user) == (None, None, None)


def test_rules_from_config_root_with_empty_user_keeps_root() -> None:
    rules = rules_from_config(_workers(user=""), euid=0)
    assert (rules.uid, rules.gid, rules.user) == (None, None, None)


def _passwd(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pytest.skip(f"this system has no user {name!r}")


def test_rules_from_config_root_with_named_user() -> None:
    nobody = _passwd("nobody")
    rules = rules_from_config(_workers(user="nobody"), euid=0)
    assert (rules.uid, rules.gid, rules.user) == (nobody.pw_uid, nobody.pw_gid, "nobody")


def test_rules_from_config_root_with_auto_gives_each_instance_a_uid() -> None:
    """Verify "auto" as root means a uid per instance from the configured range."""
    rules = rules_from_config(_workers(user="auto", uid_base=1_900_000_000, uid_count=10), euid=0)
    assert rules.uid_range == (1_900_000_000, 10)
    assert rules.uid == rules.gid == 1_900_000_000  # the one uid probed to run workers


def test_rules_from_config_root_with_unknown_user_names_it() -> None:
    with pytest.raises(ValueError, match="workers.user 'no-such-user-ledhost': no such user"):
        rules_from_config(_workers(user="no-such-user-ledhost"), euid=0)


def test_rules_from_config_root_user_only_when_said_so() -> None:
    """Verify ``workers.user = "root"`` is the explicit way to run plugin code as root."""
    rules = rules_from_config(_workers(user="root"), euid=0)
    assert (rules.uid, rules.gid, rules.user) == (None, None, None)
    assert rules.refusal("path") is None
