"""Registry indexes: one JSON file per registry, one request to fetch, cached on disk.

Schema 1 (see docs/store.md)::

    {"schema": 1,
     "plugins": [{"id", "name", "description", "author", "homepage", "category", "tags",
                  "screenshot",
                  "versions": [{"version", "url", "sha256", "size", "requires_ledhost",
                                "notes"}]}],
     "blocked": [{"id", "versions" (a PEP 440 specifier, "" for all), "reason"}]}

``url`` may be relative to the index. Each entry is checked on its own: a malformed one
is reported (naming the entry and the field) and skipped, the rest stays usable. The
index is cached (``cache/registry/<hash of url>.json``) with the time it was fetched; a
fresh cache (``cache_ttl_seconds``) answers without the network, and a stale one answers
when the network fails, marked :attr:`Index.stale` with the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from config import is_valid_id
from config.atomic import atomic_write, make_dirs
from store.download import fetch_bytes
from store.errors import RegistryError, StoreError
from store.layout import StorePaths, check_version
from store.settings import StoreSettings

__all__ = [
    "MAX_INDEX_BYTES",
    "BlockRule",
    "Catalog",
    "Index",
    "PluginEntry",
    "VersionEntry",
    "blocked_from_cache",
    "load_catalog",
    "load_index",
    "parse_index",
]

#: Seconds to wait for a registry when a cached copy could answer instead.
STALE_TIMEOUT: Final = 3.0
#: An index larger than this is refused (200 plugins take ~100 KB).
MAX_INDEX_BYTES: Final = 8 * 1024 * 1024
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_TEXT_FIELDS: Final = ("name", "description", "author", "homepage", "category", "screenshot")


@dataclass(frozen=True)
class VersionEntry:
    version: str
    #: Absolute URL of the wheel.
    url: str
    sha256: str
    size: int
    requires_ledhost: str
    notes: str


@dataclass(frozen=True)
class PluginEntry:
    id: str
    name: str
    description: str
    author: str
    homepage: str
    category: str
    tags: tuple[str, ...]
    screenshot: str
    #: Newest first.
    versions: tuple[VersionEntry, ...]
    #: The index it came from.
    registry: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "author": self.author,
            "homepage": self.homepage,
            "category": self.category,
            "tags": list(self.tags),
            "screenshot": self.screenshot,
            "versions": [v.__dict__ for v in self.versions],
            "registry": self.registry,
        }


@dataclass(frozen=True)
class BlockRule:
    id: str
    versions: str
    reason: str

    def matches(self, plugin_id: str, version: str) -> bool:
        if plugin_id != self.id:
            return False
        try:
            return SpecifierSet(self.versions).contains(Version(version), prereleases=True)
        except InvalidVersion:
            return True  # a version we cannot compare: treat as blocked, safer


@dataclass
class Index:
    url: str
    plugins: dict[str, PluginEntry]
    blocked: list[BlockRule]
    #: One line per skipped entry: which entry, which field.
    problems: list[str] = field(default_factory=list)
    fetched_at: float = 0.0
    #: Why the cached copy is served, when the network failed ("" when fresh).
    stale: str = ""


def parse_index(url: str, raw: bytes) -> Index:
    """Check an index; malformed entries become :attr:`Index.problems`.

    :raises RegistryError: the document as a whole is unusable (not JSON, wrong schema).
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"registry {url}: not valid JSON ({exc}); truncated?") from None
    if not isinstance(data, dict) or data.get("schema") != 1:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise RegistryError(f"registry {url}: unsupported schema {got!r} (this ledhost reads 1)")
    plugins_raw, blocked_raw = data.get("plugins", []), data.get("blocked", [])
    if not isinstance(plugins_raw, list) or not isinstance(blocked_raw, list):
        raise RegistryError(f"registry {url}: 'plugins' and 'blocked' must be lists")
    index = Index(url, {}, [])
    remote = urlsplit(url).scheme in ("http", "https")
    for n, entry in enumerate(plugins_raw):
        label = f"plugins[{n}]" + (f" ({entry.get('id')!r})" if isinstance(entry, dict) else "")
        try:
            plugin = _plugin(url, entry, remote)
        except _Bad as exc:
            index.problems.append(f"registry {url}: {label}: {exc}")
            continue
        if plugin.id in index.plugins:
            index.problems.append(f"registry {url}: {label}: duplicate id, ignored")
            continue
        index.plugins[plugin.id] = plugin
    for n, rule in enumerate(blocked_raw):
        try:
            index.blocked.append(_block(rule))
        except _Bad as exc:
            index.problems.append(f"registry {url}: blocked[{n}]: {exc}")
    return index


