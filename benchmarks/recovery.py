"""Crash recovery: how fast the host notices a dead, hung or stopped worker and recovers.

Everything runs through the real :class:`host.app.Host` (its loop, supervisor and real
workers): the host loop's own cadence is part of the answer, and a supervisor stepped by a
test loop would hide it. Each host runs in a child process (``python -c``, so zygote
workers import no ``__main__`` of ours), because the child-subreaper flag, the signal
handlers and the forkserver are process-wide. In the child, observer threads inject the
faults and read times the host records anyway (``WorkerHandle.history``, the ``WORKER
TIMEOUT`` log record, the backend's pushes); all are ``time.monotonic()``, one clock for
every process.

``kill``
    SIGKILL of a worker showing frames (test plugin ``solid``, 30 fps), zygote and spawn
    in interleaved rounds, with a floor in the same rounds: a bare process holding the
    zygote's preloads, killed and watched through a pidfd (the kernel's teardown). Per
    kill: until the host notices (state ``backoff``); how late the restart starts past
    its delay; restart to the first new frame on the backend; restart to ``running``;
    the host's CPU while the restart waits out its delay and while it is overdue.
``hang``
    ``spinrender`` draws one frame, asks for the next in 50 ms, then spins forever in
    that ``render_frame``. The hang starts no earlier than the host's activation +
    50 ms, so the overshoot (kill decision - that - ``render_timeout``) errs high, by the
    message transit. The activation time is the one piece of instrumentation (a wrapper
    that reads the clock); the first frame's push + 50 ms and the worker's own heartbeat
    report of the call's age go to ``params`` as cross-checks. Either deadline may catch
    the hang: ``render_timeout``, or ``heartbeat_timeout`` when the worker's heartbeat
    thread (niced, beside a spinning main thread) is starved on a loaded machine; the
    check accepts either (and says how many each) as long as the worker is ended and
    replaced, and the figures count only the hangs ``render_timeout`` caught.
``stop``
    A second worker, never shown, is SIGSTOPped during the hang runs: it holds nothing
    and sends no heartbeats, so only ``heartbeat_timeout`` can catch it.
``boot``
    Restart to ``running`` of ``solid`` (it declares a config schema) from the kill
    runs, and of ``spinrender`` (none) from the hang runs: the gap is what checking a
    schema costs a worker that did not inherit ``config`` from the zygote.
"""

from __future__ import annotations

import json
import logging
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from benchmarks._util import Row, check_row, progress, rotations, spread_of

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "recovery"
TITLE: Final = (
    "crash recovery: SIGKILL noticed and first new frame (zygote vs spawn); "
    "hung and stopped workers against their deadlines"
)

ROOT: Final = Path(__file__).resolve().parent.parent
TEST_PLUGINS: Final = ROOT / "tests" / "plugins" / "site"
#: The delay ``spinrender`` asks for after its one good frame; its next render spins.
SPIN_DELAY: Final = 0.05
#: Restart delay of the kill runs, subtracted from "kill -> first new frame".
RESTART_DELAY: Final = 0.1
#: ``stop_timeout`` of every run: SIGTERM -> SIGKILL for the stopped worker.
STOP_TIMEOUT: Final = 0.1
#: The observers' polling interval; fault times are read at the signal, never polled.
POLL: Final = 0.003
FLOOR: Final = "kill: SIGKILL -> pidfd readable, bare process (floor)"

