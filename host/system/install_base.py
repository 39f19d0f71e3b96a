"""The install's parts: its options, the step type, and the checks of its inputs.

Shared by :mod:`host.system.install` (the command) and :mod:`host.system.install_steps`
(the steps); standard library only, as both are.
"""

from __future__ import annotations

import os
import re
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
    "check_inside",
    "check_root",
    "check_version",
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
    #: Whether the source was named (``--source``): only then may the install switch
    #: ``current`` to an older release than the one it points at.
    source_given: bool = True


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
