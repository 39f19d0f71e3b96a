"""``ledhost self-update``: update the installed ledhost, with rollback; or check for one.

The work is :class:`host.system.selfupdate.SelfUpdater`'s; this module parses the
command line, finds the service's config and data folder, prints progress
(``stage: message`` lines on stderr, which the host's update job shows as they come) and
the outcome (text, or one JSON object with ``--json``).

``--root`` (default ``$LEDHOST_ROOT``, else ``/``) is the root of the install, for a
staged or test install. The service's config is ``<root>/etc/ledhost/config.toml`` unless
``--config`` says otherwise; its ``[paths] data_dir`` is where the host writes its start
record, its ``[store] index_url`` the package index unless ``--index`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_selfupdate_parser", "cmd_selfupdate"]

#: Environment variable with the default ``--root``.
ROOT_ENV = "LEDHOST_ROOT"


def add_selfupdate_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``ledhost self-update`` to the parser."""
    up = sub.add_parser(
        "self-update",
        parents=[common],
        help="update the installed ledhost (rolls back if the new one fails); or --check",
        description="Install a newer ledhost into a release of its own, check it, switch "
        "to it, restart the service and wait for its first frame; go back to the previous "
        "release if it does not come.",
    )
    what = up.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true",
                      help="only report: versions installed, the newest on the index, the "
                           "last update or rollback")  # fmt: skip
    what.add_argument("--version", metavar="V", help="install this version from the index")
    what.add_argument("--wheel", type=Path, metavar="FILE", help="install this ledhost wheel")
    what.add_argument("--rollback", action="store_true",
                      help="go back to the previous release")  # fmt: skip
    up.add_argument("--index", metavar="URL",
                    help="package index (default: [store] index_url, PyPI)")  # fmt: skip
    up.add_argument("--allow-downgrade", action="store_true",
                    help="install a version older than the current one")  # fmt: skip
    up.add_argument("--dry-run", action="store_true", help="say what would be done; change nothing")
    up.add_argument("--refresh", action="store_true",
                    help="with --check: ask the index now, not the cached answer")  # fmt: skip
    up.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="seconds the new release gets to show a frame (default 180)")  # fmt: skip
    up.add_argument("--json", action="store_true", help="print the outcome as JSON")
    up.add_argument("--config", type=Path, help="the service's config file "
                    "(default: <root>/etc/ledhost/config.toml)")  # fmt: skip
    up.add_argument("--root", type=Path, default=None,
                    help=f"root of the install (default: ${ROOT_ENV}, else /)")  # fmt: skip


def _progress(stage: str, message: str) -> None:
    print(f"{stage}: {message}", file=sys.stderr, flush=True)


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=1, sort_keys=True))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
        print(f"{key}: {value}")


def cmd_selfupdate(ns: argparse.Namespace) -> int:
    """Run ``ledhost self-update``; exit 1 when it failed or was rolled back."""
    from config import load_config
    from host.system.layout import PiLayout
    from host.system.selfupdate import CONFIRM_TIMEOUT, Request, SelfUpdater
    from host.system.selfupdate_index import newest_version

    root = ns.root or Path(os.environ.get(ROOT_ENV) or "/")
    layout = PiLayout(root)
    config: Path | None = ns.config or layout.config
    cfg = load_config(config if config is not None and config.is_file() else None)
    if config is not None and not config.is_file():
        config = None
    index = ns.index or cfg.store.index_url  # "": none configured (offline)
    if ns.timeout is not None and not 1 <= ns.timeout <= 3600:
        print("ledhost: error: --timeout must be between 1 and 3600 seconds", file=sys.stderr)
        return 2
    updater = SelfUpdater(layout, cfg.paths.data_dir, config, progress=_progress)
    if ns.check:
        cache = cfg.paths.data_dir / "state" / "update-check.json"
        _print(updater.status(newest_version(index, cache, refresh=ns.refresh)), ns.json)
        return 0
    if not ns.dry_run and layout.prefix.is_dir() and not os.access(layout.prefix, os.W_OK):
        print(f"ledhost: error: self-update writes {layout.prefix}: run it as root "
              "(sudo ledhost self-update ...)", file=sys.stderr)  # fmt: skip
        return 1
    timeout = ns.timeout or CONFIRM_TIMEOUT
    if ns.rollback:
        outcome = updater.rollback(timeout, dry_run=ns.dry_run)
    else:
        req = Request(version=ns.version, wheel=ns.wheel, index=index, timeout=timeout,
                      allow_downgrade=ns.allow_downgrade, dry_run=ns.dry_run)  # fmt: skip
        outcome = updater.update(req)
    _print(outcome, ns.json)
    return 0
