"""The only functions that change installed state: install, update, rollback, uninstall.

Each holds ``state/lock`` (``fcntl.flock``) for its whole run, so two installers never
interleave, and first removes what an interrupted one left (:func:`cleanup`: version
folders without a marker that neither ``current`` nor ``previous`` points at). A new
version is built beside the old one and ``current`` switches to it (symlink to a temp
name + rename) only when the environment is complete and ``verify`` passed, so a failed
or killed install leaves the old version running.

``verify`` is injected by the host layer (a describe worker run with the new env's python
and site path): :mod:`store` imports nothing of :mod:`host`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from store.inventory import Installed
from store.layout import StorePaths
from store.settings import StoreSettings
from store.sources import Source

__all__ = [
    "Progress",
    "ProgressEvent",
    "Verify",
    "cleanup",
    "install",
    "rollback",
    "uninstall",
    "update",
]


@dataclass(frozen=True)
class ProgressEvent:
    """Where an operation is: ``stage`` is one of resolve, download, check, env, install,
    verify, switch, done; bytes only for download (``total_bytes`` 0 when unknown)."""

    stage: str
    done_bytes: int = 0
    total_bytes: int = 0
    message: str = ""


Progress = Callable[[ProgressEvent], None]
#: Raises :class:`~store.errors.StoreError` when a real worker cannot load the plugin.
Verify = Callable[[Installed], None]


def install(
    paths: StorePaths,
    settings: StoreSettings,
    source: Source,
    *,
    verify: Verify | None,
    progress: Progress | None = None,
    explicit: bool = True,
) -> Installed:
    """Install ``source`` and make it current; ``explicit`` (a user asked) clears a tombstone.

    The reconciler passes ``explicit=False``: it never installs over a tombstone (it must
    check :func:`store.tombstones.read` itself; this refuses with
    :class:`~store.errors.StoreError` as a last guard).
    """
    raise NotImplementedError


def update(
    paths: StorePaths,
    settings: StoreSettings,
    plugin_id: str,
    *,
    version: str | None = None,
    verify: Verify | None = None,
    progress: Progress | None = None,
) -> Installed:
    """Install the newest (or ``version``) from the plugin's recorded source; keep the old
    one as ``previous``. Returns the current entry (unchanged if already newest)."""
    raise NotImplementedError


def rollback(paths: StorePaths, plugin_id: str) -> Installed:
    """Make ``previous`` current again (and the current one previous)."""
    raise NotImplementedError


def uninstall(paths: StorePaths, plugin_id: str, *, tombstone: bool = True) -> None:
    """Remove every environment of ``plugin_id`` and (by default) leave a tombstone."""
    raise NotImplementedError


def cleanup(paths: StorePaths) -> list[str]:
    """Remove leftovers of interrupted operations; returns what was removed."""
    raise NotImplementedError