class _Bad(Exception):
    pass


def _text(entry: dict[str, Any], key: str, default: str | None = "") -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise _Bad(f"field {key!r} must be a string")
    return value


def _plugin(url: str, entry: object, remote: bool) -> PluginEntry:
    if not isinstance(entry, dict):
        raise _Bad("must be a table")
    plugin_id = entry.get("id")
    if not is_valid_id(plugin_id):
        raise _Bad(f"field 'id' {plugin_id!r} is not a valid plugin id")
    texts = {key: _text(entry, key) for key in _TEXT_FIELDS}
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _Bad("field 'tags' must be a list of strings")
    raw_versions = entry.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        raise _Bad("field 'versions' must be a non-empty list")
    versions = [_version(url, v, n, remote) for n, v in enumerate(raw_versions)]
    versions.sort(key=lambda v: Version(v.version), reverse=True)
    return PluginEntry(
        id=str(plugin_id), tags=tuple(tags), versions=tuple(versions), registry=url, **texts
    )


def _version(url: str, entry: object, n: int, remote: bool) -> VersionEntry:
    where = f"versions[{n}]"
    if not isinstance(entry, dict):
        raise _Bad(f"{where} must be a table")
    try:
        version = check_version(entry.get("version"))
        Version(version)
    except (StoreError, InvalidVersion):
        raise _Bad(f"{where}: field 'version' {entry.get('version')!r} is invalid") from None
    wheel = urljoin(url, _text(entry, "url"))
    scheme = urlsplit(wheel).scheme
    if scheme not in ("http", "https") and (remote or scheme not in ("", "file")):
        raise _Bad(f"{where}: field 'url' {wheel!r} must be http(s)")
    if not wheel.endswith(".whl"):
        raise _Bad(f"{where}: field 'url' must name a wheel (.whl)")
    sha = _text(entry, "sha256").lower()
    if not _SHA256.fullmatch(sha):
        raise _Bad(f"{where}: field 'sha256' must be 64 hex digits")
    size = entry.get("size", 0)
    if not isinstance(size, int) or size < 0:
        raise _Bad(f"{where}: field 'size' must be a byte count")
    spec = _text(entry, "requires_ledhost")
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        raise _Bad(f"{where}: field 'requires_ledhost' {spec!r} is not a specifier") from None
    return VersionEntry(version, wheel, sha, size, spec, _text(entry, "notes"))


def _block(rule: object) -> BlockRule:
    if not isinstance(rule, dict) or not is_valid_id(rule.get("id")):
        raise _Bad("needs a valid 'id'")
    spec = _text(rule, "versions")
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        raise _Bad(f"field 'versions' {spec!r} is not a specifier") from None
    return BlockRule(str(rule["id"]), spec, _text(rule, "reason") or "blocked by the registry")


def _cache_file(paths: StorePaths, url: str) -> Path:
    return paths.cache / "registry" / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".json")


