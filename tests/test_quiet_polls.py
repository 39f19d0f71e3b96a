"""Status polls cost the host the reply alone (issue 17), and change nothing it does.

A wake-up of the host's loop made only of read-only control requests neither decides nor
works out its deadlines again; a request that changes something still does both at once.
A real host with a real worker and a real socket; the counts below compare calls with
requests, never with time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from host.ipc import control
from host.ipc.control_client import ControlClient
from tests.conftest import eventually
from tests.livehost import LiveHost, run_live

POLLS = 200


def _counting(calls: list[int], method: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return method(*args, **kwargs)

    return counted


def test_status_polls_do_not_wake_the_decision(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "b") and sock.exists(), "workers, socket")
        host = live.host
        eventually(lambda: host._current is not None, "a mode on screen")
        decisions, deadlines = [0], [0]
        host._decide = _counting(decisions, host._decide)  # type: ignore[method-assign]
        supervisor = host.supervisor
        supervisor.next_wakeup = _counting(deadlines, supervisor.next_wakeup)  # type: ignore[method-assign]
        assert host.control is not None
        served = host.control.status_cache.served + host.control.status_cache.built
        with ControlClient(str(sock), timeout=20) as client:
            for _ in range(POLLS):
                assert set(client.request(control.Status())["plugins"]) == {"a", "b"}
            cache = host.control.status_cache
            assert cache.served + cache.built - served == POLLS
            # The workers draw once a second and the housekeeping runs every second or
            # two: a loop turn per poll would be POLLS of each.
            assert decisions[0] < POLLS // 4, decisions
            assert deadlines[0] < POLLS // 4, deadlines

            # A request that changes what shows is decided on at once, polls or not.
            before = client.request(control.Status())["display"]["showing"]
            after = client.request(control.Next())["showing"]
            assert after != before
            assert client.request(control.Status())["display"]["showing"] == after
            eventually(lambda: host._current is not None and host._current.key == after, "next")

    tables = {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["a:fill", "b:fill"]},
        "plugins": {"a": {"plugin": "solid", "fps": 1}, "b": {"plugin": "solid", "fps": 1}},
    }
    run_live(tmp_path, tables, scenario)
