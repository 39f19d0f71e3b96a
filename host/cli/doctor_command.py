"""``ledhost doctor [--json]``: check what breaks panels and services on this machine.

The checks are :mod:`host.system.doctor_checks`; this module loads the config (the one
given, else the installed ``/etc/ledhost/config.toml``, else the built-in defaults),
prints the findings and picks the exit status: 0 when nothing fails (warnings do not),
1 when something does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_doctor_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``ledhost doctor`` to the parser."""
    doctor = sub.add_parser(
        "doctor", parents=[common], help="check what breaks panels and services here"
    )
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    doctor.add_argument(
        "--config", type=Path, help="config file (default: the installed one, else built-in)"
    )
    doctor.add_argument(
        "--root", type=Path, default=Path("/"), help="system root to inspect (default /)"
    )


def cmd_doctor(ns: argparse.Namespace) -> int:
    """Run every check and print them; the status is 1 when any check FAILs."""
    from config import ConfigError, load_config
    from host.system.doctor import Machine, exit_status, format_json, format_text
    from host.system.doctor_checks import run_checks
    from host.system.layout import PiLayout

    layout = PiLayout(ns.root)
    path = ns.config or (layout.config if layout.config.is_file() else None)
    machine = Machine(root=ns.root, layout=layout)
    machine.config_source = str(path) if path else "the built-in defaults"
    try:
        machine.config = load_config(path, secrets_path=False)
    except ConfigError as exc:
        machine.config_error = str(exc).replace("\n", "; ")
    except OSError as exc:
        machine.config_error = f"{path}: {exc.strerror or exc}"
    findings = run_checks(machine)
    sys.stdout.write(format_json(findings) if ns.json else format_text(findings))
    return exit_status(findings)
