"""Atomic file writes with backups: a reader, a crash or a power cut finds the old file or
the new one, never a mix and never an empty file (STYLE.md rules 17 and 19).

1. :func:`tempfile.mkstemp` makes ``.<name>.<8 random chars>.ledhost-tmp`` in the *same
   folder* (a rename is atomic only within one file system); its ``O_EXCL`` random name
   cannot collide with another thread or process writing the same file.
2. It gets its final owner and mode before the first byte: a secret is never readable.
3. write, flush, ``fsync(file)``: else a file system may commit the rename before the
   data (ext4 delayed allocation, XFS) and a power cut leaves an empty file.
4. :func:`os.replace`, the atomic step: a reader opens the old inode or the new one. Any
   failure before it removes the temp file and leaves the old file untouched.
5. ``fsync(folder)``: until the folder is on disk a power cut can undo the rename; on
   return the new content is durable and the caller may act on it (reload the host).

A writer killed before step 4 leaves its temp file; the next write of that name removes
those older than :data:`STALE_TEMP_SECONDS`. **Symbolic links are replaced, not followed**:
following them would let whoever can plant a link in a folder ledhost writes (as root, on
a Pi) overwrite any file. The new file takes the mode of the link's target, so a link to a
private file does not become readable. **Backups** (``backups=N``): the current file is
first copied, atomically too, to ``<dir>/.ledhost-backups/<name>.<UTC time>.<sequence>``;
the newest N are kept. The sequence, not the clock, orders them: a Pi has no real-time
clock and may run with a wrong time until NTP answers. A backup keeps its file's
permissions (a copy of a 0600 secrets file is 0600) in a 0700 folder.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, final

__all__ = [
    "BACKUP_DIR",
    "STALE_TEMP_SECONDS",
    "Backup",
    "BackupNotFoundError",
    "atomic_write",
    "list_backups",
    "make_dirs",
    "restore_backup",
]

#: The mode of a new file written with ``private=True``: its owner's alone.
PRIVATE_MODE: Final = 0o600

#: The folder, beside the file, that holds its backups.
BACKUP_DIR: Final = ".ledhost-backups"
#: Temp files older than this are a killed writer's leftovers and are removed.
STALE_TEMP_SECONDS: Final = 60.0
_TEMP_SUFFIX: Final = ".ledhost-tmp"
_STAMP: Final = "%Y%m%dT%H%M%S.%fZ"
_BACKUP_ID: Final = re.compile(r"(\d{8}T\d{6}\.\d{6}Z)\.(\d+)")


@final
@dataclass(frozen=True, slots=True)
class Backup:
    """One kept copy of a file, as :func:`list_backups` finds it."""

    #: Where the copy is: ``<dir>/.ledhost-backups/<name>.<id>``.
    path: Path
    #: When it was taken (UTC, by a clock that may have been wrong: order by the list).
    created: datetime
    #: What :func:`restore_backup` takes: ``<UTC timestamp>.<sequence number>``.
    id: str


class BackupNotFoundError(FileNotFoundError):
    """:func:`restore_backup` was given an id that is not one of the file's backups."""

    def __init__(self, path: Path, backup_id: str, available: list[str]) -> None:
        listing = ", ".join(available) or "none"
        message = f"no backup {backup_id!r} of this file (its backups: {listing})"
        super().__init__(errno.ENOENT, message, str(path))
        #: The ids that do exist, newest first.
        self.available: Final = tuple(available)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    backups: int = 0,
    private: bool = False,
) -> None:
    """Replace ``path`` with ``data`` (``str`` as UTF-8); nobody ever sees a partial file.

    :param mode: by default an existing file keeps its mode and a new one gets
        ``0o666 & ~umask``, like any file the user creates.
    :param backups: keep this many backups; 0 makes none and leaves existing ones alone.
    :param private: the file holds config, secrets or what the host knows of its plugins:
        a new one is :data:`PRIVATE_MODE` whatever the umask, and an existing one keeps
        its mode without the bits for "others" (a group the user gave it stays), so the
        host never leaves such a file readable by every user, plugin workers among them.
    :raises OSError: ``FileNotFoundError`` for a missing folder, ``IsADirectoryError`` for
        a folder, or what the system said; the old file is untouched, no temp file left.
    """
    target = Path(path)
    if not isinstance(data, str | bytes | bytearray | memoryview):
        raise TypeError(f"atomic_write takes bytes or str, not {type(data).__name__}")
    # An encoding error is raised here, before anything is touched.
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    current = _check_target(target)
    if mode is None and private:
        mode = stat.S_IMODE(current.st_mode) & ~0o007 if current is not None else PRIVATE_MODE
    elif mode is None:
        mode = stat.S_IMODE(current.st_mode) if current is not None else 0o666 & ~_umask()
    _remove_stale_temps(target.parent, target.name)
    if backups > 0 and current is not None:
        _back_up(target, current, backups, private=private)
    with _temp_file(target.parent, target.name, payload, mode, current) as tmp:
        os.replace(tmp, target)
    _fsync_dir(target.parent)


