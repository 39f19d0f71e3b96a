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
import re
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

__all__ = [
    "InstallError",
    "InstallOptions",
    "Source",
    "Step",
    "Todo",
    "add_install_arguments",
    "check_root",
    "check_version",
    "main",
    "resolve_source",
    "run_steps",
]

#: A release folder's name: a PEP 440-ish version, nothing that could be a path.
VERSION_RE = re.compile(r"[0-9][0-9A-Za-z.+!_-]{0,63}")


class InstallError(Exception):
    """The install cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Source:
    """Where ledhost is installed from, as pip takes it, and the version it is."""

    kind: Literal["checkout", "wheel", "index"]
    target: str
    version: str


@dataclass(frozen=True)
class InstallOptions:
    root: Path = Path("/")
    #: A checkout folder, a wheel file, or a requirement for the package index.
    source: str = "."
    version: str | None = None
    #: rpi-rgb-led-matrix: a source folder or a git URL; ``None``: a built wheel, if any.
    rgbmatrix: str | None = None
    #: ``True``: apply the system tweaks; ``False``: do not; ``None``: ask if interactive.
    tweaks: bool | None = None
    undo_tweaks: bool = False
    dry_run: bool = False
    python: str = "/usr/bin/python3"
    pip_args: tuple[str, ...] = ()
    #: Enable and (re)start the service (only with root ``/`` under systemd).
    start: bool = True


@dataclass(frozen=True)
class Todo:
    """What a step would change; ``skip`` marks a step that will not run, and why."""

    text: str
    skip: bool = False


@dataclass
class Step:
    """One step: ``pending`` says what it would change (``None``: nothing), ``apply`` does it."""

    name: str
    pending: Callable[[], Todo | None]
    apply: Callable[[], None] = field(default=lambda: None)


def check_version(version: str) -> str:
    """:raises InstallError: ``version`` is not a plain version (it names a folder)."""
    if not VERSION_RE.fullmatch(version) or ".." in version:
        raise InstallError(
            f"not a version: {version!r} (a release folder is named by it: digits, letters, "
            "'.', '+', '!', '_' and '-' only, starting with a digit)"
        )
    return version


def check_root(root: Path) -> Path:
    """The absolute root to install under.

    :raises InstallError: it is missing, not a folder, or a symlink.
    """
    root = Path(os.path.abspath(root))
    if root.is_symlink():
        raise InstallError(f"--root {root} is a symlink; give the real folder")
    if not root.is_dir():
        raise InstallError(f"--root {root} is not a folder")
    for parent in root.parents:
        if parent.is_symlink():
            raise InstallError(f"--root {root}: its parent {parent} is a symlink")
    return root


def check_inside(root: Path, path: Path) -> None:
    """No existing folder from ``root`` down to ``path``'s parent may be a symlink.

    :raises InstallError: one is (a link planted to make root write elsewhere).
    """
    rel = path.relative_to(root)
    current = root
    for part in rel.parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise InstallError(f"{current} is a symlink; refusing to write through it")


def _checkout_version(folder: Path) -> str:
    try:
        data = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
        return str(data["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise InstallError(f"{folder} is not a ledhost checkout (pyproject.toml: {exc})") from None


def resolve_source(text: str, version: str | None = None) -> Source:
    """What to install and which version it is.

    A folder is a checkout (its ``pyproject.toml`` says the version), a ``.whl`` file a
    wheel (its name does), anything else a requirement for the package index, whose
    version must be pinned (``ledhost==1.2.0``) or given with ``--version``.

    :raises InstallError: the source or the version cannot be used.
    """
    path = Path(text)
    if text.endswith(".whl"):
        if not path.is_file():
            raise InstallError(f"wheel {text} not found")
        parts = path.name.split("-")
        if len(parts) < 5 or parts[0].lower() != "ledhost":
            raise InstallError(f"{path.name} is not a ledhost wheel")
        return Source("wheel", str(path.resolve()), check_version(version or parts[1]))
    if path.is_dir():
        found = _checkout_version(path)
        if version is not None and version != found:
            raise InstallError(f"--version {version} but the checkout {path} is {found}")
        return Source("checkout", str(path.resolve()), check_version(found))
    pinned = re.fullmatch(r"ledhost\s*==\s*(\S+)", text)
    if pinned is None and not re.fullmatch(r"ledhost(\s*[<>=!~].*)?", text):
        raise InstallError(f"source {text!r}: not a folder, a .whl file, or 'ledhost==VERSION'")
    chosen = version or (pinned.group(1) if pinned else None)
    if chosen is None:
        raise InstallError(f"source {text!r}: pin a version (ledhost==1.2.0) or pass --version")
    return Source("index", f"ledhost=={chosen}", check_version(chosen))


def run_steps(steps: Sequence[Step], dry_run: bool, out: TextIO) -> int:
    """Run (or, dry, only describe) ``steps`` in order; returns how many changed something.

    :raises InstallError: a step failed; the steps before it stay done (each is idempotent,
        so the fix is to run the install again).
    """
    changed = 0
    for step in steps:
        todo = step.pending()
        if todo is None:
            print(f"[{step.name}] ok", file=out)
            continue
        if todo.skip:
            print(f"[{step.name}] skip: {todo.text}", file=out)
            continue
        if dry_run:
            print(f"[{step.name}] would: {todo.text}", file=out)
            continue
        print(f"[{step.name}] {todo.text} ...", file=out, flush=True)
        step.apply()
        changed += 1
    return changed


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
    )


def install(options: InstallOptions, out: TextIO = sys.stdout) -> int:
    """Check the inputs, then run every step; returns how many steps changed something."""
    from host.system.install_steps import build_steps

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
