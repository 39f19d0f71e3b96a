"""What the store has installed, read from the disk alone (no registry, no network).

An environment counts only once its marker file (:data:`store.layout.MARKER`, JSON,
written last by :mod:`store.envs`) is there and ``envs/<id>/current`` points at it: a
half-built environment left by a killed installer is invisible here and removed by the
next operation (:func:`store.operations.cleanup`).

Marker fields: ``id``, ``version``, ``distribution``, ``source`` (:meth:`Source.to_dict`),
``sha256`` (of the wheel, or null), ``installed_at`` (UNIX time), ``site`` (the env's
site-packages, relative to the env), ``shadows`` (names of distributions ledhost itself
has that the env holds in a version of its own: its worker must be spawned with the env's
interpreter, never forked from ledhost's zygote).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.errors import StoreError
from store.layout import MARKER, StorePaths, check_id, check_version
from store.sources import Source

__all__ = ["Installed", "installed", "read_marker", "resolve_link"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Installed:
    """One installed plugin: its current version's environment."""

    plugin_id: str
    version: str
    distribution: str
    source: Source
    #: The version's environment folder (``envs/<id>/<version>``).
    env: Path
    #: ``<env>/bin/python``.
    python: str
    #: The env's site-packages: the worker's extra ``sys.path`` entry.
    site: Path
    #: The version kept for rollback, if any.
    previous: str | None
    #: Distributions ledhost has that this env holds in a version of its own.
    shadows: tuple[str, ...] = ()
    sha256: str | None = None
    installed_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.plugin_id,
            "version": self.version,
            "distribution": self.distribution,
            "source": self.source.to_dict(),
            "env": str(self.env),
            "python": self.python,
            "site": str(self.site),
            "previous": self.previous,
            "shadows": list(self.shadows),
            "sha256": self.sha256,
            "installed_at": self.installed_at,
        }


def resolve_link(link: Path) -> str | None:
    """The version a ``current``/``previous`` link names, or ``None`` (absent or bad)."""
    try:
        target = os.readlink(link)
    except OSError:
        return None
    try:
        return check_version(target)  # a bare version, never a path elsewhere
    except StoreError:
        log.warning("ignoring %s: it points at %r, not a version folder", link, target)
        return None


def read_marker(paths: StorePaths, plugin_id: str, version: str) -> Installed | None:
    """The installed version ``version`` of ``plugin_id``, or ``None`` if incomplete."""
    env = paths.env_dir(plugin_id, version)
    try:
        data = json.loads((env / MARKER).read_text("utf-8"))
        if data["id"] != plugin_id or data["version"] != version:
            raise ValueError("names another plugin or version")
        site = env / str(data["site"])
        if not site.resolve().is_relative_to(env.resolve()):
            raise ValueError("site outside the env")
        return Installed(
            plugin_id=plugin_id,
            version=version,
            distribution=str(data["distribution"]),
            source=Source.from_dict(data["source"]),
            env=env,
            python=str(env / "bin" / "python"),
            site=site,
            previous=resolve_link(paths.previous(plugin_id)),
            shadows=tuple(str(s) for s in data.get("shadows", ())),
            sha256=data.get("sha256"),
            installed_at=float(data.get("installed_at", 0.0)),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, StoreError) as exc:
        log.warning("ignoring %s: its marker is unreadable (%s)", env, exc)
        return None


def installed(paths: StorePaths) -> dict[str, Installed]:
    """Every plugin with a complete current environment, by id, sorted."""
    found: dict[str, Installed] = {}
    try:
        names = sorted(os.listdir(paths.envs))
    except FileNotFoundError:
        return found
    for name in names:
        try:
            plugin_id = check_id(name)
        except StoreError:
            continue  # not ours (a temp folder, or planted): never a path we trust
        version = resolve_link(paths.current(plugin_id))
        if version is None:
            continue
        entry = read_marker(paths, plugin_id, version)
        if entry is not None:
            found[plugin_id] = entry
    return found