def list_backups(path: str | os.PathLike[str]) -> list[Backup]:
    """Return the backups of ``path``, newest first (an empty list when there are none)."""
    target = Path(path)
    store = target.parent / BACKUP_DIR
    pattern = re.compile(re.escape(f"{target.name}.") + _BACKUP_ID.pattern)
    found: list[tuple[int, str, Backup]] = []
    with suppress(FileNotFoundError, NotADirectoryError), os.scandir(store) as entries:
        for entry in entries:
            if match := pattern.fullmatch(entry.name):
                with suppress(ValueError):  # looks like ours but is no real date: not ours
                    created = datetime.strptime(match[1], _STAMP).replace(tzinfo=UTC)
                    backup = Backup(Path(entry.path), created, f"{match[1]}.{match[2]}")
                    found.append((int(match[2]), match[1], backup))
    found.sort(key=lambda item: item[:2], reverse=True)
    return [backup for _, _, backup in found]


def restore_backup(path: str | os.PathLike[str], backup_id: str, *, backups: int = 5) -> None:
    """Put backup ``backup_id`` back in place of ``path``, atomically.

    The current file is backed up first (at least one backup is kept), so a restore can be
    undone. An existing file keeps its mode; a deleted one gets the mode it had.

    :raises BackupNotFoundError: no such backup; the message lists the ones there are.
    """
    target = Path(path)
    available = list_backups(target)
    chosen = next((b for b in available if b.id == backup_id), None)
    if chosen is None:
        raise BackupNotFoundError(target, backup_id, [b.id for b in available])
    data, saved = chosen.path.read_bytes(), stat.S_IMODE(os.stat(chosen.path).st_mode)
    mode = None if os.path.exists(target) else saved
    atomic_write(target, data, mode=mode, backups=max(backups, 1))


