"""``ledhost service``: ledhost as a systemd service on a Pi (docs/pi.md).

- ``install``: the same install as ``deploy/install.sh`` (:mod:`host.system.install`),
  from an installed release: to apply or undo the system tweaks later, or repair an
  install; its source defaults to this release's version from the package index.
- ``unit``: print the systemd unit the install writes (``deploy/ledhost.service``).
- ``permissions``: list files whose owner or mode is wrong (:mod:`host.system.ownership`),
  and with ``--fix`` correct them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from host.errors import HostError

__all__ = ["add_service_parser", "cmd_service"]


def add_service_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``ledhost service`` and its subcommands to the parser."""
    from host.system.install_args import add_install_arguments

    service = sub.add_parser("service", help="ledhost as a systemd service on a Raspberry Pi")
    what = service.add_subparsers(dest="service_command", required=True)
    install = what.add_parser(
        "install", parents=[common], help="install or repair the service (as install.sh)"
    )
    add_install_arguments(install)
    unit = what.add_parser("unit", parents=[common], help="print the systemd unit")
    unit.add_argument("--root", type=Path, default=Path("/"), help="name paths under this root")
    perms = what.add_parser(
        "permissions", parents=[common], help="check owners and modes of installed files"
    )
    perms.add_argument("--root", type=Path, default=Path("/"), help="the installed system's root")
    perms.add_argument("--fix", action="store_true", help="correct what is wrong (as root)")
    perms.add_argument("--json", action="store_true", help="print the problems as JSON")


def cmd_service(ns: argparse.Namespace) -> int:
    """Run one ``ledhost service`` subcommand."""
    from host.system.layout import PiLayout

    if ns.service_command == "install":
        from host.system.install import InstallError, default_source, install, options_from

        try:
            install(options_from(ns, default_source()))
        except InstallError as exc:
            raise HostError(str(exc)) from None
        return 0
    if ns.service_command == "unit":
        from host.system.unit import render_unit

        sys.stdout.write(render_unit(PiLayout(ns.root)))
        return 0
    from host.system import ownership

    layout = PiLayout(ns.root)
    if ns.fix:
        for change in ownership.fix(layout):
            print(change)
    found = ownership.problems(layout)
    if ns.json:
        rows = [{"path": str(p.path), "problem": p.what, "fix": p.fix} for p in found]
        print(json.dumps(rows, indent=1))
    else:
        for problem in found:
            print(problem)
    return 1 if found else 0
