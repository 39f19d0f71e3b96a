"""Memory of host + N idle workers, and worker start time: the zygote against plain spawn.

Two sections, both with the real supervisor and real workers (the builtin clock):

``pss``
    For N = 1, 5, 10, 20 (quick: 1, 5) and each launcher, ``ledhost run`` (the CLI's
    ``main``, headless backend) runs in a subprocess with N clock instances: one is shown,
    the others sit idle. Once every worker is RUNNING and has settled, the proportional set
    size (PSS, ``/proc/<pid>/smaps_rollup``) of the host's whole process tree is summed:
    host, workers and the helpers that come with them -- the zygote (ledhost's own fork
    server, a fork of the host, which also serves as the undertaker), or with spawn the
    undertaker. PSS splits each
    shared page among the processes that share it, so the sum is what the group costs the
    machine and copy-on-write sharing with the zygote counts as it should; RSS would count
    shared pages once per process and overstate both launchers. The per-worker increment
    is the least-squares slope of the total over N within a round; spawn / zygote ratios
    are taken within a round, and the median over rounds is reported.
``start``
    A supervisor in a subprocess starts clock workers one at a time (each once the last
    is RUNNING, the others staying alive, as when the host restarts one plugin), timing
    ``Supervisor.start`` to RUNNING (hello, start, ``ready``). The zygote's first start in
    a round also waits for the zygote's preload: that once-per-host cost is its own row. Launchers
    alternate in rounds with a rotating order.

Both run in subprocesses so nothing of this runner (its imports, a zygote another
benchmark left running) is measured. The goal row sets host + 20 workers against the RAM
a Raspberry Pi Zero 2 W leaves free (:data:`PI_FREE_MIB`, an assumption). The figures are
from the machine the run is on: an aarch64 Pi maps other builds of the same libraries, so
they carry over as ratios, not as MiB.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from benchmarks._util import Row, check_row, progress, rotations, spread_of
from benchmarks.startup import (
    cmdline,
    driver,
    end_leftovers,
    proc_stat,
    process_tree,
    read_report,
    stop,
    write_config,
)

__all__ = ["NAME", "TITLE", "pss_kib", "run", "start_times"]

NAME: Final = "memory"
TITLE: Final = "PSS of host + N idle workers and worker start time: zygote vs plain spawn"

LAUNCHERS: Final = ("zygote", "spawn")
#: What a Pi Zero 2 W leaves for ledhost, assumed: 512 MB less the 64 MB GPU split of
#: Raspberry Pi OS, less ~50 MB for the OS itself (Lite: systemd, sshd, wpa_supplicant).
PI_FREE_MIB: Final = 400.0
#: The goal's worker count (issue 7: host + 20 workers).
GOAL_WORKERS: Final = 20
_KIB_PER_MIB: Final = 1024.0
_MS: Final = 1e3
_TIMEOUT: Final = 90.0
#: The parts of a host's process group, as :func:`_part` names them.
PARTS: Final = ("host", "workers", "zygote", "undertaker", "tracker", "other")


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure: ``--quick`` keeps the smoke test short; full is for figures."""

    counts: tuple[int, ...]
    #: Rounds of the PSS section: every (N, launcher) host once per round.
    rounds: int
    #: Seconds to wait after the last worker is RUNNING before sampling PSS.
    settle_s: float
    #: Rounds of the start section, and starts per launcher per round.
    start_rounds: int
    starts: int


QUICK: Final = Plan((1, 5), 2, 0.3, 2, 4)
FULL: Final = Plan((1, 5, 10, 20), 4, 1.0, 6, 6)

#: The host under measurement: ``ledhost run`` through the CLI's ``main``, with one probe
#: that prints a line once every worker is RUNNING; SIGTERM ends it (the CLI's shutdown).
#: Source for ``python -c``, so the measured process imports nothing of this runner.
_HOST_DRIVER: Final = """
import json, sys
import host.supervise.spawner as spawner
from host.cli.main import main
from host.supervise.states import WorkerState

count, told, fork_early = int(sys.argv[1]), [], spawner.fork_zygote_early

def install():
    import host.app
    on_state = host.app.Host.on_state

    def probe(self, handle):
        on_state(self, handle)
        report(self)

    host.app.Host.on_state = probe

def fork_then_install():
    fork_early()
    install()

def report(self):
    handles = self.supervisor.handles
    if told or len(handles) < count:
        return
    if all(h.state is WorkerState.RUNNING for h in handles.values()):
        told.append(True)
        running = max(t for h in handles.values() for t, s in h.history if s is WorkerState.RUNNING)
        line = {"workers": [h.pid for h in handles.values()],
                  "all_running_s": running - self.stats.started}
        print("BENCH " + json.dumps(line), flush=True)

# ledhost run imports host.app after forking its zygote: so does the probe, or the zygote
# would inherit what only the host uses.
if "zygote" in sys.argv:
    spawner.fork_zygote_early = fork_then_install
else:
    install()
sys.exit(main(sys.argv[2:]))
"""

