"""The host's own memory samples: ``/proc/self/statm`` through one kept fd (issue 15).

At idle the host samples its resident memory every ~2 s; the file is opened once and
re-read with ``pread``. ``self`` is resolved when the file is opened, so a process forked
from the host must read its own figures, not the host's.
"""

from __future__ import annotations

import os

from host.stats import RunStats


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_samples_reread_one_kept_file() -> None:
    stats = RunStats(started=0.0)
    stats.sample_memory()
    open_now = _fds()
    for _ in range(5):
        stats.sample_memory()
    assert _fds() == open_now
    assert 0 < stats.rss_first <= stats.rss_max and stats.rss_last > 0


def test_a_forked_process_samples_its_own_memory() -> None:
    stats = RunStats(started=0.0)
    stats.sample_memory()  # the kept fd now reads the host's (this process's) statm
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: 64 MiB of its own, touched, sampled before and after
        try:
            stats.sample_memory()
            before = stats.rss_last
            ballast = bytearray(os.urandom(1024)) * (64 * 1024)
            stats.sample_memory()
            os.write(write, str(stats.rss_last - before).encode())
            del ballast
        finally:
            os._exit(0)
    os.close(write)
    try:
        grown = int(os.read(read, 64) or b"0")
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert grown > 48 * 1024 * 1024, f"the child saw itself grow by {grown} bytes"
