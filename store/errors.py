"""The store's errors: each message says what went wrong and what to do about it.

Every failure of a store operation is a :class:`StoreError` (or a subclass), so the CLI
prints one line and exits 1, and the reconciler records it; nothing else escapes an
operation except ``KeyboardInterrupt``. Subclasses let callers tell kinds apart without
parsing messages (the reconciler backs off :class:`Incompatible` and :class:`WheelRefused`
for good, but retries :class:`DownloadError`).
"""

from __future__ import annotations

__all__ = [
    "Blocked",
    "DownloadError",
    "Incompatible",
    "InstallError",
    "NotInstalled",
    "RegistryError",
    "StoreError",
    "StoreLocked",
    "VerifyError",
    "WheelRefused",
]


class StoreError(Exception):
    """A store operation failed; installed state is what it was before (or converges)."""


class RegistryError(StoreError):
    """A registry index could not be fetched or is malformed as a whole."""


class DownloadError(StoreError):
    """A download failed: HTTP error, timeout, truncated body, size cap, hash mismatch."""


class WheelRefused(StoreError):
    """The file is not a wheel ledhost accepts (sdist, corrupt, escaping paths, shadowing)."""


class Incompatible(StoreError):
    """The plugin's host-version specifier excludes this ledhost."""


class Blocked(StoreError):
    """The registry's blocklist disables this plugin version."""


class NotInstalled(StoreError):
    """The operation needs an installed plugin (or a previous version) that is not there."""


class InstallError(StoreError):
    """The installer (pip or uv) failed to build the environment."""


class VerifyError(StoreError):
    """The new environment is complete but a real worker cannot load the plugin from it."""


class StoreLocked(StoreError):
    """Another store operation holds the lock."""
