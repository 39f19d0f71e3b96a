"""What changed between two configs, and which of it a running host can apply.

A live reload is "load the file again and diff the two :class:`~config.model.HostConfig`
values" (see :mod:`config.loader`). :func:`diff_configs` sorts every difference into
what the host applies at once — live settings (:attr:`Setting.live
<config.schema.Setting.live>`), layouts, plugin instances to configure, start, stop or
restart — and what waits for a restart of ledhost (panel geometry and the other settings
not declared live). :func:`keep_running_values` then builds the config the host really
runs with: the new one, except for those waiting settings.

Pure: no I/O, no clock, no environment (STYLE.md rule 17).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from config.model import HostConfig, PluginInstanceConfig
from config.schema import plain_data
from config.settings import SETTINGS

__all__ = ["ConfigDiff", "diff_configs", "keep_running_values"]

#: Settings whose ``HostConfig`` field is not named as the setting.
_FIELDS: Final[Mapping[str, str]] = {"rotation.modes": "entries", "ticker.modes": "entries"}
#: Longest a value is shown in :meth:`ConfigDiff.summary` before it is shortened.
_SHOWN: Final = 40


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


@final
@dataclass(frozen=True, slots=True)
class ConfigDiff:
    """The differences between a running config and a newly loaded one.

    Instance ids are in the new config's order (removed ones in the old config's order);
    setting keys in the order of :data:`~config.settings.SETTINGS`.
    """

    #: Instances running before and after whose options (or secrets) changed: their
    #: workers get the new options through the ``configure`` hook, without a restart.
    changed_instances: tuple[str, ...] = ()
    #: Instances new in the config, or enabled now: their workers start.
    added_instances: tuple[str, ...] = ()
    #: Instances gone from the config, or disabled now: their workers stop.
    removed_instances: tuple[str, ...] = ()
    #: Instances whose plugin id or memory limit changed: a running worker cannot take
    #: that in, so it is stopped and a new one started.
    restart_instances: tuple[str, ...] = ()
    #: Changed host settings a running host applies at once (``Setting.live``).
    live_keys: tuple[str, ...] = ()
    #: Changed host settings that wait for a restart of ledhost (panel geometry, ...).
    restart_keys: tuple[str, ...] = ()
    #: Whether any ``[layouts.*]`` table changed (applied live, like the rotation).
    layouts_changed: bool = False
    #: ``(key, old, new)`` of every changed setting, as plain TOML-shaped data.
    values: tuple[tuple[str, Any, Any], ...] = ()

    @property
    def changed(self) -> bool:
        """Whether there is any difference at all."""
        return bool(
            self.changed_instances
            or self.added_instances
            or self.removed_instances
            or self.restart_instances
            or self.live_keys
            or self.restart_keys
            or self.layouts_changed
        )

    @property
    def instances_changed(self) -> bool:
        """Whether a worker must be started, stopped or restarted."""
        return bool(self.added_instances or self.removed_instances or self.restart_instances)

    def summary(self) -> str:
        """One line for the log, e.g.
        ``display.brightness 100 -> 40; plugins.text options; restart needed for display.rows``.

        Plugin options are named, never shown: they may hold secrets.
        """
        values = {key: (old, new) for key, old, new in self.values}
        parts = [
            f"{key} {_shown(values[key][0])} -> {_shown(values[key][1])}" for key in self.live_keys
        ]
        if self.layouts_changed:
            parts.append("layouts")
        parts += [f"plugins.{iid} options" for iid in self.changed_instances]
        parts += [f"plugins.{iid} added" for iid in self.added_instances]
        parts += [f"plugins.{iid} removed" for iid in self.removed_instances]
        parts += [f"plugins.{iid} restarted" for iid in self.restart_instances]
        if self.restart_keys:
            parts.append("restart needed for " + ", ".join(self.restart_keys))
        return "; ".join(parts) if parts else "no changes"


def _runs(instance: PluginInstanceConfig | None) -> bool:
    return instance is not None and instance.enabled


def diff_configs(old: HostConfig, new: HostConfig) -> ConfigDiff:
    """Compare the running config with a newly loaded one.

    An instance counts as running when it is present and enabled; whether its plugin is
    installed, or ``--plugins`` picked it, is the host's business.

    :param old: the config the host runs with.
    :param new: the config just loaded (and validated).
    :returns: every difference, sorted by how the host applies it.
    """
    old_tables, new_tables = old.to_dict(), new.to_dict()
    live: list[str] = []
    restart: list[str] = []
    values: list[tuple[str, Any, Any]] = []
    for setting in SETTINGS:
        before = old_tables[setting.section][setting.name]
        after = new_tables[setting.section][setting.name]
        if before == after:
            continue
        (live if setting.live else restart).append(setting.key)
        values.append((setting.key, before, after))

    changed: list[str] = []
    added: list[str] = []
    again: list[str] = []
    for iid, instance in new.plugins.items():
        previous = old.plugins.get(iid)
        if not _runs(instance):
            continue
        if previous is None or not previous.enabled:
            added.append(iid)
        elif (previous.plugin_id, previous.memory_limit_mb) != (
            instance.plugin_id,
            instance.memory_limit_mb,
        ):
            again.append(iid)
        elif _settings_of(previous) != _settings_of(instance):
            changed.append(iid)
    removed = [
        iid for iid, p in old.plugins.items() if _runs(p) and not _runs(new.plugins.get(iid))
    ]
    return ConfigDiff(
        changed_instances=tuple(changed),
        added_instances=tuple(added),
        removed_instances=tuple(removed),
        restart_instances=tuple(again),
        live_keys=tuple(live),
        restart_keys=tuple(restart),
        layouts_changed=dict(old.layouts) != dict(new.layouts),
        values=tuple(values),
    )


def _settings_of(instance: PluginInstanceConfig) -> tuple[Any, Any]:
    """What a ``configure`` message carries: the options and the secrets."""
    return plain_data(instance.options), plain_data(instance.secrets)


def keep_running_values(running: HostConfig, loaded: HostConfig, diff: ConfigDiff) -> HostConfig:
    """The config a host runs with after applying ``diff``: ``loaded``, except that every
    setting waiting for a restart keeps its running value.

    Diffing the next load against the result therefore still lists those settings as
    waiting, until the file changes them back or ledhost restarts.

    :param running: the config the host ran with.
    :param loaded: the config just loaded.
    :param diff: ``diff_configs(running, loaded)``.
    """
    sections: dict[str, dict[str, Any]] = {}
    for key in diff.restart_keys:
        section, name = key.split(".", 1)
        field_name = _FIELDS.get(key, name)
        sections.setdefault(section, {})[field_name] = getattr(
            getattr(running, section), field_name
        )
    result = loaded
    for section, fields in sections.items():
        result = dataclasses.replace(
            result, **{section: dataclasses.replace(getattr(result, section), **fields)}
        )
    return result
