"""Find plugins from entry-point metadata alone; the host never imports plugin code.

A plugin is an entry point in the ``ledhost.plugins`` group of some distribution. Its
name is the plugin id; its value is loaded only inside that plugin's worker. What the
plugin offers beyond metadata (modes, config schema) is learnt from a worker's hello.

Plugins the store installed (:mod:`store`) are found from its inventory alone
(:func:`store_plugins`): each runs with its own environment's site-packages on its path,
and with that environment's interpreter (spawned, never forked from the zygote) when the
environment holds its own version of a package ledhost has. Precedence for one id:
builtin, then store, then ledhost's environment, then extra paths; a store plugin wins
over a pip-installed one because the store's is the copy the user manages (installed,
updated, rolled back by ``ledhost``), the other the legacy way.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from config import is_valid_id
from sdk.hookspecs import ENTRY_POINT_GROUP, PERMISSIONS, PERMISSIONS_GROUP
from store.errors import StoreError
from store.inventory import Installed, installed
from store.layout import StorePaths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginSpec:
    """Where a plugin comes from and how to start its worker."""

    plugin_id: str
    #: The entry point's value, e.g. ``plugins_builtin.clock`` (never imported here).
    value: str
    distribution: str
    version: str
    #: ``"builtin"`` (ships with ledhost), ``"store"`` (installed by ``ledhost install``),
    #: ``"environment"`` (pip-installed beside it) or ``"path"`` (an extra plugin path).
    source: str
    #: The interpreter that runs its worker.
    python: str = sys.executable
    #: Extra ``sys.path`` entries the worker needs to import it.
    paths: tuple[str, ...] = ()
    #: The folder holding the distribution's metadata (a ``sys.path`` entry): with
    #: :attr:`distribution`, names exactly the distribution the worker must load, when
    #: several offer the same plugin id.
    location: str = ""
    #: Whether its distribution declares that it needs the network
    #: (:data:`sdk.hookspecs.PERMISSIONS_GROUP`); without, its worker gets none.
    network: bool = False
    #: Why this version must not be started (the registry's blocklist), or "".
    blocked: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.plugin_id,
            "entry_point": self.value,
            "distribution": self.distribution,
            "version": self.version,
            "source": self.source,
            "python": self.python,
            "paths": list(self.paths),
            "location": self.location,
            "network": self.network,
            "blocked": self.blocked,
        }


def discover(
    extra_paths: Iterable[str] = (),
    *,
    environment: bool = True,
    store: Path | None = None,
) -> dict[str, PluginSpec]:
    """Return every plugin found, keyed by id, in a stable order (builtins first).

    :param extra_paths: folders holding more distributions (``*.dist-info``).
    :param environment: also look in ledhost's own environment (``sys.path``); tests turn
        this off to see only the plugins they provide, plus the builtins.
    :param store: the store's root (:meth:`store.layout.StorePaths.for_data_dir`), whose
        installed plugins are added; ``None``: none.
    """
    found: dict[str, PluginSpec] = {}
    if store is not None:
        found.update(store_plugins(store))
    extra = tuple(str(p) for p in extra_paths)
    sources: list[tuple[str, list[str] | None]] = [("environment", None)]
    if extra:
        sources.append(("path", list(extra)))
    for source, path in sources:
        dists = (
            importlib.metadata.distributions(path=path)
            if path
            else importlib.metadata.distributions()
        )
        for dist in dists:
            # Entry points first: a distribution offering no plugin is passed over without
            # parsing its METADATA (numpy's alone is ~50 KiB): ~15 ms of every start with
            # ~55 distributions installed (issue 15).
            entry_points = dist.entry_points
            if not any(ep.group == ENTRY_POINT_GROUP for ep in entry_points):
                continue
            # One parse of METADATA for the distribution: ``dist.version`` parses it again
            # at every call, and ledhost's own offers ~16 plugins (~8 ms, issue 15).
            metadata = dist.metadata
            name = metadata["Name"] or "?"
            version = metadata["Version"]
            is_builtin = _normalise(name) == "ledhost"
            if source == "environment" and not environment and not is_builtin:
                continue
            granted = _permissions(entry_points, name)
            for ep in entry_points:
                if ep.group != ENTRY_POINT_GROUP:
                    continue
                spec = _make_spec(
                    ep,
                    name,
                    version,
                    "builtin" if is_builtin else source,
                    extra if source == "path" else (),
                    os.path.abspath(str(dist.locate_file(""))),
                )
                if spec is None:
                    continue
                spec = replace(spec, network="network" in granted.get(spec.plugin_id, ()))
                if spec.source == "builtin" and found.get(spec.plugin_id, spec).source == "store":
                    log.warning("store plugin %r ignored: a builtin has that id", spec.plugin_id)
                    del found[spec.plugin_id]
                if spec.plugin_id in found:
                    other = found[spec.plugin_id]
                    if other.distribution != spec.distribution:
                        log.warning(
                            "plugin id %r is offered by %s and %s; using %s",
                            spec.plugin_id,
                            other.distribution,
                            spec.distribution,
                            other.distribution,
                        )
                    continue
                found[spec.plugin_id] = spec
    return dict(sorted(found.items(), key=lambda kv: (kv[1].source != "builtin", kv[0])))


def store_plugins(root: Path) -> dict[str, PluginSpec]:
    """The store's installed plugins (its inventory, no network), blocked ones marked."""
    paths = StorePaths(root)
    if not paths.envs.is_dir():
        return {}  # nothing installed: skip importing the registry code (~20 ms)
    from store.registry import blocked_from_cache, is_blocked

    try:
        blocked = blocked_from_cache(paths)
        entries = installed(paths)
    except (OSError, StoreError) as exc:
        log.warning("cannot read the plugin store at %s: %s", root, exc)
        return {}
    specs: dict[str, PluginSpec] = {}
    for plugin_id, entry in entries.items():
        spec = installed_spec(entry, is_blocked(blocked, plugin_id, entry.version) or "")
        if spec is not None:
            specs[plugin_id] = spec
    return specs


