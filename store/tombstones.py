"""Tombstones: the plugins a user removed, so nothing reinstalls them behind their back.

``ledhost uninstall`` writes one (:func:`add`); an explicit ``ledhost install`` clears it
(:func:`clear`); the reconciler reads them (:func:`read`) and never installs a
tombstoned plugin from a stale config entry. Stored as ``state/tombstones.json``
(``{"schema": 1, "plugins": {id: {version, reason, at}}}``), written atomically; an
unreadable file is reported, never silently treated as empty (that would resurrect
every removed plugin).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from config.atomic import atomic_write, make_dirs
from store.errors import StoreError
from store.layout import StorePaths, check_id

__all__ = ["Tombstone", "add", "clear", "read"]

_NAME = "tombstones.json"


@dataclass(frozen=True)
class Tombstone:
    """One removed plugin: which version was removed, why, and when (UNIX time)."""

    plugin_id: str
    version: str
    reason: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "reason": self.reason, "at": self.at}


def read(paths: StorePaths) -> dict[str, Tombstone]:
    """Every tombstone, by plugin id; ``{}`` when none was ever written.

    :raises StoreError: the file exists but is not a tombstone file (say so; do not guess).
    """
    path = paths.state / _NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        entries = data["plugins"]
        if data.get("schema") != 1 or not isinstance(entries, dict):
            raise ValueError("schema")
        return {
            check_id(pid): Tombstone(pid, str(e["version"]), str(e["reason"]), float(e["at"]))
            for pid, e in entries.items()
        }
    except (ValueError, KeyError, TypeError, StoreError) as exc:
        raise StoreError(
            f"{path} is corrupt ({exc}); fix or remove it (removing it forgets which "
            "plugins were uninstalled)"
        ) from None


def add(
    paths: StorePaths,
    plugin_id: str,
    version: str,
    *,
    reason: str = "uninstalled",
    now: float | None = None,
) -> None:
    """Record that ``plugin_id`` (at ``version``) was removed."""
    current = read(paths)
    current[check_id(plugin_id)] = Tombstone(
        plugin_id, version, reason, time.time() if now is None else now
    )
    _write(paths, current)


def clear(paths: StorePaths, plugin_id: str) -> None:
    """Forget the tombstone of ``plugin_id`` (a user installs it again); no-op if none."""
    current = read(paths)
    if current.pop(check_id(plugin_id), None) is not None:
        _write(paths, current)


def _write(paths: StorePaths, tombstones: dict[str, Tombstone]) -> None:
    make_dirs(paths.state, mode=0o700, parents_mode=0o711)
    body = {"schema": 1, "plugins": {pid: t.to_dict() for pid, t in sorted(tombstones.items())}}
    atomic_write(paths.state / _NAME, json.dumps(body, indent=1) + "\n")
