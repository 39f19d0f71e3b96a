"""Synchronised signs, the pure parts: clock offset, the wire, following a leader, notices.

Plain values with ``now`` passed in (STYLE rule 24); the real hosts and broker are in
``tests/test_sync.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from host.app import Host, RunOptions
from host.errors import HostError
from host.ipc import control, syncwire
from host.schedule.clockoffset import OffsetEstimator, sample
from host.schedule.follow import LOST_PERIODS, Follower, Notices, localize
from host.schedule.rotation import Scheduler, Slot

WALL = 1_800_000_000.0  # a wall-clock time "now" for the tests
A, B, C = Slot("a", "m", 10.0), Slot("b", "m", 10.0), Slot("c", "m", 10.0)


def always(slot: Slot) -> bool:
    return True


# -- clock offset -------------------------------------------------------------------------


def test_offset_of_symmetric_exchange_is_exact() -> None:
    """Verify that with equal legs the offset is the leader's lead and the delay the
    round trip less the leader's own processing time."""
    # leader 5 s ahead; 10 ms each way; 2 ms at the leader
    s = sample(t0=100.0, t1=105.010, t2=105.012, t3=100.022)
    assert s is not None
    assert s.offset == pytest.approx(5.0)
    assert s.delay == pytest.approx(0.020)


def test_offset_error_is_at_most_half_the_round_trip() -> None:
    s = sample(t0=100.0, t1=105.030, t2=105.030, t3=100.040)  # 30 ms out, 10 ms back
    assert s is not None
    assert abs(s.offset - 5.0) <= s.delay / 2 + 1e-9


@pytest.mark.parametrize(
    ("t0", "t1", "t2", "t3"),
    [(100.0, 105.0, 104.0, 100.1), (100.0, 105.0, 105.0, 99.0), (100.0, 105.0, 105.5, 100.1)],
    ids=["answered-before-received", "arrived-before-sent", "negative-round-trip"],
)
def test_impossible_exchange_is_no_sample(t0: float, t1: float, t2: float, t3: float) -> None:
    assert sample(t0, t1, t2, t3) is None


def test_estimator_keeps_the_shortest_round_trip_of_its_window() -> None:
    est = OffsetEstimator(window=3)
    assert est.best() is None
    est.add(sample(0.0, 5.05, 5.05, 0.2))  # slow: 0.2 s
    est.add(sample(1.0, 6.002, 6.002, 1.004))  # quick: 4 ms
    est.add(sample(2.0, 7.05, 7.05, 2.1))
    est.add(None)
    best = est.best()
    assert best is not None and best.delay == pytest.approx(0.004)
    est.add(sample(3.0, 8.05, 8.05, 3.1))  # pushes the slow first one out
    est.add(sample(4.0, 9.05, 9.05, 4.1))  # and now the quick one
    best = est.best()
    assert best is not None and best.delay == pytest.approx(0.1)
    est.clear()
    assert est.best() is None and est.count == 0


# -- the wire -----------------------------------------------------------------------------


def position(**fields: object) -> syncwire.Position:
    base: dict[str, object] = {
        "leader": "lead",
        "seq": 1,
        "boot": "b1",
        "at": WALL,
        "key": "b:m",
        "left": 4.0,
        "length": 10.0,
        "running": True,
        "next": "c:m",
    }
    return syncwire.Position(**{**base, **fields})  # type: ignore[arg-type]


def test_position_round_trips_through_json() -> None:
    p = position(pin="a:m", pin_left=3.0, transition="crossfade")
    assert syncwire.decode(syncwire.encode(p)) == p


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"t": "position"}',
        b'{"t": "launch", "v": 1}',
        b'{"t":"ping","sign":"x","n":1,"t0":1800000000.0,"v":2}',
        b'{"t":"ping","sign":"x/#","n":1,"t0":1800000000.0}',
        b'{"t":"ping","sign":"x","n":1,"t0":0}',
        b'{"t":"ping","sign":"x","n":1,"t0":1800000000.0,"extra":1}',
        b'{"t":"notice","leader":"l","id":"1","start":1800000000.0}',
        b'{"t":"notice","leader":"l","id":"1","start":1800000000.0,"text":"a","mode":"a:m"}',
        b'{"t":"notice","leader":"l","id":"1","start":1800000000.0,"text":"' + b"x" * 9000,
    ],
    ids=[
        "not-json", "array", "missing-fields", "unknown-type", "other-version",
        "wildcard-in-id", "time-zero", "unknown-field", "notice-without-content",
        "notice-with-both", "oversized",
    ],
)  # fmt: skip
def test_malformed_payload_is_refused_naming_the_problem(payload: bytes) -> None:
    with pytest.raises(syncwire.SyncWireError) as info:
        syncwire.decode(payload)
    assert str(info.value)


