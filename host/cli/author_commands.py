"""The plugin author's commands: ``ledhost plugin new`` and ``ledhost check``.

``plugin new NAME [--dir PATH] [--mode MODE]`` sits beside the control operations of
``ledhost plugin`` (restart, retry, enable, disable): :func:`add_plugin_new_arguments` adds
its flags to that parser, and ``main`` sends ``plugin new`` here instead of to the control
socket. ``check`` is a command of its own (:func:`add_check_parser`). The work is in
:mod:`host.author`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Final

from host.cli.plugin_args import add_target_arguments, plugin_paths, read_plugin_options
from host.errors import HostError

__all__ = [
    "AUTHOR_COMMANDS",
    "add_check_parser",
    "add_plugin_new_arguments",
    "cmd_check",
    "cmd_plugin_new",
    "is_plugin_new",
]

#: The subcommands :func:`cmd_check` handles.
AUTHOR_COMMANDS: Final = frozenset({"check"})


def add_plugin_new_arguments(plugin: argparse.ArgumentParser) -> None:
    """Add ``plugin new``'s flags to the ``ledhost plugin`` parser."""
    plugin.add_argument(
        "--dir", type=Path, default=None, help="new: make the project in this folder (default: .)"
    )
    plugin.add_argument(
        "--mode", default="main", help="new: the name of the plugin's first mode (default main)"
    )


def is_plugin_new(ns: argparse.Namespace) -> bool:
    return ns.command == "plugin" and getattr(ns, "op", None) == "new"


def add_check_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``ledhost check`` to the ``ledhost`` parser."""
    from host.author.budget import BUDGETS

    check = sub.add_parser(
        "check",
        parents=[common],
        help="render a plugin at four panel sizes in a real worker and judge it",
    )
    add_target_arguments(check, default=".")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--sizes", help="WIDTHxHEIGHT,... (default 64x32,128x32,128x64,256x64)")
    check.add_argument(
        "--budget", choices=sorted(BUDGETS), default="pi4", help="the Pi to judge for (default pi4)"
    )
    check.add_argument(
        "--config", type=Path, help="a TOML file with the plugin's options (a plugin section)"
    )


def cmd_plugin_new(ns: argparse.Namespace) -> int:
    """Create the project; print what was made and what to do next."""
    from host.author.scaffold import new_project

    made = new_project(ns.instance, ns.dir if ns.dir is not None else Path("."), ns.mode)
    golden, why = _golden(made)
    if getattr(ns, "json", False):
        print(json.dumps({"root": str(made.root), "plugin": made.plugin_id,
                          "package": made.package, "files": list(made.files),
                          "golden": str(golden) if golden else None,
                          "golden_error": why}))  # fmt: skip
        return 0
    print(f"created {made.root} (plugin {made.plugin_id}, mode {made.mode}):")
    for name in made.files:
        print(f"  {name}")
    if golden is not None:
        print(f"  {golden.relative_to(made.root)} (rendered now in a real worker: look at it)")
    else:
        print(f"warning: no golden image ({why}); make it with python -m pytest --update-golden")
    print(f"next: cd {made.root} && pip install -e . && python -m pytest && ledhost dev . "
          "&& ledhost check .")  # fmt: skip
    return 0


def _golden(made: Any) -> tuple[Path | None, str | None]:
    """Render the new project's golden image; ``(None, why)`` if no worker could run it
    here (the project is still complete: its first test run then says how to make it)."""
    from host.author.scaffold import make_golden

    try:
        return make_golden(made), None
    except Exception as exc:  # noqa: BLE001 - any reason is reported, the project stays
        return None, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _sizes(text: str | None) -> list[tuple[int, int]]:
    """``--sizes``: each ``WIDTHxHEIGHT`` 8-1024 pixels each way."""
    from host.author.check import SIZES

    if text is None:
        return list(SIZES)
    sizes = []
    for part in text.split(","):
        try:
            width, height = (int(x) for x in part.strip().lower().split("x"))
        except ValueError:
            raise HostError(f"--sizes: {part.strip()!r} should look like 64x32") from None
        if not (8 <= width <= 1024 and 8 <= height <= 1024):
            raise HostError(f"--sizes: {part.strip()!r} is out of range (8-1024 each way)")
        sizes.append((width, height))
    return sizes


def cmd_check(ns: argparse.Namespace) -> int:
    """Run the check; 0 when it passed, 1 with findings (each on a line, or as JSON)."""
    from config import load_config
    from host.app import checked_rules
    from host.author.budget import BUDGETS
    from host.author.check import run_check
    from host.author.target import resolve
    from store.layout import StorePaths

    sizes = _sizes(ns.sizes)
    cfg = load_config(None, secrets_path=False)
    rules = checked_rules(cfg)
    options: dict[str, Any] = {}
    store = StorePaths.for_data_dir(cfg.paths.data_dir).root
    with resolve(ns.target, plugin_paths=plugin_paths(ns), store=store) as target:
        if ns.config is not None:
            _, options = read_plugin_options(ns.config, target.spec.plugin_id)
        if rules.uid is not None:
            os.umask(0o022)  # the worker user reads the throwaway metadata and env
        report = run_check(target, BUDGETS[ns.budget], sizes=sizes, options=options, rules=rules)
    if ns.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    sys.stdout.flush()
    return 0 if report.passed else 1
