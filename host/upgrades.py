"""Notice that an installed plugin changed on disk, and restart its workers.

``pip install -U`` of a plugin while the host runs used to have no effect and no log
line until a restart: the running workers keep the code they imported. Here the host
remembers, per running third-party plugin, its distribution's metadata folder and the
stamp of its ``RECORD`` (pip rewrites it on every install, upgrade or reinstall, and
removes the folder of a replaced version). Every :data:`CHECK_EVERY` seconds it stats
those few files -- no import, no full rescan -- and only when one changed does it look
the plugins up again (:func:`host.discovery.discover`), restarting the instances of each
changed plugin with one line: ``plugin 'moon' updated 1.0 -> 1.1 (...): restarting``.

Builtins ship inside ledhost: a new ledhost needs a new host, not new workers.

A store plugin (:mod:`store`) keeps its old version's folder on update (for rollback),
so its stamp is also "gone" once the store's ``current`` link no longer names the
version the workers run: ``ledhost update``/``rollback`` restart them on the new one,
and ``ledhost uninstall`` stops them.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from host.discovery import PluginSpec, discover
from host.planning import plan_instances
from store.layout import StorePaths

if TYPE_CHECKING:
    from host.reconfigure import Reconfigurer

log = logging.getLogger("ledhost.host")

#: Seconds between two looks at the installed plugins' metadata.
CHECK_EVERY: Final = 5.0


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def dist_info(spec: PluginSpec) -> Path | None:
    """The ``*.dist-info`` folder of ``spec``'s distribution, or ``None`` if not found."""
    folder = Path(spec.location) if spec.location else None
    if folder is None or not folder.is_dir():
        return None
    if spec.source == "store" and not _store_current(folder):
        return None
    wanted = _normalise(spec.distribution)
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        if name.endswith(".dist-info"):
            dist, _, version = name[: -len(".dist-info")].rpartition("-")
            if _normalise(dist) == wanted and version == spec.version:
                return folder / name
    return None


def _store_current(site: Path) -> bool:
    """Whether the store env holding ``site`` (``<env>/lib/pythonX.Y/site-packages``) is
    still its plugin's current version."""
    env = site.parents[2]
    try:
        return os.readlink(env.parent / "current") == env.name
    except OSError:
        return False


def stamp(info: Path | None) -> tuple[int, int] | None:
    """What changes when pip touches the distribution: its RECORD's (mtime, size)."""
    if info is None:
        return None
    for name in ("RECORD", "METADATA"):
        try:
            st = os.stat(info / name)
        except OSError:
            continue
        return (st.st_mtime_ns, st.st_size)
    return None


@dataclass
class _Watched:
    spec: PluginSpec
    info: Path | None
    stamp: tuple[int, int] | None


def _changed(watched: _Watched) -> bool:
    """Whether ``watched``'s distribution changed since its workers started; a store
    plugin whose version was no longer current when first looked at changed too (a quick
    ``ledhost rollback`` right after an update)."""
    now = stamp(dist_info(watched.spec))
    return now != watched.stamp or (watched.spec.source == "store" and now is None)


class UpgradeWatch:
    """Per third-party plugin that runs, the stamp of its installed distribution."""

    def __init__(self, reconfigurer: Reconfigurer, every: float = CHECK_EVERY) -> None:
        self.reconfigurer = reconfigurer
        self.host = reconfigurer.host
        self.every = every
        #: The first look, at the loop's first turn, records what the workers start from.
        self.next_check: float = 0.0
        self._watched: dict[str, _Watched] = {}
        #: Set by :meth:`recheck_now`: also start instances whose plugin was missing.
        self._look_for_missing = False

    def recheck_now(self) -> None:
        """A store change just finished (the control socket ran it): at the next loop pass,
        restart what changed and start the instances whose plugin was not installed."""
        self.next_check = 0.0
        self._look_for_missing = True

    def _remember(self) -> None:
        """Start watching the plugins of instances that run and are not yet watched."""
        for handle in self.host.supervisor.handles.values():
            spec = handle.spec
            if spec.source == "builtin" or spec.plugin_id in self._watched:
                continue
            info = dist_info(spec)
            self._watched[spec.plugin_id] = _Watched(spec, info, stamp(info))

    def poll(self, now: float) -> bool:
        """When due: restart the instances of every plugin whose distribution changed.

        :returns: whether it found something to act on (the host loop then decides again;
            a check that found nothing leaves nothing to decide).
        """
        if now < self.next_check:
            return False
        self.next_check = now + self.every
        self._remember()
        changed = [w for w in self._watched.values() if _changed(w)]
        look, self._look_for_missing = self._look_for_missing, False
        if not changed and not (look and self.host.missing):
            return False
        options = self.host.options
        specs = discover(
            options.plugin_paths,
            environment=options.environment_plugins,
            store=StorePaths.for_data_dir(self.host.cfg.paths.data_dir).root,
        )
        for watched in changed:
            del self._watched[watched.spec.plugin_id]
            new = specs.get(watched.spec.plugin_id)
            old = watched.spec
            if new is None and old.source == "store":
                log.info("plugin %r was uninstalled: stopping its workers", old.plugin_id)
                self.reconfigurer.restart_plugin(old.plugin_id, specs, now)
                continue
            if new is None:
                log.warning(
                    "plugin %r (%s %s) was uninstalled; its workers run on until a restart",
                    old.plugin_id,
                    old.distribution,
                    old.version,
                )
                continue
            log.info(
                "plugin %r updated %s -> %s (%s): restarting its workers",
                old.plugin_id,
                old.version,
                new.version,
                new.distribution,
            )
            self.reconfigurer.restart_plugin(old.plugin_id, specs, now)
        if look and self.host.missing:
            self._start_missing(specs, now)
        return True

    def _start_missing(self, specs: dict[str, PluginSpec], now: float) -> None:
        """Start the configured instances whose plugin is now installed."""
        runnable, _still_missing = plan_instances(self.host.cfg, specs, tuple(self.host.missing))
        for iid, spec, _options in runnable:
            log.info("plugin instance %r: %s %s is installed now; starting it",
                     iid, spec.distribution, spec.version)  # fmt: skip
        self.reconfigurer.add_instances(runnable, (), now)
