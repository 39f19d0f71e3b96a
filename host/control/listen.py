"""Open the control socket where nobody else can plant or hijack it.

Who can connect is who can control the sign (and, through config writes, what plugins run),
so the path is checked before it is used: its folder is created 0750 (0700 without a
``ledhost`` group) and must be ours and a real folder, not a symlink; a leftover socket is
replaced only if it is ours and a socket, and only if no host answers on it (two hosts on
one socket would each believe they own the panel). The socket is made 0660, with group
``ledhost`` when that group exists, so its members (the web process's user) may connect;
without it, the host's own group.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import socket
import stat

from host.errors import HostError

__all__ = ["GROUP", "open_listener"]

log = logging.getLogger(__name__)

#: Members of this group may use the control socket.
GROUP = "ledhost"


def _group_id() -> int | None:
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        return None


def _check_owned(path: str, st: os.stat_result, what: str) -> None:
    if st.st_uid != os.geteuid():
        raise HostError(f"control socket: {what} {path} belongs to uid {st.st_uid}, not to us")


def _prepare_dir(folder: str, gid: int | None) -> None:
    with contextlib.suppress(FileExistsError):
        os.makedirs(os.path.dirname(folder) or "/", exist_ok=True)
        os.mkdir(folder, 0o750 if gid is not None else 0o700)
        if gid is not None:
            os.chown(folder, -1, gid)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise HostError(f"control socket: {folder} is not a folder (a symlink?); refusing it")
    _check_owned(folder, st, "folder")
    if st.st_mode & 0o002:
        raise HostError(f"control socket: {folder} is writable by everyone; refusing it")


def _clear_stale(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise HostError(f"control socket: {path} exists and is not a socket; refusing to reuse it")
    _check_owned(path, st, "socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # ours, and nobody listens: a host that died
        return
    finally:
        probe.close()
    raise HostError(f"control socket: another host is already running on {path}")


def open_listener(path: str, backlog: int = 16) -> socket.socket:
    """Bind and listen on ``path`` (non-blocking, close-on-exec).

    :raises HostError: the path is unsafe, taken by a running host, or cannot be made.
    """
    if not os.path.isabs(path):
        raise HostError(f"control socket: {path!r} is not an absolute path")
    gid = _group_id()
    try:
        _prepare_dir(os.path.dirname(path), gid)
        _clear_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o117)  # no window in which the socket is more open than 0660
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, 0o660)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        raise HostError(f"control socket: cannot listen on {path}: {exc.strerror}") from None
    log.info("control socket: %s", path)
    return sock
