"""Loop turns that cannot change what shows do not decide it again (issues 17 and 15).

A wake-up of the host's loop made only of read-only control requests (status polls)
neither decides nor works out its deadlines again, and a turn that only a push fell due
for (a scroll step of a text the host scrolls) pushes without deciding; a request that
changes something is still decided on at once. Real hosts with real workers and a real
socket; the counts below compare calls with requests and pushes, never with time.
"""

from __future__ import annotations

import os
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


def _scrolling(sock: Path | None) -> dict[str, Any]:
    """Config tables of a host that shows one long scrolling text at 60 fps (with a
    control socket at ``sock``, if given)."""
    tables: dict[str, Any] = {
        "display": {"fps": 60},
        "rotation": {"modes": ["text:message"]},
        "plugins": {"text": {"message": "A long message that scrolls along the panel"}},
    }
    if sock is not None:
        tables["control"] = {"socket": str(sock)}
    return tables


def test_status_polls_do_not_wake_the_decision(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "b") and sock.exists(), "workers, socket")
        host = live.host
        eventually(lambda: host.director.current is not None, "a mode on screen")
        decisions, deadlines = [0], [0]
        host.director.decide = _counting(decisions, host.director.decide)  # type: ignore[method-assign]
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
            director = host.director

            def showing() -> str | None:
                return director.current.key if director.current is not None else None

            eventually(lambda: showing() == after, "next")

    tables = {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["a:fill", "b:fill"]},
        "plugins": {"a": {"plugin": "solid", "fps": 1}, "b": {"plugin": "solid", "fps": 1}},
    }
    run_live(tmp_path, tables, scenario)


def test_a_scrolling_text_is_pushed_without_a_decision_per_step(tmp_path: Path) -> None:
    def scenario(live: LiveHost) -> None:
        host = live.host
        live.wait_for(lambda: len(live.backend.pushes) > 5, "the text scrolling")
        decisions = [0]
        host.director.decide = _counting(decisions, host.director.decide)  # type: ignore[method-assign]
        pushed = len(live.backend.pushes)
        live.wait_for(lambda: len(live.backend.pushes) > pushed + 60, "60 scroll steps")
        steps = len(live.backend.pushes) - pushed
        # The host scrolls the strip itself: nothing a decision reads changes per step,
        # only the housekeeping's and the worker's own wake-ups decide.
        assert decisions[0] < steps // 4, (decisions, steps)
        assert host.director.current is not None and host.director.current.key == "text:message"

    run_live(tmp_path, _scrolling(None), scenario)


def test_a_scroll_step_leaves_the_control_server_and_memory_alone(tmp_path: Path) -> None:
    """A scroll step with no client connected neither ticks the control server (it has
    nothing to send) nor samples memory (full turns do, at least every TICK); nor does it
    tick for a client that only asks. Once a client subscribes, every push ticks it again,
    so it can be sent what changed; an open preview alone gets each step's frame on its
    bus without the rest of a tick (issue 18)."""
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        host = live.host
        live.wait_for(lambda: len(live.backend.pushes) > 5 and sock.exists(), "scrolling")
        assert host.control is not None
        server = host.control
        ticks, samples = [0], [0]
        server.tick = _counting(ticks, server.tick)  # type: ignore[method-assign]
        host.stats.sample_memory = _counting(samples, host.stats.sample_memory)  # type: ignore[method-assign]

        def steps(n: int) -> int:
            ticks[0], pushed = 0, len(live.backend.pushes)
            live.wait_for(lambda: len(live.backend.pushes) > pushed + n, f"{n} scroll steps")
            return len(live.backend.pushes) - pushed

        n = steps(60)
        assert ticks[0] < n // 4, (ticks, n)
        assert 0 < samples[0] < n // 4, (samples, n)

        with ControlClient(str(sock), timeout=20) as client:
            assert client.request(control.Status())["display"]["showing"] == "text:message"
            n = steps(30)
            assert ticks[0] < n // 4, (ticks, n)  # it only asks: nothing to send it
            client.request(control.Subscribe(kinds=["state"]))
            n = steps(30)
            assert ticks[0] >= n - 1, (ticks, n)
            assert client.request(control.Status())["display"]["showing"] == "text:message"

        live.wait_for(lambda: not server.clients, "the client gone")
        with ControlClient(str(sock), timeout=20) as client:
            _data, fd = client.open_preview()
            os.close(fd)
            writer = server.preview.writer
            assert writer is not None
            written = writer.generation
            n = steps(30)
            assert ticks[0] < n // 4, (ticks, n)
            assert writer.generation - written >= n - 1, (writer.generation, written, n)

    run_live(tmp_path, _scrolling(sock), scenario)


def test_scroll_steps_glide_past_the_loops_wait_and_still_see_a_request(tmp_path: Path) -> None:
    """With nothing but time moving what shows, scroll steps wait and push by themselves
    (issue 15): most steps never reach the supervisor's wait; the config watcher's looks
    that find nothing decide nothing; a client's request still ends the glide at once and
    is answered."""
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        host = live.host
        live.wait_for(lambda: len(live.backend.pushes) > 5 and sock.exists(), "scrolling")
        waits, decisions, looks = [0], [0], [0]
        host.supervisor.run_once = _counting(waits, host.supervisor.run_once)  # type: ignore[method-assign]
        host.director.decide = _counting(decisions, host.director.decide)  # type: ignore[method-assign]
        watcher = host.reconfigurer.watcher
        assert watcher is not None
        watcher.poll = _counting(looks, watcher.poll)  # type: ignore[method-assign]
        pushed, passes = len(live.backend.pushes), host.supervisor.passes
        live.wait_for(lambda: len(live.backend.pushes) > pushed + 150, "150 scroll steps")
        live.wait_for(lambda: looks[0] >= 3, "three looks")
        steps = len(live.backend.pushes) - pushed
        assert waits[0] < steps // 4, (waits, steps)
        # A look each second, a housekeeping pass every ~2 s: only the passes decide.
        passes = host.supervisor.passes - passes
        assert decisions[0] <= passes + 1, (decisions, passes, looks)
        with ControlClient(str(sock), timeout=20) as client:
            assert client.request(control.Status())["display"]["showing"] == "text:message"
        assert host.director.current is not None and host.director.current.key == "text:message"
        # An open preview wants only each step's frame: the steps glide and publish it.
        assert host.control is not None
        live.wait_for(lambda: not host.control.clients, "the client gone")
        with ControlClient(str(sock), timeout=20) as client:
            _data, fd = client.open_preview()
            os.close(fd)
            writer = host.control.preview.writer
            assert writer is not None
            waits[0], pushed, written = 0, len(live.backend.pushes), writer.generation
            live.wait_for(lambda: len(live.backend.pushes) > pushed + 90, "90 previewed steps")
            steps = len(live.backend.pushes) - pushed
            assert waits[0] < steps // 4, (waits, steps)
            assert writer.generation - written >= steps - 1, (writer.generation, written, steps)

    run_live(tmp_path, _scrolling(sock), scenario)
