"""The reconciler's I/O shell: read the state, converge a crash, plan, apply, report.

:func:`reconcile` is what ``ledhost reconcile`` and ``ledhost run`` call; the order is:

1. take the queue's lock (:class:`store.queue.OperationQueue`), so nothing else installs
   while the state is read and acted on;
2. **converge** what a killed process left (:meth:`OperationQueue.pending`): an
   interrupted ``uninstall`` is run again (it was asked for, and is idempotent); an
   interrupted install, update, rollback or cleanup leaves at most a half-done
   environment, which :func:`store.operations.cleanup` removes, while ``current`` still
   names the old version; the plan below then installs again what the config wants. No
   failure is recorded for a kill, so no backoff delays that;
3. read desired state (``[store.plugins]``), installed environments, tombstones,
   failures and half-done environments, and :func:`store.reconciler.plan` them;
4. :func:`apply` the plan: each operation through the queue (history lines before and
   after), one failure never stops the others, each failure remembered
   (:mod:`store.failures`: permanent for an incompatible, blocked or refused plugin, else
   with backoff), each success forgetting it; past ``deadline`` the rest is deferred.

``dry_run`` stops after 3 and reports the plan.
"""

from __future__ import annotations

import importlib.metadata
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, final

from config.desired import REGISTRY, DesiredPlugin
from sdk.hookspecs import ENTRY_POINT_GROUP
from store import failures as failures_file
from store import operations, tombstones
from store.errors import Blocked, DownloadError, Incompatible, StoreError, VerifyError, WheelRefused
from store.inventory import installed
from store.layout import MARKER, StorePaths
from store.operations import ProgressEvent, Verify, leftovers
from store.queue import OperationQueue
from store.reconciler import Action, Operation, fingerprint, plan
from store.settings import StoreSettings
from store.sources import parse_source
from store.targets import NotOffered, exact_version, pick_version, registry_revision, resolve

__all__ = [
    "Execute",
    "OpProgress",
    "Outcome",
    "Report",
    "apply",
    "builtin_ids",
    "converge",
    "executor",
    "half_done",
    "is_permanent",
    "reconcile",
    "Result",
]

Result = Literal["ok", "failed", "skipped", "deferred", "planned"]
#: Called with the operation under way and each of its progress events.
OpProgress = Callable[[Operation, ProgressEvent], None]
#: Carries out one operation; returns the version installed after it, if any.
Execute = Callable[[Operation], str | None]
#: HTTP statuses that will not change by retrying the same URL (404, 410).
_GONE: Final = re.compile(r": HTTP 4(04|10)\b")