#: The start section's driver: :func:`start_times` in a fresh interpreter.
_START_DRIVER: Final = """
import json, sys
from pathlib import Path
from benchmarks.memory import start_times
order, starts, data_dir = sys.argv[1].split(","), int(sys.argv[2]), Path(sys.argv[3])
print("BENCH " + json.dumps({name: start_times(name, starts, data_dir / name) for name in order}))
"""


# -- /proc ---------------------------------------------------------------------------------


def pss_kib(pid: int) -> int | None:
    """The process's PSS in KiB (``Pss:`` of ``smaps_rollup``), or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


# -- one host run --------------------------------------------------------------------------


@dataclass
class HostSample:
    """PSS of one host run's process group, in MiB by part, and how it started."""

    parts: dict[str, float]
    all_running_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.parts.values())


def _part(pid: int, workers: set[int], host: int) -> str:
    """Which part of the group ``pid`` is, for the breakdown."""
    if pid == host:
        return "host"
    if pid in workers:
        return "workers"
    with contextlib.suppress(OSError):
        # The zygote is a fork of the host: same command line, its own name.
        if Path(f"/proc/{pid}/comm").read_bytes().strip() == b"ledhost-zygote":
            return "zygote"
    cmd = cmdline(pid)
    for needle, part in (
        ("host.supervise.undertaker", "undertaker"),  # spawned, where there is no zygote
        ("resource_tracker", "tracker"),
    ):
        if needle in cmd:
            return part
    return "other"


def _check_tree(tree: dict[int, int], workers: set[int], host: int, launcher: str) -> list[str]:
    """That the group is what the figures claim: N workers, forked by the zygote or not."""
    problems = []
    live = [w for w in workers if w in tree]
    if len(live) != len(workers):
        problems.append(f"{launcher} N={len(workers)}: only {len(live)} workers alive")
    parents = {(proc_stat(w) or (0, "", 0))[0] for w in live}
    zygotes = {p for p in tree if _part(p, workers, host) == "zygote"}
    # Workers forked by the zygote are adopted by the host (a subreaper), like spawned ones.
    if parents != {host} or len(zygotes) != (1 if launcher == "zygote" else 0):
        problems.append(f"{launcher}: workers' parents {parents}, zygote {zygotes}")
    return problems


def measure_host(count: int, launcher: str, settle_s: float, folder: Path) -> HostSample:
    """Run ``ledhost run`` with ``count`` idle clock workers and sum its group's PSS."""
    config, ids = write_config(folder, count)
    args = ["run", "--backend", "headless", "--config", str(config), "--plugins", ids]
    args += ["--launcher", launcher, "--duration", "300"]
    known: dict[int, int] = {}
    try:
        with driver([sys.executable, "-c", _HOST_DRIVER, str(count), *args]) as proc:
            report = read_report(proc, _TIMEOUT)
            workers = {int(p) for p in report["workers"]}
            time.sleep(settle_s)
            sweeps = []
            for _ in range(3):  # the median of three sweeps; one takes a few ms
                tree = process_tree(proc.pid)
                known.update(tree)
                parts: dict[str, float] = {}
                for pid in tree:
                    part = _part(pid, workers, proc.pid)
                    parts[part] = parts.get(part, 0.0) + (pss_kib(pid) or 0) / _KIB_PER_MIB
                sweeps.append(parts)
                time.sleep(0.05)
            sweeps.sort(key=lambda p: sum(p.values()))
            sample = HostSample(sweeps[1], float(report["all_running_s"]))
            sample.problems += _check_tree(tree, workers, proc.pid, launcher)
            if not stop(proc):
                sample.problems.append(f"{launcher} N={count}: host did not stop on SIGTERM")
    finally:
        left = end_leftovers(known)  # the host included: it has ended by now
    sample.problems += left
    return sample


# -- worker start --------------------------------------------------------------------------


