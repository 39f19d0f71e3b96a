"""Store operations on the control socket: the store's own commands, run as children.

Browsing, installing, updating, rolling back and uninstalling plugins take seconds to
minutes (downloads, pip, a worker that checks the new version), so the host never does
them in its loop or in a thread of its own: each request starts the same ``ledhost``
command a user would type (``ledhost store search``, ``ledhost install``...), with the
host's config file, as a child process in a session of its own, and the reply is
:class:`~host.control.handlers_base.Pending` until it ends (browsing) or a job id at once
(changes; their progress, the command's own stage lines, is read with ``store_job``).
One change runs at a time; the store's lock and queue already serialise them across
processes, and the host refuses a second one with ``busy`` rather than queue it unseen.

When a change succeeds, the host looks plugins up again at its next loop pass
(:meth:`host.upgrades.UpgradeWatch.recheck_now`): an instance of a freshly installed
plugin starts, updated and rolled-back plugins restart, an uninstalled one's workers stop.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from host.control.children import command, last_error, outputs, pending_reply, spawn
from host.control.handlers_base import Pending, Refused
from host.ipc import control

#: Longest a browsing command (search, list) may take: the registry fetch has a timeout
#: of its own, and a stale cache answers when it fails.
BROWSE_TIMEOUT: Final = 60.0
#: Longest one change may take before it is killed (the store converges after a kill).
CHANGE_TIMEOUT: Final = 15 * 60.0
#: Progress lines kept per job.
MAX_LINES: Final = 200
#: Finished jobs kept for ``store_job``.
MAX_JOBS: Final = 20


@dataclass
class Job:
    """One store change run as a child ``ledhost`` command."""

    id: int
    op: str
    target: str
    proc: subprocess.Popen[bytes]
    folder: Path
    started: float
    deadline: float
    state: str = "running"  # running, done, failed
    lines: list[str] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    _read: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "op": self.op, "target": self.target, "state": self.state,
            "lines": list(self.lines), "result": self.result, "error": self.error,
            "started": round(self.started, 3),
        }  # fmt: skip


class StoreRunner:
    """The host's store children and jobs (one instance per host, made on first use)."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    def _command(self, *args: str) -> list[str]:
        argv = command(*args)
        if self.host.cfg.path is not None:
            argv += ["--config", str(self.host.cfg.path)]
        return argv

    # -- browsing ---------------------------------------------------------------------

    def browse(self, req: control.StoreSearch | control.StoreList, now: float) -> Pending:
        """Search the registries or list what is installed; replies when the child ends."""
        if isinstance(req, control.StoreSearch):
            args = ["store", "search", req.text] + (["--refresh"] if req.refresh else [])
        else:
            args = ["store", "list"]
        proc, folder = spawn(self.host, self._command(*args, "--json"), "ledhost-store-")

        def done(code: int, folder: Path) -> control.Ok | control.Failed:
            out, err = outputs(folder)
            try:
                data = json.loads(out) if out.strip() else None
            except ValueError:
                data = None
            if data is None:
                return control.Failed(code="store_failed", message=last_error(err, code),
                                      id=req.id)  # fmt: skip
            if isinstance(data, dict):
                data["warnings"] = _warnings(err)
            return control.Ok(id=req.id, data=data)

        deadline = now + BROWSE_TIMEOUT
        return pending_reply(req.id, proc, folder, deadline, "the store did not answer", done)

    # -- changes ----------------------------------------------------------------------

    def upload(self, req: control.StoreUpload, now: float) -> dict[str, Any]:
        """Keep an uploaded wheel in a private folder and install it as a job; the folder
        goes with the job's other files when it ends."""
        self._check_free()
        if "/" in req.name or req.name.startswith("."):
            raise Refused("bad_request", f"{req.name!r} is not a wheel file name")
        folder = Path(tempfile.mkdtemp(prefix="ledhost-store-"))
        wheel = folder / req.name
        fd = os.open(wheel, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(req.data)
        change = control.StoreChange(op="install", target=str(wheel), id=req.id)
        return self.start(change, now, folder=folder)

    def _check_free(self, store: bool = True) -> None:
        if any(job.state == "running" for job in self.jobs.values()):
            raise Refused("busy", "another store operation is running; wait for it to end")
        if store and self.host.options.safe_mode:
            raise Refused("refused", "safe mode: the store is not used; restart normally first")

    def start(
        self, req: control.StoreChange, now: float, folder: Path | None = None
    ) -> dict[str, Any]:
        """Start a change; its id at once (progress with ``store_job``)."""
        args = [req.op, req.target]
        if req.version is not None:
            args += ["--version", req.version]
        # Without --json the command prints its stage lines ("download: ...") on stderr.
        self._check_free()
        return self.add_job(req.op, req.target, self._command(*args), now, folder)

    def add_job(
        self, op: str, target: str, argv: list[str], now: float, folder: Path | None = None
    ) -> dict[str, Any]:
        """Run ``argv`` as the one change job (self-update's too, also in safe mode, but
        never beside a store change); its id at once, its stderr lines as progress."""
        self._check_free(store=False)
        proc, folder = spawn(self.host, argv, "ledhost-store-", folder)
        job = Job(next(self._ids), op, target, proc, folder, time.time(),
                  now + CHANGE_TIMEOUT)  # fmt: skip
        self.jobs[job.id] = job
        while len(self.jobs) > MAX_JOBS:
            del self.jobs[min(self.jobs)]
        return job.to_dict()

    def job(self, req: control.StoreJob) -> dict[str, Any]:
        job = self.jobs.get(req.job)
        if job is None:
            raise Refused("no_such_job", f"no store job {req.job} (kept: the last {MAX_JOBS})")
        return job.to_dict()

    def tick(self, now: float) -> None:
        """Follow running jobs: new progress lines, the end, a job over its time."""
        for job in self.jobs.values():
            if job.state != "running":
                continue
            code = job.proc.poll()
            if code is None and now >= job.deadline:
                job.proc.kill()
                job.proc.wait(5)
                code = -9
            out, err = outputs(job.folder)
            job.lines = [line for line in err.splitlines() if line.strip()][-MAX_LINES:]
            if code is None:
                continue
            job.result = out.strip()[-4000:] or None
            if code == 0:
                job.state = "done"
                upgrades = getattr(self.host, "upgrades", None)
                if upgrades is not None:
                    upgrades.recheck_now()
            else:
                job.state = "failed"
                job.error = last_error(err, code)
            shutil.rmtree(job.folder, ignore_errors=True)


def _warnings(err: str) -> list[str]:
    return [line[len("ledhost: warning: "):] for line in err.splitlines()
            if line.startswith("ledhost: warning: ")][:20]  # fmt: skip