# -- following the leader -------------------------------------------------------------------


def test_localize_turns_the_leaders_wall_time_into_our_monotonic_clock() -> None:
    """Verify that a position stamped 0.5 s ago by a clock 2 s ahead lands 0.5 s ago."""
    now = 50.0
    p = position(at=WALL + 2.0 - 0.5, pin="a:m", pin_left=1.0)
    turn = localize(p, offset=2.0, now=now, wall_now=WALL)
    assert turn.at == pytest.approx(49.5)
    assert turn.left_at(now) == pytest.approx(3.5)
    assert turn.pin_until == pytest.approx(50.5)


def test_follower_switches_with_the_leader_and_to_the_leaders_next() -> None:
    """Verify that a follower mid-way in its own turn of A takes the leader's turn of B,
    ends it when the leader's ends, then goes to the leader's next (C), not its own."""
    sched = Scheduler([A, B, C])
    assert sched.decide(0.0, always) is not None
    follower = Follower()
    now = 2.0
    p = position(key="b:m", left=4.0, next="a:m", at=WALL)
    assert follower.hear(localize(p, 0.0, now, WALL), now)
    assert follower.apply(sched, lambda key: None, now)
    decision = sched.decide(now, always)
    assert decision is not None and decision.slot == B
    assert sched.next_change() == pytest.approx(6.0)
    decision = sched.decide(6.0, always)
    assert decision is not None and decision.slot == A


def test_follower_on_the_same_slot_keeps_its_turn_and_only_moves_its_end() -> None:
    sched = Scheduler([A, B])
    sched.decide(0.0, always)
    follower = Follower()
    follower.hear(localize(position(key="a:m", left=7.5), 0.0, 2.0, WALL), 2.0)
    follower.apply(sched, lambda key: None, 2.0)
    sched.decide(2.0, always)
    status = sched.status(2.0)
    assert status["current"] is not None and status["current"]["since"] == 0.0
    assert sched.next_change() == pytest.approx(9.5)


def test_leader_slot_not_in_our_rotation_leaves_our_rotation_alone() -> None:
    sched = Scheduler([A, B])
    sched.decide(0.0, always)
    follower = Follower()
    follower.hear(localize(position(key="z:m", next="b:m"), 0.0, 1.0, WALL), 1.0)
    follower.apply(sched, lambda key: None, 1.0)
    assert not follower.in_rotation
    decision = sched.decide(1.0, always)
    assert decision is not None and decision.slot == A
    decision = sched.decide(10.0, always)  # our turn ends: the leader's next, B
    assert decision is not None and decision.slot == B


def test_older_or_repeated_position_of_the_same_run_is_ignored() -> None:
    follower = Follower()
    assert follower.hear(localize(position(seq=5), 0.0, 0.0, WALL), 0.0)
    assert not follower.hear(localize(position(seq=5), 0.0, 0.1, WALL), 0.1)
    assert not follower.hear(localize(position(seq=4), 0.0, 0.2, WALL), 0.2)
    # a new run of the leader counts from 1 again
    assert follower.hear(localize(position(seq=1, boot="b2"), 0.0, 0.3, WALL), 0.3)


def test_position_older_than_the_silence_that_counts_as_lost_is_ignored() -> None:
    follower = Follower()
    stale = position(at=WALL - LOST_PERIODS * 1.0 - 0.1, period=1.0)
    assert not follower.hear(localize(stale, 0.0, 100.0, WALL), 100.0)