def installed_spec(entry: Installed, blocked: str = "") -> PluginSpec | None:
    """How to start the worker of a store-installed plugin (``None``: its environment
    lost the entry point)."""
    site = str(entry.site)
    value = ""
    granted: frozenset[str] = frozenset()
    for dist in importlib.metadata.distributions(path=[site]):
        if _normalise(dist.metadata["Name"] or "") != _normalise(entry.distribution):
            continue
        value = next(
            (
                ep.value
                for ep in dist.entry_points
                if ep.group == ENTRY_POINT_GROUP and ep.name == entry.plugin_id
            ),
            "",
        )
        granted = _permissions(dist.entry_points, entry.distribution).get(entry.plugin_id, granted)
    if not value:
        log.warning("store plugin %r: %s lost its entry point", entry.plugin_id, site)
        return None
    return PluginSpec(
        entry.plugin_id,
        value,
        entry.distribution,
        entry.version,
        "store",
        entry.python if entry.shadows else sys.executable,
        (site,),
        site,
        network="network" in granted,
        blocked=blocked,
    )


def _make_spec(
    ep: importlib.metadata.EntryPoint,
    dist: str,
    version: str,
    source: str,
    paths: tuple[str, ...],
    location: str,
) -> PluginSpec | None:
    if not is_valid_id(ep.name):  # ids name folders, processes and URL segments
        log.warning(
            "ignoring plugin %r from %s: ids are 1-64 of a-z, 0-9, '_', '-' starting with a letter",
            ep.name,
            dist,
        )
        return None
    return PluginSpec(ep.name, ep.value, dist, version, source, sys.executable, paths, location)


def _permissions(
    entry_points: importlib.metadata.EntryPoints, dist: str
) -> dict[str, frozenset[str]]:
    """What each plugin of one distribution declares it needs: ``{plugin id: {"network"}}``.

    Only the distribution's own declarations count (a plugin cannot be granted the network
    by another package); unknown permissions are ignored with a warning.
    """
    granted: dict[str, frozenset[str]] = {}
    for ep in entry_points:
        if ep.group != PERMISSIONS_GROUP:
            continue
        asked = frozenset(p.strip() for p in ep.value.split(",") if p.strip())
        unknown = asked - PERMISSIONS
        if unknown:
            log.warning(
                "plugin %r from %s asks for unknown permissions %s; known: %s",
                ep.name,
                dist,
                ", ".join(sorted(unknown)),
                ", ".join(sorted(PERMISSIONS)),
            )
        granted[ep.name] = granted.get(ep.name, frozenset()) | (asked & PERMISSIONS)
    return granted


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
