"""Containment with real processes: limits, the unprivileged user, the stop ladder, retry.

``contain()`` and ``limit_address_space()`` are checked in children forked by the test, so
what the kernel applied is read back from inside. The rest drives real workers through the
real supervisor (the ``harness`` fixture): a worker running as ``nobody`` from a plugin
environment built the way DESIGN.md's Store section describes, a plugin that ignores
SIGTERM and must be SIGKILLed, a quarantined instance brought back by ``retry()``, and how
fast a killed worker is noticed.

Timings are asserted with wide margins only (CI shares two cores); precise figures belong
to the benchmarks.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import logging
import os
import pwd
import resource
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from host.discovery import PluginSpec
from host.ipc import exitcodes
from host.ipc.workerargs import WorkerArgs
from host.supervise.handle import WorkerHandle
from host.supervise.restart_policy import RestartPolicy
from host.supervise.rules import MIB, WorkerRules
from host.supervise.spawner import SpawnLauncher, check_runs_as
from host.supervise.states import WorkerState
from host.worker.main import contain, limit_address_space
from tests.conftest import (
    SYSTEM_PYTHON,
    Harness,
    _harness,
    eventually,
    not_reachable_by_others,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")


def _in_child(body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``body`` in a forked child and return what it reported (JSON over a pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; it never returns into pytest
        status = 0
        try:
            os.close(r)
            try:
                result = body()
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                result = {"error": f"{type(exc).__name__}: {exc}"}
                status = 1
            os.write(w, json.dumps(result).encode())
        finally:
            os._exit(status)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        while chunk := f.read():
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    reported: dict[str, Any] = json.loads(b"".join(chunks) or b"{}")
    assert os.waitstatus_to_exitcode(status) == 0, reported
    return reported


def _worker_args(**limits: Any) -> WorkerArgs:
    return WorkerArgs(
        plugin_id="solid",
        instance_id="solid",
        control_fd=-1,
        frame_fds=(-1, -1, -1),
        width=64,
        height=32,
        slots=3,
        **limits,
    )


# -- contain() and the address-space cap, in forked children -------------------------------


@needs_root
def test_contain_applies_niceness_open_files_and_user_without_parent_death_signal() -> None:
    base_nice = os.nice(0)
    args = _worker_args(nice=7, max_open_files=64, uid=65534, gid=65534)

    def body() -> dict[str, Any]:
        contain(args)
        libc = ctypes.CDLL(None, use_errno=True)
        pdeathsig = ctypes.c_int(-1)
        pr_get_pdeathsig = 2
        libc.prctl(pr_get_pdeathsig, ctypes.byref(pdeathsig), 0, 0, 0)
        return {
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "resuid": list(os.getresuid()),
            "gid": os.getgid(),
            "resgid": list(os.getresgid()),
            "groups": os.getgroups(),
            "nice": os.nice(0),
            "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
            "pdeathsig": pdeathsig.value,
        }

    seen = _in_child(body)
    assert seen["uid"] == seen["euid"] == 65534
    assert seen["resuid"] == [65534, 65534, 65534]  # saved uid too: no way back to root
    assert seen["gid"] == 65534 and seen["resgid"] == [65534, 65534, 65534]
    assert seen["groups"] == []  # root's supplementary groups dropped
    assert seen["nice"] == min(base_nice + 7, 19)
    assert seen["nofile"] == [64, 64]  # hard limit too, so the plugin cannot raise it
    # None: dying with the host would orphan the plugin's tree before the undertaker
    # kills it (host.worker.main._become_subreaper).
    assert seen["pdeathsig"] == 0


def test_limit_address_space_turns_a_huge_allocation_into_memory_error() -> None:
    def body() -> dict[str, Any]:
        limit_address_space(64 * MIB)
        small = len(bytearray(4 * MIB))
        try:
            bytearray(1024 * MIB)
        except MemoryError:
            huge = "MemoryError"
        else:
            huge = "allocated"
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        return {"small": small, "huge": huge, "soft": soft, "hard": hard}

    seen = _in_child(body)
    assert seen["small"] == 4 * MIB
    assert seen["huge"] == "MemoryError"
    assert seen["soft"] == seen["hard"] != resource.RLIM_INFINITY


# -- a worker running as nobody -----------------------------------------------------------


def _nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user 'nobody'")


def _status_ids(pid: int, key: str) -> list[int]:
    """The real, effective, saved and filesystem ids of ``pid`` from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {key} line for pid {pid}")


