"""Files and folders the host creates are never open to other users, whatever the umask.

Issue 13, file modes: plugin workers run as other users than the host, so a stats file,
a log, a config upgrade, a backup, the uid map or a data folder that "others" may read
hands them what the host knows of every plugin (a careless plugin logs its API key). Each
test sets the umask to 0 -- the worst a service manager can hand the host -- and checks
the modes of what was created for real.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import LoggingConfig
from config.atomic import BACKUP_DIR, atomic_write, list_backups, make_dirs
from config.migrate import migrate_file
from host.cli.logsetup import LOG_FILE_BYTES, apply_logging
from host.stats import write_json
from host.supervise.uidmap import MAP_NAME, UidMap
from tests.conftest import run_host


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_0() -> Iterator[None]:
    """The process umask at 0 for the test (restored after)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_private_write_is_0600_new_and_loses_others_bits_existing(
    tmp_path: Path, umask_0: None
) -> None:
    new = tmp_path / "new.toml"
    atomic_write(new, "a = 1\n", private=True)
    assert _mode(new) == 0o600
    old = tmp_path / "old.toml"
    old.write_text("a = 1\n")
    old.chmod(0o664)  # a group the user gave it stays; everybody else goes
    atomic_write(old, "a = 2\n", private=True, backups=2)
    assert _mode(old) == 0o660
    (backup,) = list_backups(old)
    assert backup.path.read_text() == "a = 1\n" and _mode(backup.path) == 0o660
    assert _mode(tmp_path / BACKUP_DIR) == 0o700
    # Not private: a new file still gets the umask's mode (a picture meant to be shared).
    shared = tmp_path / "picture.gif"
    atomic_write(shared, b"GIF89a")
    assert _mode(shared) == 0o666


def test_make_dirs_gives_exact_modes_and_leaves_existing_folders(
    tmp_path: Path, umask_0: None
) -> None:
    target = tmp_path / "a" / "b" / "c"
    make_dirs(target, mode=0o700, parents_mode=0o711)
    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [
        0o711,
        0o711,
        0o700,
    ]
    (tmp_path / "open").mkdir(mode=0o755)
    make_dirs(tmp_path / "open", mode=0o700)
    assert _mode(tmp_path / "open") == 0o755  # the user's folder: not ours to change
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        make_dirs(tmp_path / "file")


def test_stats_uid_map_and_config_upgrade_are_private(tmp_path: Path, umask_0: None) -> None:
    write_json(tmp_path / "stats.json", {"plugins": {}})
    assert _mode(tmp_path / "stats.json") == 0o600
    uids = UidMap(tmp_path / "data" / "plugins", 1_900_000_000, 4)
    uids.uid_for("clock")
    assert _mode(tmp_path / "data" / "plugins" / MAP_NAME) == 0o600
    # Other uids pass through to their folders but cannot list which instances exist.
    assert _mode(tmp_path / "data" / "plugins") == _mode(tmp_path / "data") == 0o711
    config = tmp_path / "ledhost.toml"
    config.write_text("[display]\nchain_length = 2\n")
    config.chmod(0o644)
    assert migrate_file(config)  # upgraded, with a backup
    assert _mode(config) == 0o640
    assert [_mode(b.path) for b in list_backups(config)] == [0o640]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger's handlers and level as they were, after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def test_the_log_file_is_0600_and_stays_so_when_rotated(
    tmp_path: Path, umask_0: None, root_logging: None
) -> None:
    path = tmp_path / "ledhost.log"
    apply_logging(LoggingConfig(level="info", plugin_level="info", file=str(path)))
    logging.getLogger("ledhost.test").warning("hello")
    assert _mode(path) == 0o600
    logging.getLogger("ledhost.test").warning("x" * (LOG_FILE_BYTES + 1))
    logging.getLogger("ledhost.test").warning("after the rotation")
    assert _mode(path.with_name("ledhost.log.1")) == 0o600
    assert _mode(path) == 0o600
    old = tmp_path / "old.log"
    old.write_text("")
    old.chmod(0o644)
    apply_logging(LoggingConfig(level="info", plugin_level="info", file=str(old)))
    assert _mode(old) == 0o640


def test_a_real_run_under_umask_0_leaves_nothing_open(tmp_path: Path, umask_0: None) -> None:
    """A host run: its stats, the data folder and each instance's own folder."""
    data = tmp_path / "data"
    _, _, _ = run_host(
        {"paths": {"data_dir": str(data)}},
        120.0,
        tmp_path,
        until=lambda host, _: host.supervisor.handles["clock"].frames > 0,
        only=("clock",),
    )
    assert _mode(tmp_path / "stats.json") == 0o600
    assert _mode(data) == _mode(data / "plugins") == 0o711
    assert _mode(data / "plugins" / "clock") == 0o700
    for folder, dirs, files in os.walk(tmp_path):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if not path.is_symlink():
                assert not _mode(path) & 0o006, f"{path} is open to others: {_mode(path):o}"
