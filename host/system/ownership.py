"""Who owns what in an installed ledhost, in one place, and what is wrong with it.

The host runs as root; the web process runs as the ``ledhost`` user, group ``ledhost``
(:mod:`host.system.webuser`); each plugin instance runs under a uid of its own. The rules
below make those three never fight over a file (a recurring failure of ledhost's
ancestor, where the web UI and the display wrote the same files as different users):

- ledhost's code (``/opt/ledhost``) belongs to root and is readable by everyone, since
  workers run its Python under their own uids; nobody but root may change it.
- ``/etc/ledhost`` and the config are root's, readable by group ``ledhost`` (the web
  process reads the config; it changes it only through the host's control socket, so only
  root ever writes it, and :func:`config.atomic.atomic_write` keeps owner and group).
- ``secrets.toml`` is root's alone: the host hands each plugin its own secrets over its
  channel, and the web process never reads the file.
- The data dir is root's, ``0711``: workers pass through to their own ``0700`` folders
  (the host makes those) and cannot list the others'; the web process to ``web/``, the
  one folder it owns and writes (its login store and session key); the MQTT bridge, also
  the ``ledhost`` user where it can, to ``mqtt/``, its home.
- Plugin environments (the store) are root's and not writable by group or others: a
  worker runs their Python but must never change it.

Interface (``ledhost doctor`` and ``ledhost service permissions`` call these):

- :func:`rules` -- the :class:`Rule` list for a :class:`~host.system.layout.PiLayout`;
- :func:`problems` -- a list of :class:`Problem` (path, what is wrong, the command that
  fixes it), empty when all is well; it reads only, never changes anything;
- :func:`fix` -- make every existing path follow its rule (and create missing folders);
  returns one line per change.

Users and groups are looked up in the layout's own ``etc/passwd`` and ``etc/group``, so a
test root (``--root``) is judged by its own accounts.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from host.system.layout import SERVICE_USER, PiLayout

__all__ = ["Accounts", "Problem", "Rule", "fix", "problems", "rules"]

Kind = Literal["dir", "file"]


@dataclass(frozen=True)
class Rule:
    """How one path must be: owner, group, mode, and why."""

    path: Path
    kind: Kind
    owner: str
    group: str
    mode: int
    why: str
    #: Whether the path must exist (a folder is created by :func:`fix`; a file is not).
    required: bool = True


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a path, and how to fix it."""

    path: Path
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what} (fix: {self.fix})"


@dataclass(frozen=True)
class Accounts:
    """User and group ids of one system root, read from its ``etc/passwd`` and ``etc/group``."""

    users: dict[str, int]
    groups: dict[str, int]

    @classmethod
    def of(cls, root: Path) -> Accounts:
        return cls(_ids(root / "etc" / "passwd"), _ids(root / "etc" / "group"))

    def uid(self, name: str) -> int | None:
        return 0 if name == "root" else self.users.get(name)

    def gid(self, name: str) -> int | None:
        return 0 if name == "root" else self.groups.get(name)


