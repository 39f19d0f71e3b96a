"""config.atomic: atomic writes, backups and restores, on real files and real processes.

The SIGKILL test is the issue's acceptance test: a writer process is killed at scattered
moments (a fixed schedule of delays, so a failure can be replayed) over hundreds of
writes, and every file left behind must be whole.
"""

from __future__ import annotations

import errno
import hashlib
import inspect
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.atomic import (
    BACKUP_DIR,
    STALE_TEMP_SECONDS,
    BackupNotFoundError,
    atomic_write,
    list_backups,
    restore_backup,
)

#: The name of a temp file atomic_write leaves behind when it is killed.
TEMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.ledhost-tmp")


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if TEMP.fullmatch(n))


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test that sets it."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# -- content and mode -------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000])
def test_new_file_gets_content_and_the_umask_mode(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    atomic_write(tmp_path / "a.toml", "x = 'ü'\n")
    atomic_write(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.toml").read_text(encoding="utf-8") == "x = 'ü'\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert _mode(tmp_path / "a.toml") == 0o666 & ~mask
    assert _leftovers(tmp_path) == []


def test_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write(path, "new")
    assert path.read_text() == "new"
    assert _mode(path) == 0o640


def test_explicit_mode_wins_for_new_and_existing_files(tmp_path: Path) -> None:
    new, old = tmp_path / "new.toml", tmp_path / "old.toml"
    old.write_text("old")
    old.chmod(0o644)
    atomic_write(new, "s = 1", mode=0o600)
    atomic_write(old, "s = 2", mode=0o600)
    assert (_mode(new), _mode(old)) == (0o600, 0o600)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_rewriting_a_users_file_leaves_it_theirs(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("old")
    os.chown(path, 65534, 65534)
    atomic_write(path, "new")
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)


# -- refusals and failures --------------------------------------------------------------


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; create it first") as info:
        atomic_write(tmp_path / "nope" / "a.toml", "x")
    assert str(tmp_path / "nope") in str(info.value)
    assert info.value.filename == str(tmp_path / "nope" / "a.toml")


def test_folder_and_special_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a folder"):
        atomic_write(tmp_path, "x")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write(fifo, "x")
    with pytest.raises(OSError, match="reserved"):
        atomic_write(tmp_path / BACKUP_DIR, "x")
    assert sorted(os.listdir(tmp_path)) == ["pipe"]


@pytest.mark.parametrize(
    ("data", "error"), [("bad \ud800 surrogate", UnicodeEncodeError), (12, TypeError)]
)
def test_data_that_cannot_be_written_leaves_the_old_file(
    tmp_path: Path, data: object, error: type[Exception]
) -> None:
    path = tmp_path / "a.toml"
    atomic_write(path, "old = 1\n")
    with pytest.raises(error):
        atomic_write(path, data, backups=3)  # type: ignore[arg-type]
    assert path.read_text() == "old = 1\n"
    assert sorted(os.listdir(tmp_path)) == ["a.toml"]


def test_a_write_failing_halfway_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    """Verify that a write the system stops midway (here: over the file-size limit, which
    binds root too) removes its temp file and leaves the old file as it was."""
    path = tmp_path / "a.toml"
    atomic_write(path, "old = 1\n")
    code = (
        "import resource, signal, sys\n"
        "from config.atomic import atomic_write\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    atomic_write(sys.argv[1], b'x' * 100_000, backups=2)\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == str(errno.EFBIG), result.stderr
    assert path.read_text() == "old = 1\n"
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / BACKUP_DIR) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    atomic_write(path, "old = 1\n")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            atomic_write(path, "new = 1\n")
    finally:
        tmp_path.chmod(0o700)
    assert path.read_text() == "old = 1\n"
    assert os.listdir(tmp_path) == ["a.toml"]


# -- hostile names ----------------------------------------------------------------------


def test_a_path_through_dotdot_writes_where_it_points(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    winding = tmp_path / "sub" / ".." / "a.toml"
    atomic_write(winding, "one")
    atomic_write(winding, "two", backups=2)
    assert (tmp_path / "a.toml").read_text() == "two"
    assert [b.id for b in list_backups(winding)] == [
        b.id for b in list_backups(tmp_path / "a.toml")
    ]
    assert (tmp_path / BACKUP_DIR).is_dir() and os.listdir(tmp_path / "sub") == []
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path / "sub" / "..", "x")
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / ".." / "a.toml", "x")


def test_a_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    """Verify the safe choice: the link becomes a file, its target is never written, and
    the file keeps the target's private mode."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "secret.toml"
    target.write_text("token = 'old'\n")
    target.chmod(0o600)
    folder = tmp_path / "conf"
    folder.mkdir()
    link = folder / "secrets.toml"
    link.symlink_to(target)
    atomic_write(link, "token = 'new'\n", backups=2)
    assert not link.is_symlink()
    assert link.read_text() == "token = 'new'\n" and _mode(link) == 0o600
    assert target.read_text() == "token = 'old'\n"
    assert os.listdir(outside) == ["secret.toml"]
    (backup,) = list_backups(link)
    assert backup.path.read_text() == "token = 'old'\n" and _mode(backup.path) == 0o600


def test_a_dangling_symlink_becomes_a_new_file(tmp_path: Path, umask: None) -> None:
    link = tmp_path / "a.toml"
    link.symlink_to(tmp_path / "nowhere" / "b.toml")
    atomic_write(link, "x = 1\n")
    assert not link.is_symlink() and link.read_text() == "x = 1\n"
    assert _mode(link) == 0o644


def test_a_symlinked_backup_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / BACKUP_DIR).symlink_to(elsewhere)
    atomic_write(folder / "a.toml", "old")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        atomic_write(folder / "a.toml", "new", backups=2)
    assert (folder / "a.toml").read_text() == "old"
    assert os.listdir(elsewhere) == []


# -- backups ----------------------------------------------------------------------------


def test_backups_rotate_to_the_newest_n(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    before = datetime.now(UTC)
    for n in range(9):
        atomic_write(path, f"n = {n}\n", backups=3)
    backups = list_backups(path)
    assert [b.path.read_text() for b in backups] == ["n = 7\n", "n = 6\n", "n = 5\n"]
    assert len({b.id for b in backups}) == 3
    for b in backups:
        assert b.path.name == f"a.toml.{b.id}"
        assert before - timedelta(seconds=1) <= b.created <= datetime.now(UTC)
    assert _mode(tmp_path / BACKUP_DIR) == 0o700
    atomic_write(path, "n = 9\n")  # backups=0: no backup, and the old ones stay
    assert list_backups(path) == backups


def test_backups_of_a_private_file_stay_private(tmp_path: Path, umask: None) -> None:
    """Verify secrets do not leak through backups: 0600 copies in a 0700 folder, even with
    a umask of 0 and a backup folder someone opened up."""
    os.umask(0)
    (tmp_path / BACKUP_DIR).mkdir(mode=0o755)
    path = tmp_path / "secrets.toml"
    atomic_write(path, "token = 'a'\n", mode=0o600)
    atomic_write(path, "token = 'b'\n", backups=2)
    atomic_write(path, "token = 'c'\n", backups=2)
    assert _mode(tmp_path / BACKUP_DIR) == 0o700
    assert [_mode(b.path) for b in list_backups(path)] == [0o600, 0o600]
    assert _mode(path) == 0o600


def test_list_backups_ignores_what_is_not_a_backup_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    atomic_write(path, "one")
    atomic_write(path, "two", backups=5)
    store = tmp_path / BACKUP_DIR
    for name in [
        "a.toml.notes",
        "a.toml.20241301T000000.000000Z.9",  # month 13
        "a.toml.bak.20240101T000000.000000Z.9",  # a backup of a.toml.bak
        "b.toml.20240101T000000.000000Z.9",
        ".a.toml.abcdefgh.ledhost-tmp",
    ]:
        (store / name).write_text("not a backup")
    assert [b.path.read_text() for b in list_backups(path)] == ["one"]
    assert list_backups(tmp_path / "none.toml") == []


def test_backups_are_ordered_by_sequence_not_by_the_clock(tmp_path: Path) -> None:
    """Verify a backup taken while the clock was wrong (a Pi before NTP) still counts as
    the newest when it is."""
    path = tmp_path / "a.toml"
    atomic_write(path, "one")
    atomic_write(path, "two", backups=5)
    (only,) = list_backups(path)
    sequence = only.id.rsplit(".", 1)[1]
    only.path.rename(only.path.with_name(f"a.toml.20990101T000000.000000Z.{sequence}"))
    atomic_write(path, "three", backups=5)
    assert [b.path.read_text() for b in list_backups(path)] == ["two", "one"]


def test_restore_from_any_backup_backs_up_the_current_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    for n in range(5):
        atomic_write(path, f"n = {n}\n", backups=10)
    for backup in list_backups(path):
        wanted = backup.path.read_text()
        current = path.read_text()
        restore_backup(path, backup.id, backups=10)
        assert path.read_text() == wanted
        assert list_backups(path)[0].path.read_text() == current
    assert len(list_backups(path)) == 8


def test_restore_of_a_deleted_file_brings_back_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    atomic_write(path, "token = 'a'\n", mode=0o600)
    atomic_write(path, "token = 'b'\n", backups=3)
    path.unlink()
    restore_backup(path, list_backups(path)[0].id)
    assert path.read_text() == "token = 'a'\n" and _mode(path) == 0o600


@pytest.mark.parametrize("bad_id", ["nope", "../../etc/passwd", ""])
def test_restore_of_an_unknown_backup_lists_the_ones_there_are(tmp_path: Path, bad_id: str) -> None:
    path = tmp_path / "a.toml"
    with pytest.raises(BackupNotFoundError, match=r"its backups: none"):
        restore_backup(path, bad_id)
    atomic_write(path, "one")
    atomic_write(path, "two", backups=3)
    atomic_write(path, "three", backups=3)
    ids = [b.id for b in list_backups(path)]
    with pytest.raises(BackupNotFoundError) as info:
        restore_backup(path, bad_id)
    assert f"no backup {bad_id!r}" in str(info.value) and ", ".join(ids) in str(info.value)
    assert info.value.available == tuple(ids)
    assert isinstance(info.value, FileNotFoundError)  # the CLI's OSError handler prints it
    assert path.read_text() == "three" and len(list_backups(path)) == 2


# -- leftovers, concurrency -------------------------------------------------------------


def test_stale_temp_files_of_the_same_name_are_removed(tmp_path: Path) -> None:
    """Verify the clean-up of killed writers' temp files: only this file's, only old ones."""
    path = tmp_path / "a.toml"
    atomic_write(path, "one")
    store = tmp_path / BACKUP_DIR
    store.mkdir(mode=0o700)
    old = time.time() - STALE_TEMP_SECONDS - 60
    names = {
        tmp_path / ".a.toml.abcdefgh.ledhost-tmp": False,  # stale: removed
        tmp_path / ".a.toml.ijklmnop.ledhost-tmp": True,  # fresh: another writer's
        tmp_path / ".b.toml.abcdefgh.ledhost-tmp": True,  # another file's
        tmp_path / ".a.toml.abc.ledhost-tmp": True,  # not a name mkstemp makes
        tmp_path / ".a.toml.abcdefgh.tmp": True,
        store / ".a.toml.qrstuvwx.ledhost-tmp": False,
    }
    for name in names:
        name.write_text("partial")
        if name.name != ".a.toml.ijklmnop.ledhost-tmp":
            os.utime(name, (old, old))
    atomic_write(path, "two", backups=2)
    assert {name: name.exists() for name in names} == names


def test_concurrent_writers_never_produce_a_mixed_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.toml"
    versions = {
        f'writer = {w}\nround = {r}\nblob = "{chr(97 + w) * 8000}"\n'
        for w in range(4)
        for r in range(30)
    }
    atomic_write(path, next(iter(versions)))
    errors: list[str] = []
    done = threading.Event()

    def write(w: int) -> None:
        try:
            for r in range(30):
                atomic_write(
                    path, f'writer = {w}\nround = {r}\nblob = "{chr(97 + w) * 8000}"\n', backups=3
                )
        except Exception as exc:  # reported by the test below
            errors.append(repr(exc))

    def read() -> None:
        while not done.is_set():
            text = path.read_text()
            if text not in versions:
                errors.append(f"mixed or partial file: {text[:60]!r}")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    assert path.read_text() in versions
    backups = list_backups(path)
    assert len(backups) == 3 and all(b.path.read_text() in versions for b in backups)
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / BACKUP_DIR) == []


# -- SIGKILL ----------------------------------------------------------------------------


def version(n: int) -> str:
    """Version ``n`` of the file the SIGKILL test writes: a counter, a 4 KB payload and a
    checksum line over both, so a torn or mixed file cannot pass for a whole one."""
    import hashlib

    payload = "\n".join(hashlib.sha256(f"{n}:{i}".encode()).hexdigest() for i in range(64))
    digest = hashlib.sha256(f"{n}\n{payload}".encode()).hexdigest()
    return f'counter = {n}\nchecksum = "{digest}"\npayload = """\n{payload}"""\n'


#: Imports config.atomic once (0.2 s, which 60 fresh interpreters would spend 60 times),
#: then for each line ``<first counter> <delay ms>`` forks a writer that writes version
#: after version as fast as it can, SIGKILLs it after the delay, reaps it and prints its
#: wait status. The kill comes from the writer's parent, which has not reaped it yet, so
#: the pid cannot have been reused by another process.
WRITER = f"""
import os, signal, sys, time, traceback
from config.atomic import atomic_write
{inspect.getsource(version)}
print("ready", flush=True)
for line in iter(sys.stdin.readline, ""):
    first, delay = line.split()
    pid = os.fork()
    if pid == 0:
        try:
            for n in range(int(first), int(first) + 1_000_000):
                atomic_write(sys.argv[1], version(n), backups=3)
        except BaseException:
            traceback.print_exc()
        os._exit(3)
    time.sleep(int(delay) / 1000)
    os.kill(pid, signal.SIGKILL)
    print(os.waitpid(pid, 0)[1], flush=True)
"""


def _kill_delay_ms(kill: int) -> int:
    """The fixed schedule of kill delays: 0-40 ms, every value once per 41 kills.

    Stepping by 17 (prime to 41) spreads short and long delays evenly through the run,
    as the random draw it replaces did, so a failure names a kill that can be replayed.
    """
    return (kill * 17) % 41


def _check_whole(text: str) -> int:
    """Return the counter of ``text`` after checking it is exactly one whole version."""
    data = tomllib.loads(text)
    n = data["counter"]
    digest = hashlib.sha256(f"{n}\n{data['payload']}".encode()).hexdigest()
    assert data["checksum"] == digest
    assert text == version(n)
    return int(n)


@pytest.mark.slow  # 3 s on a quiet machine, up to 20 s when others use the disk
@pytest.mark.timeout(240)  # above the loop's own 90 s bound, so the loop's message wins
def test_sigkill_at_random_moments_leaves_whole_files(tmp_path: Path) -> None:
    """Verify the issue's promise: a writer killed at any moment, over hundreds of
    writes, leaves a file that parses and is exactly the old or the new version, whole
    backups, and no stray file other than its own dot-temp files."""
    path = tmp_path / "state.toml"
    store = tmp_path / BACKUP_DIR
    atomic_write(path, version(0))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    counter, kills, started = 0, 0, time.monotonic()
    try:
        assert writer.stdout.readline() == "ready\n"
        # 60 kills, and more while fewer than 250 writes are done (a busy machine: fsync
        # slows down when others use the disk, and the kills stay 0-40 ms apart); the
        # time limit is only a generous bound on a machine that cannot write at all.
        while kills < 60 or (counter < 250 and time.monotonic() - started < 90):
            # After each 60 kills the delays grow (0-40 ms, then 0-80 ms, ...): on a disk
            # so busy that a write takes longer than 40 ms, writes still get done.
            writer.stdin.write(f"{counter + 1} {_kill_delay_ms(kills) * (1 + kills // 60)}\n")
            writer.stdin.flush()
            status = int(writer.stdout.readline())
            kills += 1
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
                f"the writer died on its own (kill {kills})"
            )
            now = _check_whole(path.read_text())
            assert now >= counter, f"went back from {counter} to {now} (kill {kills})"
            counter = now
            backups = list_backups(path)
            for backup in backups:
                assert _check_whole(backup.path.read_text()) <= counter
            strays = set(os.listdir(tmp_path)) - {path.name, BACKUP_DIR}
            if store.exists():  # not before the first backup
                strays |= set(os.listdir(store)) - {b.path.name for b in backups}
            own = [n for n in strays if (m := TEMP.fullmatch(n)) and m["name"] == path.name]
            assert len(own) == len(strays), f"not the writer's temp files: {strays}"
            # At most one temp file per kill: the backup's or the file's, never both.
            assert len(strays) <= kills
    finally:
        writer.kill()
        writer.wait()
    assert counter >= 200, f"only {counter} writes in {kills} kills"
    # A later write cleans up what the killed writers left, once it is stale.
    old = time.time() - STALE_TEMP_SECONDS - 60
    for folder in (tmp_path, store):
        for name in _leftovers(folder):
            os.utime(folder / name, (old, old))
    atomic_write(path, version(counter + 1), backups=3)
    assert _leftovers(tmp_path) == [] and _leftovers(store) == []
    assert sorted(os.listdir(tmp_path)) == sorted([BACKUP_DIR, path.name])
