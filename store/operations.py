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

import logging
import os
import shutil
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from config.atomic import make_dirs
from store import envs, tombstones
from store.errors import Incompatible, NotInstalled, StoreError, VerifyError
from store.inventory import Installed, installed, read_marker, resolve_link
from store.layout import MARKER, StorePaths, check_id
from store.lock import store_lock
from store.registry import Catalog, load_catalog
from store.resolve import Fetched, fetch_source, host_version, pick_version
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

log = logging.getLogger(__name__)


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

    The reconciler passes ``explicit=False``: a tombstoned plugin is then refused with
    :class:`~store.errors.StoreError` (the reconciler should not have asked).
    """
    report = progress or (lambda event: None)
    with store_lock(paths):
        cleanup(paths)
        if source.kind == "registry":
            check_id(source.ref)
            _guard_tombstone(paths, source.ref, explicit)
        catalog = _catalog(paths, settings, source, report)
        report(ProgressEvent("download", message=str(source)))
        fetched = fetch_source(
            paths,
            settings,
            source,
            catalog,
            on_bytes=lambda done, total: report(ProgressEvent("download", done, total)),
        )
        try:
            _guard_tombstone(paths, fetched.plugin_id, explicit)
            result = _install_fetched(paths, settings, fetched, verify, report)
        finally:
            shutil.rmtree(fetched.wheel.parent, ignore_errors=True)
        if explicit:
            tombstones.clear(paths, fetched.plugin_id)
        report(ProgressEvent("done", message=f"{result.plugin_id} {result.version}"))
        return result


def _catalog(
    paths: StorePaths, settings: StoreSettings, source: Source, report: Progress
) -> Catalog | None:
    """The registries, for a registry source (other sources meet the blocklist of the
    cached indexes, :func:`store.registry.blocked_from_cache`)."""
    if source.kind != "registry":
        return None
    report(ProgressEvent("resolve", message="reading the registries"))
    return load_catalog(paths, settings)


def _guard_tombstone(paths: StorePaths, plugin_id: str, explicit: bool) -> None:
    if not explicit and plugin_id in tombstones.read(paths):
        raise StoreError(
            f"{plugin_id} was uninstalled by the user; only an explicit `ledhost install "
            f"{plugin_id}` installs it again"
        )


def _install_fetched(
    paths: StorePaths,
    settings: StoreSettings,
    fetched: Fetched,
    verify: Verify | None,
    report: Progress,
) -> Installed:
    plugin_id, version = fetched.plugin_id, fetched.info.version
    current = installed(paths).get(plugin_id)
    if current is not None and current.version == version and current.sha256 == fetched.sha256:
        return current  # the same wheel again: nothing to do
    env = paths.env_dir(plugin_id, version)
    if env.exists() or env.is_symlink():
        if current is not None and current.version == version:
            raise StoreError(
                f"{plugin_id} {version} is installed from another wheel (sha256 "
                f"{current.sha256}); uninstall it first to replace it with this one"
            )
        _remove(env)  # a kept or half-built env of this version: build it anew
    report(ProgressEvent("env", message=f"creating the environment for {plugin_id} {version}"))
    # Workers that dropped root pass through these folders (0711) into their env (0755).
    make_dirs(paths.plugin_dir(plugin_id), mode=0o711, parents_mode=0o711)
    try:
        envs.create_env(env)
        report(
            ProgressEvent("install", message=f"{settings.installer} install {fetched.wheel.name}")
        )
        envs.install_into(settings, env, str(fetched.wheel))
        envs.check_no_startup_code(env)
        envs.open_for_workers(env)
        shadowed = envs.shadows(env, fetched.info.distribution)
        core = sorted(set(shadowed) & envs.WORKER_CORE)
        if core:
            raise Incompatible(
                f"{plugin_id} {version} needs its own version of {', '.join(core)}, which "
                "a plugin worker itself runs on (ledhost's version is used there); not "
                "installed. Ask its author for a version that works with ledhost's"
            )
        entry = Installed(
            plugin_id=plugin_id,
            version=version,
            distribution=fetched.info.distribution,
            source=fetched.source,
            env=env,
            python=str(env / "bin" / "python"),
            site=envs.site_dir(env),
            previous=current.version if current is not None else None,
            shadows=shadowed,
            sha256=fetched.sha256,
        )
        if verify is not None:
            report(ProgressEvent("verify", message="loading it in a real worker"))
            try:
                verify(entry)
            except StoreError as exc:
                raise VerifyError(
                    f"{plugin_id} {version} does not load in a worker: {exc}"
                ) from None
        envs.write_marker(
            env,
            plugin_id=plugin_id,
            version=version,
            distribution=entry.distribution,
            source=entry.source,
            sha256=entry.sha256,
            shadowed=shadowed,
        )
    except BaseException:
        _remove(env)
        raise
    report(ProgressEvent("switch", message=f"{plugin_id} -> {version}"))
    if current is not None:
        _link(paths.previous(plugin_id), current.version)
    _link(paths.current(plugin_id), version)
    _prune(paths, plugin_id)
    result = read_marker(paths, plugin_id, version)
    assert result is not None
    return result


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
    with store_lock(paths):
        current = _installed(paths, plugin_id)
        kind, ref = current.source.kind, current.source.ref
        if kind == "registry":
            if version is None:
                catalog = load_catalog(paths, settings)
                entry = catalog.plugins.get(plugin_id)
                if entry is None:
                    raise NotInstalled(f"{plugin_id} is no longer in the configured registries")
                version = pick_version(entry, catalog, None, host_version()).version
            if version == current.version:
                return current
            source = Source("registry", plugin_id, version)
        elif kind == "pypi":
            source = Source("pypi", ref, version)
        else:
            if version is not None:
                raise StoreError(
                    f"{plugin_id} came from {ref}; to change its version install another "
                    "wheel URL or file"
                )
            source = Source(kind, ref, None, current.source.sha256 if kind == "url" else None)
        return install(paths, settings, source, verify=verify, progress=progress)


def rollback(paths: StorePaths, plugin_id: str) -> Installed:
    """Make ``previous`` current again (and the current one previous)."""
    with store_lock(paths):
        cleanup(paths)
        current = _installed(paths, plugin_id)
        if current.previous is None or read_marker(paths, plugin_id, current.previous) is None:
            raise NotInstalled(f"{plugin_id} has no previous version to roll back to")
        back = current.previous
        _link(paths.previous(plugin_id), current.version)
        _link(paths.current(plugin_id), back)
        result = read_marker(paths, plugin_id, back)
        assert result is not None
        return result


def uninstall(paths: StorePaths, plugin_id: str, *, tombstone: bool = True) -> None:
    """Remove every environment of ``plugin_id`` and (by default) leave a tombstone."""
    with store_lock(paths):
        current = _installed(paths, plugin_id)
        _remove(paths.plugin_dir(plugin_id))
        if tombstone:
            tombstones.add(paths, plugin_id, current.version)


def cleanup(paths: StorePaths) -> list[str]:
    """Remove leftovers of interrupted operations; returns what was removed.

    Version folders without a marker that neither ``current`` nor ``previous`` names,
    half-removed folders (``.trash-*``), unfinished downloads, links to nothing.
    """
    removed: list[str] = []
    with store_lock(paths):
        for leftover in leftovers(paths):
            _remove(leftover)
            removed.append(str(leftover))
    for item in removed:
        log.info("removed the leftover %s", item)
    return removed


def leftovers(paths: StorePaths) -> list[Path]:
    """What cleanup removes: downloads, trash, bad links, and version folders neither
    ``current`` nor ``previous`` names (half-built or superseded)."""
    found: list[Path] = []
    if paths.downloads.is_dir():
        found.extend(sorted(paths.downloads.iterdir()))
    if not paths.envs.is_dir():
        return found
    for plugin in sorted(paths.envs.iterdir()):
        try:
            check_id(plugin.name)
        except StoreError:
            if plugin.name.startswith(".trash-"):
                found.append(plugin)
            continue
        kept = {resolve_link(paths.current(plugin.name)), resolve_link(paths.previous(plugin.name))}
        try:
            items = sorted(plugin.iterdir())
        except OSError:  # not a folder (planted), or unreadable: nothing of ours to remove
            continue
        for item in items:
            if item.name in ("current", "previous"):
                version = resolve_link(item)
                if version is None or not (plugin / version / MARKER).exists():
                    found.append(item)  # bad or dangling: a switch never points at those
            elif item.name.startswith(".") or item.name not in kept:
                found.append(item)  # a temp link, a half-built or superseded version
    return found


def _installed(paths: StorePaths, plugin_id: str) -> Installed:
    current = installed(paths).get(check_id(plugin_id))
    if current is None:
        raise NotInstalled(f"{plugin_id} is not installed by the store (see `ledhost store list`)")
    return current


def _link(link: Path, version: str) -> None:
    """Point ``link`` at ``version`` atomically (a temp link renamed over it)."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(version, tmp)
    os.replace(tmp, link)
    fd = os.open(link.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(paths: StorePaths, plugin_id: str) -> None:
    """Remove versions other than current and previous."""
    kept = {resolve_link(paths.current(plugin_id)), resolve_link(paths.previous(plugin_id))}
    for item in paths.plugin_dir(plugin_id).iterdir():
        if item.name not in kept and item.name not in ("current", "previous"):
            _remove(item)


def _remove(path: Path) -> None:
    """Remove a file, link or folder; a folder is first renamed away (atomic), so a
    removal cut short leaves a ``.trash-*`` leftover, never a half env under its name."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    if not path.exists():
        return
    trash = _trash_path(path)
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _trash_path(path: Path) -> Path:
    """Where :func:`_remove` moves a folder before deleting it (under ``envs``)."""
    envs_dir = path.parent if path.parent.name == "envs" else path.parent.parent
    return envs_dir / f".trash-{path.parent.name}-{path.name}-{os.getpid()}-{id(path):x}"