def test_follower_loses_the_leader_after_three_silent_periods_and_rejoins() -> None:
    """Verify that silence ends following (and a mirrored pin) while the rotation goes on,
    and that the next position rejoins."""
    sched = Scheduler([A, B, C])
    sched.decide(0.0, always)
    follower = Follower()
    p = position(key="b:m", left=5.0, pin="c:m", pin_left=None, period=1.0)
    follower.hear(localize(p, 0.0, 0.0, WALL), 0.0)
    follower.apply(sched, {"c:m": C}.get, 0.0)
    decision = sched.decide(0.0, always)
    assert decision is not None and decision.reason == "pin"
    assert follower.following(2.9)
    assert not follower.following(3.0)
    assert follower.lost_at() == pytest.approx(3.0)
    follower.lose(sched)
    decision = sched.decide(3.0, always)
    assert decision is not None and decision.slot == B and decision.reason == "rotation"
    # back: a new run of the leader, at C
    p2 = position(key="c:m", left=8.0, boot="b2", seq=1, at=WALL + 10.0)
    assert follower.hear(localize(p2, 0.0, 10.0, WALL + 10.0), 10.0)
    follower.apply(sched, {"c:m": C}.get, 10.0)
    decision = sched.decide(10.0, always)
    assert decision is not None and decision.slot == C
    assert follower.status(10.0)["following"] is True


def test_leader_pin_ends_on_the_follower_when_the_leader_unpins() -> None:
    sched = Scheduler([A, B])
    follower = Follower()
    follower.hear(localize(position(pin="b:m"), 0.0, 0.0, WALL), 0.0)
    follower.apply(sched, {"b:m": B}.get, 0.0)
    assert sched.status(0.0)["pin"] is not None
    follower.hear(localize(position(seq=2, at=WALL + 1), 0.0, 1.0, WALL + 1), 1.0)
    follower.apply(sched, {"b:m": B}.get, 1.0)
    assert sched.status(1.0)["pin"] is None and follower.pinned is None


# -- notices ------------------------------------------------------------------------------


def notice(**fields: object) -> syncwire.Notice:
    base: dict[str, object] = {"leader": "lead", "id": "b1-1", "start": WALL + 0.5, "text": "hi"}
    return syncwire.Notice(**{**base, **fields})  # type: ignore[arg-type]


def test_notice_starts_at_the_leaders_instant_in_our_clock() -> None:
    notices = Notices(group="")
    assert notices.add(notice(start=WALL + 2.5), offset=2.0, now=10.0, wall_now=WALL) == (
        "scheduled"
    )
    assert notices.next_due() == pytest.approx(10.5)
    assert notices.pop_due(10.4) == []
    (due,) = notices.pop_due(10.5)
    assert due.seconds == pytest.approx(10.0)
    assert notices.pending() == 0


def test_late_notice_is_cut_so_it_ends_with_the_others() -> None:
    notices = Notices(group="")
    notices.add(notice(seconds=4.0), 0.0, 10.0, WALL)  # due at 10.5
    (due,) = notices.pop_due(11.5)
    assert due.seconds == pytest.approx(3.0)
    assert notices.add(notice(id="x", start=WALL - 10.0), 0.0, 10.0, WALL) == "over"


@pytest.mark.parametrize(
    ("ours", "theirs", "verdict"),
    [("", None, "scheduled"), ("hall", None, "scheduled"), ("hall", "hall", "scheduled"),
     ("hall", "door", "other_group"), ("", "door", "other_group")],
)  # fmt: skip
def test_notice_shows_on_all_or_its_group(ours: str, theirs: str | None, verdict: str) -> None:
    assert Notices(group=ours).add(notice(group=theirs), 0.0, 0.0, WALL) == verdict


def test_notice_delivered_twice_starts_once() -> None:
    notices = Notices(group="")
    assert notices.add(notice(), 0.0, 0.0, WALL) == "scheduled"
    assert notices.add(notice(), 0.0, 0.1, WALL + 0.1) == "duplicate"
    assert notices.pending() == 1


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key"),
    [({"role": "boss"}, "sync.role"), ({"group": "a b"}, "sync.group"),
     ({"topic": "a/b"}, "sync.topic"), ({"topic": "#"}, "sync.topic"),
     ({"topic": ""}, "sync.topic"), ({"period": 0.0}, "sync.period")],
)  # fmt: skip
def test_bad_sync_setting_is_refused_naming_its_key(values: dict[str, object], key: str) -> None:
    with pytest.raises(config.ConfigError) as info:
        config.load_config(overrides={"sync": values}, env={})
    assert key in str(info.value)


def test_sync_defaults_to_off() -> None:
    cfg = config.load_config(env={})
    assert (cfg.sync.role, cfg.sync.group, cfg.sync.topic) == ("off", "", "sync")


