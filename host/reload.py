"""Live reload: notice that the config file changed, load it again, hand it on to apply.

The host loop calls :meth:`ConfigWatcher.poll` on every pass; at most once a second it
looks at the files with one ``os.stat`` each. Polling rather than inotify, because:

- editors save by writing a temp file and renaming it over the config (vim, VS Code,
  our own ``config.atomic``): the watched inode is replaced, so an inotify watch on the
  file goes quiet and one on the folder sees create/move/delete noise to sort out;
- editors do odd things: write in several pieces, truncate then write, keep swap and
  backup files next to it, or touch the file without changing it;
- one ``stat`` a second costs nothing, needs no thread or extra fd in the selector, and
  works the same on every filesystem (network mounts and FUSE often send no events).

A change is recognised by ``(st_mtime_ns, st_size, st_ino)``; it is read only once the
files have looked the same for :data:`SETTLE` seconds, so a file written in pieces is read
once, whole. An invalid file is refused with every issue in one warning; the running
config stays, and the file is tried again only when it changes again. A valid one goes to
the ``apply`` callback (:class:`host.reconfigure.Reconfigurer`), which may still refuse it
(a plugin option its worker's schema rejects).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from config import ConfigError, HostConfig
from config.diff import ConfigDiff

log = logging.getLogger("ledhost.config")

#: Seconds between two looks at the files.
INTERVAL: Final = 1.0
#: Seconds the files must stay unchanged after a change before they are read.
SETTLE: Final = 0.3

#: What identifies one version of a file; ``None`` while it does not exist.
Signature = tuple[int, int, int, int] | None


def signature(path: Path) -> Signature:
    """``(st_mtime_ns, st_size, st_ino, st_mode)`` of ``path``, or ``None`` if it cannot be
    stat'ed.

    The inode catches an atomic rename that kept size and (coarse) mtime; the size catches
    a rewrite within one mtime tick on filesystems with 1-2 s timestamps; the mode catches
    a ``chmod``, which changes none of them: a secrets file made readable by others must
    be reported, and the ``chmod 600`` a refusal asks for must let the edit through.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)


@dataclass(frozen=True)
class ReloadResult:
    """How a reload ended, for whoever asked (the file watcher logs it; an API answers).

    A reload may finish later than it was asked for: the workers check their new options
    first (:class:`host.reconfigure.Reconfigurer`), without holding the host loop.
    """

    #: What changed, when it was applied; ``None`` when refused.
    diff: ConfigDiff | None = None
    #: Why it was refused (every issue); ``None`` when applied.
    error: Exception | None = None


#: Applies a config and reports the outcome to the callback, now or later.
ApplyConfig = Callable[[HostConfig, Callable[[ReloadResult], None]], None]


class ConfigWatcher:
    """Watches the files a config is read from and reloads it when they change.

    :param paths: the config file first, then any other file the config is read from (the
        secrets file); a missing file is allowed and counts as one more state.
    :param load: loads the config again, from the same files, environment and overrides
        as at start; raises :class:`~config.ConfigError` for an invalid config.
    :param apply: applies a valid config to the running host and reports a
        :class:`ReloadResult` to its callback, at once or once the workers answered.
    :param clock: the monotonic clock (tests may pass their own).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        load: Callable[[], HostConfig],
        apply: ApplyConfig,
        *,
        interval: float = INTERVAL,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths: Final = tuple(Path(p) for p in paths)
        self.load = load
        self.apply = apply
        self.interval = interval
        self.settle = settle
        #: The files as last seen, and as last read.
        self._seen = self._signatures()
        self._read = self._seen
        #: When the files were last seen to change, while a read is pending.
        self._changed_at: float | None = None
        self._next_look = clock() + interval
        #: Wall-clock time the running config was loaded (at start, then each reload).
        self.loaded_at = time.time()
        #: Reloads applied (an edit that changed nothing counts too).
        self.reloads = 0
        #: The last refused edit, in words (every issue, one per line), and when.
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        #: Setting keys changed in the file that wait for a restart of ledhost.
        self.restart_needed: tuple[str, ...] = ()

    def _signatures(self) -> tuple[Signature, ...]:
        return tuple(signature(path) for path in self.paths)

    def next_look(self) -> float:
        """When :meth:`poll` has work next (the host loop wakes then at the latest)."""
        return self._next_look

    def poll(self, now: float) -> bool:
        """Look at the files if it is time; reload once they changed and settled.

        :param now: the monotonic time.
        :returns: whether a new config was applied.
        """
        if now < self._next_look:
            return False
        seen = self._signatures()
        if seen != self._seen:
            # Still being written, or a new change: wait until it holds still.
            self._seen, self._changed_at = seen, now
            self._next_look = now + self.settle
            return False
        if self._changed_at is None or now - self._changed_at < self.settle:
            self._next_look = now + (self.interval if self._changed_at is None else self.settle)
            return False
        self._changed_at = None
        self._next_look = now + self.interval
        if seen == self._read:
            return False  # changed and changed back (or touched twice): nothing new
        self._read = seen
        return self.reload()

    def reload(self) -> bool:
        """Load the config now and apply it; on any error keep the running one.

        :returns: whether a valid config was handed on (its outcome is logged when the
            reload finishes: see :meth:`finished`).
        """
        where = self.paths[0] if self.paths else "the config"
        try:
            cfg = self.load()
        except Exception as exc:  # noqa: BLE001 - a reload must never end the host
            self.finished(ReloadResult(error=exc))
            return False
        try:
            self.apply(cfg, self.finished)
        except Exception as exc:  # noqa: BLE001 - a reload must never end the host
            self._refused(f"could not apply the config: {type(exc).__name__}: {exc}")
            log.exception("config %s: could not apply the new config", where)
            return False
        return True

    def finished(self, result: ReloadResult) -> None:
        """Record and log how a reload ended."""
        where = self.paths[0] if self.paths else "the config"
        exc = result.error
        if isinstance(exc, ConfigError):
            self._refused(str(exc))
            log.warning(
                "config %s: edit refused, the running config stays (%d problem%s):\n%s",
                where,
                len(exc.errors),
                "" if len(exc.errors) == 1 else "s",
                exc,
            )
            return
        if exc is not None or result.diff is None:
            self._refused(f"could not apply the config: {type(exc).__name__}: {exc}")
            log.error("config %s: could not apply the new config: %s", where, exc)
            return
        diff = result.diff
        self.reloads += 1
        self.loaded_at = time.time()
        self.last_error = self.last_error_at = None
        self.restart_needed = diff.restart_keys
        log.info("config %s reloaded: %s", where, diff.summary())
        if diff.restart_keys:
            log.warning(
                "config %s: %s changed; restart ledhost to apply",
                where,
                ", ".join(diff.restart_keys),
            )

    def _refused(self, text: str) -> None:
        self.last_error = text
        self.last_error_at = time.time()

    def status(self) -> dict[str, Any]:
        """The ``config`` block of the host status and ``--stats-json``."""
        return {
            "path": str(self.paths[0]) if self.paths else None,
            "loaded_at": self.loaded_at,
            "reloads": self.reloads,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "restart_needed": list(self.restart_needed),
        }


__all__ = [
    "INTERVAL",
    "SETTLE",
    "ApplyConfig",
    "ConfigWatcher",
    "ReloadResult",
    "Signature",
    "signature",
]