def _check_target(target: Path) -> os.stat_result | None:
    """Refuse what cannot be written atomically; return the current file's stat, if any."""
    folder = target.parent
    if not folder.is_dir():
        message = f"folder {folder} does not exist; create it first"
        raise FileNotFoundError(errno.ENOENT, message, str(target))
    current = None
    with suppress(FileNotFoundError):
        current = os.stat(target)  # follows a link: its target's mode is what readers saw
    if current is not None and stat.S_ISDIR(current.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file path", str(target))
    if current is not None and not stat.S_ISREG(current.st_mode):
        raise OSError(errno.EINVAL, "is not a regular file; refusing to replace it", str(target))
    if target.name == BACKUP_DIR:
        raise OSError(errno.EINVAL, "this name is reserved for ledhost's backups", str(target))
    return current


@contextmanager
def _temp_file(
    folder: Path, name: str, payload: bytes, mode: int, owner: os.stat_result | None
) -> Iterator[str]:
    """Yield a new durable temp file in ``folder`` holding ``payload``, for the caller to
    move into place; if that fails, the temp file is removed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=_TEMP_SUFFIX, dir=folder)
    try:
        with open(fd, "wb") as f:
            if owner is not None and (owner.st_uid, owner.st_gid) != (os.geteuid(), os.getegid()):
                # root editing a file that belongs to the ledhost user must not take it
                # away from it; anyone else may not give files away, and keeps them.
                with suppress(PermissionError):
                    os.fchown(f.fileno(), owner.st_uid, owner.st_gid)
            os.fchmod(f.fileno(), mode)  # after chown, which clears setuid/setgid bits
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        yield tmp
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _back_up(target: Path, current: os.stat_result, keep: int, *, private: bool) -> None:
    """Copy ``target`` into the backup folder, durably, then keep only the newest ``keep``.

    A copy of a ``private`` file loses the bits for "others" as the file itself does.
    """
    store = _backup_dir(target.parent)
    _remove_stale_temps(store, target.name)
    existing = list_backups(target)
    first = 1 + max((int(b.id.rsplit(".", 1)[1]) for b in existing), default=0)
    mode = stat.S_IMODE(current.st_mode) & (0o770 if private else 0o777)
    with _temp_file(store, target.name, target.read_bytes(), mode, None) as tmp:
        for sequence in itertools.count(first):
            final = store / f"{target.name}.{datetime.now(UTC):{_STAMP}}.{sequence}"
            try:
                os.link(tmp, final)  # never clobbers a concurrent writer's backup
            except FileExistsError:
                continue
            except OSError:  # no hard links (vfat on /boot): a rename, after a look
                if final.exists():
                    continue
                os.replace(tmp, final)
                break
            os.unlink(tmp)
            break
    for stale in list_backups(target)[keep:]:
        with suppress(FileNotFoundError):
            stale.path.unlink()
    # The backup is durable before the file it copies is replaced.
    _fsync_dir(store)


def _backup_dir(folder: Path) -> Path:
    """The backup folder of ``folder``, created 0700 (or tightened to it)."""
    store = folder / BACKUP_DIR
    with suppress(FileExistsError):
        os.mkdir(store, 0o700)  # its entry in ``folder`` is made durable by the main write
    info = os.lstat(store)
    if not stat.S_ISDIR(info.st_mode):  # a link could send copies of secrets anywhere
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder; move it away", str(store))
    if stat.S_IMODE(info.st_mode) != 0o700:  # the umask cut it, or someone opened it up
        os.chmod(store, 0o700)
    return store


def make_dirs(
    path: str | os.PathLike[str], *, mode: int = 0o700, parents_mode: int = 0o700
) -> None:
    """Make the folder ``path`` and its missing parents with exactly these modes.

    ``Path.mkdir(parents=True)`` gives new folders ``0o777 & ~umask``: under a umask of
    0 they are world-writable. Here each new folder gets its mode whatever the umask
    (set again after ``mkdir``, which the umask may have cut); folders that exist are
    left as they are.

    :param mode: of ``path`` itself, if it is made.
    :param parents_mode: of each parent made (0o711 lets other users pass through to a
        folder of theirs inside without listing the rest).
    :raises NotADirectoryError: ``path`` or a parent is something other than a folder.
    :raises OSError: what the system said.
    """
    target = Path(path)
    missing: list[Path] = []
    folder = target
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        wanted = mode if new == target else parents_mode
        try:
            os.mkdir(new, wanted)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs to keep
        os.chmod(new, wanted)
    if not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(target))


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Remove temp files of ``name`` that a killed writer left, best effort."""
    pattern = re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}" + re.escape(_TEMP_SUFFIX))
    cutoff = time.time() - STALE_TEMP_SECONDS
    with suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            # A fresh one may be another writer's work in progress: leave it.
            with suppress(FileNotFoundError):
                if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)


def _fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a rename, a link) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some FUSE and network file systems cannot; the rename is
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # still atomic there
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    """The umask, read without setting it (which would give another thread's new file a
    wrong mode for that moment); Linux 4.7+ shows it in /proc."""
    with suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o077)  # the safe value while it is set
    os.umask(mask)
    return mask
