"""Notice that a plugin's source files changed, by polling their modification times.

Polling, not inotify: it needs no new dependency, works on every file system (network
mounts and editors that replace files included), and a plugin project is a few dozen
files, so one scan costs well under a millisecond. A change is reported once the files
have been still for ``debounce`` seconds, so an editor that writes in several steps (or
a ``git checkout``) causes one reload, not several.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["SourceWatcher", "forget_bytecode"]

#: Folders never watched: caches, environments, VCS data, build output.
SKIP_DIRS = frozenset(
    {"__pycache__", ".git", ".hg", ".venv", "venv", ".tox", ".nox", "build", "dist",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules"}
)  # fmt: skip
#: File suffixes that matter to a running plugin (code, data it ships, its metadata).
SUFFIXES = frozenset(
    {".py", ".toml", ".json", ".txt", ".png", ".gif", ".jpg", ".bdf", ".pil", ".pbm", ".ttf"}
)
#: Most files one scan looks at: a folder that big is not a plugin project.
MAX_FILES = 5000


def snapshot(roots: Iterable[Path]) -> dict[str, tuple[int, int]]:
    """``{path: (mtime_ns, size)}`` of every watched file below ``roots``."""
    seen: dict[str, tuple[int, int]] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            for name in files:
                if os.path.splitext(name)[1] not in SUFFIXES:
                    continue
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue  # removed between listing and stat: the next scan sees it
                seen[path] = (info.st_mtime_ns, info.st_size)
                if len(seen) >= MAX_FILES:
                    return seen
    return seen


class SourceWatcher:
    """Tell, from one poll to the next, whether the files changed and have settled.

    :param debounce: seconds the files must stay unchanged before a change is reported.
    """

    def __init__(self, roots: Iterable[Path], debounce: float = 0.3) -> None:
        self.roots = tuple(roots)
        self.debounce = debounce
        self._known = snapshot(self.roots)
        #: When the last not yet reported change was seen (``None``: none pending).
        self._changed_at: float | None = None
        self._changed: set[str] = set()

    def sources(self) -> list[str]:
        """Every file the last scan saw (what a fresh worker will import from)."""
        return list(self._known)

    def poll(self, now: float) -> list[str]:
        """Scan; return the changed paths once they have been still for ``debounce``.

        :param now: a monotonic time (passed in, so tests need no clock).
        :returns: the paths changed, added or removed since the last report; ``[]`` while
            nothing changed or the change is still settling.
        """
        current = snapshot(self.roots)
        if current != self._known:
            changed = {
                p
                for p in current.keys() | self._known.keys()
                if current.get(p) != self._known.get(p)
            }
            self._changed |= changed
            self._known = current
            self._changed_at = now
            return []
        if self._changed_at is None or now - self._changed_at < self.debounce:
            return []
        report = sorted(self._changed)
        self._changed.clear()
        self._changed_at = None
        return report


def forget_bytecode(sources: Iterable[str]) -> int:
    """Remove the cached bytecode of the Python files in ``sources``; return how many.

    A ``.pyc`` records its source's size and modification time in whole seconds, so an
    edit that keeps the size within the second the file was last imported in (a digit
    changed, a save straight after a reload) leaves the old bytecode looking current, and
    the reloaded worker would run the old code. The dev session calls this before every
    worker start: recompiling a plugin project costs milliseconds.
    """
    removed = 0
    for source in sources:
        if not source.endswith(".py"):
            continue
        folder, name = os.path.split(source)
        stem = glob.escape(name[: -len(".py")])
        for cached in glob.glob(os.path.join(glob.escape(folder), "__pycache__", f"{stem}.*.pyc")):
            try:
                os.unlink(cached)
            except OSError:
                continue  # gone already, or not ours to remove: the import checks it anyway
            removed += 1
    return removed