@final
@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one operation."""

    op: Operation
    result: Result
    error: str = ""
    #: The plugin's current version after it, when it installed or switched one.
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            **self.op.to_dict(),
            "result": self.result,
            "error": self.error,
            "installed": self.version,
        }


@final
@dataclass(frozen=True, slots=True)
class Report:
    """What a reconcile did (or, dry, would do)."""

    outcomes: tuple[Outcome, ...] = ()
    #: What was converged from a crashed operation, one sentence each.
    converged: tuple[str, ...] = ()
    #: A problem that kept the whole reconcile from running (unreadable state).
    error: str = ""

    @property
    def ok(self) -> bool:
        """No operation failed and nothing stopped the run."""
        return not self.error and all(o.result != "failed" for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "ok": self.ok,
            "error": self.error,
            "converged": list(self.converged),
            "operations": [o.to_dict() for o in self.outcomes],
        }


def reconcile(
    paths: StorePaths,
    settings: StoreSettings,
    desired: Mapping[str, DesiredPlugin],
    *,
    verify: Verify | None,
    progress: OpProgress | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    dry_run: bool = False,
    deadline: float | None = None,
    now: float | None = None,
) -> Report:
    """Bring the store to ``desired``; see the module docstring for the steps.

    :param desired: ``HostConfig.store_plugins``.
    :param verify: checks a new environment with a real worker (built by the host).
    :param progress: per-operation progress events (bytes downloaded, stages).
    :param on_outcome: called as each operation ends (the CLI prints a line).
    :param dry_run: plan only: nothing is changed, nothing converged (it still waits for
        an operation under way elsewhere, so the plan it shows is not half-stale).
    :param deadline: a ``time.monotonic()`` after which no new operation starts (the
        rest is reported ``deferred``); ``None`` for none.
    :param now: the wall clock for the backoff (default ``time.time()``).
    """
    queue = OperationQueue(paths.state)
    # A dry run on a machine without a store creates nothing, not even the lock file.
    hold = nullcontext() if dry_run and not paths.state.is_dir() else queue.locked()
    with hold:
        notes: list[str] = []
        if not dry_run:
            notes = converge(queue, paths)
        stamp = time.time() if now is None else now
        wanted = resolve(desired)
        remembered = failures_file.read(paths.state)
        # The registry is read only when its change could matter: an unrecoverable
        # failure of a wanted plugin. Else a start with nothing to do needs no network.
        stuck = any(
            f.permanent and pid in wanted and f.fingerprint == fingerprint(wanted[pid].entry)
            for pid, f in remembered.items()
        )
        registry = registry_revision(paths, settings) if stuck else None
        try:
            ops = plan(
                wanted,
                installed(paths),
                set(tombstones.read(paths)),
                remembered,
                stamp,
                half_done=half_done(paths),
                registry=registry,
                builtins=builtin_ids(),
            )
        except StoreError as exc:
            return Report(converged=tuple(notes), error=str(exc))
        if dry_run:
            planned = [
                Outcome(op, "skipped" if op.action is Action.SKIP else "planned") for op in ops
            ]
            return Report(tuple(planned))
        run = executor(paths, settings, verify, progress)
        outcomes = apply(
            ops,
            queue,
            run,
            paths=paths,
            desired=desired,
            now=stamp,
            deadline=deadline,
            on_outcome=on_outcome,
            revision=lambda: registry_revision(paths, settings),
        )
        return Report(tuple(outcomes), tuple(notes))


def builtin_ids() -> frozenset[str]:
    """The plugin ids ledhost's own distribution declares (its builtins)."""
    try:
        points = importlib.metadata.distribution("ledhost").entry_points
    except importlib.metadata.PackageNotFoundError:
        return frozenset()
    return frozenset(p.name for p in points if p.group == ENTRY_POINT_GROUP)


def half_done(paths: StorePaths) -> dict[str, list[str]]:
    """Version folders without their completion marker that neither ``current`` nor
    ``previous`` names: what a killed install left (read only; ``cleanup`` removes them,
    with the rest of :func:`store.operations.leftovers`)."""
    found: dict[str, list[str]] = {}
    for item in leftovers(paths):
        if (
            item.parent.parent == paths.envs
            and not item.name.startswith(".")
            and item.name not in ("current", "previous")
            and item.is_dir()
            and not item.is_symlink()
            and not (item / MARKER).exists()
        ):
            found.setdefault(item.parent.name, []).append(item.name)
    return found


def converge(queue: OperationQueue, paths: StorePaths) -> list[str]:
    """Finish or clean up what a killed process left; returns one note per operation.

    Call it holding the queue's lock. Each pending entry is closed (``interrupted``) once
    handled, so a crash during convergence is converged again next time.
    """
    notes: list[str] = []
    for entry in queue.pending():
        op = entry.op
        try:
            if op.action is Action.UNINSTALL:
                _uninstall_again(paths, op.plugin_id)
                note = f"{op.plugin_id}: an interrupted uninstall was finished"
            else:
                removed = operations.cleanup(paths)
                done = f" (removed {', '.join(removed)})" if removed else ""
                now_current = installed(paths).get(op.plugin_id)
                state = (
                    "it is not installed"
                    if now_current is None
                    else (f"{now_current.version} is current")
                )
                note = f"{op.plugin_id}: an interrupted {op.action} was cleaned up{done}; {state}"
        except Exception as exc:  # one leftover must not keep the others from converging
            why = str(exc) or type(exc).__name__
            note = f"{op.plugin_id}: an interrupted {op.action} could not be cleaned up: {why}"
            queue.close_pending(entry, "failed", why)
            notes.append(note)
            continue
        queue.close_pending(entry, "interrupted", "the process running it ended mid-way")
        notes.append(note)
    return notes


def _uninstall_again(paths: StorePaths, plugin_id: str) -> None:
    try:
        operations.uninstall(paths, plugin_id)
    except StoreError:
        if plugin_id in installed(paths):
            raise
        operations.cleanup(paths)  # nothing current left: only leftovers to remove


