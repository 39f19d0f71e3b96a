"""``ledhost reconcile [--dry-run] [--json]``, and the reconcile ``ledhost run`` does at start.

Both bring the store to the ``[store.plugins]`` table of the config
(:func:`store.apply.reconcile`): install what is missing, update or roll back what does
not fit, clean up what a killed install left, skip what was uninstalled (tombstones) or
failed recently, and never uninstall.

At ``ledhost run`` it runs **once, before the host starts its workers**, synchronously:
the simplest order that keeps the display path safe (no install races a worker start,
no discovery has to run again mid-run). It is cheap when there is nothing to do (a
read of the state folder, no network), which is every start but the first after a config
edit; a failure is logged and the host starts with what is installed; and it is bounded:
no new operation starts after :data:`START_BUDGET` seconds (the rest is deferred to
``ledhost reconcile``), and a failing plugin is retried at start only after its backoff.
It never runs on a timer or per request.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from host.cli.store_commands import worker_verifier
from host.errors import HostError

if TYPE_CHECKING:
    from config import HostConfig
    from store.apply import Outcome, Report
    from store.operations import ProgressEvent
    from store.reconciler import Operation

__all__ = ["START_BUDGET", "add_reconcile_parser", "cmd_reconcile", "reconcile_at_start"]

log = logging.getLogger("ledhost.store")

#: Seconds ``ledhost run`` may spend starting new install operations before the panel
#: shows anything; one under way is finished (it is bounded by the store's timeouts).
START_BUDGET: Final = 120.0


def add_reconcile_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``ledhost reconcile`` to the parser."""
    rec = sub.add_parser(
        "reconcile", parents=[common], help="install the plugins [store.plugins] names"
    )
    rec.add_argument("--config", type=Path, help="config file (default: the embedded one)")
    rec.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    rec.add_argument("--json", action="store_true", help="print the report as JSON")


def cmd_reconcile(ns: argparse.Namespace) -> int:
    """Run the reconciler once; exit 1 if an operation failed."""
    from config import load_config

    cfg = load_config(ns.config)
    printer = None if ns.json else _print_outcome
    report = _reconcile(cfg, dry_run=ns.dry_run, on_outcome=printer, progress=not ns.json)
    if ns.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for note in report.converged:
            print(f"converged: {note}")
        if report.error:
            print(f"ledhost: error: {report.error}", file=sys.stderr)
        elif ns.dry_run:
            for outcome in report.outcomes:
                _print_outcome(outcome)
        if not report.outcomes and not report.error:
            print("nothing to do: the store matches [store.plugins]")
    return 0 if report.ok else 1


def reconcile_at_start(cfg: HostConfig) -> None:
    """Reconcile before ``ledhost run`` starts its workers; never raises for a store
    problem (the host starts with what is installed)."""
    from store.layout import StorePaths

    if not cfg.store_plugins and not StorePaths.for_data_dir(cfg.paths.data_dir).state.exists():
        return  # no store in use: not even a folder to create
    try:
        report = _reconcile(cfg, on_outcome=_log_outcome, deadline=time.monotonic() + START_BUDGET)
    except Exception as exc:  # whatever went wrong in the store, the sign still starts
        why = str(exc) or type(exc).__name__
        log.warning("store: reconcile failed, starting with what is installed: %s", why)
        return
    for note in report.converged:
        log.warning("store: %s", note)
    if report.error:
        log.warning("store: reconcile failed, starting with what is installed: %s", report.error)


def _reconcile(
    cfg: HostConfig,
    *,
    dry_run: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
    progress: bool = False,
    deadline: float | None = None,
) -> Report:
    from store.apply import reconcile
    from store.errors import StoreError
    from store.layout import StorePaths
    from store.settings import from_config

    paths = StorePaths.for_data_dir(cfg.paths.data_dir)
    try:
        return reconcile(
            paths,
            from_config(cfg.store),
            cfg.store_plugins,
            verify=None if dry_run else worker_verifier(cfg),
            progress=_print_progress if progress else None,
            on_outcome=on_outcome,
            dry_run=dry_run,
            deadline=deadline,
        )
    except StoreError as exc:
        raise HostError(str(exc)) from None


def _describe(outcome: Outcome) -> str:
    op = outcome.op
    what = f"{op.action} {op.plugin_id}" + (f" {op.version}" if op.version else "")
    if outcome.result == "ok" and outcome.version:
        return f"{what}: ok, {outcome.version} is current"
    if outcome.result in ("failed", "deferred"):
        return f"{what}: {outcome.result}: {outcome.error}"
    if outcome.result == "skipped":
        return f"{op.plugin_id}: skipped: {op.reason}"
    return f"{what}: {outcome.result}" + (f" ({op.reason})" if op.reason else "")


def _print_outcome(outcome: Outcome) -> None:
    print(_describe(outcome), flush=True)


def _log_outcome(outcome: Outcome) -> None:
    level = logging.INFO if outcome.result in ("ok", "planned") else logging.WARNING
    log.log(level, "store: %s", _describe(outcome))


def _print_progress(op: Operation, event: ProgressEvent) -> None:
    """One line per stage on stderr; a terminal also sees the bytes of a download."""
    if event.stage == "download" and event.total_bytes and sys.stderr.isatty():
        share = 100 * event.done_bytes // max(event.total_bytes, 1)
        print(f"\r  {op.plugin_id}: download {share:3d}%", end="", file=sys.stderr, flush=True)
        return
    if event.stage != "download" or not event.done_bytes:
        text = f": {event.message}" if event.message else ""
        print(f"  {op.plugin_id}: {event.stage}{text}", file=sys.stderr, flush=True)
