"""One cgroup v2 per worker, where the host may write a cgroup2 subtree.

A cgroup holds a worker's whole tree whatever its processes do (``setsid()``, double
forks): ``cgroup.kill`` ends all of them at once, ``memory.max`` and ``pids.max`` are
enforced by the kernel instead of sampled. Usable when the host's own cgroup (the ``0::``
line of ``/proc/self/cgroup``, under the cgroup2 mount found in ``/proc/self/mountinfo``)
is writable: systemd ``Delegate=yes`` on a Pi, or root with a writable cgroup2 mount.
Everywhere else :func:`find` returns ``None`` and the subreaper + ``/proc`` scan of
:mod:`host.supervise.proctree` is the containment.

The no-internal-processes rule: a cgroup (other than the root) that enables controllers
for its children may hold no process itself. So when controllers must be enabled, the
host first moves itself into a leaf child ``host/`` and workers go into siblings
``w-<name>/``.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final

__all__ = ["WANTED", "Delegation", "find", "systemd_refusal"]

#: Controllers a worker's cgroup uses when they exist.
WANTED: Final = ("memory", "pids")
#: Worker cgroup names: ours only, never a path.
_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def _cgroup2_mount(mountinfo: str) -> Path | None:
    for line in mountinfo.splitlines():
        pre, sep, post = line.partition(" - ")
        if sep and post.split()[:1] == ["cgroup2"]:
            return Path(pre.split()[4])
    return None


def _own_cgroup(proc_cgroup: str) -> str | None:
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


@final
@dataclass(frozen=True, slots=True)
class Delegation:
    """The cgroup2 subtree the host may write, and what it can do there."""

    #: The host's cgroup directory (workers' cgroups are made below it).
    base: Path
    #: Which of :data:`WANTED` the workers' cgroups get.
    controllers: frozenset[str]

    def describe(self) -> str:
        """What the status and log say about containment."""
        limits = ", ".join(sorted(self.controllers)) or "no memory/pids controller"
        return f"cgroup v2 at {self.base} ({limits}; cgroup.kill)"

    @property
    def is_root(self) -> bool:
        """Whether :attr:`base` is the root of its hierarchy (a host in ``0::/``).

        The root cgroup is exempt from the no-internal-processes rule and holds every
        process of the system that has no cgroup of its own: never move those.
        """
        return not (self.base / "cgroup.type").exists()

    def prepare(self) -> None:
        """Enable the wanted controllers for children, moving the host into a leaf first.

        Only what is not enabled yet; at the root cgroup nothing is moved.

        :raises OSError: the subtree cannot be set up after all; fall back to the scan.
        """
        if not self.controllers:
            return
        enabled = set((self.base / "cgroup.subtree_control").read_text().split())
        missing = sorted(self.controllers - enabled)
        if not missing:
            return
        if not self.is_root:
            leaf = self.base / "host"
            leaf.mkdir(exist_ok=True)
            for pid in (self.base / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    (leaf / "cgroup.procs").write_text(pid)
        (self.base / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))

    def create(self, name: str, *, memory_bytes: int = 0, max_pids: int = 0) -> Path:
        """Make the cgroup of one worker, with its limits where the controllers exist.

        :raises ValueError: ``name`` is not a plain name (never a path).
        """
        if not _NAME.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"cgroup name {name!r}: use 1-128 of A-Z a-z 0-9 _ . -")
        path = self.base / f"w-{name}"
        path.mkdir()
        if memory_bytes > 0 and "memory" in self.controllers:
            (path / "memory.max").write_text(str(memory_bytes))
        if max_pids > 0 and "pids" in self.controllers:
            (path / "pids.max").write_text(str(max_pids))
        return path

    @staticmethod
    def place(path: Path, pid: int) -> None:
        """Move ``pid`` (a worker before it runs plugin code) into ``path``."""
        (path / "cgroup.procs").write_text(str(pid))

    @staticmethod
    def members(path: Path) -> list[int]:
        """Pids in the cgroup now."""
        raw = _read_small(path / "cgroup.procs")
        return [] if raw is None else [int(p) for p in raw.split()]

    @staticmethod
    def usage(path: Path) -> tuple[int | None, int | None]:
        """``(memory.current, pids.current)`` of the cgroup; ``None`` for each one the
        kernel does not keep there (its controller is not enabled).

        Two small reads, where the ``/proc`` walk reads a file per process; and they count
        every process of the cgroup, whatever it did to leave the worker's tree.
        """
        return _read_int(path / "memory.current"), _read_int(path / "pids.current")

    @staticmethod
    def oom_kills(path: Path) -> int:
        """How many processes of the cgroup the kernel killed at ``memory.max``."""
        try:
            text = (path / "memory.events").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    @staticmethod
    def kill(path: Path) -> None:
        """SIGKILL every process in the cgroup at once (``cgroup.kill``, Linux 5.14)."""
        with contextlib.suppress(FileNotFoundError):
            (path / "cgroup.kill").write_text("1")

    @classmethod
    def remove(cls, path: Path) -> bool:
        """Kill what is left and remove the cgroup; ``False`` while processes linger."""
        cls.kill(path)
        try:
            path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:  # EBUSY: the killed processes have not all exited yet
            return False
        return True


def systemd_refusal(base: Path) -> str | None:
    """Why the writable ``base`` is still not ours to divide, or ``None``.

    A systemd unit's cgroup (``*.service``, ``*.scope``) belongs to systemd unless the
    unit delegates it (``Delegate=yes``, which systemd marks with a ``trusted.delegate``
    or ``user.delegate`` attribute): root may write it, but systemd resets what it did
    not configure (enabled controllers) and assumes the unit has no child cgroups.
    """
    if not base.name.endswith((".service", ".scope")):
        return None
    for attribute in ("trusted.delegate", "user.delegate"):
        with contextlib.suppress(OSError):
            if os.getxattr(base, attribute) == b"1":
                return None
    return f"{base} is systemd's cgroup of {base.name}, not delegated: add Delegate=yes to the unit"


def _read_small(path: Path) -> bytes | None:
    """A small kernel file's bytes, or ``None`` if it cannot be read.

    ``os.open``/``os.read`` rather than ``read_text()``: 3 syscalls instead of 8 (no
    buffered file object, no ``fstat``, ``ioctl`` or ``lseek``), read every second per
    worker by the housekeeping pass.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_int(path: Path) -> int | None:
    raw = _read_small(path)
    if raw is None:
        return None
    text = raw.strip()
    return int(text) if text.isdigit() else None


def find(proc: Path = Path("/proc/self")) -> Delegation | None:
    """The writable cgroup2 subtree of this process, or ``None`` (use the scan).

    Needs a cgroup2 mount, a ``0::`` line, ``cgroup.kill`` (so a tree can be ended as
    one) and write access to the host's cgroup directory.
    """
    try:
        mount = _cgroup2_mount((proc / "mountinfo").read_text())
        own = _own_cgroup((proc / "cgroup").read_text())
    except OSError:
        return None
    if mount is None or own is None:
        return None
    base = mount / own.lstrip("/")
    if not os.access(base, os.W_OK) or not os.access(base / "cgroup.procs", os.W_OK):
        return None
    if not (base / "cgroup.kill").exists() and not _probe_kill(base):
        return None
    try:
        available = set((base / "cgroup.controllers").read_text().split())
    except OSError:
        available = set()
    return Delegation(base=base, controllers=frozenset(available.intersection(WANTED)))


def _probe_kill(base: Path) -> bool:
    """Whether the kernel has ``cgroup.kill``, which the root cgroup never shows.

    Asked of a child made and removed at once, empty, so nothing is left either way.
    """
    probe = base / f"ledhost-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        return (probe / "cgroup.kill").exists()
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()