def executor(
    paths: StorePaths,
    settings: StoreSettings,
    verify: Verify | None,
    progress: OpProgress | None = None,
) -> Execute:
    """The function that carries out one planned operation with :mod:`store.operations`."""

    def execute(op: Operation) -> str | None:
        def report(event: ProgressEvent) -> None:
            if progress is not None:
                progress(op, event)

        if op.action is Action.INSTALL:
            source = parse_source(op.plugin_id if op.source == REGISTRY else op.source)
            source = replace(source, version=_version(source.kind, op))
            result = operations.install(
                paths, settings, source, verify=verify, progress=report, explicit=False
            )
            return result.version
        if op.action is Action.UPDATE:
            kind = parse_source(op.plugin_id if op.source == REGISTRY else op.source).kind
            return operations.update(
                paths,
                settings,
                op.plugin_id,
                version=_version(kind, op),
                verify=verify,
                progress=report,
            ).version
        if op.action is Action.ROLLBACK:
            return operations.rollback(paths, op.plugin_id).version
        if op.action is Action.UNINSTALL:
            operations.uninstall(paths, op.plugin_id)
            return None
        if op.action is Action.CLEANUP:
            operations.cleanup(paths)
            return None
        raise StoreError(f"{op.plugin_id}: a {op.action} operation cannot be run")

    def _version(kind: str, op: Operation) -> str | None:
        if kind == "registry":
            return pick_version(paths, settings, op.plugin_id, op.version)
        return exact_version(op.version) if kind == "pypi" else None

    return execute


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying the same request cannot succeed until something changes: the
    plugin is incompatible, blocked, refused as a wheel, fails in a worker, or is gone."""
    if isinstance(exc, Incompatible | Blocked | WheelRefused | VerifyError | NotOffered):
        return True
    # DownloadError carries no status; its message is "<url>: HTTP <code> <reason>".
    return isinstance(exc, DownloadError) and _GONE.search(str(exc)) is not None


def apply(
    ops: Sequence[Operation],
    queue: OperationQueue,
    execute: Execute,
    *,
    paths: StorePaths,
    desired: Mapping[str, DesiredPlugin],
    now: float,
    deadline: float | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    revision: Callable[[], str | None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[Outcome]:
    """Run ``ops`` through ``queue`` one at a time; one failure does not stop the others.

    :param revision: the registries' revision now, asked for when a failure is
        unrecoverable (remembered with it; :func:`store.targets.registry_revision`).

    :returns: one outcome per operation, in order (skips included, as ``skipped``).
    """
    remembered = failures_file.read(paths.state)
    outcomes: list[Outcome] = []
    for op in ops:
        if op.action is Action.SKIP:
            outcome = Outcome(op, "skipped")
        elif deadline is not None and monotonic() >= deadline:
            outcome = Outcome(
                op, "deferred", "the start-up time budget is spent; `ledhost reconcile` does it now"
            )
        else:
            outcome = _run_one(op, queue, execute, remembered, desired, now, revision)
            failures_file.write(paths.state, remembered)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


def _run_one(
    op: Operation,
    queue: OperationQueue,
    execute: Execute,
    remembered: dict[str, failures_file.Failure],
    desired: Mapping[str, DesiredPlugin],
    now: float,
    revision: Callable[[], str | None] | None,
) -> Outcome:
    entry = desired.get(op.plugin_id)
    try:
        version = queue.run(op, lambda: execute(op))
        if entry is not None and version is not None and not entry.allows(version):
            raise StoreError(
                f"{op.plugin_id}: installed {version}, which is outside {entry.version}; "
                "the source offers no version that fits [store.plugins]"
            )
    except Exception as exc:  # one failure, whatever it is, must not stop the others
        if entry is not None and op.action is not Action.CLEANUP:
            permanent = is_permanent(exc)
            remembered[op.plugin_id] = failures_file.record(
                remembered.get(op.plugin_id),
                op.plugin_id,
                fingerprint(entry),
                str(exc),
                now=now,
                permanent=permanent,
                registry=revision() if permanent and revision is not None else None,
            )
        return Outcome(op, "failed", " ".join(str(exc).split()) or type(exc).__name__)
    if op.action is not Action.CLEANUP:
        remembered.pop(op.plugin_id, None)
    return Outcome(op, "ok", version=version)