class _Listener:
    """The supervisor's listener, deaf: the start section only watches states."""

    def on_hello(self, handle: Any) -> None: ...
    def on_state(self, handle: Any) -> None: ...
    def on_content(self, handle: Any) -> None: ...
    def on_frame(self, handle: Any, frame: Any) -> None: ...
    def on_strip(self, handle: Any, strip: Any) -> None: ...
    def on_interrupt(self, handle: Any, mode: str, priority: int, seconds: float | None) -> None:
        """Interrupts are for the display side; nothing here shows anything."""

    def on_dwell(self, handle: Any, mode: str, seconds: float) -> None: ...


def start_times(launcher_name: str, starts: int, data_dir: Path) -> list[float]:
    """Seconds from ``Supervisor.start`` to RUNNING for ``starts`` clock workers, one at a
    time. A fresh launcher each call, so the zygote's first start includes booting it.

    The clock declares no network, so its workers enter an empty network namespace where
    the machine allows; ``<launcher>+net`` starts it as if it had declared the network,
    to price the namespace."""
    import selectors

    from host.discovery import discover
    from host.ipc.framebus import Geometry
    from host.supervise.handle import WorkerHandle
    from host.supervise.rules import WorkerRules
    from host.supervise.spawner import make_launcher
    from host.supervise.states import WorkerState
    from host.supervise.supervisor import Supervisor

    launcher_name, _, net = launcher_name.partition("+")
    spec = dataclasses.replace(discover((), environment=False)["clock"], network=bool(net))
    selector = selectors.DefaultSelector()
    supervisor = Supervisor(
        launcher=make_launcher(launcher_name),
        geometry=Geometry(64, 32),
        selector=selector,
        listener=_Listener(),
        data_dir=data_dir,
        rules=WorkerRules(),
    )
    times = []
    try:
        for i in range(starts):
            handle = WorkerHandle(instance_id=f"s{i}", spec=spec, options={})
            supervisor.add(handle)
            t0 = time.monotonic()
            supervisor.start(handle, t0)
            while handle.state is not WorkerState.RUNNING:
                if handle.state is not WorkerState.STARTING or time.monotonic() - t0 > 30:
                    raise RuntimeError(
                        f"{launcher_name} worker did not start: {handle.state.value}, "
                        f"{handle.last_error or handle.last_exit}"
                    )
                supervisor.run_once(0.05)
            times.append(max(t for t, s in handle.history if s is WorkerState.RUNNING) - t0)
    finally:
        supervisor.stop_all(graceful_timeout=3.0)
        selector.close()
    return times


def start_rows(plan: Plan, folder: Path) -> list[Row]:
    """Worker start, one at a time, the launchers interleaved in rounds."""
    progress(f"  start: {len(LAUNCHERS)} launchers x {plan.start_rounds} rounds x {plan.starts}")
    warm: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    first: list[float] = []
    ratios: list[float] = []
    netns: list[float] = []
    for r, order in rotations(LAUNCHERS, plan.start_rounds):
        names = ",".join([*order, "zygote+net"])
        got = run_driver(_START_DRIVER, [names, str(plan.starts), str(folder / f"s{r}")])
        first.append(got["zygote"].pop(0) * _MS)
        got["zygote+net"].pop(0)
        netns.append(spread_of(got["zygote"]).median / spread_of(got["zygote+net"]).median)
        for name in LAUNCHERS:
            warm[name] += [t * _MS for t in got[name]]
        ratios.append(spread_of(got["spawn"]).median / spread_of(got["zygote"]).median)
    note = f"{plan.starts - 1} a round after the first; one at a time; start() to RUNNING"
    rows = pair("start", "ms", warm["zygote"], warm["spawn"], note, ratios, section="start")
    note = "once per host: zygote fork, preload (numpy, Pillow, SDK, fonts), fork"
    rows.append(Row(NAME, "start: zygote, first", "ms", spread_of(first), note=note))
    note = "zygote starts in an empty network namespace / keeping the network, per round"
    return [*rows, Row(NAME, "start: netns / no netns", "x", spread_of(netns), note=note)]


def run_driver(source: str, args: list[str]) -> dict[str, Any]:
    """Run a ``python -c`` driver and return its report."""
    with driver([sys.executable, "-c", source, *args]) as proc:
        return read_report(proc, _TIMEOUT)


# -- PSS -----------------------------------------------------------------------------------


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of ``y`` over ``x``."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    a = sum((x - mx) * (y - my) for x, y in points) / sxx
    return a, my - a * mx


