"""From a ``[store.plugins]`` entry to what the installer takes, for the reconciler.

The installer (:mod:`store.operations`) takes one exact version, or none for the newest;
an entry may ask for a range (``"==1.2.*"``, ``">=2,<3"``). Here:

- :func:`resolve` reads each entry's source (:func:`store.sources.parse_source`); an
  unreadable one keeps its error for the plan's skip;
- :func:`pick_version` turns a range into the newest registry version in it that this
  ledhost can run and the registry does not block (:func:`store.resolve.pick_version`
  decides each candidate, so the rules live in one place); for ``pypi:`` only an exact
  version is passed on (pip would need the range in the requirement, which
  :class:`~store.sources.Source` does not carry), and :func:`store.apply.apply` checks the
  version installed against the entry afterwards, as it does for every source;
- :func:`registry_revision` fingerprints the registries' content, so a failure that will
  not heal by itself (incompatible, blocked) is tried again once the registry changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from config.desired import REGISTRY, DesiredPlugin
from store.errors import Blocked, Incompatible, StoreError
from store.layout import StorePaths
from store.reconciler import Desired
from store.registry import load_catalog
from store.resolve import host_version
from store.resolve import pick_version as pick_one
from store.settings import StoreSettings
from store.sources import parse_source

__all__ = ["NotOffered", "exact_version", "pick_version", "registry_revision", "resolve"]


class NotOffered(StoreError):
    """The registries (read, fresh) do not list the plugin: retrying will not help."""


def resolve(desired: Mapping[str, DesiredPlugin]) -> dict[str, Desired]:
    """Read each entry's source; an unreadable one keeps its error for the plan's skip."""
    found: dict[str, Desired] = {}
    for plugin_id, entry in desired.items():
        text = plugin_id if entry.source == REGISTRY else entry.source
        try:
            found[plugin_id] = Desired(entry, parse_source(text))
        except StoreError as exc:
            found[plugin_id] = Desired(entry, None, str(exc))
    return found


def exact_version(specifier: str) -> str | None:
    """``"1.2.0"`` for ``"==1.2.0"``; ``None`` for a range, a wildcard or nothing."""
    if specifier.startswith("==") and "," not in specifier and "*" not in specifier:
        return specifier[2:]
    return None


def pick_version(
    paths: StorePaths, settings: StoreSettings, plugin_id: str, specifier: str
) -> str | None:
    """The registry version to install for ``specifier``; ``None`` means the newest.

    Reads the registries (cached for ``[store] cache_ttl_seconds``, so the install that
    follows reads them from the cache).

    :raises NotOffered: the registries, all read and fresh, do not list the plugin.
    :raises Incompatible: no version in the registries is in the range, or every one in
        it is incompatible or blocked (each named).

    Both will not heal until the registry or the entry changes.
    """
    catalog = load_catalog(paths, settings)
    entry = catalog.plugins.get(plugin_id)
    if entry is None:
        if catalog.errors or catalog.stale:
            return exact_version(specifier)  # the install reports the registry's problem
        raise NotOffered(
            f"no plugin {plugin_id!r} in the configured registries "
            f"({', '.join(settings.registries) or 'none'}): check the id in [store.plugins], "
            "or add the registry that offers it to [store] registries"
        )
    if not specifier:
        return None
    wanted = SpecifierSet(specifier)
    refused: list[str] = []
    for candidate in sorted(entry.versions, key=_order, reverse=True):
        if not _contains(wanted, candidate.version):
            continue
        try:
            return pick_one(entry, catalog, candidate.version, host_version()).version
        except (Incompatible, Blocked) as exc:
            refused.append(str(exc))
    known = ", ".join(v.version for v in entry.versions) or "none"
    why = "; ".join(refused) if refused else f"the registries offer {known}"
    raise Incompatible(f"no version of {plugin_id} in {specifier} can be installed: {why}")


def registry_revision(paths: StorePaths, settings: StoreSettings) -> str | None:
    """A fingerprint of what the registries offer and block; ``None`` when one of them
    cannot be read (then nothing counts as changed)."""
    try:
        catalog = load_catalog(paths, settings)
    except StoreError:
        return None
    if catalog.errors:
        return None
    offered = sorted(
        (pid, sorted((v.version, v.url, v.requires_ledhost) for v in entry.versions))
        for pid, entry in catalog.plugins.items()
    )
    blocked = sorted((rule.id, rule.versions, rule.reason) for rule in catalog.blocked)
    text = json.dumps([offered, blocked])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _order(candidate: object) -> Version:
    try:
        return Version(str(getattr(candidate, "version", "")))
    except InvalidVersion:
        return Version("0")


def _contains(wanted: SpecifierSet, version: str) -> bool:
    try:
        return wanted.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False
