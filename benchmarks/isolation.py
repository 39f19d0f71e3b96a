"""The cost of isolation: ``ledhost run`` against the same plugins rendered in-process.

Issue 7, part 5. ``ledhost run --backend headless`` shows the builtin clock (with seconds)
and a scrolling text for a fixed time; a reference process renders the same two plugins
in one process, as LEDMatrix would: :class:`sdk.testing.PluginRunner` calls their hooks,
:class:`host.display.compositor.Compositor` does the frame math (so it is identical), and frames go
to the same null backend (:class:`host.display.backends.headless.HeadlessBackend`). Same rotation,
same durations, clock frames once a second, the text strip rendered once per turn and
scrolled by slicing at its speed under the 60 fps ceiling, paced by sleeping until the
next due time. The reference exists only for this comparison.

Each round runs both *at the same time*, so the pair sees the same machine, which on a
shared two-core box matters more than anything (whole 8-30 s runs taken in turn would be
minutes apart). The reference waits until ledhost shows its first mode, then both
rotations run in step to the same end instant. Which one starts first rotates. ledhost
runs as ``python -m host run``, the same ``main`` as the ``ledhost`` console script.

Two figures, each a ratio per round:

- ``total``: CPU seconds of the whole process tree from start to exit -- host, zygote,
  workers, undertaker (and a resource tracker where there is one). Each side runs below a small
  wrapper that is a child subreaper and reaps everything under it, orphans included (the
  resource tracker outlives the host), so its ``RUSAGE_CHILDREN`` is the whole tree.
- ``steady``: share of one core from a second after ledhost's first mode (the second
  worker may still be booting) to just before the end, sampled for both trees at the same
  instants from ``/proc/<pid>/task/*/schedstat`` (nanoseconds; ``/proc/<pid>/stat`` ticks
  are 10 ms, too coarse for a clock). Split per process for ledhost, and the whole run's
  CPU per process too: those splits are the profile when the goal is missed.

Also recorded: frames pushed on each side (they must match for the comparison to hold)
and ledhost's own ``--stats-json`` ``cpu_seconds`` beside the tree total.

This file is also the reference's program (``python -P isolation.py --reference SPEC``):
it imports only what in-process rendering needs, so the table helpers are imported
inside :func:`run` and the reference does not pay for them.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from benchmarks._util import Row
    from sdk.testing import PluginRunner

NAME: Final = "isolation"
TITLE: Final = "ledhost run (clock + scrolling text) vs the same plugins in-process: whole CPU"

ROOT: Final = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT, FPS = 64, 32, 60.0
#: Long enough to scroll on 64 pixels (390 px in the medium font): a strip, not a frame.
MESSAGE: Final = "Hello from ledhost! Edit the config file to change this message."
#: Seconds after ledhost's first mode before the steady window opens: the second worker
#: may still be booting then.
SETTLE: Final = 1.0
#: The goal of the issue: ledhost's whole CPU at most this multiple of in-process.
GOAL: Final = 1.3


@dataclass(frozen=True)
class Plan:
    duration: float  # ``--duration``
    rounds: int
    rotation: tuple[tuple[str, str, float], ...]  # (instance, mode, seconds)


#: Quick: 2.4 s clock + 3.6 s text (the default 10:15 split, shrunk) within 8 s.
QUICK: Final = Plan(8.0, 2, (("clock", "time", 2.4), ("text", "message", 3.6)))
#: Full: the default rotation (10 s clock, 15 s text), one cycle within 30 s, 5 rounds.
FULL: Final = Plan(30.0, 5, (("clock", "time", 10.0), ("text", "message", 15.0)))

#: Runs ``argv[1:]`` as its child and, as a child subreaper, reaps every process below it
#: (orphans included), so its RUSAGE_CHILDREN is the CPU of the whole tree. Prints SPAWN
#: (monotonic time just before the child starts), CHILD (its pid) and TREE (the result).
_WRAPPER: Final = r"""
import ctypes, json, os, resource, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
spawned = time.monotonic()
print("SPAWN", spawned, flush=True)
child = subprocess.Popen(sys.argv[1:])
print("CHILD", child.pid, flush=True)
status = ended = None
while True:
    try:
        pid, code, _ = os.wait4(-1, 0 if ended is None else os.WNOHANG)
    except ChildProcessError:
        break
    if pid == child.pid:
        status, ended = os.waitstatus_to_exitcode(code), time.monotonic()
    elif pid == 0:  # orphans still running after the child: give them 5 s
        if time.monotonic() - ended > 5.0:
            break
        time.sleep(0.02)
