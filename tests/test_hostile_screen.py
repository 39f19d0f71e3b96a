"""Issue 13, the screen part: a hostile plugin cannot hold the screen.

Attack 8: an interrupt with priority 2**31-1 and a duration of 1e9 s, for more modes than
one instance may queue, sent as raw protocol messages past what the SDK allows. The host
clamps the priority below API notifications and pins, cuts the duration to
``rotation.interrupt_max_seconds``, refuses the interrupts past
``rotation.interrupt_max_queued`` with a log line naming the instance, and drops them all
when the worker ends (a restart must not bring them back).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from host.app import Host
from host.discovery import PluginSpec
from host.schedule.caps import PLUGIN_SOURCE, admit_plugin_interrupt
from host.schedule.rotation import Scheduler, Slot
from host.supervise.enforcer import STOPPED
from host.supervise.rules import WorkerRules
from host.supervise.states import WorkerState
from host.supervise.supervisor import EXITED_UNASKED
from host.worker.requests import HostRequests
from sdk import priorities
from tests.conftest import Harness, RecordingBackend, run_host, shown_modes
from tests.livehost import LiveHost, run_live, stats

TEST_PLUGINS = Path(__file__).parent / "plugins" / "site"


def _admit(s: Scheduler, mode: str, priority: int, seconds: float, now: float = 100.0) -> Any:
    return admit_plugin_interrupt(
        s, Slot("greedy", mode, 1.0), priority, seconds, now, max_seconds=600.0, max_queued=3
    )


def test_levels_put_plugins_below_notifications() -> None:
    assert priorities.ROTATION <= priorities.PLUGIN_MIN < priorities.PLUGIN_MAX
    assert priorities.PLUGIN_MAX < priorities.NOTIFICATION


def test_priority_and_duration_are_capped(caplog: pytest.LogCaptureFixture) -> None:
    s = Scheduler()
    with caplog.at_level(logging.WARNING, logger="host.schedule.caps"):
        assert _admit(s, "a", 2**31 - 1, 1e9) is not None
        assert _admit(s, "b", -(2**31), 5.0) is not None
    entries = {e["key"]: e for e in s.status(100.0)["interrupts"]}
    assert entries["greedy:a"]["priority"] == priorities.PLUGIN_MAX
    assert entries["greedy:a"]["remaining"] == 600.0
    assert entries["greedy:b"]["priority"] == priorities.PLUGIN_MIN
    assert entries["greedy:b"]["remaining"] == 5.0
    text = caplog.text
    assert "greedy: interrupt priority 2147483647" in text
    assert "cut to rotation.interrupt_max_seconds" in text


def test_flooding_interrupts_is_refused_past_the_cap(caplog: pytest.LogCaptureFixture) -> None:
    s = Scheduler()
    with caplog.at_level(logging.WARNING, logger="host.schedule.caps"):
        ids = [_admit(s, mode, 50, 10.0) for mode in "abcde"]
        again = _admit(s, "a", 60, 10.0)  # an update of a queued mode is no new entry
    assert ids[:3] == [1, 2, 3] and ids[3:] == [None, None]
    assert again == 1
    assert s.interrupts_of("greedy", PLUGIN_SOURCE) == ["a", "b", "c"]
    assert "greedy: interrupt for mode 'd' refused" in caplog.text
    # A notification from the API always beats the strongest plugin interrupt.
    s.interrupt(Slot("clock", "time", 5.0), priorities.NOTIFICATION, 200.0, source="api")
    decision = s.decide(100.0, lambda slot: True)
    assert decision is not None and decision.slot.instance == "clock"


class _Channel:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, message: object) -> None:
        self.sent.append(message)


def test_sdk_refuses_a_priority_out_of_range() -> None:
    channel = _Channel()
    requests = HostRequests(channel, lambda: None, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside 0..100"):
        requests.request_interrupt("a", 2**31 - 1, 1.0)
    with pytest.raises(ValueError, match="outside 0..100"):
        requests.request_interrupt("a", -1, 1.0)
    requests.request_interrupt("a", priorities.PLUGIN_MAX, 1.0)
    assert len(channel.sent) == 1


def test_raw_interrupts_are_capped_and_do_not_outlive_a_restart(tmp_path: Path) -> None:
    """The greedy plugin floods raw interrupts once; after its worker is killed and
    restarted, none of them is left and the clock has the screen again."""
    seen: dict[str, Any] = {}

    def step(host: Host, _: RecordingBackend) -> bool:
        handle = host.supervisor.handles["greedy"]
        if "queued" not in seen:
            queued = [e for e in host.scheduler.status(time.monotonic())["interrupts"]]
            if len(queued) < 3 or handle.process is None:
                return False
            seen["queued"] = queued
            seen["restarts"] = handle.restarts
            os.kill(handle.process.pid, signal.SIGKILL)
            return False
        return (
            handle.restarts > seen["restarts"]
            and handle.state is WorkerState.RUNNING
            and not host.scheduler.interrupts_of("greedy")
            and host.scheduler.status(time.monotonic())["current"] is not None
            and host.scheduler.status(time.monotonic())["current"]["instance"] == "clock"
        )

    host, _, stats = run_host(
        {
            "plugins": {"greedy": {}, "clock": {}},
            "rotation": {"modes": ["clock"]},
            "paths": {"data_dir": str(tmp_path / "data")},  # greedy's marker starts afresh
        },
        60.0,
        tmp_path,
        until=step,
        only=("greedy", "clock"),
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
    )
    queued = seen["queued"]
    assert len(queued) == 3, queued  # five asked, three admitted
    assert all(e["source"] == PLUGIN_SOURCE for e in queued)
    assert all(e["priority"] == priorities.PLUGIN_MAX for e in queued)
    assert all(e["remaining"] is not None and e["remaining"] <= 600.0 for e in queued)
    assert not host.scheduler.interrupts_of("greedy")
    assert stats["plugins"]["clock"]["frames"] >= 1


# -- clear reasons ---------------------------------------------------------------------


def test_worker_exiting_0_unasked_says_so(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    handle = harness.start(test_specs["quitter"])
    harness.wait_for(lambda: handle.last_exit == EXITED_UNASKED, what="quitter's exit")
    assert handle.last_exit == "exited on its own (status 0)"
    assert handle.last_exit_status == "exited cleanly"  # the raw status, kept apart
    assert handle.last_failure == EXITED_UNASKED  # a failure, not a requested stop


def test_sigstopped_worker_is_killed_as_stopped(
    harness: Harness, test_specs: dict[str, PluginSpec], caplog: pytest.LogCaptureFixture
) -> None:
    harness.supervisor.rules = WorkerRules(heartbeat_timeout=1.0)
    handle = harness.start(test_specs["solid"])
    harness.wait_running(handle)
    harness.supervisor.activate(handle, "fill")  # on screen: its next frame is owed
    harness.wait_for(lambda: handle.frame is not None, what="solid's first frame")
    assert handle.pid is not None
    with caplog.at_level(logging.INFO, logger="ledhost"):
        os.kill(handle.pid, signal.SIGSTOP)
        harness.wait_for(lambda: handle.last_exit is not None, what="the stopped worker's end")
    assert handle.last_exit == STOPPED == "stopped (no heartbeat)"
    assert handle.last_exit_status == "killed by SIGKILL (perhaps out of memory)"
    lines = [r.getMessage() for r in caplog.records if "stopped" in r.getMessage()]
    assert lines == ["plugin instance 'solid': stopped (no heartbeat)"]  # one event, one line


# -- crafted hello ---------------------------------------------------------------------


def _refused_then_reload(instance: str) -> Callable[[LiveHost], None]:
    """The scenario of a crafted hello: ``instance`` fails, the clock runs, then a live
    reload applies and the clock still runs."""

    def scenario(live: LiveHost) -> None:
        live.wait_for(
            lambda: getattr(live.handles().get(instance), "last_failure", None) is not None,
            f"{instance}'s crafted hello to be refused",
        )
        live.wait_for(lambda: live.running("clock"), "the clock to run")
        live.edit(lambda t: t["rotation"].update(default_duration=7.0))
        live.wait_reloads(1)
        live.wait_for(lambda: live.running("clock"), "the clock to run after the reload")

    return scenario


def test_crafted_hello_then_live_reload_and_shutdown_exit_0(tmp_path: Path) -> None:
    """Attack 4: a hello with non-string mode names broke a later live reload and the
    shutdown (exit 1, no stats). Now: the forged worker fails with the field named, a
    live reload applies, the clock keeps showing, and the host exits 0 with stats."""
    live = run_live(
        tmp_path,
        {"plugins": {"forgedhello": {}, "clock": {}}, "rotation": {"modes": ["clock"]}},
        _refused_then_reload("forgedhello"),
    )
    forged = live.host.supervisor.handles["forgedhello"]
    assert "$.modes[0].name" in (forged.last_failure or "")
    assert forged.modes == []
    data = stats(tmp_path)  # written: the shutdown went through
    assert data["plugins"]["clock"]["frames"] >= 1
    assert live.host.cfg.rotation.default_duration == 7.0


@pytest.mark.parametrize("kind", ["huge", "nested", "second", "dup"])
def test_crafted_late_hello_ends_only_that_worker(tmp_path: Path, kind: str) -> None:
    """A second hello (huge, nested junk, well-formed, or naming another instance's mode)
    ends that worker as failed; a live reload applies; exit 0 with stats."""
    live = run_live(
        tmp_path,
        {
            "plugins": {"latehello": {"kind": kind}, "clock": {}},
            "rotation": {"modes": ["clock", "latehello"]},
        },
        _refused_then_reload("latehello"),
    )
    late = live.host.supervisor.handles["latehello"]
    assert late.last_failure, late.last_failure
    assert all(m["name"] in ("main",) for m in late.modes), late.modes
    data = stats(tmp_path)
    assert data["plugins"]["clock"]["frames"] >= 1
    assert [m["name"] for m in live.host.supervisor.handles["clock"].modes] == ["time"]


# -- a stalled mode ----------------------------------------------------------------------


def test_a_stalled_mode_is_passed_over_at_once(tmp_path: Path) -> None:
    """A plugin whose ``render_frame`` hangs loses the screen long before its worker is
    killed: with turns and ``render_timeout`` ten minutes long, only the stall rule can
    bring the clock on, so the run ends as soon as it does."""
    seen: dict[str, Any] = {}

    def clock_after_spin(host: Host, _: RecordingBackend) -> bool:
        shown = [mode for mode, _ in shown_modes(host)]
        if "spinrender:spin" not in shown:
            return False
        if not any(mode.startswith("clock:") for mode in shown[shown.index("spinrender:spin") :]):
            return False
        handle = host.supervisor.handles["spinrender"]
        seen["state"], seen["restarts"] = handle.state, handle.restarts
        return True

    host, _, stats = run_host(
        {
            "plugins": {"spinrender": {}, "clock": {}},
            "rotation": {
                "modes": [
                    {"mode": "spinrender:spin", "duration": 600},
                    {"mode": "clock", "duration": 600},
                ]
            },
            "workers": {"render_timeout": 600.0, "heartbeat_timeout": 600.0},
        },
        120.0,
        tmp_path,
        until=clock_after_spin,
        only=("spinrender", "clock"),
        plugin_paths=(str(TEST_PLUGINS),),
    )
    # The worker was neither killed nor restarted: the rotation moved on by itself.
    assert seen == {"state": WorkerState.RUNNING, "restarts": 0}, seen
    assert stats["plugins"]["clock"]["frames"] >= 1