# -- the host's part (a real Host, not run: its sync role stepped with ``now``) -------------


def sync_host(role: str, tmp_path: Path) -> Host:
    cfg = config.load_config(
        env={},
        overrides={
            "paths": {"data_dir": str(tmp_path)},
            "mqtt": {"enabled": True, "client_id": "me"},
            "sync": {"role": role, "period": 1.0},
            "rotation": {"modes": []},
        },
    )
    return Host(cfg, RunOptions(only=()))


def test_leader_heartbeat_is_due_every_period_even_with_no_bridge_taking_it(
    tmp_path: Path,
) -> None:
    """Verify that a leader whose position nobody takes never leaves its next wake-up in
    the past (the host loop would spin), and that a bridge gets one position per period."""
    sync = sync_host("leader", tmp_path).sync
    for now in (10.0, 10.5, 11.0, 13.7):
        sync.poll(now)
        wake = sync.next_wakeup()
        assert wake is not None and wake > now
    assert sync.event(13.7, WALL) is not None  # a beat is due: one event
    assert sync.event(13.8, WALL) is None  # nothing changed, no beat due
    sync.poll(14.8)
    event = sync.event(14.8, WALL)
    assert event is not None and event["position"]["leader"] == "me"
    assert event["position"]["seq"] == 2


def test_leader_notify_schedules_here_and_hands_the_notice_to_the_bridge(
    tmp_path: Path,
) -> None:
    sync = sync_host("leader", tmp_path).sync
    sync.poll(5.0)
    request = control.SyncNotify(mode="rotor:alert", seconds=3.0, group=None)
    reply = sync.notify(request, now=5.0, wall_now=WALL)
    assert reply["here"] == "scheduled" and reply["starts_in"] == 0.5
    assert sync.next_wakeup() == pytest.approx(5.5)
    event = sync.event(5.0, WALL)
    assert event is not None
    (notice,) = event["notices"]
    assert notice["start"] == pytest.approx(WALL + 0.5) and notice["mode"] == "rotor:alert"


def test_follower_refuses_to_lead_and_leader_refuses_to_follow(tmp_path: Path) -> None:
    follower = sync_host("follower", tmp_path / "f").sync
    with pytest.raises(HostError, match="only the leader"):
        follower.notify(control.SyncNotify(text="hi"), 0.0, WALL)
    leader = sync_host("leader", tmp_path / "l").sync
    with pytest.raises(HostError, match="not 'follower'"):
        leader.hear(position(), 0.0, None, 0.0, WALL)


def test_off_role_never_wakes_the_host(tmp_path: Path) -> None:
    cfg = config.load_config(env={}, overrides={"paths": {"data_dir": str(tmp_path)}})
    sync = Host(cfg, RunOptions(only=())).sync
    sync.poll(1.0)
    assert sync.next_wakeup() is None and sync.event(1.0, WALL) is None
    assert sync.status(1.0, WALL) is None


def test_follower_moves_to_the_leaders_slots_with_the_leaders_transitions() -> None:
    """Verify that the leader's transition into its slot and into its next reach the
    follower's turn, and that another slot has none of the leader's."""
    p = position(
        key="b:m", next="c:m", transition="crossfade", transition_seconds=0.3,
        next_transition="slide-left", next_transition_seconds=0.7,
    )  # fmt: skip
    turn = localize(p, 0.0, 0.0, WALL)
    assert turn.transition_into("b:m") == ("crossfade", 0.3)
    assert turn.transition_into("c:m") == ("slide-left", 0.7)
    assert turn.transition_into("a:m") is None


def test_following_sign_switches_with_the_leaders_transition_else_its_own(
    tmp_path: Path,
) -> None:
    sync = sync_host("follower", tmp_path).sync
    own = sync.transition_into(B)
    assert own is not None and own.kind == "cut"  # the default config's
    p = position(key="a:m", next="b:m", next_transition="wipe-up", next_transition_seconds=0.4)
    assert sync.follower is not None
    sync.follower.hear(localize(p, 0.0, 0.0, WALL), 0.0)
    sync._was_following = True
    spec = sync.transition_into(B)
    assert spec is not None and (spec.kind, spec.duration) == ("wipe-up", 0.4)
    assert sync.transition_into(C) == own  # not the leader's slot: our own