left = []
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{p}/stat", "rb") as f:
            if int(f.read().rsplit(b")", 1)[1].split()[1]) == os.getpid():
                left.append(int(p))
    except OSError:
        pass
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print("TREE", json.dumps({"cpu": usage.ru_utime + usage.ru_stime, "status": status,
                          "wall": ended - spawned, "left": left}), flush=True)
"""


# -- measuring process trees from outside ---------------------------------------------------


def _ppids() -> dict[int, int]:
    """pid -> parent pid of every live process (zombies left out), from ``/proc``."""
    table: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{name}/stat", "rb") as f:
                    state, ppid = f.read().rsplit(b")", 1)[1].split()[:2]
                if state != b"Z":
                    table[int(name)] = int(ppid)
    return table


def cpu_seconds(pid: int) -> float | None:
    """CPU time of ``pid``'s live threads in seconds: schedstat's nanoseconds, else ticks."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0
    for tid in tids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                total += int(f.read().split()[0])
    if total:
        return total / 1e9
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: One process in a sample: (parent pid, CPU seconds, what its command line says it is).
Sample = dict[int, tuple[int, float, str]]

#: Command-line markers of ledhost's helper processes (read while they live).
_KINDS: Final = (
    (b"multiprocessing.resource_tracker", "resource tracker"),
    (b"host.supervise.undertaker", "undertaker"),  # spawned, where there is no zygote
)


#: Names (``/proc/<pid>/comm``) of the forks of the host, whose command line is the host's.
_NAMES: Final = {
    b"ledhost-zygote": "zygote",
    b"ledhost-worker": "worker",
    b"ledhost-undertk": "undertaker",
}


def _kind(pid: int) -> str:
    with contextlib.suppress(OSError):
        if kind := _NAMES.get(Path(f"/proc/{pid}/comm").read_bytes().strip()):
            return kind
        line = Path(f"/proc/{pid}/cmdline").read_bytes()
        return next((kind for marker, kind in _KINDS if marker in line), "")
    return ""


def sample(roots: Sequence[int]) -> tuple[float, list[Sample]]:
    """CPU of every process below each root (the root excluded), at one instant."""
    at = time.monotonic()
    table = _ppids()
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    result: list[Sample] = []
    for root in roots:
        found: Sample = {}
        todo = list(children.get(root, ()))
        while todo:
            pid = todo.pop()
            todo += children.get(pid, ())
            if (cpu := cpu_seconds(pid)) is not None:
                found[pid] = (table[pid], cpu, _kind(pid))
        result.append(found)
    return at, result


def cpu_between(a: Sample, b: Sample) -> dict[int, float]:
    """CPU each process of ``b`` used since ``a`` (all of it if it started since)."""
    return {pid: cpu - (a[pid][1] if pid in a else 0.0) for pid, (_, cpu, _) in b.items()}


def roles(
    host: int, cpu: Mapping[int, float], b: Sample, workers: Mapping[int, str]
) -> dict[str, float]:
    """CPU per role in ledhost's tree: host, zygote, each worker (forked from the zygote,
    so known by the pids in ``--stats-json``), undertaker, resource tracker."""
    parts: dict[str, float] = {}
    for pid, seconds in cpu.items():
        if pid == host:
            role = "host"
        elif pid in workers:
            role = f"worker {workers[pid]}"
        else:
            role = b[pid][2] or "other"
        parts[role] = parts.get(role, 0.0) + seconds
    return parts


