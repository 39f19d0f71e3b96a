"""The host's log: level, destination and plugin level, from ``[logging]`` and the CLI.

``ledhost`` sets up logging on standard error before it knows the config (so an early
failure is seen); ``ledhost run`` then calls :func:`apply_logging` with the loaded
``[logging]`` table. ``-v`` / ``-q`` on the command line win over the file: they are
what the user typed just now.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import stat
from pathlib import Path
from typing import Any, Final

from config.model import LoggingConfig
from host.errors import HostError

__all__ = ["FORMAT", "LOG_FILE_BACKUPS", "LOG_FILE_BYTES", "apply_logging", "level_number"]

#: One line per record, the same on standard error and in the file.
FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: A log file is rotated at this size; a Pi's SD card must not fill up with logs.
LOG_FILE_BYTES: Final = 1024 * 1024
#: Rotated files kept beside it (``.1`` to ``.3``).
LOG_FILE_BACKUPS: Final = 3
#: The mode of a new log file (and of each rotated one), whatever the umask.
LOG_FILE_MODE: Final = 0o600
#: The logger every plugin's records go through on the host (``ledhost.plugin.<id>``).
PLUGIN_LOGGER: Final = "ledhost.plugin"


def level_number(name: str) -> int:
    """``"warning"`` -> ``logging.WARNING``, for the names in ``config.settings.LOG_LEVELS``."""
    return logging.getLevelNamesMapping()[name.upper()]


def _log_file(raw: str) -> Path:
    path = Path(raw).expanduser() if raw == "~" or raw.startswith("~/") else Path(raw)
    if not path.is_absolute():
        # Relative to what? Under systemd the working folder is "/", so refuse to guess.
        raise HostError(
            f"logging.file: expected an absolute path or one starting with '~/', found {raw!r}"
        )
    return path


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that is 0600 whatever the umask, and stays so when rotated.

    The host's log holds every plugin's log records (a careless plugin logs its API
    key) and the host's errors about config and secrets: never a file other users,
    plugin workers among them, may read. An existing file loses its "others" bits.
    """

    def _open(self) -> Any:
        fd = os.open(
            self.baseFilename,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
            LOG_FILE_MODE,
        )
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o007:
                with contextlib.suppress(OSError):  # not ours to change: leave it
                    os.fchmod(fd, mode & ~0o007)
            return open(fd, self.mode, encoding=self.encoding, errors=self.errors)
        except BaseException:
            os.close(fd)
            raise


def apply_logging(settings: LoggingConfig, *, verbose: bool = False, quiet: bool = False) -> None:
    """Set the root level, the plugin level and the destination from ``[logging]``.

    :param settings: the loaded ``[logging]`` table.
    :param verbose: ``-v`` was given: debug, for plugins too, whatever the file says.
    :param quiet: ``-q`` was given: warnings and worse only, for plugins too.
    :raises HostError: ``logging.file`` is relative, or cannot be opened for appending.
    """
    root = logging.getLogger()
    plugins = logging.getLogger(PLUGIN_LOGGER)
    if verbose or quiet:
        root.setLevel(logging.DEBUG if verbose else logging.WARNING)
        plugins.setLevel(logging.NOTSET)  # inherit: the flag is about everything
    else:
        level = level_number(settings.level)
        root.setLevel(level)
        # A logger's own level decides and its records skip the root's level on the way
        # to the handlers: the plugin logger must not let through what root would not.
        plugins.setLevel(max(level, level_number(settings.plugin_level)))
    if not settings.file:
        return
    path = _log_file(settings.file)
    try:
        handler = PrivateRotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        raise HostError(
            f"logging.file: cannot open {path} for appending ({exc.strerror or exc}); "
            "fix the folder's permissions or choose another file"
        ) from None
    handler.setFormatter(logging.Formatter(FORMAT))
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
