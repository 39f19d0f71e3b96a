"""``ledhost harness TARGET``: the JSON-lines driver :mod:`sdk.testing` runs plugins with.

The interface is documented in :mod:`host.author.harness` and ``docs/testing_plugins.md``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from host.cli.plugin_args import (
    UsageError,
    add_target_arguments,
    plugin_paths,
    store_root,
    worker_rules,
)

__all__ = ["add_harness_parser", "cmd_harness"]


def add_harness_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    harness = sub.add_parser(
        "harness",
        parents=[common],
        help="drive one plugin in a real worker over stdin/stdout (what sdk.testing runs)",
    )
    add_target_arguments(harness, default=None)
    harness.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds one request may take before the session ends (default 60)",
    )


def cmd_harness(ns: argparse.Namespace) -> int:
    from host.author.harness import HarnessSession, main_loop
    from host.author.target import resolve_into

    if not 0 < ns.timeout <= 3600:
        raise UsageError("--timeout must be between 0 and 3600 seconds")
    rules = worker_rules()
    with tempfile.TemporaryDirectory(prefix="ledhost-harness-") as scratch:
        if rules.uid is not None:
            os.chmod(scratch, 0o711)  # the worker's user reaches its data and metadata
        target = resolve_into(
            ns.target, Path(scratch) / "target", plugin_paths=plugin_paths(ns), store=store_root()
        )
        session = HarnessSession(target.spec, rules, Path(scratch) / "data", ns.timeout)
        return main_loop(session)