def _read_cache(path: Path) -> tuple[str, float, bytes] | None:
    try:
        data = json.loads(path.read_bytes())
        return str(data["url"]), float(data["fetched_at"]), str(data["body"]).encode()
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_index(
    paths: StorePaths,
    url: str,
    settings: StoreSettings,
    *,
    now: float | None = None,
    refresh: bool = False,
) -> Index:
    """The index at ``url``: from a fresh cache, else fetched (one request), else stale.

    :raises RegistryError: fetching failed and there is no cached copy, or the fetched
        document is unusable and there is no cached copy.
    """
    now = time.time() if now is None else now
    cache = _cache_file(paths, url)
    cached = _read_cache(cache)
    if cached is not None and not refresh and 0 <= now - cached[1] < settings.cache_ttl_seconds:
        index = parse_index(url, cached[2])
        index.fetched_at = cached[1]
        return index
    try:
        # With a copy to fall back on, a registry that does not answer is not waited for
        # long: the list shows (marked stale) instead of hanging on a dead network.
        timeout = (
            settings.timeout_seconds
            if cached is None
            else min(settings.timeout_seconds, STALE_TIMEOUT)
        )
        raw = fetch_bytes(url, max_bytes=MAX_INDEX_BYTES, timeout=timeout)
        index = parse_index(url, raw)
    except StoreError as exc:
        if cached is None:
            raise RegistryError(str(exc)) from None
        index = parse_index(url, cached[2])
        index.fetched_at = cached[1]
        age = max(0.0, now - cached[1])
        index.stale = f"{exc}; showing the copy cached {age:.0f} s ago"
        return index
    make_dirs(cache.parent, mode=0o700, parents_mode=0o711)
    body = {"url": url, "fetched_at": now, "body": raw.decode("utf-8")}
    atomic_write(cache, json.dumps(body))
    index.fetched_at = now
    return index


@dataclass
class Catalog:
    """Every configured registry merged: the first registry offering an id wins."""

    plugins: dict[str, PluginEntry]
    blocked: list[BlockRule]
    problems: list[str]
    #: Registries served from a stale cache, with why.
    stale: list[str]
    #: Registries that failed with no cache.
    errors: list[str]

    def blocked_reason(self, plugin_id: str, version: str) -> str | None:
        return _blocked_reason(self.blocked, plugin_id, version)


def _blocked_reason(rules: Iterable[BlockRule], plugin_id: str, version: str) -> str | None:
    for rule in rules:
        if rule.matches(plugin_id, version):
            return rule.reason
    return None


def load_catalog(
    paths: StorePaths, settings: StoreSettings, *, now: float | None = None, refresh: bool = False
) -> Catalog:
    """Load every registry of ``settings`` (one request each, at most)."""
    catalog = Catalog({}, [], [], [], [])
    for url in settings.registries:
        try:
            index = load_index(paths, url, settings, now=now, refresh=refresh)
        except RegistryError as exc:
            catalog.errors.append(str(exc))
            continue
        catalog.problems.extend(index.problems)
        if index.stale:
            catalog.stale.append(index.stale)
        catalog.blocked.extend(index.blocked)
        for plugin_id, entry in index.plugins.items():
            catalog.plugins.setdefault(plugin_id, entry)
    return catalog


def blocked_from_cache(paths: StorePaths) -> dict[tuple[str, str], str]:
    """Block rules from every cached index, without the network: discovery asks this.

    Returns a matcher table for :func:`is_blocked`: ``{(id, specifier): reason}``.
    """
    rules: dict[tuple[str, str], str] = {}
    folder = paths.cache / "registry"
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return rules
    for path in files:
        cached = _read_cache(path)
        if cached is None:
            continue
        try:
            index = parse_index(cached[0], cached[2])
        except RegistryError:
            continue
        for rule in index.blocked:
            rules.setdefault((rule.id, rule.versions), rule.reason)
    return rules


def is_blocked(rules: dict[tuple[str, str], str], plugin_id: str, version: str) -> str | None:
    """The reason ``plugin_id`` ``version`` is blocked in ``rules``, or ``None``."""
    return _blocked_reason(
        (BlockRule(pid, spec, reason) for (pid, spec), reason in rules.items()),
        plugin_id,
        version,
    )