class Tree:
    """A command run below the subreaper wrapper: its output lines as they come, its end."""

    def __init__(self, argv: Sequence[str], *, stdin: bool = False, root: Path = ROOT) -> None:
        """``root``: the checkout whose code runs (``benchmarks.idle_ab`` runs two)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDHOST_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, *argv],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
            start_new_session=True,  # one group to signal if the benchmark must abort
        )
        self.lines: list[tuple[float, str, str]] = []  # (monotonic, stream, line)
        self.ended: set[str] = set()
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(s, n), daemon=True)
            for s, n in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))
        ]
        for reader in self._readers:
            reader.start()
        self.spawned = float(self.wait_for("out", "SPAWN ")[1].split()[1])
        #: The wrapped command's pid (the host, for ledhost).
        self.child = int(self.wait_for("out", "CHILD ")[1].split()[1])

    def _read(self, stream: IO[str] | None, name: str) -> None:
        assert stream is not None
        for line in stream:
            with self._cond:
                self.lines.append((time.monotonic(), name, line.rstrip("\n")))
                self._cond.notify_all()
        with self._cond:
            self.ended.add(name)
            self._cond.notify_all()

    def wait_for(self, stream: str, text: str, timeout: float = 60.0) -> tuple[float, str]:
        """The first line of ``stream`` that starts with ``text`` (``"out"``, the protocol)
        or holds it (``"err"``, log lines), with the time it arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for at, name, line in self.lines:
                    if name == stream and (
                        line.startswith(text) if name == "out" else text in line
                    ):
                        return at, line
                left = deadline - time.monotonic()
                if stream in self.ended or left <= 0:
                    tail = "\n".join(f"  {n}: {x}" for _, n, x in self.lines[-12:])
                    raise RuntimeError(f"no {text.strip()!r} on std{stream}; last lines:\n{tail}")
                self._cond.wait(left)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for the end; the wrapper's TREE record: ``cpu``, ``status``, ``wall`` and
        ``left`` (pids still running 5 s after the command ended)."""
        self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5.0)
        tree: dict[str, Any] = json.loads(self.wait_for("out", "TREE ", 1.0)[1][5:])
        return tree

    def result(self) -> dict[str, Any]:
        """The wrapped program's ``RESULT {json}`` line."""
        data: dict[str, Any] = json.loads(self.wait_for("out", "RESULT ", 1.0)[1][7:])
        return data

    def abort(self) -> None:
        """Stop the whole group if still running: TERM (ledhost stops its workers), KILL."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10.0)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def write_config(folder: Path, rotation: Sequence[tuple[str, str, float]]) -> Path:
    """A config file for ``ledhost run`` with this rotation, at the size, frame rate and
    colour settings the reference uses (:data:`WIDTH`, :data:`HEIGHT`, :data:`FPS`)."""
    modes = ", ".join(f'{{ mode = "{i}:{m}", duration = {s} }}' for i, m, s in rotation)
    instances = {i for i, _, _ in rotation}
    text = f"""