def _ids(path: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            found.setdefault(fields[0], int(fields[2]))
    return found


def rules(layout: PiLayout) -> list[Rule]:
    """Every path an installed ledhost has, with its owner, group and mode."""
    svc = SERVICE_USER
    return [
        Rule(layout.prefix, "dir", "root", "root", 0o755, "ledhost's code: workers run it"),
        Rule(layout.releases, "dir", "root", "root", 0o755, "one venv per release"),
        Rule(layout.wheels, "dir", "root", "root", 0o755, "built wheels, reused by releases"),
        Rule(layout.etc, "dir", "root", svc, 0o750, "the web process reads the config"),
        Rule(layout.config, "file", "root", svc, 0o640, "host writes, web process reads"),
        Rule(layout.secrets, "file", "root", "root", 0o600, "the host's alone", required=False),
        Rule(layout.data_dir, "dir", "root", "root", 0o711, "workers pass through to theirs"),
        Rule(layout.web_dir, "dir", svc, svc, 0o700, "the web process's own state"),
        Rule(layout.bridge_dir, "dir", svc, svc, 0o700, "the MQTT bridge's home", required=False),
        Rule(layout.unit, "file", "root", "root", 0o644, "read by systemd"),
        Rule(layout.guard, "file", "root", "root", 0o644, "run by the unit", required=False),
    ]


def _describe(mode: int) -> str:
    return f"{mode:04o}"


def _check(rule: Rule, accounts: Accounts) -> list[Problem]:
    path = rule.path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not rule.required:
            return []
        fix = f"install -d -m {_describe(rule.mode)} -o {rule.owner} -g {rule.group} {path}"
        if rule.kind == "file":
            fix = "run the install script again"
        return [Problem(path, f"missing ({rule.why})", fix)]
    if stat.S_ISLNK(st.st_mode):
        return [Problem(path, "is a symlink; refusing to follow it", f"rm {path}; install again")]
    want_dir = rule.kind == "dir"
    if stat.S_ISDIR(st.st_mode) != want_dir:
        return [Problem(path, f"should be a {'folder' if want_dir else 'file'}", f"rm -r {path}")]
    found: list[Problem] = []
    uid, gid = accounts.uid(rule.owner), accounts.gid(rule.group)
    if uid is None or gid is None:
        missing = rule.owner if uid is None else rule.group
        return [Problem(path, f"no user or group {missing!r}", "run the install script")]
    if st.st_uid != uid or st.st_gid != gid:
        found.append(
            Problem(
                path,
                f"owned by {st.st_uid}:{st.st_gid}, should be {rule.owner}:{rule.group} "
                f"({rule.why})",
                f"chown {rule.owner}:{rule.group} {path}",
            )
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode != rule.mode:
        found.append(
            Problem(
                path,
                f"mode {_describe(mode)}, should be {_describe(rule.mode)} ({rule.why})",
                f"chmod {_describe(rule.mode)} {path}",
            )
        )
    return found


def _store_problems(layout: PiLayout) -> list[Problem]:
    """Plugin environments: root's, and nothing in their top levels writable by others."""
    from store.layout import StorePaths

    root = StorePaths.for_data_dir(layout.data_dir).root
    found: list[Problem] = []
    try:
        entries = [root, *root.iterdir()]
    except OSError:
        return found
    for path in entries:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if st.st_uid != 0:
            found.append(
                Problem(
                    path,
                    f"plugin environment owned by uid {st.st_uid}, not root (a plugin "
                    "could change code other instances run)",
                    f"chown -R root:root {path}",
                )
            )
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o022:
            found.append(
                Problem(
                    path,
                    "writable by group or others (a plugin could change its own code)",
                    f"chmod -R go-w {path}",
                )
            )
    return found


def problems(layout: PiLayout, accounts: Accounts | None = None) -> list[Problem]:
    """Everything wrong with the installed files' owners and modes; reads only.

    :param accounts: the system's users and groups (default: the layout's root's).
    """
    accounts = accounts or Accounts.of(layout.root)
    found: list[Problem] = []
    for rule in rules(layout):
        found.extend(_check(rule, accounts))
    found.extend(_store_problems(layout))
    return found


def fix(layout: PiLayout, accounts: Accounts | None = None, dry_run: bool = False) -> list[str]:
    """Make every path follow its rule; create missing folders. Returns what was (or, with
    ``dry_run``, would be) changed, one line each; a second call returns nothing.

    Symlinks are never followed or changed (a planted link must not redirect a ``chown``);
    a path that is one stays a problem for :func:`problems` to report.

    :raises PermissionError: not allowed to change an owner (not root).
    """
    accounts = accounts or Accounts.of(layout.root)
    changes: list[str] = []
    for rule in rules(layout):
        uid, gid = accounts.uid(rule.owner), accounts.gid(rule.group)
        if uid is None or gid is None:
            continue
        path = rule.path
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if rule.kind != "dir" or not rule.required:
                continue
            changes.append(f"create {path} ({rule.owner}:{rule.group} {_describe(rule.mode)})")
            if not dry_run:
                path.mkdir(mode=0o700, parents=True)
                os.chown(path, uid, gid)
                os.chmod(path, rule.mode)
            continue
        if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode) != (rule.kind == "dir"):
            continue
        if (st.st_uid, st.st_gid) != (uid, gid):
            changes.append(f"chown {rule.owner}:{rule.group} {path}")
            if not dry_run:
                os.chown(path, uid, gid, follow_symlinks=False)
        if stat.S_IMODE(st.st_mode) != rule.mode:
            changes.append(f"chmod {_describe(rule.mode)} {path}")
            if not dry_run:
                os.chmod(path, rule.mode)
    return changes
