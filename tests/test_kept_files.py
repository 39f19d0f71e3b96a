"""Kernel files the housekeeping pass re-reads through kept fds (issue 15).

:class:`host.supervise.kept_files.KeptFiles` must read what a fresh open would: the file
as it is now, nothing for a process that is gone (even if its pid comes back), and it must
hold no fd past the pass after its file stopped being read. Real processes, real ``/proc``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from host.supervise import proctree
from host.supervise.kept_files import KeptFiles


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_kept_file_reads_as_it_is_now(tmp_path: Path) -> None:
    kept = KeptFiles()
    path = tmp_path / "cgroup.procs"
    path.write_text("10\n11\n")
    assert kept.read(str(path)) == b"10\n11\n"
    with open(path, "r+b") as f:  # in place, as the kernel's files change
        f.write(b"12\n")
        f.truncate()
    assert kept.read(str(path)) == b"12\n" and len(kept) == 1
    assert kept.read(str(tmp_path / "missing")) is None and len(kept) == 1
    kept.close()
    assert len(kept) == 0


def test_a_process_that_is_gone_reads_as_gone() -> None:
    kept = KeptFiles()
    child = _sleeper()
    try:
        path = f"/proc/{child.pid}/stat"
        info = proctree.parse_stat(child.pid, kept.read(path))
        assert info is not None and info.pid == child.pid and info.state in "RS"
        again = proctree.parse_stat(child.pid, kept.read(path))
        assert again is not None and again.start_time == info.start_time
    finally:
        child.kill()
        child.wait()
    # Reaped: the kept fd no longer reads, and the path names no process.
    assert kept.read(path) is None
    assert len(kept) == 0
    kept.close()


def test_files_not_read_in_a_pass_are_closed_after_it() -> None:
    kept = KeptFiles()
    children = [_sleeper(), _sleeper()]
    try:
        for child in children:
            assert kept.read(f"/proc/{child.pid}/stat")
        kept.end_pass()
        assert len(kept) == 2
        before = len(os.listdir("/proc/self/fd"))
        assert kept.read(f"/proc/{children[0].pid}/stat")  # the next pass reads one
        kept.end_pass()
        assert len(kept) == 1
        assert len(os.listdir("/proc/self/fd")) == before - 1
    finally:
        for child in children:
            child.kill()
            child.wait()
        kept.close()
