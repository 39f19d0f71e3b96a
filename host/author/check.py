"""``ledhost check``: a plugin's every mode at four panel sizes, in a real worker, judged.

For each size (default :data:`SIZES`) one worker is started through the real
:class:`~host.supervise.supervisor.Supervisor`, spawned with :mod:`host.author.probe`
preloaded (timings, draws, a fake clock). Once it runs and its first ``refresh_data`` is
done, each mode is activated in turn until :data:`FRAMES` frames (or its strip) arrived;
a crash, an error or a boot refusal at that size is a finding. Then
:mod:`host.author.findings` compares what was measured with the :class:`~host.author.
budget.Budget`, after scaling this machine's CPU times to the Pi's
(:func:`~host.author.budget.scale_factor`, measured at the start of every check).

Metadata and the config schema are checked as the host checks them: the worker refuses
a broken schema at boot (a crash finding naming it), and the schema's defaults must
validate (:func:`config.plugin_schema.validate_plugin_config`).

Interface: :func:`run_check` returns a :class:`Report` (``passed``, ``lines()``,
``to_dict()``); ``host/cli/author_commands.py`` prints it.
"""

from __future__ import annotations

import json
import os
import selectors
import stat
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from host.author.budget import Budget, measure_speed, scale_factor
from host.author.findings import Finding, SizeRun, judge_size
from host.author.probe import REPORT
from host.author.target import Target
from host.ipc.framebus import Geometry
from host.supervise.handle import WorkerHandle
from host.supervise.listener import FrameCollector
from host.supervise.rules import WorkerRules
from host.supervise.spawner import SpawnLauncher
from host.supervise.states import WorkerState
from host.supervise.supervisor import Supervisor

__all__ = ["FRAMES", "SIZES", "Report", "run_check"]

#: The panel sizes every plugin is checked at: the common HUB75 panels and chains.
SIZES: Final = ((64, 32), (128, 32), (128, 64), (256, 64))
#: Frames collected per mode and size (the fake clock advances between them).
FRAMES: Final = 4
_PROBE: Final = "host.author.probe"
#: The most of the probe's report read per size (a few KB per frame is the norm).
MAX_REPORT: Final = 16 * 1024 * 1024


@dataclass
class Report:
    """What a check found."""

    plugin: str
    target: str
    budget: str
    #: Pi seconds per CPU second here, as measured for this check.
    factor: float
    sizes: list[str]
    findings: list[Finding] = field(default_factory=list)
    #: Per size: modes seen and the worker's CPU seconds (informative).
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        head = (
            f"ledhost check {self.plugin} ({self.target}), budget {self.budget}, "
            f"x{self.factor:.1f} CPU time here -> Pi, sizes {', '.join(self.sizes)}"
        )
        if self.passed:
            return [head, "passed: no findings"]
        return [
            head,
            *(f.line() for f in self.findings),
            f"failed: {len(self.findings)} finding(s)",
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "target": self.target,
            "budget": self.budget,
            "factor": round(self.factor, 3),
            "sizes": self.sizes,
            "passed": self.passed,
            "findings": [f.to_dict() for f in self.findings],
            "runs": self.runs,
        }


def run_check(
    target: Target,
    budget: Budget,
    *,
    sizes: Iterable[tuple[int, int]] = SIZES,
    options: dict[str, Any] | None = None,
    rules: WorkerRules | None = None,
    timeout: float = 60.0,
    frames: int = FRAMES,
) -> Report:
    """Check ``target`` against ``budget`` at each of ``sizes``; see the module docstring.

    :param options: the plugin's config section (default: its schema's defaults).
    :param timeout: seconds each size may take before the worker counts as hung.
    """
    factor = scale_factor(budget, measure_speed())
    sizes = list(sizes)
    report = Report(
        target.spec.plugin_id, target.where, budget.name, factor, [f"{w}x{h}" for w, h in sizes]
    )
    report.findings += [Finding("", "", "metadata", p) for p in target.problems]
    schema_checked = False
    # One size after the other: supervisors in one process must not overlap (each takes
    # the others' workers for processes a plugin left behind, and kills them).
    runs = [
        _run_size(target, width, height, options or {}, rules, timeout, frames)
        for width, height in sizes
    ]
    for run, schema in runs:
        if schema is not None and not schema_checked:
            report.findings += _check_defaults(target.spec.plugin_id, schema)
            schema_checked = True
        report.findings += judge_size(run, budget, factor)
        report.runs[run.size] = {
            "modes": sorted(set(run.frames) | set(run.strips)),
            "cpu_seconds": round(run.cpu_seconds, 3),
            "frames": {m: len(f) for m, f in run.frames.items()},
        }
    return report