[display]
cols = {WIDTH}
rows = {HEIGHT}
fps = {FPS}
brightness = 100
gamma = 1.0
backend = "headless"
[rotation]
modes = [{modes}]
[transitions]
kind = "cut"
[workers]
user = ""
[paths]
data_dir = {json.dumps(str(folder / "data"))}
""" + "".join(
        f"[plugins.{i}]\n" + (f"message = {json.dumps(MESSAGE)}\n" if i == "text" else "")
        for i in sorted(instances)
    )
    path = folder / "ledhost.toml"
    path.write_text(text, encoding="utf-8")
    return path


def reference_argv(
    rotation: Sequence[tuple[str, str, float]],
    *,
    end_at: float | None = None,
    show_for: float | None = None,
) -> list[str]:
    """The reference's command. Once set up it shows until ``end_at`` (monotonic), or for
    ``show_for`` seconds, or else waits for ``GO <end>`` on stdin."""
    spec = {"rotation": rotation, "end_at": end_at, "show_for": show_for}
    return [sys.executable, "-P", str(Path(__file__).resolve()), "--reference", json.dumps(spec)]


# -- the reference: the same plugins in one process -------------------------------------------


def sleep_until(at: float) -> None:
    if (delay := at - time.monotonic()) > 0:
        time.sleep(delay)


def show(
    runners: Mapping[str, PluginRunner],
    rotation: Sequence[tuple[str, str, float]],
    end_at: float,
) -> dict[str, Any]:
    """Do what the host and its workers do for ``rotation`` until ``end_at``, in-process.

    A frame mode is rendered when due and composed and pushed at once (the worker plus
    the presenter); a strip is rendered once per turn and slid one slice per pixel of
    motion, never faster than the frame-rate ceiling (``Presenter.next_push_at``).
    """
    from host.display.backends.headless import HeadlessBackend
    from host.display.compositor import Compositor
    from host.ipc.strip import StripImage

    compositor = Compositor(WIDTH, HEIGHT, 100, 1.0)
    panel = HeadlessBackend(width=WIDTH, height=HEIGHT)
    min_interval = 1.0 / FPS
    first: float | None = None
    turn, turn_start = 0, time.monotonic()
    while turn_start < end_at:
        instance, mode, seconds = rotation[turn % len(rotation)]
        turn_end = min(turn_start + seconds, end_at)
        runner = runners[instance]
        strip = runner.render_strip(mode)
        if strip is None:
            due: float | None = time.monotonic()
            while due is not None and due < turn_end:
                sleep_until(due)
                frame = runner.render_frame(mode, now=time.time() + (due - time.monotonic()))
                now = time.monotonic()
                panel.push(compositor.compose(frame.pixels, now), now)
                first = _first(first, now)
                if frame.delay is None:
                    due = None
                else:
                    due = max(due + max(frame.delay, 0.001), time.monotonic() - 1.0)
        else:
            image = StripImage(mode, turn, strip.canvas.to_array(), float(strip.speed), strip.gap)
            t0, shown, last_push = time.monotonic(), -1, float("-inf")
            while (now := time.monotonic()) < turn_end:
                offset = int((now - t0) * image.speed)
                if offset != shown:
                    shown, last_push = offset, now
                    panel.push(compositor.compose(compositor.strip_view(image, offset), now), now)
                    first = _first(first, now)
                sleep_until(
                    min(max(t0 + (shown + 1) / image.speed, last_push + min_interval), turn_end)
                )
        sleep_until(turn_end)
        turn, turn_start = turn + 1, turn_end
    return {"frames": panel.frames_pushed, "first_push": first}


def _first(first: float | None, now: float) -> float:
    """Say when the first frame was pushed (``FIRST <monotonic>``), once."""
    if first is None:
        print("FIRST", now, flush=True)
        return now
    return first


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reference_main(spec_json: str) -> None:
    """The reference process: set the plugins up, say READY, show, print RESULT."""
    import host.display.backends.headless  # noqa: F401  (what show() uses, loaded before READY)
    import host.display.compositor  # noqa: F401
    import plugins_builtin.clock
    import plugins_builtin.text
    from sdk.testing import PluginRunner

    spec = json.loads(spec_json)
    rotation = [(str(i), str(m), float(s)) for i, m, s in spec["rotation"]]
    plugins = {"clock": plugins_builtin.clock, "text": plugins_builtin.text}
    with contextlib.ExitStack() as stack:
        runners = {
            i: stack.enter_context(
                PluginRunner(
                    plugins[i],
                    size=(WIDTH, HEIGHT),
                    config={"message": MESSAGE} if i == "text" else {},
                    plugin_id=i,
                )
            )
            for i in {i for i, _, _ in rotation}
        }
        print("READY", flush=True)
        if spec["end_at"] is not None:
            end_at = float(spec["end_at"])
        elif spec["show_for"] is not None:
            end_at = time.monotonic() + float(spec["show_for"])
        else:
            end_at = float(sys.stdin.readline().split()[1])  # "GO <monotonic end>"
        cpu0, t0 = _own_cpu(), time.monotonic()
        result = show(runners, rotation, end_at)
        result.update(window_cpu=_own_cpu() - cpu0, window=time.monotonic() - t0)
    print("RESULT", json.dumps(result), flush=True)


# -- one round ------------------------------------------------------------------------------


@dataclass
class Round:
    """What one round measured on both sides."""

    total: dict[str, float]  # side -> whole-tree CPU seconds, start to exit
    share: dict[str, float]  # side -> steady share of one core
    frames: dict[str, int]  # side -> frames pushed
    parts: dict[str, float]  # ledhost process role -> steady share of one core
    #: ledhost process role -> CPU seconds from its start to the end of the show.
    upto: dict[str, float]
    stats_cpu: float  # ledhost's own --stats-json cpu_seconds
    own_share: float  # the reference's own getrusage over its whole show, per second
    window: float  # seconds between the two samples
    problems: list[str]  # why the round is not a fair comparison, if it is not


def measure_round(plan: Plan, config: Path, stats: Path, ledhost_first: bool) -> Round:
    """ledhost and the reference side by side, their shows in step, sampled together."""
    ledhost_argv = [
        sys.executable, "-m", "host", "run", "--backend", "headless",
        "--duration", str(plan.duration), "--config", str(config), "--stats-json", str(stats),
    ]  # fmt: skip
    trees: dict[str, Tree] = {}
    try:
        for side in ("ledhost", "reference") if ledhost_first else ("reference", "ledhost"):
            trees[side] = (
                Tree(ledhost_argv)
                if side == "ledhost"
                else Tree(reference_argv(plan.rotation), stdin=True)
            )
        led, ref = trees["ledhost"], trees["reference"]
        # Logged just before the host starts its --duration clock and its workers.
        started, _ = led.wait_for("err", "on the headless backend")
        end_at = started + plan.duration
        ref.wait_for("out", "READY")
        led.wait_for("err", "showing ")
        ref.send(f"GO {end_at}")
        sleep_until(time.monotonic() + SETTLE)
        ta, (la, ra) = sample([led.proc.pid, ref.proc.pid])
        sleep_until(end_at - 0.25)  # the host's loop ends at end_at, then it shuts down
        tb, (lb, rb) = sample([led.proc.pid, ref.proc.pid])
        ends = {side: tree.finish() for side, tree in trees.items()}
    finally:
        for tree in trees.values():
            tree.abort()
    data = json.loads(stats.read_text(encoding="utf-8"))
    result = ref.result()
    problems = [f"{side} left {end['left']}" for side, end in ends.items() if end["left"]]
    problems += [f"{side} exited {end['status']}" for side, end in ends.items() if end["status"]]
    shown = sorted({str(m["mode"]).split(":")[0] for m in data["modes_shown"]})
    if shown != ["clock", "text"]:
        problems.append(f"ledhost showed {shown}")
    if led.child not in lb or len(lb) != len(la):
        problems.append("ledhost's processes changed during the window")
    window = tb - ta
    workers = {int(p["pid"]): iid for iid, p in data["plugins"].items() if p.get("pid")}
    parts = roles(led.child, cpu_between(la, lb), lb, workers)
    return Round(
        total={side: float(end["cpu"]) for side, end in ends.items()},
        share={
            "ledhost": sum(parts.values()) / window,
            "reference": sum(cpu_between(ra, rb).values()) / window,
        },
        frames={"ledhost": int(data["frames_shown"]), "reference": int(result["frames"])},
        parts={role: cpu / window for role, cpu in parts.items()},
        upto=roles(led.child, {pid: cpu for pid, (_, cpu, _) in lb.items()}, lb, workers),
        stats_cpu=float(data["cpu_seconds"]),
        own_share=float(result["window_cpu"]) / float(result["window"]),
        window=window,
        problems=problems,
    )


# -- rows -----------------------------------------------------------------------------------


def verdict(ratio: float) -> str:
    """Met, or missed by how much."""
    if ratio <= GOAL:
        return f"goal <= {GOAL:g}x met"
    return f"goal <= {GOAL:g}x missed by {ratio / GOAL - 1:.0%}"


def run(quick: bool) -> list[Row]:
    """Paired rounds of ledhost and the reference; rows of totals, shares and the split."""
    from benchmarks._util import Row, check_row, progress, rotations, spread_of

    plan = QUICK if quick else FULL
    progress(
        f"  {plan.rounds} rounds of ledhost run and the in-process reference side by side, "
        f"{plan.duration:g} s each"
    )
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-isolation-") as tmp:
        config = write_config(Path(tmp), plan.rotation)
        for r, order in rotations(["ledhost", "reference"], plan.rounds):
            stats = Path(tmp) / f"stats{r}.json"
            rounds.append(measure_round(plan, config, stats, order[0] == "ledhost"))

    def values(key: str, side: str) -> list[float]:
        return [float(getattr(r, key)[side]) for r in rounds]

    def row(
        case: str,
        unit: str,
        figures: list[float],
        base: tuple[str, list[float]] | None = None,
        note: str = "",
        scale: float = 1.0,
    ) -> Row:
        ratio = None
        if base is not None:
            ratio = spread_of([f / b for f, b in zip(figures, base[1], strict=True) if b > 0])
        return Row(
            NAME,
            case,
            unit,
            spread_of([f * scale for f in figures]),
            ratio,
            None if base is None else base[0],
            note=note,
            params={"section": "isolation", "rounds": len(figures), "duration_s": plan.duration},
        )

    ref_total = ("total cpu: in-process reference", values("total", "reference"))
    ref_share = ("steady share: in-process reference", values("share", "reference"))
    led_total, led_share = values("total", "ledhost"), values("share", "ledhost")
    total_ratio = spread_of([a / b for a, b in zip(led_total, ref_total[1], strict=True)])
    share_ratio = spread_of([a / b for a, b in zip(led_share, ref_share[1], strict=True)])
    window = statistics.median(r.window for r in rounds)
    own = statistics.median(r.own_share for r in rounds) * 100
    rows = [
        row("total cpu: ledhost run", "s", led_total, ref_total,
            f"whole tree, start to exit; {verdict(total_ratio.median)}"),
        row(ref_total[0], "s", ref_total[1], note="one process, start to exit"),
        row("steady share: ledhost run", "% core", led_share, ref_share,
            f"{window:.1f} s in step after the first mode; {verdict(share_ratio.median)}", 100),
        row(ref_share[0], "% core", ref_share[1], scale=100,
            note=f"same instants; its own getrusage, GO to end: {own:.3f}%"),
    ]  # fmt: skip
    for role in sorted({p for r in rounds for p in r.parts}):
        part = [r.parts.get(role, 0.0) for r in rounds]
        rows.append(row(f"steady share: ledhost {role}", "% core", part, ref_share, scale=100))
    for role in sorted({p for r in rounds for p in r.upto}):
        part = [r.upto.get(role, 0.0) for r in rounds]
        note = "start to end of show (no shutdown)" if role == "host" else ""
        rows.append(row(f"cpu by process: ledhost {role}", "s", part, ref_total, note))
    ref_frames = ("frames pushed: in-process reference", values("frames", "reference"))
    problems = [f"round {i}: {p}" for i, r in enumerate(rounds) for p in r.problems]
    rows += [
        row("frames pushed: ledhost run", "frames", values("frames", "ledhost"), ref_frames),
        row(ref_frames[0], "frames", ref_frames[1]),
        row("ledhost --stats-json cpu_seconds", "s", [r.stats_cpu for r in rounds],
            ("total cpu: ledhost run", led_total), "what the host itself reports"),
        check_row(NAME, "check: fair rounds (both modes shown, clean exits, nothing left)",
                  not problems, "; ".join(problems) or f"{len(rounds)} rounds", section="check"),
    ]  # fmt: skip
    return rows


if __name__ == "__main__" and sys.argv[1:2] == ["--reference"]:
    reference_main(sys.argv[2])
