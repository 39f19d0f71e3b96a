"""The key that signs browser sessions, kept in the data dir so a web restart keeps users in.

Flask signs its session cookie with ``SECRET_KEY``; a key made fresh in each process
logged every user out whenever ``ledhost run`` restarted the web process (a crash, an
upgrade). The key is 32 random bytes in ``<data_dir>/web-session.key``, mode 0600, made
once and then only read.

Why not :func:`config.atomic.atomic_write`: it *replaces* the file, so two web processes
starting together (a restart racing a manual ``ledhost web``) would each write a key and
one would sign with a key the file no longer holds. Here the new key is written and synced
in a temp file and then hard-linked to its name: ``link`` fails if the name exists, so the
first writer wins and the second reads the winner's key. Readers see no file or a whole
one, as with an atomic write.

A key file anyone but its owner may read or write is refused (whoever reads it can forge
a logged-in session), with the fix in the message, as the secrets file is.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Final

from config.atomic import make_dirs

__all__ = ["KEY_BYTES", "SESSION_KEY_FILE", "SessionKeyError", "load_or_create"]

#: The key file's name in the data dir.
SESSION_KEY_FILE: Final = "web-session.key"
#: Bytes of randomness in a key (Flask signs with HMAC-SHA1 via itsdangerous; 32 is ample).
KEY_BYTES: Final = 32


class SessionKeyError(OSError):
    """The key file exists but cannot be trusted or used; the message names the fix."""


def _read(path: Path) -> bytes | None:
    """The key in ``path``; ``None`` if there is no file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink, which could point the key anywhere
        raise SessionKeyError(f"{path}: cannot read the session key ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SessionKeyError(f"{path}: the session key is not a regular file; remove it")
        if stat.S_IMODE(info.st_mode) & 0o077 or info.st_uid != os.geteuid():
            raise SessionKeyError(
                f"{path}: other users may read or change the session key (mode "
                f"{stat.S_IMODE(info.st_mode):04o}, owner uid {info.st_uid}); remove it so a "
                "new private one is made (everyone is logged out once)"
            )
        key = os.read(fd, 4 * KEY_BYTES)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise SessionKeyError(
            f"{path}: the session key has {len(key)} bytes, not {KEY_BYTES}; remove it so a "
            "new one is made"
        )
    return key


def load_or_create(data_dir: Path) -> bytes:
    """The session key of ``data_dir``, made (0600) on first use.

    :raises SessionKeyError: the file is not private to this user, not a regular file, or
        not a key; the message says what to do.
    """
    path = Path(data_dir) / SESSION_KEY_FILE
    key = _read(path)
    if key is not None:
        return key
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{SESSION_KEY_FILE}.", dir=path.parent)  # 0600
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        with suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    key = _read(path)
    assert key is not None  # just linked, or linked by the process that won
    return key
