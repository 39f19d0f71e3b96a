"""``ledhost doctor``: what breaks panels and services on a Pi, each with what to do.

Every check reads the machine only through a :class:`Machine`: a root folder (``/`` on
the Pi; a fake ``/proc``, ``/sys`` and ``config.txt`` in tests), a command runner (real
subprocesses found on the runner's own ``PATH``, so tests put a fake ``vcgencmd`` there),
the install layout and the config. A check never raises: a missing file, a command that
is absent, hangs or prints garbage is itself a finding, never a traceback.

Interface for other parts: :func:`host.system.doctor_checks.run_checks` returns
:class:`Finding` objects; add a check by appending a function ``(Machine) -> Finding`` to
:data:`host.system.doctor_checks.CHECKS`. The exit status is :func:`exit_status`: 0 when
nothing FAILs (warnings do not fail), 1 otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from config import HostConfig
from host.system.layout import PiLayout

__all__ = [
    "CommandResult",
    "CommandRunner",
    "Finding",
    "Machine",
    "Status",
    "Thresholds",
    "exit_status",
    "format_json",
    "format_text",
]

Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Finding:
    """What one check found: a status, one line, and what to do (empty when OK)."""

    check: str
    status: Status
    summary: str
    fix: str = ""


@dataclass(frozen=True)
class CommandResult:
    """A finished command: its exit code and output (``None``: not found or timed out)."""

    returncode: int | None
    stdout: str
    error: str = ""


class CommandRunner:
    """Run a command with a timeout, found on ``env["PATH"]``; never raises."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)

    def which(self, name: str) -> str | None:
        return shutil.which(name, path=self.env.get("PATH", os.defpath))

    def __call__(self, argv: Sequence[str], timeout: float = 5.0) -> CommandResult:
        path = self.which(argv[0])
        if path is None:
            return CommandResult(None, "", f"{argv[0]} not found")
        try:
            done = subprocess.run(
                [path, *argv[1:]], capture_output=True, text=True, errors="replace",
                timeout=timeout, env=self.env, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return CommandResult(None, "", f"{argv[0]} did not answer within {timeout:g}s")
        except OSError as exc:
            return CommandResult(None, "", f"{argv[0]}: {exc.strerror or exc}")
        return CommandResult(done.returncode, done.stdout, done.stderr.strip())


@dataclass(frozen=True)
class Thresholds:
    """Below these, memory and disk are a warning or a failure (MiB)."""

    memory_warn_mib: float = 100.0
    memory_fail_mib: float = 40.0
    disk_warn_mib: float = 500.0
    disk_fail_mib: float = 100.0
    #: How long a registry may take to answer.
    registry_timeout: float = 3.0


@dataclass
class Machine:
    """Everything a check may look at.

    :param config: the loaded config, or ``None`` when it did not load (``config_error``
        says why; the other checks then use the defaults).
    """

    root: Path = Path("/")
    run: Callable[..., CommandResult] = field(default_factory=CommandRunner)
    layout: PiLayout = field(default_factory=PiLayout)
    config: HostConfig | None = None
    config_source: str = "the built-in defaults"
    config_error: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)

    def read(self, path: str) -> str | None:
        """The text of ``/path`` under the root, or ``None`` when it cannot be read."""
        try:
            return (self.root / path.lstrip("/")).read_text(errors="replace")
        except (OSError, ValueError):
            return None


def exit_status(findings: Sequence[Finding]) -> int:
    """0 when nothing FAILs (warnings do not fail), 1 otherwise."""
    return 1 if any(f.status == "FAIL" for f in findings) else 0


def format_text(findings: Sequence[Finding]) -> str:
    """One line per check, ``OK``/``WARN``/``FAIL`` first, and the fix indented below."""
    width = max((len(f.check) for f in findings), default=0)
    lines = []
    for f in findings:
        lines.append(f"{f.status:<4}  {f.check:<{width}}  {f.summary}")
        if f.fix:
            lines.append(f"{'':<4}  {'':<{width}}  -> {f.fix}")
    fails = sum(f.status == "FAIL" for f in findings)
    warns = sum(f.status == "WARN" for f in findings)
    lines.append(f"{fails} failed, {warns} warning{'s' if warns != 1 else ''}")
    return "\n".join(lines) + "\n"


def format_json(findings: Sequence[Finding]) -> str:
    """``{"status": worst, "checks": [{check, status, summary, fix}...]}``."""
    worst = "FAIL" if exit_status(findings) else (
        "WARN" if any(f.status == "WARN" for f in findings) else "OK"
    )  # fmt: skip
    return json.dumps({"status": worst, "checks": [asdict(f) for f in findings]}, indent=2) + "\n"