def pair(
    label: str,
    unit: str,
    zygote: list[float],
    spawn: list[float],
    note: str = "",
    ratios: list[float] | None = None,
    **params: str | int | float,
) -> list[Row]:
    """The zygote's row (the baseline) and spawn's, with spawn / zygote per round
    (``ratios`` if given, else the quotients of the two lists, which pair by round)."""
    base = f"{label}: zygote"
    ratio = spread_of(ratios or [s / z for s, z in zip(spawn, zygote, strict=True)])
    return [
        Row(
            NAME, base, unit, spread_of(zygote), note=note, params={**params, "launcher": "zygote"}
        ),
        Row(
            NAME,
            f"{label}: spawn",
            unit,
            spread_of(spawn),
            ratio,
            base,
            params={**params, "launcher": "spawn"},
        ),
    ]


def pss_rows(plan: Plan, folder: Path) -> tuple[list[Row], list[str]]:
    """Host + N workers for every N and launcher, in interleaved rounds."""
    cases = [(n, name) for n in plan.counts for name in LAUNCHERS]
    progress(f"  pss: {len(cases)} hosts x {plan.rounds} rounds (N = {plan.counts})")
    got: dict[tuple[int, str], list[HostSample]] = {c: [] for c in cases}
    for r, order in rotations(cases, plan.rounds):
        for n, name in order:
            got[(n, name)].append(measure_host(n, name, plan.settle_s, folder / f"{r}-{n}-{name}"))
    problems = [p for samples in got.values() for s in samples for p in s.problems]
    top, ns = max(plan.counts), ", ".join(map(str, plan.counts))

    def each(n: int, of: Callable[[HostSample], float]) -> tuple[list[float], list[float]]:
        return [of(s) for s in got[(n, "zygote")]], [of(s) for s in got[(n, "spawn")]]

    rows: list[Row] = []
    for n in plan.counts:
        notes = []
        for name in LAUNCHERS:  # the parts, by median, in the note of each launcher's row
            parts = {
                k: spread_of([s.parts.get(k, 0.0) for s in got[(n, name)]]).median for k in PARTS
            }
            notes.append(", ".join(f"{k} {v:.1f}" for k, v in parts.items() if v))
        zyg, spa = pair(
            f"pss host+{n}", "MiB", *each(n, lambda s: s.total), section="pss", workers=n
        )
        rows += [replace(zyg, note=notes[0]), replace(spa, note=notes[1])]
    fits = {
        name: [fit([(n, got[(n, name)][r].total) for n in plan.counts]) for r in range(plan.rounds)]
        for name in LAUNCHERS
    }
    slopes = ([a for a, _ in fits["zygote"]], [a for a, _ in fits["spawn"]])
    rows += pair(
        "pss per worker, slope", "MiB", *slopes, f"least squares over N = {ns}", section="pss-slope"
    )
    own = each(top, lambda s: s.parts.get("workers", 0.0) / top)
    rows += pair(
        f"pss per worker, own at N={top}",
        "MiB",
        *own,
        "the workers' PSS / N, without the zygote's",
        section="pss-own",
    )
    burst = each(top, lambda s: s.all_running_s * _MS)
    rows += pair(
        f"all {top} RUNNING after host start",
        "ms",
        *burst,
        "all started at once",
        section="pss-burst",
    )
    for name in LAUNCHERS:
        if top >= GOAL_WORKERS:
            totals, how = [s.total for s in got[(GOAL_WORKERS, name)]], "measured"
        else:  # quick: along each round's fit
            totals, how = [b + GOAL_WORKERS * a for a, b in fits[name]], f"from N = {ns}"
        rows.append(
            Row(
                NAME,
                f"goal: host+{GOAL_WORKERS} on a Pi Zero 2 W: {name}",
                "MiB",
                spread_of(totals),
                spread_of([t / PI_FREE_MIB for t in totals]),
                f"{PI_FREE_MIB:.0f} MiB free (assumed)",
                note=f"{how}; 512 MB - 64 MB GPU - ~50 MB Pi OS Lite; PSS of this machine",
                params={"section": "goal", "launcher": name, "budget_mib": PI_FREE_MIB},
            )
        )
    return rows, problems


# -- entry point ---------------------------------------------------------------------------


def run(quick: bool) -> list[Row]:
    """The PSS section, the start section, then one check row on what was measured."""
    plan = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-memory-") as tmp:
        rows, problems = pss_rows(plan, Path(tmp))
        rows += start_rows(plan, Path(tmp))
    hosts = len(plan.counts) * len(LAUNCHERS) * plan.rounds
    note = "; ".join(problems[:3]) or f"{hosts} hosts: all N workers, right parent, none left"
    rows.append(
        check_row(
            NAME,
            "check: worker groups as measured, none left behind",
            not problems,
            note,
            section="check",
            hosts=hosts,
        )
    )
    return rows