@pytest.fixture
def nobody_harness(plugin_env: Path) -> Iterator[Harness]:
    """A harness whose workers run as nobody, with data folders inside ``plugin_env``."""
    nobody = _nobody()
    rules = WorkerRules(uid=nobody.pw_uid, gid=nobody.pw_gid, user="nobody", heartbeat_timeout=2.0)
    yield from _harness(plugin_env, SpawnLauncher(), data_dir=plugin_env / "data", rules=rules)


def test_worker_runs_as_nobody_from_its_own_environment(
    plugin_env: Path, nobody_harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify a real worker drops to nobody, renders, and owns what it writes."""
    harness = nobody_harness
    nobody = _nobody()
    python = plugin_env / "env" / "bin" / "python"
    problem = check_runs_as(nobody.pw_uid, nobody.pw_gid, str(python))
    assert problem is None, problem
    spec = dataclasses.replace(test_specs["everyhook"], python=str(python))
    handle = harness.start(spec)
    harness.wait_running(handle)
    assert handle.pid is not None
    assert _status_ids(handle.pid, "Uid") == [nobody.pw_uid] * 4
    assert _status_ids(handle.pid, "Gid") == [nobody.pw_gid] * 4
    exe = os.readlink(f"/proc/{handle.pid}/exe")
    assert exe == str(SYSTEM_PYTHON.resolve())  # spawned with the environment's Python
    harness.supervisor.activate(handle, "frames")
    harness.wait_for(
        lambda: sum(1 for iid, _, _ in harness.frames if iid == "everyhook") >= 3,
        what="frames from the worker running as nobody",
    )
    _, pixels, _ = harness.frames[-1]
    assert tuple(pixels[0, 0]) == (0, 255, 0)
    data = plugin_env / "data" / "everyhook"
    calls = data / "calls.jsonl"
    assert data.stat().st_uid == nobody.pw_uid
    assert calls.stat().st_uid == nobody.pw_uid and calls.stat().st_gid == nobody.pw_gid
    records = [json.loads(line) for line in calls.read_text().splitlines()]
    assert {r["pid"] for r in records} == {handle.pid}
    assert {"setup", "render_frame"} <= {r["hook"] for r in records}


def test_data_folder_behind_a_closed_parent_is_refused_for_the_worker_user(
    plugin_env: Path, harness: Harness, test_specs: dict[str, PluginSpec], tmp_path: Path
) -> None:
    """Verify the instance does not start, and the error names the folder and the fix."""
    nobody = _nobody()
    closed = not_reachable_by_others(tmp_path)
    if closed is None:
        pytest.skip(f"{tmp_path} is reachable by others here; nothing to refuse")
    harness.supervisor.rules = WorkerRules(
        uid=nobody.pw_uid, gid=nobody.pw_gid, user="nobody", heartbeat_timeout=2.0
    )
    harness.supervisor.data_dir = tmp_path / "plugin-data"
    python = plugin_env / "env" / "bin" / "python"
    spec = dataclasses.replace(test_specs["solid"], python=str(python))
    handle = harness.start(spec)
    harness.wait_for(
        lambda: handle.state is WorkerState.EXITED, what="the worker to be told to stop"
    )
    assert handle.state is not WorkerState.RUNNING and handle.frames == 0
    assert handle.last_error is not None
    assert (
        f"cannot create its data folder {tmp_path / 'plugin-data' / 'solid'}" in handle.last_error
    )
    assert f"workers run as user 'nobody', who cannot enter {closed}" in handle.last_error
    assert "set paths.data_dir" in handle.last_error
    assert handle.failure_times == []  # a host setup problem, not the plugin's failure


# -- the stop ladder: SIGTERM, then SIGKILL ------------------------------------------------

LADDER = WorkerRules(render_timeout=0.5, stop_timeout=0.5, heartbeat_timeout=2.0)


def _sig_ignored(pid: int, sig: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    raise AssertionError(f"no SigIgn line for pid {pid}")


def _hang_and_wait_for_backoff(
    harness: Harness, handle: WorkerHandle, mode: str
) -> tuple[float, float]:
    """Activate ``mode`` (which hangs); return when SIGTERM went out and BACKOFF came.

    Both are edges of the state table, with their times in the handle's history.
    """
    harness.supervisor.activate(handle, mode)
    harness.wait_for(
        lambda: handle.state is WorkerState.BACKOFF,
        timeout=20.0,
        what=f"{handle.instance_id} to be stopped",
    )
    term = [t for t, state in handle.history if state is WorkerState.TERMINATING]
    assert term, "the worker was never sent SIGTERM"
    backoff_at = max(t for t, state in handle.history if state is WorkerState.BACKOFF)
    return term[-1], backoff_at


def test_worker_ignoring_sigterm_in_render_is_sigkilled_after_stop_timeout(
    harness: Harness, test_specs: dict[str, PluginSpec], caplog: pytest.LogCaptureFixture
) -> None:
    harness.supervisor.rules = LADDER
    harness.supervisor.policy = RestartPolicy(base_delay=5.0, jitter=0.0)
    handle = harness.start(test_specs["stubborn"])
    harness.wait_running(handle)
    assert handle.pid is not None
    assert _sig_ignored(handle.pid, signal.SIGTERM)  # setup told the kernel to drop it
    with caplog.at_level(logging.INFO, logger="ledhost"):
        term_at, backoff_at = _hang_and_wait_for_backoff(harness, handle, "main")
    assert any(iid == "stubborn" for iid, _, _ in harness.frames)  # the first frame came
    # SIGKILL goes out only once the stop timeout has passed since SIGTERM.
    assert backoff_at - term_at >= LADDER.stop_timeout
    messages = [r.getMessage() for r in caplog.records]
    # One hang, one line (not again at SIGKILL's exit).
    hang = [m for m in messages if "hung in render_frame" in m]
    assert hang == ["plugin instance 'stubborn': hung in render_frame (no answer within 0.5 s)"]
    assert any("'stubborn' ignored SIGTERM for 0.5 s; sending SIGKILL" in m for m in messages)
    assert handle.state is WorkerState.BACKOFF and handle.process is None
    assert handle.last_failure is not None and "hung in render_frame" in handle.last_failure
    assert handle.last_exit == "hung in render_frame (no answer within 0.5 s)"
    assert handle.last_exit_status == exitcodes.describe(-signal.SIGKILL)
    assert handle.last_exit_status == "killed by SIGKILL (perhaps out of memory)"


def test_worker_spinning_in_render_stops_on_sigterm(
    harness: Harness, test_specs: dict[str, PluginSpec], caplog: pytest.LogCaptureFixture
) -> None:
    """Verify the polite step suffices for a pure-Python loop: no SIGKILL needed."""
    # SIGKILL only if SIGTERM's unwinding takes a minute: the (niced) worker may need more
    # than LADDER's 0.5 s of a loaded machine to exit, and the test waits for its exit.
    harness.supervisor.rules = dataclasses.replace(LADDER, stop_timeout=60.0)
    harness.supervisor.policy = RestartPolicy(base_delay=5.0, jitter=0.0)
    handle = harness.start(test_specs["spinrender"])
    harness.wait_running(handle)
    with caplog.at_level(logging.INFO, logger="ledhost"):
        _hang_and_wait_for_backoff(harness, handle, "spin")
    assert not any("ignored SIGTERM" in r.getMessage() for r in caplog.records)
    assert handle.last_failure is not None and "hung in render_frame" in handle.last_failure
    assert handle.last_exit_status == exitcodes.describe(exitcodes.TERMINATED)
    assert handle.last_exit_status == "stopped by SIGTERM"


# -- retry() --------------------------------------------------------------------------------


def test_retry_brings_a_quarantined_instance_back_with_a_clean_record(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    harness.supervisor.policy = RestartPolicy(
        base_delay=0.1, jitter=0.0, max_failures=2, window=60.0, start_secs=60.0
    )
    handle = harness.start(test_specs["segfault"], {"where": "refresh", "after": 0.3})
    harness.wait_for(lambda: handle.state is WorkerState.QUARANTINED, what="quarantine")
    assert handle.last_exit_status == "killed by SIGSEGV"
    assert handle.status(time.monotonic())["failures"] == 2
    runs = sum(1 for _, state in handle.history if state is WorkerState.RUNNING)
    assert runs == 2  # it ran each time before it crashed
    harness.pump(0.3)
    assert handle.state is WorkerState.QUARANTINED and handle.process is None

    harness.supervisor.retry(handle, time.monotonic())
    status = handle.status(time.monotonic())
    assert status["state"] == "starting"
    assert status["failures"] == 0 and status["quarantined_for"] is None
    assert handle.consecutive_failures == 0
    harness.wait_running(handle)
    # It crashes again: the first failure of a fresh record, so back off, not quarantine.
    harness.wait_for(lambda: handle.state is WorkerState.BACKOFF, what="the next crash")
    assert handle.status(time.monotonic())["failures"] == 1


def test_retry_refuses_a_running_instance_naming_it(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    handle = harness.start(test_specs["solid"])
    harness.wait_running(handle)
    with pytest.raises(ValueError, match="plugin instance 'solid' is running"):
        harness.supervisor.retry(handle, time.monotonic())
    assert handle.state is WorkerState.RUNNING


# -- a killed worker is noticed at once ----------------------------------------------------


def _frames_of(harness: Harness, handle: WorkerHandle) -> int:
    return sum(1 for iid, _, _ in harness.frames if iid == handle.instance_id)


def _wait_for_frames(harness: Harness, handle: WorkerHandle, count: int, what: str) -> None:
    """Pump until ``count`` more frames of ``handle`` arrived than there are now."""
    target = _frames_of(harness, handle) + count
    harness.wait_for(lambda: _frames_of(harness, handle) >= target, what=what)


def _dispatch_until_backoff(harness: Harness, handle: WorkerHandle) -> None:
    """Hand the supervisor only what the selector reports -- never a :meth:`tick` --
    until ``handle`` is in BACKOFF, so the exit must come through its sentinel."""
    supervisor = harness.supervisor

    def seen() -> bool:
        for key, events in harness.selector.select(1.0):
            supervisor.dispatch(key, time.monotonic(), events)
        return handle.state is WorkerState.BACKOFF

    eventually(seen, "the kill to be seen through the sentinel", interval=0.0)


def test_sigkilled_worker_is_noticed_fast_and_comes_back(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify the exit is seen through the process sentinel, not a polling interval
    (how fast is the recovery benchmark's figure)."""
    # Every run counts as stable, so each restart waits the base delay again.
    policy = RestartPolicy(base_delay=0.2, jitter=0.0, start_secs=0.1)
    harness.supervisor.policy = policy
    handle = harness.start(test_specs["solid"], {"fps": 50})
    delays = []
    for _ in range(3):
        harness.wait_running(handle)
        harness.supervisor.activate(handle, "fill")
        _wait_for_frames(harness, handle, 3, "frames")
        pid = handle.pid
        assert pid is not None
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _dispatch_until_backoff(harness, handle)
        backoff_at = max(t for t, state in handle.history if state is WorkerState.BACKOFF)
        delays.append(backoff_at - killed_at)
        assert handle.last_exit_status == "killed by SIGKILL (perhaps out of memory)"
        harness.wait_running(handle)
        running_at = max(t for t, state in handle.history if state is WorkerState.RUNNING)
        assert running_at - backoff_at >= policy.base_delay
        assert handle.pid != pid
    print(f"SIGKILL noticed after {', '.join(f'{d * 1000:.1f} ms' for d in delays)}")
    harness.supervisor.activate(handle, "fill")
    _wait_for_frames(harness, handle, 3, "frames again")
    assert handle.restarts == 3
