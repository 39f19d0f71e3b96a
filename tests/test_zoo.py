"""Crash isolation, end to end: the zoo of misbehaving plugins beside a clock and a ticker.

The real host runs with real workers for the builtin clock, a scrolling text and every zoo
plugin (``tests/plugins/README.md``): one segfaults, one raises everywhere, one exits in
setup, one cannot import, two spin forever, one waits forever on a silent socket, one
eats memory, one forks without end, one floods its log, one sends broken frames, one
sleeps in setup. The test checks what a user would: the text kept scrolling and the
clock kept ticking, each bad plugin ended where the restart policy says with a reason
that names what it did, the host did not grow, and nothing any plugin started outlived
the host.

No timing is asserted (CI shares two cores): the run lasts until everything checked has
happened, within a generous bound, and frame lateness and smoothness are printed here and
measured by the benchmarks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config import load_config
from host.app import Host, RunOptions
from host.supervise import proctree
from host.supervise.states import WorkerState
from tests.conftest import TEST_PLUGINS, RecordingBackend, children, eventually, stop_host

pytestmark = pytest.mark.slow

#: The zoo runs at least this long, in seconds (for the log flood to pile up), and on
#: until every crash loop has reached its end; ``RUN_BOUND`` is the generous bound.
RUN_SECONDS = 24.0
RUN_BOUND = 240.0
FPS = 60.0

ZOO_WORKERS = {
    "render_timeout": 1.0,
    "refresh_timeout": 2.0,
    # Sixteen workers booting at once on a loaded 2-core machine: a well-behaved setup
    # took over 2 s there, so slowsetup (ten minutes) is caught with room to spare.
    "setup_timeout": 6.0,
    "heartbeat_timeout": 2.0,
    "stop_timeout": 0.5,
    "restart_delay": 0.25,
    "restart_max_delay": 2.0,
    "stable_after": 10.0,
    "quarantine_after": 4,
    "quarantine_window": 120.0,
    "max_processes": 12,
    "memory_limit_mb": 512,
}


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


def _zoo_config(port: int, data_dir: Path) -> dict[str, Any]:
    plugins: dict[str, Any] = {
        "clock": {"show_seconds": True},
        "text": {
            "message": "The panel keeps going, whatever a plugin does. " * 2,
        },
        "segfault": {"where": "refresh", "after": 0.3},
        "raiser": {},
        "grumpy": {},
        "exitsetup": {},
        "importfail": {},
        "spinrender": {},
        "spinrefresh": {},
        "nethang": {"port": port},
        "memhog": {"memory_limit_mb": 96, "chunk_mb": 8},
        "forkbomb": {"every": 0.05, "escape": True},
        "logflood": {"seconds": 1.0, "pause": 0.2},
        "badframes": {},
        "slowsetup": {},
    }
    rotation: list[Any] = [{"mode": "clock", "duration": 2.5}, {"mode": "text", "duration": 3}]
    rotation += [{"mode": iid, "duration": 1} for iid in plugins if iid not in ("clock", "text")]
    return {
        "display": {"fps": FPS},
        "workers": dict(ZOO_WORKERS, user=""),
        "rotation": {"modes": rotation},
        "paths": {"data_dir": str(data_dir)},
        "plugins": plugins,
    }


def _plugin_processes(mark: Path) -> list[str]:
    """Processes this test started for a zoo plugin that are still alive (zombies aside).

    Ours are the descendants of this process (forked workers, their children) and anything
    whose environment names ``mark`` (the run's data folder: a worker's ``HOME``, which a
    ``setsid``'d grandchild carries wherever it was reparented). Other people's hosts and
    workers on a shared machine are not this test's business.
    """
    table = proctree.scan()
    me, needle = os.getpid(), str(mark).encode()

    def descends(pid: int) -> bool:
        seen: set[int] = set()
        while pid > 1 and pid not in seen:
            seen.add(pid)
            if pid == me:
                return True
            info = table.get(pid)
            if info is None:
                return False
            pid = info.ppid
        return False

    left = []
    for info in table.values():
        if info.state in "ZXx" or info.pid == me:
            continue
        try:
            with open(f"/proc/{info.pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{info.pid}/comm", "rb") as f:
                comm = f.read().strip().decode(errors="replace")
            with open(f"/proc/{info.pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if not (descends(info.pid) or needle in environ):
            continue
        # A worker forked from the zygote has the host's command line, and this name.
        if "sleep 1000" in cmdline or "ledhost-worker" in (cmdline, comm):
            left.append(f"{info.pid} {cmdline}")
    return left


def _spans(stats: dict[str, Any], prefix: str, duration: float) -> list[tuple[float, float]]:
    """(start, end) offsets of each turn of modes starting with ``prefix``."""
    switches = stats["modes_shown"]
    spans = []
    for i, switch in enumerate(switches):
        if switch["mode"].startswith(prefix):
            end = switches[i + 1]["at"] if i + 1 < len(switches) else duration
            if end - switch["at"] >= 1.5:  # the run's end may cut the last turn short
                spans.append((switch["at"], end))
    return spans


#: Zoo plugins that fail whatever is shown, so end quarantined, and those failing only
#: while shown.
ALWAYS_FAIL = ("segfault", "raiser", "exitsetup", "importfail", "spinrefresh", "slowsetup")
FAIL_WHEN_SHOWN = ("spinrender", "nethang", "memhog", "forkbomb")


def _whole_turns(modes_shown: list[dict[str, Any]], prefix: str) -> int:
    """Turns of modes starting with ``prefix`` that have ended (another switch followed)."""
    return sum(1 for s in modes_shown[:-1] if s["mode"].startswith(prefix))


def _zoo_settled(host: Host, _: RecordingBackend) -> bool:
    """Everything the zoo test checks has happened, and the minimum run time is over."""
    handles = host.supervisor.handles
    switches = list(host.stats.modes_shown)
    return (
        time.monotonic() - host.stats.started >= RUN_SECONDS
        and all(handles[i].state is WorkerState.QUARANTINED for i in ALWAYS_FAIL)
        and all(handles[i].last_failure for i in FAIL_WHEN_SHOWN)
        and all(handles[i].last_error for i in ("grumpy", "badframes"))
        and _whole_turns(switches, "clock:") >= 2
        and _whole_turns(switches, "text:") >= 2
    )


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "(gone)"


def test_zoo_cannot_stall_blank_or_kill_the_display(tmp_path: Path, silent_server: int) -> None:
    """Verify the whole crash-isolation promise with every misbehaving plugin at once."""
    cfg = load_config(None, env={}, overrides=_zoo_config(silent_server, tmp_path / "data"))
    backend = RecordingBackend(cfg.display.width, cfg.display.height)
    stats_path = tmp_path / "stats.json"
    # Children this (xdist worker) process had before: another test's, not the zoo's.
    before = children()
    host = Host(
        cfg,
        RunOptions(
            duration=RUN_BOUND,
            stats_json=stats_path,
            environment_plugins=False,
            plugin_paths=(str(TEST_PLUGINS),),
        ),
        backend=backend,
    )
    # Each instance's last error when the zoo settled, before the shutdown: with the run's
    # 0.5 s stop_timeout, a loaded machine may take longer to stop even a well-behaved
    # worker, and the shutdown's "did not stop in time" then replaces what the run said.
    errors: dict[str, str | None] = {}

    def settle() -> bool:
        if not _zoo_settled(host, backend):
            return False
        errors.update({iid: h.last_error for iid, h in list(host.supervisor.handles.items())})
        stop_host(host)
        return True

    watcher = threading.Thread(
        target=eventually,
        args=(settle, "the zoo"),
        kwargs={"timeout": RUN_BOUND},
        daemon=True,
    )
    watcher.start()
    assert host.run() == 0
    stats = json.loads(stats_path.read_text())
    duration = stats["modes_shown"][-1]["at"] + 1.0 if stats["modes_shown"] else 0.0
    plugins = stats["plugins"]
    summary = {
        iid: (p["state"], p["restarts"], p["last_failure"], (p["last_error"] or "")[:90])
        for iid, p in plugins.items()
    }
    print(json.dumps(summary, indent=1))
    print(
        "lateness ms: max", stats["max_frame_lateness_ms"], "mean", stats["mean_frame_lateness_ms"]
    )
    print("host rss", stats["host_rss_mb"])

    # Nothing any plugin started is left: workers, children, setsid'd grandchildren.
    assert _plugin_processes(tmp_path / "data") == []
    left = children() - before
    assert not left, {pid: _cmdline(pid) for pid in left}

    # The well-behaved plugins never failed.
    for iid in ("clock", "text"):
        assert plugins[iid]["restarts"] == 0, plugins[iid]
        assert plugins[iid]["last_failure"] is None, plugins[iid]
        assert errors[iid] is None, (iid, errors[iid])

    # Each bad plugin ended where the policy predicts, with a reason naming what it did.
    def quarantined(iid: str, reason: str) -> None:
        entry = plugins[iid]
        assert entry["state"] == "quarantined", (iid, entry)
        assert reason in (entry["last_failure"] or ""), (iid, entry)
        assert entry["restarts"] == ZOO_WORKERS["quarantine_after"] - 1, (iid, entry)
        assert entry["quarantined_for"] is not None and entry["quarantined_for"] > 0

    quarantined("segfault", "killed by SIGSEGV")
    quarantined("raiser", "plugin hooks invalid")
    quarantined("exitsetup", "plugin setup failed")
    assert "sys.exit" in plugins["exitsetup"]["last_error"]
    quarantined("importfail", "plugin failed to import")
    quarantined("spinrefresh", "hung in refresh_data")
    quarantined("slowsetup", "hung in setup")

    # These misbehave only while shown, so how often depends on the rotation: each has
    # failed and is restarting (or already quarantined), for the right reason.
    for iid, reason in (
        ("spinrender", "hung in render_frame"),
        ("nethang", "hung in render_frame"),
        ("memhog", "over memory limit"),
        ("forkbomb", "too many processes"),
    ):
        entry = plugins[iid]
        assert entry["restarts"] >= 1 or entry["state"] in ("backoff", "quarantined"), (iid, entry)
        assert reason in (entry["last_failure"] or ""), (iid, entry)

    # Errors inside hooks are not crashes: those plugins keep running.
    for iid, needle in (("grumpy", "grumpy"), ("badframes", "frame")):
        entry = plugins[iid]
        assert entry["state"] in ("running", "stopped", "exited"), (iid, entry)
        assert entry["restarts"] == 0, (iid, entry)
        assert needle in (errors[iid] or ""), (iid, errors[iid], entry)
    flood = plugins["logflood"]
    assert flood["restarts"] == 0 and flood["logs"]["suppressed_total"] > 1000, flood
    assert flood["logs"]["ring_size"] <= flood["logs"]["ring_capacity"]

    # The display kept going: pushes throughout, the clock ticked, the text scrolled.
    pushes = backend.pushes
    assert pushes, "nothing was pushed"
    clock_spans = _spans(stats, "clock:", duration)
    text_spans = _spans(stats, "text:", duration)
    assert len(clock_spans) >= 2 and len(text_spans) >= 2, stats["modes_shown"]
    t0 = host.stats.started  # what the offsets in modes_shown count from
    # Per turn only that pushes went on; what a turn shows within its seconds depends on
    # the CPU the (niced) workers get, so drawing is asserted over all turns together: a
    # machine loaded by others once left a whole 2.5 s clock turn on its first, blank frame.
    clock_frames: set[bytes] = set()
    text_frames: set[bytes] = set()
    for spans, seen in ((clock_spans, clock_frames), (text_spans, text_frames)):
        for start, end in spans:
            inside = [f for f, at, _ in pushes if start + 0.3 < at - t0 < end - 0.05]
            assert inside, ("no push in a turn", start, end)
            seen.update(f.tobytes() for f in inside if f.any())
            times = [at for _, at, _ in pushes if start + 0.3 < at - t0 < end - 0.05]
            gap = max(np.diff(times), default=0.0)
            print(f"turn at {start:.1f} s: {len(inside)} pushes, longest gap {gap:.3f} s")
    # The clock (with seconds) ticked, and the text scrolled: many different frames.
    assert len(clock_frames) >= 2, len(clock_frames)
    assert len(text_frames) > 10, len(text_frames)
    # The host did not grow while workers crashed and restarted around it.
    rss = stats["host_rss_mb"]
    assert rss["last"] - rss["first"] < 25, rss


@pytest.mark.parametrize("launcher", ["zygote", "spawn"])
def test_processes_plugins_started_die_when_the_host_is_killed(
    tmp_path: Path, launcher: str
) -> None:
    """Verify SIGKILL of the host leaves nothing behind, grandchildren that left the
    worker's session included: the workers die with the host, the undertaker kills the
    rest."""
    config = tmp_path / "ledhost.toml"
    config.write_text(
        '[workers]\nuser = ""\nmax_processes = 1000\n'
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        "[plugins.forkbomb]\nevery = 0.2\nescape = true\nmax_children = 4\n"
        '[rotation]\nmodes = ["forkbomb"]\n'
    )
    before = set(_plugin_processes(tmp_path / "data"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host",
            "run",
            "--config",
            str(config),
            "--backend",
            "headless",
            "--launcher",
            launcher,
            "--plugin-path",
            str(TEST_PLUGINS),
            "-q",
        ],
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:

        def escaped() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            return sum("sleep 1000" in p for p in _plugin_processes(tmp_path / "data")) >= 8

        eventually(escaped, "8 grandchildren", timeout=60.0, interval=0.1)
        # Give the host's monitor a pass to see the escaped grandchildren.
        time.sleep(1.0)
    finally:
        proc.kill()
        proc.wait()
    eventually(
        lambda: not set(_plugin_processes(tmp_path / "data")) - before,
        "plugin processes to die",
        60.0,
    )


def test_killed_worker_is_noticed_at_once_and_its_mode_shown_again(tmp_path: Path) -> None:
    """Verify SIGKILL of a worker mid-show: the host sees the kill (not a missed
    heartbeat), the panel keeps its last frame meanwhile, and the mode is shown again
    after the backoff. How fast the kill is seen is the recovery benchmark's figure."""
    restart_delay = 1.0
    cfg = load_config(
        None,
        env={},
        overrides={
            "workers": {"user": "", "restart_delay": restart_delay},
            "plugins": {"solid": {"fps": 30}},
            "rotation": {"modes": ["solid"]},
            "paths": {"data_dir": str(tmp_path / "data")},
        },
    )
    backend = RecordingBackend(cfg.display.width, cfg.display.height)
    host = Host(
        cfg,
        RunOptions(
            duration=180.0,  # a generous bound; the killer thread ends the run
            environment_plugins=False,
            plugin_paths=(str(TEST_PLUGINS),),
        ),
        backend=backend,
    )
    killed_at: list[float] = []

    def shown_again() -> bool:
        handle = host.supervisor.handles["solid"]
        backoffs = [t for t, state in list(handle.history) if state.value == "backoff"]
        return bool(backoffs) and sum(1 for _, at, _ in backend.pushes if at > backoffs[0]) > 30

    def kill_when_showing() -> None:
        eventually(lambda: len(backend.pushes) >= 10, "solid on the panel")
        handle = host.supervisor.handles["solid"]
        assert handle.pid is not None
        killed_at.append(time.monotonic())
        os.kill(handle.pid, signal.SIGKILL)
        try:
            eventually(shown_again, "solid shown again", timeout=120.0)
        finally:
            stop_host(host)

    killer = threading.Thread(target=kill_when_showing)
    killer.start()
    assert host.run() == 0
    killer.join()
    handle = host.supervisor.handles["solid"]
    assert handle.restarts == 1 and "SIGKILL" in (handle.last_failure or "")
    noticed = next(t for t, state in handle.history if state.value == "backoff")
    print(f"SIGKILL noticed after {(noticed - killed_at[0]) * 1000:.1f} ms")
    assert noticed >= killed_at[0]
    # Seen as the kill it was, through the exit, not as a heartbeat gone missing.
    assert handle.last_failure == "killed by SIGKILL (perhaps out of memory)"
    before = [at for _, at, _ in backend.pushes if at < killed_at[0]]
    after = [at for _, at, _ in backend.pushes if at > noticed]
    assert before and after, "the mode was not shown again"
    # Nothing new while the worker was down (the panel kept its last frame), and the
    # first new frame came after the backoff delay.
    assert after[0] - noticed >= restart_delay * 0.99, after[0] - noticed
    assert len(after) > 30
