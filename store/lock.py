"""One store operation at a time: ``fcntl.flock`` on ``state/lock``.

The kernel drops the lock when its holder dies (also by SIGKILL), so a killed installer
never leaves the store locked. Re-entrant within a process: the reconciler may hold it
around several operations, each of which takes it again.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from config.atomic import make_dirs
from store.layout import StorePaths

__all__ = ["store_lock"]

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth)
_guard = threading.RLock()


@contextmanager
def store_lock(paths: StorePaths) -> Iterator[None]:
    """Hold the store's lock (waiting for another process's operation to end)."""
    key = str(paths.lock)
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
        else:
            make_dirs(paths.state, mode=0o700, parents_mode=0o711)
            fd = os.open(key, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            _held[key] = (fd, 1)
        try:
            yield
        finally:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                os.close(fd)