def _check_defaults(plugin_id: str, schema: dict[str, Any]) -> list[Finding]:
    """The schema's defaults must make a valid config, as the host would fill them in."""
    from config import ConfigError
    from config.plugin_schema import validate_plugin_config

    try:
        validate_plugin_config(schema, {}, {}, where=f"plugins.{plugin_id}")
    except (ConfigError, ValueError) as exc:
        return [Finding("", "", "schema", f"the schema's defaults are not a valid config: {exc}")]
    untitled = sorted(
        key
        for key, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict) and not prop.get("title")
    )
    if untitled:
        return [
            Finding("", "", "schema", f"options without a 'title' (the form shows the bare "
                    f"key): {', '.join(untitled)}")
        ]  # fmt: skip
    return []


def _run_size(
    target: Target,
    width: int,
    height: int,
    options: dict[str, Any],
    rules: WorkerRules | None,
    timeout: float,
    frames: int,
) -> tuple[SizeRun, dict[str, Any] | None]:
    run = SizeRun(f"{width}x{height}")
    spec = target.spec
    listener = FrameCollector()
    selector = selectors.DefaultSelector()
    with tempfile.TemporaryDirectory(prefix="ledhost-check-data-") as data_dir:
        os.chmod(data_dir, 0o711)  # a worker under a uid of its own passes through it
        sup = Supervisor(
            launcher=SpawnLauncher(preload=_PROBE),
            geometry=Geometry(width, height),
            selector=selector,
            listener=listener,
            data_dir=Path(data_dir),
            rules=rules,
        )
        handle = WorkerHandle(instance_id=spec.plugin_id, spec=spec, options=options)
        sup.add(handle)
        deadline = time.monotonic() + timeout
        try:
            sup.start(handle, time.monotonic())
            _step(sup, deadline, lambda: handle.state is not WorkerState.STARTING)
            if handle.state is not WorkerState.RUNNING:
                run.crash = f"the worker did not start: {handle.last_error or handle.last_exit}"
                return run, None
            if "refresh_data" in handle.hooks:
                _step(sup, deadline, lambda: handle.refreshes > 0 or not _running(handle))
            for mode in handle.mode_names():
                if not _running(handle):
                    break
                _check_mode(sup, handle, listener, run, mode, frames, deadline)
            if not _running(handle):
                run.crash = run.crash or (
                    f"the worker ended: {handle.last_error or handle.last_exit}"
                )
            run.cpu_seconds = _cpu_seconds(handle.pid)
            schema = handle.schema if isinstance(handle.schema, dict) else None
        except TimeoutError:
            run.crash = f"no answer within {timeout:.0f} s (hung?)"
            schema = None
        finally:
            sup.stop_all(graceful_timeout=3.0)
            selector.close()
            run.records = _read_report(Path(data_dir) / spec.plugin_id / REPORT)
    return run, schema


def _check_mode(
    sup: Supervisor,
    handle: WorkerHandle,
    listener: FrameCollector,
    run: SizeRun,
    mode: str,
    frames: int,
    deadline: float,
) -> None:
    before = handle.last_error
    listener.frames, listener.strip = [], None
    sup.activate(handle, mode)
    _step(
        sup,
        deadline,
        lambda: (
            listener.strip is not None
            or len(listener.frames) >= frames
            or not _running(handle)
            or handle.last_error != before
        ),
    )
    run.content[mode] = handle.content.get(mode, True)
    if handle.last_error != before and handle.last_error:
        run.errors[mode] = handle.last_error
    if listener.strip is not None:
        run.strips[mode] = listener.strip.pixels.copy()
    elif listener.frames:
        run.frames[mode] = list(listener.frames)
    sup.deactivate(handle)


def _running(handle: WorkerHandle) -> bool:
    return handle.state is WorkerState.RUNNING


def _step(sup: Supervisor, deadline: float, done: Callable[[], bool]) -> None:
    """Run the supervisor's loop until ``done()``; raise :class:`TimeoutError` past
    ``deadline``."""
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sup.run_once(min(remaining, 0.05, max(0.0, sup.next_wakeup() - time.monotonic())))
        if all(
            h.state in (WorkerState.BACKOFF, WorkerState.QUARANTINED, WorkerState.EXITED)
            for h in sup.handles.values()
        ):
            return


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of ``pid`` and its waited-for children, from /proc."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(b")") + 2 :].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def _read_report(path: Path) -> list[dict[str, Any]]:
    """The probe's records; a line that is not a JSON object is skipped.

    The plugin owns the folder and could put anything there: the file is opened without
    following a symlink (it could point at a file only the checker may read), and at
    most :data:`MAX_REPORT` bytes are read.
    """
    records: list[dict[str, Any]] = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return records
    with os.fdopen(fd, "rb") as report:
        if not stat.S_ISREG(os.fstat(report.fileno()).st_mode):
            return records  # a FIFO or device: nothing the probe wrote
        data = report.read(MAX_REPORT)
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
