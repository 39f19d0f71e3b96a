"""Install ledhost on a Pi as a service: ``deploy/install.sh`` runs this (``python3 -m
host.system.install``), and so does ``ledhost service install`` from an installed release.

The install is a list of steps (:mod:`host.system.install_steps`). Each step first says
what it would change (nothing, when the system already is as it should be), then changes
it, so the same run is idempotent (a second run changes nothing), can print every step
without changing anything (``--dry-run``), and can target a throwaway folder instead of
``/`` (``--root DIR``, for tests and for preparing an SD card image).

This module and the steps use the standard library only (plus ``config.atomic`` and
``store.layout``, which do too): the bootstrap runs them with the system's Python before
any venv exists.

Inputs are checked before anything is touched: the root must be a real folder (not a
symlink), the version a plain version string, and no folder the install writes into may be
a symlink (a planted link would redirect root's writes out of the root).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from host.system.install_args import add_install_arguments
from host.system.install_base import (
    InstallError,
    InstallOptions,
    Source,
    Step,
    Todo,
    check_inside,
    check_root,
    check_version,
    resolve_source,
    run_steps,
)
from host.system.install_steps import build_steps

__all__ = [
    "InstallError",
    "InstallOptions",
    "Source",
    "Step",
    "Todo",
    "add_install_arguments",
    "check_inside",
    "check_root",
    "check_version",
    "main",
    "resolve_source",
    "run_steps",
]


def options_from(ns: argparse.Namespace, default_source: str) -> InstallOptions:
    return InstallOptions(
        root=ns.root,
        source=ns.source or default_source,
        version=ns.release,
        rgbmatrix=ns.rgbmatrix,
        tweaks=ns.tweaks,
        undo_tweaks=ns.undo_tweaks,
        dry_run=ns.dry_run,
        python=ns.python,
        pip_args=tuple(ns.pip_arg),
        start=not ns.no_start,
        source_given=ns.source is not None,
    )


def install(options: InstallOptions, out: TextIO = sys.stdout) -> int:
    """Check the inputs, then run every step; returns how many steps changed something."""
    if os.geteuid() != 0 and not options.dry_run:
        raise InstallError("run the install as root (sudo), or with --dry-run to see the steps")
    root = check_root(options.root)
    source = resolve_source(options.source, options.version)
    steps = build_steps(options, root, source, out)
    changed = run_steps(steps, options.dry_run, out)
    if options.dry_run:
        print("dry run: nothing was changed", file=out)
    else:
        print(f"ledhost {source.version}: {changed} step(s) changed something", file=out)
    return changed


def default_source() -> str:
    """The checkout this module runs from, when it is one (the bootstrap's case)."""
    from host import __version__

    folder = Path(__file__).resolve().parents[2]
    return str(folder) if (folder / "pyproject.toml").is_file() else f"ledhost=={__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="install.sh", description="Install ledhost as a systemd service on a Raspberry Pi."
    )
    add_install_arguments(parser)
    ns = parser.parse_args(argv)
    try:
        install(options_from(ns, default_source()))
    except InstallError as exc:
        print(f"install: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
