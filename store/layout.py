"""Every path of the store in one place: ``root = <data_dir>/store`` (see :mod:`store`).

::

    root/envs/<id>/<version>/    one isolated environment per plugin version
    root/envs/<id>/current       symlink -> <version> (what discovery runs)
    root/envs/<id>/previous      symlink -> <version> (kept for one-step rollback)
    root/state/                  tombstones.json, history.jsonl, failures.json, lock
    root/cache/                  registry index cache, downloads

A plugin id becomes a path only after :func:`config.is_valid_id` accepted it; a version
only after :func:`check_version` did (a PEP 440 version in its normal form, which has no
``/`` and no leading ``.``). Anything else raises :class:`~store.errors.StoreError` naming
it: ids and versions come from registries, wheels and users, all untrusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from config import is_valid_id
from store.errors import StoreError

__all__ = ["MARKER", "StorePaths", "check_id", "check_version"]

#: Written last into an environment: without it the environment is a leftover.
MARKER: Final = ".ledhost-complete"
# PEP 440 public and local versions in normal form: digits, letters, '.', '+', '!'.
_VERSION: Final = re.compile(r"[0-9][0-9A-Za-z.+!]{0,63}")


def check_id(plugin_id: object) -> str:
    """Return ``plugin_id`` if it may name a folder, else raise naming it."""
    if not is_valid_id(plugin_id):
        raise StoreError(
            f"invalid plugin id {plugin_id!r}: ids are 1-64 of a-z, 0-9, '_', '-' "
            "starting with a letter"
        )
    assert isinstance(plugin_id, str)
    return plugin_id


def check_version(version: object) -> str:
    """Return ``version`` if it is a plain PEP 440 version that may name a folder."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version) or ".." in version:
        raise StoreError(f"invalid version {version!r}: expected a version like 1.2.0")
    return version


@dataclass(frozen=True)
class StorePaths:
    """The store's folders under ``root`` (``<data_dir>/store``)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))  # a str root works too

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> StorePaths:
        return cls(Path(data_dir) / "store")

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def downloads(self) -> Path:
        return self.cache / "downloads"

    @property
    def lock(self) -> Path:
        return self.state / "lock"

    def plugin_dir(self, plugin_id: str) -> Path:
        return self.envs / check_id(plugin_id)

    def env_dir(self, plugin_id: str, version: str) -> Path:
        return self.plugin_dir(plugin_id) / check_version(version)

    def current(self, plugin_id: str) -> Path:
        return self.plugin_dir(plugin_id) / "current"

    def previous(self, plugin_id: str) -> Path:
        return self.plugin_dir(plugin_id) / "previous"
