"""From a :class:`~store.sources.Source` to a checked wheel file in the cache.

Registry sources are checked against the host version and the blocklist *before* any
download (the index says both); every wheel is then hash-checked (when a hash is known)
and inspected (:func:`store.wheels.inspect_wheel`) before anything is installed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from packaging.version import Version

from config.atomic import make_dirs
from sdk.hookspecs import ENTRY_POINT_GROUP
from store.download import Downloaded, OnBytes, fetch_file
from store.errors import Blocked, DownloadError, Incompatible, NotInstalled, StoreError
from store.layout import StorePaths, check_version
from store.registry import Catalog, PluginEntry, VersionEntry, blocked_from_cache, is_blocked
from store.settings import StoreSettings
from store.sources import Source
from store.wheels import WheelInfo, check_compatible, inspect_wheel

__all__ = ["Fetched", "fetch_source", "host_version", "pick_version"]


def host_version() -> str:
    """This ledhost's version (its distribution's metadata)."""
    try:
        return importlib.metadata.version("ledhost")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def builtin_ids() -> frozenset[str]:
    """The ids of the plugins ledhost itself ships (its distribution's entry points)."""
    try:
        eps = importlib.metadata.distribution("ledhost").entry_points
    except importlib.metadata.PackageNotFoundError:
        return frozenset()
    return frozenset(ep.name for ep in eps if ep.group == ENTRY_POINT_GROUP)


@dataclass(frozen=True)
class Fetched:
    """A downloaded, checked wheel and what it declares."""

    wheel: Path
    info: WheelInfo
    plugin_id: str
    sha256: str
    #: The source as recorded in the marker (with version and hash filled in).
    source: Source


def pick_version(
    entry: PluginEntry, catalog: Catalog, version: str | None, host: str
) -> VersionEntry:
    """The version to install: ``version`` if given, else the newest this host can run
    and the registry does not block.

    :raises Incompatible: / :raises Blocked: / :raises StoreError: naming why.
    """
    if version is not None:
        for candidate in entry.versions:
            if Version(candidate.version) == Version(version):
                check_compatible(
                    f"{entry.id} {candidate.version}", candidate.requires_ledhost, host
                )
                reason = catalog.blocked_reason(entry.id, candidate.version)
                if reason is not None:
                    raise Blocked(f"{entry.id} {candidate.version} is blocked: {reason}")
                return candidate
        known = ", ".join(v.version for v in entry.versions)
        raise StoreError(f"{entry.id} has no version {version} (known: {known})")
    refused: list[str] = []
    for candidate in entry.versions:
        reason = catalog.blocked_reason(entry.id, candidate.version)
        if reason is not None:
            refused.append(f"{candidate.version} blocked: {reason}")
            continue
        try:
            check_compatible(entry.id, candidate.requires_ledhost, host)
        except Incompatible:
            refused.append(f"{candidate.version} needs ledhost {candidate.requires_ledhost}")
            continue
        return candidate
    raise Incompatible(f"no version of {entry.id} fits this ledhost {host}: " + "; ".join(refused))


def fetch_source(
    paths: StorePaths,
    settings: StoreSettings,
    source: Source,
    catalog: Catalog | None,
    on_bytes: OnBytes | None = None,
) -> Fetched:
    """Download (or copy) and check the wheel ``source`` names."""
    folder = Path(tempfile.mkdtemp(prefix="fetch-", dir=_downloads(paths)))
    try:
        return _fetch(paths, settings, source, catalog, on_bytes, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _fetch(
    paths: StorePaths,
    settings: StoreSettings,
    source: Source,
    catalog: Catalog | None,
    on_bytes: OnBytes | None,
    folder: Path,
) -> Fetched:
    host = host_version()

    def download(url: str, sha256: str | None) -> Downloaded:
        return fetch_file(
            url,
            folder,
            _name(url),
            max_bytes=settings.max_download_bytes,
            timeout=settings.timeout_seconds,
            sha256=sha256,
            on_bytes=on_bytes,
        )

    if source.kind == "registry":
        if catalog is None or source.ref not in catalog.plugins:
            where = "; ".join(catalog.errors) if catalog and catalog.errors else ""
            raise NotInstalled(
                f"no plugin {source.ref!r} in the configured registries"
                + (f" ({where})" if where else "")
            )
        entry = catalog.plugins[source.ref]
        chosen = pick_version(entry, catalog, source.version, host)
        got = download(chosen.url, chosen.sha256)
        recorded = Source("registry", entry.id, chosen.version, got.sha256)
    elif source.kind in ("url", "file"):
        got = download(source.ref, source.sha256)
        recorded = Source(source.kind, source.ref, None, source.sha256)
    elif source.kind == "pypi":
        wheel = _pip_download(settings, source, folder)
        got = Downloaded(wheel, _sha256(wheel), wheel.stat().st_size)
        recorded = Source("pypi", source.ref, None, None)
    else:
        raise StoreError(
            f"{source.ref} was installed with pip into ledhost's own environment; the store "
            "does not change it (pip uninstall it, then ledhost install it)"
        )
    info = inspect_wheel(got.path)
    if len(info.plugins) != 1:
        raise StoreError(
            f"{info.distribution} offers {len(info.plugins)} plugins "
            f"({', '.join(sorted(info.plugins))}); the store installs one plugin per wheel"
        )
    plugin_id = next(iter(info.plugins))
    if plugin_id in builtin_ids():
        raise StoreError(
            f"{info.distribution} offers plugin {plugin_id!r}, the id of one of ledhost's "
            "builtin plugins; not installed"
        )
    if source.kind == "registry" and plugin_id != source.ref:
        raise StoreError(
            f"the registry's wheel for {source.ref!r} offers plugin {plugin_id!r}; not installed"
        )
    check_version(info.version)
    check_compatible(f"{plugin_id} {info.version}", info.requires_ledhost, host)
    reason = (catalog.blocked_reason(plugin_id, info.version) if catalog else None) or is_blocked(
        blocked_from_cache(paths), plugin_id, info.version
    )
    if reason is not None:
        raise Blocked(f"{plugin_id} {info.version} is blocked: {reason}")
    version = recorded.version or info.version
    recorded = Source(recorded.kind, recorded.ref, version, got.sha256)
    return Fetched(got.path, info, plugin_id, got.sha256, recorded)


def _downloads(paths: StorePaths) -> Path:
    make_dirs(paths.downloads, mode=0o700, parents_mode=0o711)
    return paths.downloads


def _name(url: str) -> str:
    """A wheel's file name from its URL (pip needs the real name to read its tags)."""
    name = Path(urlsplit(url).path).name
    if not name or name.startswith("."):
        raise DownloadError(f"{url}: no file name")
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pip_download(settings: StoreSettings, source: Source, folder: Path) -> Path:
    """Let pip find a wheel (never an sdist) of ``pypi:NAME`` without installing it."""
    spec = source.ref + (f"=={source.version}" if source.version else "")
    index = ["--index-url", settings.index_url] if settings.index_url else ["--no-index"]
    for link in settings.find_links:
        index += ["--find-links", link]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        "-d",
        str(folder),
        *index,
        spec,
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=600
    )
    wheels = sorted(folder.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        tail = (result.stderr or result.stdout).strip()[-800:]
        raise DownloadError(f"pip found no wheel for {spec}: {tail}")
    return wheels[0]
