"""Small kernel files the housekeeping pass reads every time, through fds kept open.

Each pass of the enforcer (:meth:`host.supervise.enforcer.Enforcer.monitor`, every ~2 s)
reads each worker's ``cgroup.procs`` and the ``/proc/<pid>/stat`` of every process in it.
Opening a path walks it in the kernel and costs two more syscalls than the read itself;
kernel files such as these are generated afresh on every read from offset 0, so a
``pread`` on an fd kept from the last pass reads the same thing (measured here, hot:
``cgroup.procs`` 11 -> 1.3 us, ``stat`` 16 -> 7 us; an idle host's pass runs cold, where
each syscall and path costs more; issue 15).

A ``/proc/<pid>/stat`` fd stays bound to the process it was opened for: once that process
is gone a read fails, the fd is closed and the next read opens the path again, so a pid
the kernel reused is read as the new process, as a read by path would. Files not read in
a pass are closed at its end (:meth:`KeptFiles.end_pass`): no fd outlives the process or
cgroup it names by more than one pass.

Interface: ``KeptFiles()``; :meth:`~KeptFiles.read` during a pass; :meth:`~KeptFiles.end_pass`
after it; :meth:`~KeptFiles.close` at the end.
"""

from __future__ import annotations

import os

__all__ = ["KeptFiles"]


class KeptFiles:
    """Fds of small kernel files by path, re-read with ``pread``."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        self._read: set[str] = set()

    def read(self, path: str) -> bytes | None:
        """The file's bytes now (up to 64 KiB), or ``None`` if it cannot be read."""
        self._read.add(path)
        fd = self._fds.get(path)
        if fd is not None:
            try:
                return os.pread(fd, 65536, 0)
            except OSError:  # ESRCH: the process it was opened for is gone
                del self._fds[path]
                os.close(fd)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            raw = os.pread(fd, 65536, 0)
        except OSError:
            os.close(fd)
            return None
        self._fds[path] = fd
        return raw

    def end_pass(self) -> None:
        """Close the files the pass just ended did not read (their process or cgroup is
        gone, or no longer ours)."""
        for path in self._fds.keys() - self._read:
            os.close(self._fds.pop(path))
        self._read.clear()

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._read.clear()

    def __len__(self) -> int:
        """Fds open now (a test counts them)."""
        return len(self._fds)
