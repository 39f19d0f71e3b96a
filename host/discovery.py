"""Find plugins from entry-point metadata alone; the host never imports plugin code.

A plugin is an entry point in the ``ledhost.plugins`` group of some distribution. Its
name is the plugin id; its value is loaded only inside that plugin's worker. What the
plugin offers beyond metadata (modes, config schema) is learnt from a worker's hello.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace

from config import is_valid_id
from sdk.hookspecs import ENTRY_POINT_GROUP, PERMISSIONS, PERMISSIONS_GROUP

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginSpec:
    """Where a plugin comes from and how to start its worker."""

    plugin_id: str
    #: The entry point's value, e.g. ``plugins_builtin.clock`` (never imported here).
    value: str
    distribution: str
    version: str
    #: ``"builtin"`` (ships with ledhost), ``"environment"`` (pip-installed beside it) or
    #: ``"path"`` (found in an extra plugin path).
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
        }


def discover(extra_paths: Iterable[str] = (), *, environment: bool = True) -> dict[str, PluginSpec]:
    """Return every plugin found, keyed by id, in a stable order (builtins first).

    :param extra_paths: folders holding more distributions (``*.dist-info``).
    :param environment: also look in ledhost's own environment (``sys.path``); tests turn
        this off to see only the plugins they provide, plus the builtins.
    """
    found: dict[str, PluginSpec] = {}
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
            name = dist.metadata["Name"] or "?"
            is_builtin = _normalise(name) == "ledhost"
            if source == "environment" and not environment and not is_builtin:
                continue
            granted = _permissions(dist.entry_points, name)
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP:
                    continue
                spec = _make_spec(
                    ep,
                    name,
                    dist.version,
                    "builtin" if is_builtin else source,
                    extra if source == "path" else (),
                    os.path.abspath(str(dist.locate_file(""))),
                )
                if spec is None:
                    continue
                spec = replace(spec, network="network" in granted.get(spec.plugin_id, ()))
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
