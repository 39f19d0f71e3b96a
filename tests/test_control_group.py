"""The control socket's group: its members may control the sign, nobody else may.

As root, the test creates a group and two unprivileged users, one in the group and one
not, runs a real host, and has each user (a forked child that drops to that user's uid,
gid and groups, as ``su`` would) send a status request over the socket.

The group is a fresh one with a unique name that :data:`host.control.listen.GROUP` is
pointed at for the test: creating a machine-wide ``ledhost`` group would change the socket
folders of every other host running on this shared machine meanwhile. The code path is
the same one the name ``ledhost`` takes. Every user and group made is removed afterwards.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.control import listen
from host.ipc import control
from tests.livehost import LiveHost, run_live

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="creating a group and users, and switching to them, needs root",
)

#: What a forked client reports through its exit status.
ANSWERED, REFUSED, OTHER = 0, 13, 1


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def accounts() -> Iterator[tuple[str, str, str]]:
    """``(group, member, outsider)``, made for this test and removed after it."""
    tag = secrets.token_hex(3)
    group, member, outsider = f"lhgrp{tag}", f"lhmem{tag}", f"lhout{tag}"
    made: list[tuple[str, str]] = []
    try:
        _run("groupadd", "--system", group)
        made.append(("groupdel", group))
        for user, extra in ((member, ["-G", group]), (outsider, [])):
            _run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 "--user-group", *extra, user)  # fmt: skip
            made.append(("userdel", user))
        yield group, member, outsider
    finally:
        for command, name in reversed(made):
            subprocess.run([command, name], capture_output=True)
        # userdel removes each user's own group (--user-group) with the user.


def _status_as(user: str, path: str) -> int:
    """Send ``status`` as ``user``; :data:`ANSWERED`, :data:`REFUSED` (EACCES) or OTHER.

    A forked child rather than a new interpreter: the test's Python may live where the
    unprivileged user cannot run it, and a child that only makes syscalls is safe to fork
    from a threaded process.
    """
    entry = pwd.getpwnam(user)
    groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status only
        code = OTHER
        try:
            os.setgroups(groups)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(20)
            try:
                s.connect(path)
            except PermissionError:
                code = REFUSED
            else:
                s.sendall(control.frame(control.Status(id=1)))
                buf = bytearray()
                while not (frames := control.split_frames(buf, control.MAX_MESSAGE)):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                if frames and isinstance(control.decode_from_host(frames[0]), control.Ok):
                    code = ANSWERED
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.timeout(120)
def test_a_group_member_may_use_the_socket_and_others_may_not(
    tmp_path: Path, accounts: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    group, member, outsider = accounts
    monkeypatch.setattr(listen, "GROUP", group)
    gid = grp.getgrnam(group).gr_gid
    # Under /tmp, reachable by other users (pytest's own tmp folders are 0700 to root).
    base = Path(tempfile.mkdtemp(prefix="ledhost-group-", dir="/tmp"))
    try:
        base.chmod(0o711)
        sock = base / "run" / "control.sock"
        seen: dict[str, object] = {}

        def scenario(live: LiveHost) -> None:
            live.wait_for(lambda: live.running("a") and sock.exists(), "the socket")
            folder, info = os.stat(sock.parent), os.stat(sock)
            seen["folder"] = (stat.S_IMODE(folder.st_mode), folder.st_gid)
            seen["socket"] = (stat.S_IMODE(info.st_mode), info.st_gid, stat.S_ISSOCK(info.st_mode))
            seen["member"] = _status_as(member, str(sock))
            seen["outsider"] = _status_as(outsider, str(sock))

        tables = {
            "control": {"socket": str(sock)},
            "rotation": {"modes": ["a:fill"]},
            "plugins": {"a": {"plugin": "solid", "fps": 5}},
        }
        run_live(tmp_path, tables, scenario)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert seen["folder"] == (0o750, gid)
    assert seen["socket"] == (0o660, gid, True)
    assert seen["member"] == ANSWERED
    assert seen["outsider"] == REFUSED
