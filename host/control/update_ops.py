"""Self-update on the control socket: the update check, and an update or rollback as a job.

The web process never runs the updater itself (it runs as the unprivileged web user and
must not be able to replace ledhost); it asks the host, which runs ``ledhost
self-update`` as a child command, like the store's (:mod:`host.control.store_ops`):

- ``update_check``: ``ledhost self-update --check --json``; a
  :class:`~host.control.handlers_base.Pending` reply with its JSON (running version,
  installed releases, the newest on the index, cached, with a timeout; the last update or
  rollback and why).
- ``update_start``: ``ledhost self-update [--version V]`` or ``--rollback`` as the store's
  one change job (never beside a plugin install), progress read with ``store_job``. The
  update restarts the service, which ends this host: under systemd the child is first
  moved out of the service's cgroup (``systemd-run --scope``), so ``KillMode=
  control-group`` does not kill the updater with the host it replaces. After the restart
  the new host answers ``update_check`` with the outcome the updater recorded.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Final

from host.control.children import command, last_error, outputs, pending_reply, spawn
from host.control.handlers_base import Pending
from host.control.store_ops import StoreRunner
from host.ipc import control

#: Longest the check may take (the index fetch has a timeout of its own, 10 s).
CHECK_TIMEOUT: Final = 45.0
#: The transient scope an update runs in under systemd.
SCOPE_UNIT: Final = "ledhost-self-update"


def outside_service(argv: list[str], environ: dict[str, str] | None = None) -> list[str]:
    """``argv``, moved out of the service's cgroup when run by systemd (its restart must
    not kill the updater); unchanged elsewhere."""
    env = os.environ if environ is None else environ
    runner = shutil.which("systemd-run")
    if not env.get("INVOCATION_ID") or runner is None:
        return argv
    return [runner, "--scope", "--quiet", "--collect", f"--unit={SCOPE_UNIT}", "--", *argv]


def _command(host: Any, *args: str) -> list[str]:
    argv = command("self-update", *args)
    if getattr(host.cfg, "path", None) is not None:
        argv += ["--config", str(host.cfg.path)]
    return argv


def check(host: Any, req: control.UpdateCheck, now: float) -> Pending:
    """The update check; replies when the child ends."""
    args = ["--check", "--json"] + (["--refresh"] if req.refresh else [])
    proc, folder = spawn(host, _command(host, *args), "ledhost-update-")

    def done(code: int, folder: Path) -> control.Ok | control.Failed:
        out, err = outputs(folder)
        try:
            data = json.loads(out) if code == 0 and out.strip() else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return control.Failed(code="update_failed", message=last_error(err, code),
                                  id=req.id)  # fmt: skip
        return control.Ok(id=req.id, data=data)

    deadline = now + CHECK_TIMEOUT
    return pending_reply(req.id, proc, folder, deadline, "the update check did not answer", done)


def start(runner: StoreRunner, req: control.UpdateStart, now: float) -> dict[str, Any]:
    """Start the update or rollback job; the job at once."""
    if req.op == "rollback":
        args, target = ["--rollback"], "previous"
    else:
        args = ["--version", req.version] if req.version else []
        target = req.version or "newest"
    argv = outside_service(_command(runner.host, *args))
    return runner.add_job(f"self-{req.op}", target, argv, now)
