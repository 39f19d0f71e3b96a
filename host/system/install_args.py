"""The install's command-line options, apart from the install itself.

Every ``ledhost`` command builds the whole parser, ``ledhost run`` included; importing
:mod:`host.system.install` for these options loaded ``tarfile`` and the install steps into
every host (~1.5 MiB, issue 15's memory goal). They live here, with nothing but argparse.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_install_arguments"]


def add_install_arguments(parser: argparse.ArgumentParser) -> None:
    """The install's options (shared by the bootstrap and ``ledhost service install``)."""
    parser.add_argument("--root", type=Path, default=Path("/"), help="install under this folder")
    parser.add_argument(
        "--source",
        default=None,
        help="a ledhost checkout, a .whl file or 'ledhost==VERSION' (default: this checkout)",
    )
    parser.add_argument("--version", dest="release", help="the release's version (if unpinned)")
    parser.add_argument(
        "--rgbmatrix", help="rpi-rgb-led-matrix source folder or git URL to build the binding"
    )
    consent = parser.add_mutually_exclusive_group()
    consent.add_argument(
        "--tweaks", action="store_true", default=None, help="apply the system tweaks"
    )
    consent.add_argument(
        "--no-tweaks", dest="tweaks", action="store_false", help="do not ask; skip them"
    )
    consent.add_argument("--undo-tweaks", action="store_true", help="remove the system tweaks")
    parser.add_argument("--dry-run", action="store_true", help="print every step; change nothing")
    parser.add_argument("--python", default="/usr/bin/python3", help="Python for the venv")
    parser.add_argument(
        "--pip-arg",
        action="append",
        default=[],
        help="pass to pip (repeatable), e.g. --pip-arg=--index-url=URL",
    )
    parser.add_argument("--no-start", action="store_true", help="do not (re)start the service")