Sample = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure: ``--quick`` keeps the smoke test short; full is for figures."""

    kill_rounds: int
    kills_per_run: int
    #: Bare processes killed per round for the floor (each costs an interpreter start).
    floor_kills: int
    render_timeouts: tuple[float, ...]
    hang_rounds: int
    hangs_per_run: int
    heartbeat_timeout: float
    stops_per_run: int


QUICK: Final = Plan(1, 2, 2, (0.5,), 1, 2, 0.5, 2)
FULL: Final = Plan(3, 5, 4, (0.5, 1.0), 2, 4, 1.0, 2)


# -- the child: one host and its observers --------------------------------------------------


class _Panel:
    """A backend that keeps the time of every push (the host's ``at``, monotonic)."""

    name = "recording"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pushes: list[float] = []

    def push(self, frame: object, at: float) -> None:
        self.pushes.append(at)

    def close(self) -> None:
        pass

    def first_after(self, t: float) -> float | None:
        return next((p for p in list(self.pushes) if p > t), None)

    def last_before(self, t: float) -> float | None:
        return next((p for p in reversed(list(self.pushes)) if p < t), None)


class _Timeouts:
    """Each decision to end a worker past a deadline (SIGTERM, or SIGKILL at once for a
    stopped one), taken inside the enforcer with the handle's record at that instant (the
    reap clears it a moment later). Log lines are rate-limited per plugin, so they cannot
    serve as the record."""

    def __init__(self, enforcer: Any) -> None:
        self.events: list[Sample] = []
        for name in ("terminate", "kill"):
            setattr(enforcer, name, self._observed(getattr(enforcer, name)))

    def _observed(self, decide: Callable[..., None]) -> Callable[..., None]:
        def observed(handle: Any, reason: str, now: float) -> None:
            # The first rung only: a SIGKILL after an ignored SIGTERM is the same ending.
            first = handle.state.value in ("starting", "running")
            decide(handle, reason, now)
            if first and handle.ending_reason == reason:
                self.events.append(
                    {"iid": handle.instance_id, "decided": handle.state_since, "reason": reason}
                    | {"last_hb": handle.last_heartbeat, "busy": [list(b) for b in handle.busy]}
                )

        return observed

    def of(self, iid: str) -> list[Sample]:
        return [e for e in list(self.events) if e["iid"] == iid]

    def after(self, iid: str, t: float) -> Sample | None:
        return next((e for e in reversed(self.of(iid)) if e["decided"] > t), None)


def _time_activations(host: Any) -> list[tuple[str, float]]:
    """``(instance, monotonic time)`` of every activation the host sends: nothing the
    host records says when it asked a worker to draw, and the hang starts from that."""
    messenger = host.supervisor.messenger
    send, times = messenger.activate, []

    def activate(handle: Any, mode: str, *args: Any, **kwargs: Any) -> None:
        times.append((handle.instance_id, time.monotonic()))
        send(handle, mode, *args, **kwargs)

    messenger.activate = activate
    return times


def _wait(cond: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL)


def _at(handle: Any, state: str, after: float, *, last_before: bool = False) -> float | None:
    """When ``handle`` entered ``state``: first time at/after ``after``, or last before it."""
    times = [t for t, s in list(handle.history) if s.value == state]
    if last_before:
        return next((t for t in reversed(times) if t < after), None)
    return next((t for t in times if t >= after), None)


def _reached(t: float) -> bool:
    return time.monotonic() >= t


def _handle(host: Any, iid: str) -> Any:
    handles = host.supervisor.handles
    _wait(lambda: iid in handles, f"instance {iid!r} to be added")
    return handles[iid]


def _showing(handle: Any, panel: _Panel, since: float) -> bool:
    """Running since ``since`` and a frame of that run is on the backend (not judged by
    ``started_at``: the supervisor sets the new pid a moment before it)."""
    running = _at(handle, "running", since)
    return running is not None and panel.first_after(running) is not None


def _kills(host: Any, panel: _Panel, count: int, rng: random.Random) -> list[Sample]:
    handle, killed, samples = _handle(host, "solid"), 0.0, []
    for i in range(count):
        _wait(partial(_showing, handle, panel, killed), f"frames before kill {i + 1}", 30.0)
        time.sleep(rng.uniform(0.15, 0.65))  # any phase of the 0.5 s supervisor tick
        pid, killed = handle.pid, time.monotonic()
        os.kill(pid, signal.SIGKILL)
        # The host's CPU (all its threads; this one polls alike in both windows) while
        # the restart waits out its delay, then while it is due but not yet started.
        _wait(lambda: handle.restart_at is not None, f"backoff {i + 1}")
        due, marks = handle.restart_at, [(time.monotonic(), time.process_time())]
        _wait(partial(_reached, due), f"restart {i + 1} to fall due")
        marks.append((time.monotonic(), time.process_time()))
        _wait(lambda: handle.state.value != "backoff", f"restart {i + 1} to start")
        marks.append((time.monotonic(), time.process_time()))
        _wait(partial(_showing, handle, panel, killed), f"recovery from kill {i + 1}")
        running = _at(handle, "running", killed) or killed
        sample = {"killed": killed, "running": running, "frame": panel.first_after(running)}
        sample |= {s: _at(handle, s, killed) for s in ("backoff", "starting")}
        for key, (t0, c0), (t1, c1) in zip(("waiting", "overdue"), marks, marks[1:], strict=False):
            sample[f"cpu_{key}"] = (c1 - c0) / (t1 - t0) if t1 - t0 > 0.02 else None
        samples.append(sample | {"exit": handle.last_exit_status})
    return samples


def _hangs(host: Any, panel: _Panel, timeouts: _Timeouts, acts: list[Any], n: int) -> list[Sample]:
    handle = _handle(host, "spin")
    _wait(lambda: len(timeouts.of("spin")) >= n, f"{n} hangs", 30.0 + 3 * n)
    last = timeouts.of("spin")[n - 1]["decided"]
    # The worker replaced: reaped, and a new one running (the ones before the last were
    # replaced by the worker that hung next).
    _wait(lambda: _at(handle, "backoff", last), "the last reap")
    _wait(lambda: _at(handle, "running", _at(handle, "backoff", last) or last), "a new worker")
    samples = []
    for event in timeouts.of("spin")[:n]:
        decided = event["decided"]
        running = _at(handle, "running", decided, last_before=True) or decided
        starting = _at(handle, "starting", running, last_before=True) or running
        restart = _at(handle, "backoff", starting, last_before=True) is not None
        busy = dict(event["busy"]).get("render_frame")
        samples.append(
            event
            | {
                "activated": next(t for i, t in reversed(acts) if i == "spin" and t < decided),
                "frame": panel.last_before(decided),
                "hb_start": None if busy is None else event["last_hb"] - busy,
                "reaped": _at(handle, "backoff", decided),
                "replaced": _at(handle, "running", decided),
                "boot": running - starting if restart else None,  # the first also starts the zygote
            }
        )
    return samples


def _stops(host: Any, timeouts: _Timeouts, count: int, rng: random.Random) -> list[Sample]:
    handle, samples = _handle(host, "idle"), []
    limit = 10.0 + 3 * host.cfg.workers.heartbeat_timeout
    for i in range(count):
        _wait(lambda: handle.state.value == "running", f"the idle worker, stop {i + 1}")
        _wait(lambda: handle.last_heartbeat > handle.started_at, "a heartbeat")
        time.sleep(rng.uniform(0.1, 0.6))  # any phase of the tick
        pid, stopped = handle.pid, time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        _wait(partial(timeouts.after, "idle", stopped), f"stop {i + 1} to be caught", limit)
        _wait(partial(_at, handle, "backoff", stopped), f"stop {i + 1} to be reaped")
        event = timeouts.after("idle", stopped) or {}
        samples.append(event | {"stopped": stopped, "reaped": _at(handle, "backoff", stopped)})
    return samples


def child() -> None:
    """Run one host with its observers; ``argv``: the spec (JSON), the result file.

    The host needs the main thread (signal handlers); the observers run on threads and
    end the run with SIGTERM, the host's own way to stop. A no-op SIGTERM handler stands
    in before and after :meth:`Host.run`, so a late signal cannot lose the results.
    """
    from config import load_config
    from host.app import Host, RunOptions
    from host.supervise.restart_policy import RestartPolicy

    spec: dict[str, Any] = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rng, kill = random.Random(spec["seed"]), spec["kind"] == "kill"
    workers: dict[str, Any] = {"user": "", "stop_timeout": STOP_TIMEOUT, "stable_after": 0.1}
    if kill:
        workers["restart_delay"] = RESTART_DELAY
        plugins: dict[str, Any] = {"solid": {"fps": 30}}
    else:
        workers |= {"restart_delay": 0.05, "render_timeout": spec["render_timeout"]}
        workers["heartbeat_timeout"] = spec["heartbeat_timeout"]
        plugins = {"spin": {"plugin": "spinrender"}, "idle": {"plugin": "solid"}}
    result: dict[str, Any] = {"errors": []}
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-recovery-") as tmp:
        overrides = {"workers": workers, "plugins": plugins, "paths": {"data_dir": tmp}}
        overrides["rotation"] = {"modes": [next(iter(plugins))]}  # "idle" is never shown
        cfg = load_config(None, env={}, overrides=overrides)
        panel = _Panel(cfg.display.width, cfg.display.height)
        options = RunOptions(
            duration=120.0,
            launcher=spec["launcher"],
            only=tuple(plugins),
            plugin_paths=(str(TEST_PLUGINS),),
            environment_plugins=False,
        )
        host = Host(cfg, options, backend=panel)
        # No jitter, no growth: every restart waits exactly the configured delay.
        delay = workers["restart_delay"]
        host.supervisor.policy = RestartPolicy(0.1, delay, delay, jitter=0.0, max_failures=1000)
        acts = _time_activations(host)
        timeouts = _Timeouts(host.supervisor.enforcer)
        jobs = {"kills": lambda: _kills(host, panel, spec["count"], rng)}
        if not kill:
            jobs = {
                "hangs": lambda: _hangs(host, panel, timeouts, acts, spec["count"]),
                "stops": lambda: _stops(host, timeouts, spec["stops"], rng),
            }

        def observe(key: str, job: Callable[[], list[Sample]]) -> None:
            try:
                result[key] = job()
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                result["errors"].append(f"{key}: {type(exc).__name__}: {exc}")

        def drive() -> None:
            threads = [threading.Thread(target=observe, args=item) for item in jobs.items()]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        threading.Thread(target=drive, name="driver", daemon=True).start()
        host.run()
    Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")


def _run_child(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One host in a child process: its samples, or an error with its stderr's tail."""
    code = (
        f"import sys; sys.path[0] = {str(ROOT)!r}\nfrom benchmarks.recovery import child\nchild()"
    )
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-recovery-") as tmp:
        out = Path(tmp) / "result.json"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(spec), str(out)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # one group to kill; workers follow their host
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
        except BaseException:  # Ctrl-C: leave nothing running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        tail = "; ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"recovery host {spec} ended with {proc.returncode}: {tail}")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if result["errors"]:
        raise RuntimeError(f"recovery host {spec}: {'; '.join(result['errors'])} ({tail})")
    return result


def _exit_floor(count: int) -> list[float]:
    """SIGKILL -> pidfd readable for a process holding what a worker holds (the zygote's
    preloads, a second thread), watched as the host watches a spawned worker: the
    kernel's teardown alone, which no host can beat."""
    from host.supervise.spawner import ZYGOTE_PRELOAD

    code = "".join(f"import {m}\n" for m in ("sys", "threading", "time", *ZYGOTE_PRELOAD))
    code += "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    code += "sys.stdout.write('r')\nsys.stdout.flush()\ntime.sleep(60)\n"
    seconds = []
    for _ in range(count):
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
        )
        assert proc.stdout is not None
        with proc, proc.stdout:
            try:
                if proc.stdout.read(1) != b"r":
                    raise RuntimeError("the floor process did not start")
                pidfd = os.pidfd_open(proc.pid)
                killed = time.monotonic()
                os.kill(proc.pid, signal.SIGKILL)
                select.select([pidfd], [], [], 5.0)
                seconds.append(time.monotonic() - killed)
                os.close(pidfd)
            finally:
                proc.kill()
    return seconds


# -- the parent: runs and rows -------------------------------------------------------------


def _row(
    case: str,
    seconds: Sequence[float],
    note: str = "",
    *,
    ratio: list[float] | None = None,
    baseline: str | None = None,
    unit: str = "ms",
    **params: str | int | float,
) -> Row:
    """A row in ms (or % core), with the slow end in ``params``: what one unlucky fault
    costs."""
    values = [s * (1000 if unit == "ms" else 100) for s in seconds]
    params.update(n=len(values), max=round(max(values), 1))
    ratios = spread_of(ratio) if ratio else None
    return Row(NAME, case, unit, spread_of(values), ratios, baseline, note=note, params=params)


#: Kill figures: key, section, label, note, and what the ratio is against.
_KILL_CASES: Final = (
    ("noticed", "kill", "SIGKILL -> noticed", "the process sentinel wakes the host loop", "floor"),
    ("frame", "kill", "SIGKILL -> new frame, less delay", "= noticed + late + restart", "spawn"),
    ("late", "kill", "restart starts late past its delay", "restarts run on the 0.5 s tick", ""),
    ("restart", "kill", "restart -> first new frame", "spawn, boot, setup, 1st render", "spawn"),
    ("boot", "boot", "restart -> running, solid (schema)", "boot alone", "spawn"),
)


def _kill_figures(k: Sample) -> dict[str, float]:
    return {
        "noticed": k["backoff"] - k["killed"],
        "frame": k["frame"] - k["killed"] - RESTART_DELAY,
        "late": k["starting"] - k["backoff"] - RESTART_DELAY,
        "restart": k["frame"] - k["starting"],
        "boot": k["running"] - k["starting"],
    }


def _kill_rows(rounds: list[dict[str, list[dict[str, float]]]], boots: list[float]) -> list[Row]:
    """Ratios are per round, median over median, against spawn or the floor measured in
    the same round."""

    def per_run(launcher: str, key: str) -> list[list[float]]:
        return [[f[key] for f in r[launcher]] for r in rounds]

    def ratios(launcher: str, key: str, vs: str) -> list[float]:
        pairs = zip(per_run(launcher, key), per_run(vs, key), strict=True)
        return [statistics.median(a) / statistics.median(b) for a, b in pairs]

    floor = [x for run_ in per_run("floor", "noticed") for x in run_]
    rows = [_row(FLOOR, floor, "kernel teardown: noticing can't beat it", section="kill")]
    for key, section, label, note, vs in _KILL_CASES:
        for la in ("zygote", "spawn"):
            base = {"floor": FLOOR, "spawn": f"{section}: {label} [spawn]"}.get(vs)
            base = None if la == vs else base
            rows.append(
                _row(
                    f"{section}: {label} [{la}]",
                    [x for run_ in per_run(la, key) for x in run_],
                    note if la == "zygote" else "",
                    ratio=ratios(la, key, vs) if base else None,
                    baseline=base,
                    section=section,
                    launcher=la,
                    figure=key,
                )
            )
    if boots:
        label = "boot: restart -> running, spinrender (no schema) [zygote]"
        note = "from the hang runs; checking a schema imports config unless preloaded"
        rows.append(_row(label, boots, note, section="boot", launcher="zygote", figure="boot"))
    return rows


def _cpu_rows(kills: list[Sample]) -> list[Row]:
    """The host's share of a core while a restart waits out its delay (the baseline: an
    idle host) and while it is due, until the loop's next supervisor tick starts it."""
    pairs = [(k["cpu_waiting"], k["cpu_overdue"]) for k in kills]
    waiting = [w for w, _ in pairs if w is not None]
    overdue = [o for _, o in pairs if o is not None]
    if not waiting or not overdue:
        return []
    base = "kill: host CPU while the restart waits out its delay"
    ratios = [o / w for w, o in pairs if w and o is not None]
    note = "the loop polls (select timeout 0) until its next 0.5 s tick"
    row = partial(_row, unit="% core", section="kill", figure="cpu")
    return [
        row(base, waiting, "host process, all threads; idle but for the observer"),
        row("kill: host CPU while the restart is due", overdue, note, ratio=ratios, baseline=base),
    ]


def _by_render(hangs: list[Sample]) -> list[Sample]:
    """The hangs ``render_timeout`` caught (the others, by ``heartbeat_timeout``, say
    nothing about the render deadline)."""
    return [h for h in hangs if "in render_frame" in str(h["reason"])]


def _hang_rows(timeout: float, hangs: list[Sample]) -> list[Row]:
    tag = f"render_timeout {timeout:g} s"
    hangs = _by_render(hangs)
    if not hangs:
        return []  # all caught by the heartbeat deadline: the check says so
    row = partial(_row, section="hang", deadline_s=timeout)
    starts = [h["activated"] + SPIN_DELAY for h in hangs]
    detect = [h["decided"] - s for h, s in zip(hangs, starts, strict=True)]
    by_frame = [h["frame"] + SPIN_DELAY - s for h, s in zip(hangs, starts, strict=True)]
    by_beat = [h["hb_start"] - s for h, s in zip(hangs, starts, strict=True) if h["hb_start"]]
    over, reap = [d - timeout for d in detect], [h["reaped"] - h["decided"] for h in hangs]
    note = "from activation + 50 ms; ratio: detection / deadline"
    return [
        row(
            f"hang: kill decided, past {tag}",
            over,
            note,
            ratio=[d / timeout for d in detect],
            baseline=f"{tag} (configured)",
            start_by_frame_ms=round(statistics.median(by_frame) * 1000, 2),
            start_by_heartbeat_ms=round(statistics.median(by_beat or [-1]) * 1000, 2),
        ),
        row(f"hang: kill decided -> reaped ({tag})", reap, "SIGTERM; a Python loop stops on it"),
    ]


def _stop_rows(beat: float, stops: list[Sample]) -> list[Row]:
    tag = f"heartbeat_timeout {beat:g} s"
    row = partial(_row, section="stop", deadline_s=beat)
    detect = [s["decided"] - s["stopped"] for s in stops]
    late = [s["decided"] - s["last_hb"] - beat for s in stops]
    reap = [s["reaped"] - s["decided"] - STOP_TIMEOUT for s in stops]
    note = "from SIGSTOP; the last beat was up to 1/4 timeout before"
    return [
        row(
            f"stop: kill decided, past {tag}",
            [d - beat for d in detect],
            note,
            ratio=[d / beat for d in detect],
            baseline=f"{tag} (configured)",
        ),
        row(f"stop: kill decided, past last beat + {beat:g} s", late, "checked on the 0.5 s tick"),
        row(
            f"stop: kill decided -> reaped, less stop_timeout {STOP_TIMEOUT:g} s",
            reap,
            "SIGTERM waits in a stopped process; SIGKILL on the tick",
        ),
    ]


def _check(kills: list[Sample], hangs: list[Sample], stops: list[Sample]) -> Row:
    """Whether every fault ended as its figure assumes; otherwise it measured something
    else (a hang caught by the heartbeat, a kill taken for a clean exit...)."""
    bad = [f"kill: {k['exit']}" for k in kills if "SIGKILL" not in str(k["exit"])]
    bad += [
        f"kill: no {key}" for k in kills for key, v in k.items() if v is None and key[:4] != "cpu_"
    ]
    # A spinning render is caught by whichever deadline fires first: render_timeout, or
    # heartbeat_timeout when its heartbeat thread is starved (a loaded machine).
    by_render = len(_by_render(hangs))
    by_beat = [h for h in hangs if "no heartbeat" in str(h["reason"])]
    bad += [
        f"hang: {h['reason']}"
        for h in hangs
        if "in render_frame" not in str(h["reason"]) and "no heartbeat" not in str(h["reason"])
    ]
    bad += [f"hang: not replaced ({h['reason']})" for h in hangs if h["replaced"] is None]
    bad += [f"stop: {s['reason']}" for s in stops if "no heartbeat" not in str(s["reason"])]
    note = (
        f"{len(kills)} kills seen as SIGKILL and recovered; {len(hangs)} hangs caught and "
        f"replaced ({by_render} by render_timeout, {len(by_beat)} by heartbeat_timeout); "
        f"{len(stops)} stops by heartbeat_timeout"
    )
    case = "check: every fault ended as its figure assumes"
    return check_row(NAME, case, not bad, "; ".join(bad[:3]) or note, section="check")


def run(quick: bool) -> list[Row]:
    """Kill runs (both launchers and the floor, interleaved rounds), then hang runs
    (the deadlines interleaved) with the stops beside them."""
    plan, seed = (QUICK if quick else FULL), 7
    rounds: list[dict[str, list[dict[str, float]]]] = []
    kills: list[Sample] = []
    for r, order in rotations(["zygote", "spawn", "floor"], plan.kill_rounds):
        rounds.append({})
        for launcher in order:
            progress(f"  kill round {r + 1}/{plan.kill_rounds}: {launcher}")
            if launcher == "floor":
                rounds[-1]["floor"] = [{"noticed": x} for x in _exit_floor(plan.floor_kills)]
                continue
            seed += 1
            spec = {"kind": "kill", "launcher": launcher, "seed": seed, "count": plan.kills_per_run}
            got = _run_child(spec, 30.0 + 5 * plan.kills_per_run)["kills"]
            rounds[-1][launcher] = [_kill_figures(k) for k in got]
            kills += got
    hangs: dict[float, list[Sample]] = {t: [] for t in plan.render_timeouts}
    stops: list[Sample] = []
    for r, deadlines in rotations(list(plan.render_timeouts), plan.hang_rounds):
        for timeout in deadlines:
            progress(f"  hang round {r + 1}/{plan.hang_rounds}: render_timeout {timeout:g} s")
            seed += 1
            got = _run_child(
                {"kind": "hang", "launcher": "zygote", "seed": seed, "count": plan.hangs_per_run}
                | {"stops": plan.stops_per_run, "render_timeout": timeout}
                | {"heartbeat_timeout": plan.heartbeat_timeout},
                30.0 + plan.hangs_per_run * (timeout + 3) + plan.stops_per_run * 6,
            )
            hangs[timeout] += got["hangs"]
            stops += got["stops"]
    all_hangs = [h for t in plan.render_timeouts for h in hangs[t]]
    rows = _kill_rows(rounds, [h["boot"] for h in all_hangs if h["boot"] is not None])
    rows += _cpu_rows(kills)
    for timeout in plan.render_timeouts:
        rows += _hang_rows(timeout, hangs[timeout])
    rows += _stop_rows(plan.heartbeat_timeout, stops)
    return [*rows, _check(kills, all_hangs, stops)]
