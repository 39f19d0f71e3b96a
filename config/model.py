"""The typed, frozen config that :func:`config.load_config` returns.

One dataclass per host section, with fields named as the settings declared in
:data:`config.settings.SETTINGS` (a test keeps the two in step), plus the parsed rotation
entries and the instances of ``[plugins.*]``. The ``[schedule]`` table and the time
windows live in :mod:`config.windows`.

Pure: no I/O, no clock, no environment (STYLE.md rule 17).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, final

from config.desired import DESIRED_PATH, DesiredPlugin
from config.layouts import Layout
from config.mqtt import MqttConfig
from config.schema import plain_data
from config.secrets import REDACTED
from config.settings import SECTIONS, SETTINGS
from config.windows import ScheduleConfig, Window

__all__ = [
    "ControlConfig",
    "SyncConfig",
    "DisplayConfig",
    "HostConfig",
    "LoggingConfig",
    "MqttConfig",
    "PathsConfig",
    "PluginInstanceConfig",
    "RotationConfig",
    "RotationEntry",
    "TickerConfig",
    "TransitionsConfig",
    "WebConfig",
    "WorkersConfig",
]


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """The ``[control]`` table: where the control socket lives (empty: the default)."""

    socket: str


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """The ``[sync]`` table: this sign's part in a set of synchronised signs. Defaults as
    declared, so code and tests can build one by hand."""

    #: ``off``, ``leader`` or ``follower``.
    role: str = "off"
    #: Letters, digits, ``_``, ``-``, ``.``; empty: no group.
    group: str = ""
    #: One MQTT topic level (no ``/``, ``+``, ``#``), under ``[mqtt]``'s base topic.
    topic: str = "sync"
    #: Seconds between the leader's position messages.
    period: float = 1.0
    #: Seconds from sending a notification to its start on every sign.
    notify_lead: float = 0.5
    #: A wall of panels: the canvas's size (0: no wall), this sign's slice origin, the
    #: leader's frame cap and show delay (docs/mqtt.md, "A wall of panels").
    wall_width: int = 0
    wall_height: int = 0
    wall_x: int = 0
    wall_y: int = 0
    wall_fps: float = 30.0
    wall_delay: float = 0.15

    @property
    def wall(self) -> bool:
        return self.role != "off" and self.wall_width > 0 and self.wall_height > 0


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The ``[store]`` table: registries and installs (the store's settings,
    :mod:`store.settings`). Defaults as declared, so code and tests can build one by
    hand."""

    registries: tuple[str, ...] = ("https://ledhost.github.io/registry/index.json",)
    cache_ttl_seconds: float = 3600.0
    max_download_mb: float = 50.0
    timeout_seconds: float = 20.0
    #: ``"pip"`` or ``"uv"``.
    installer: str = "pip"
    #: Package index for dependencies and ``pypi:`` sources; "" for none (offline).
    index_url: str = "https://pypi.org/simple"
    #: Folders (or URLs) of wheels the installer may take dependencies from.
    find_links: tuple[str, ...] = ()

    @property
    def max_download_bytes(self) -> int:
        return int(self.max_download_mb * 1024 * 1024)


@final
@dataclass(frozen=True, slots=True)
class DisplayConfig:
    """The ``[display]`` table; see :data:`~config.settings.SETTINGS` for each field."""

    rows: int
    cols: int
    chain: int
    parallel: int
    backend: str
    brightness: int
    gamma: float
    fps: float
    hardware_mapping: str
    gpio_slowdown: int
    pwm_bits: int
    rgb_sequence: str
    pixel_mapper: str
    drop_privileges: bool
    emulator_adapter: str = "raw"
    emulator_bind: str = "127.0.0.1"
    emulator_port: int = 8888
    pwm_lsb_nanoseconds: int = 130
    pwm_dither_bits: int = 0
    scan_mode: str = "progressive"
    row_address_type: int = 0
    multiplexing: str = "none"
    panel_type: str = ""
    refresh_limit: int = 0
    disable_hardware_pulsing: bool = False
    inverse_colors: bool = False
    rp1_rio: bool = False
    piomatter_pinout: str = "auto"

    @property
    def width(self) -> int:
        """Display width in pixels: ``cols * chain``."""
        return self.cols * self.chain

    @property
    def height(self) -> int:
        """Display height in pixels: ``rows * parallel``."""
        return self.rows * self.parallel


@final
@dataclass(frozen=True, slots=True)
class RotationEntry:
    """One item of ``rotation.modes``."""

    #: The plugin instance id.
    instance: str
    #: The mode name, or ``None`` for every mode of the instance.
    mode: str | None = None
    #: Seconds on screen, or ``None`` for the mode's own or the default duration.
    duration: float | None = None
    #: One of :data:`~config.schema.TRANSITION_KINDS` for switching *to* this entry, or
    #: ``None`` for ``transitions.kind``; see :meth:`TransitionsConfig.for_entry`.
    transition: str | None = None
    #: Seconds that transition takes, or ``None`` for ``transitions.duration``.
    transition_duration: float | None = None
    #: Local-time windows the entry is shown in; empty means always
    #: (``host.schedule.windows.mode_allowed``).
    when: tuple[Window, ...] = ()

    def to_toml_value(self) -> str | dict[str, Any]:
        """Return the entry as written in the config file."""
        text = self.instance if self.mode is None else f"{self.instance}:{self.mode}"
        table: dict[str, Any] = {"mode": text}
        if self.duration is not None:
            table["duration"] = self.duration
        if self.transition is not None:
            table["transition"] = self.transition
        if self.transition_duration is not None:
            table["transition_duration"] = self.transition_duration
        if self.when:
            table["when"] = [window.to_toml_value() for window in self.when]
        return text if len(table) == 1 else table


@final
@dataclass(frozen=True, slots=True)
class RotationConfig:
    """The ``[rotation]`` table."""

    default_duration: float
    #: Longest a turn may last when the plugin asks for more time (a configured
    #: ``duration`` longer than this still holds).
    max_dwell: float = 120.0
    #: Longest a plugin's interrupt may last; longer requests are cut to this.
    interrupt_max_seconds: float = 600.0
    #: Most interrupts one plugin instance may have queued at once.
    interrupt_max_queued: int = 3
    #: Parsed ``modes``; empty means every mode of every enabled instance in config order.
    entries: tuple[RotationEntry, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class TransitionsConfig:
    """The ``[transitions]`` table: how one mode gives way to the next."""

    #: One of :data:`~config.schema.TRANSITION_KINDS`.
    kind: str
    #: Seconds a transition takes (``cut`` takes none).
    duration: float

    def for_entry(self, entry: RotationEntry | None) -> tuple[str, float]:
        """Return ``(kind, duration)`` for switching to ``entry``: its own, else these.

        :param entry: the rotation entry being switched to; ``None`` (an interrupt, a pin,
            an entry-less rotation) takes the defaults.
        """
        if entry is None:
            return self.kind, self.duration
        kind = self.kind if entry.transition is None else entry.transition
        duration = self.duration if entry.transition_duration is None else entry.transition_duration
        return kind, duration


@final
@dataclass(frozen=True, slots=True)
class TickerConfig:
    """The ``[ticker]`` table: the band several plugins' strips scroll in."""

    #: Pixels per second.
    speed: float
    #: Text drawn between two strips; may be empty.
    separator: str
    #: Blank pixels on each side of the separator (between strips when it is empty).
    gap: int
    #: The contributing modes, parsed like rotation entries (``mode`` ``None``: all).
    entries: tuple[RotationEntry, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class WorkersConfig:
    """The ``[workers]`` table: containment, deadlines and restart policy of workers."""

    user: str
    uid_base: int
    uid_count: int
    cgroups: str
    memory_limit_mb: int
    max_processes: int
    max_open_files: int
    nice: int
    render_timeout: float
    refresh_timeout: float
    setup_timeout: float
    heartbeat_timeout: float
    stop_timeout: float
    restart_delay: float
    restart_max_delay: float
    stable_after: float
    quarantine_after: int
    quarantine_window: float


@final
@dataclass(frozen=True, slots=True)
class PathsConfig:
    """The ``[paths]`` table, resolved (nothing is created on disk)."""

    data_dir: Path


@final
@dataclass(frozen=True, slots=True)
class WebConfig:
    """The ``[web]`` table: where the admin UI listens."""

    enabled: bool
    bind: str
    port: int
    #: Names beyond the built-in ones the admin UI answers to (``*.`` a whole domain).
    allowed_hosts: tuple[str, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """The ``[logging]`` table: the host's log level, file and plugin level."""

    #: One of :data:`~config.settings.LOG_LEVELS`.
    level: str
    #: As written (``~/`` not yet expanded); empty means standard error.
    file: str
    #: One of :data:`~config.settings.LOG_LEVELS`.
    plugin_level: str


@final
@dataclass(frozen=True, slots=True)
class PluginInstanceConfig:
    """One ``[plugins.<instance_id>]`` table."""

    instance_id: str
    plugin_id: str
    enabled: bool
    #: This instance's memory limit in MiB; 0 means the ``[workers]`` default.
    memory_limit_mb: int = 0
    #: The plugin's own options, not yet validated: the host validates them with
    #: :func:`config.validate_plugin_config` once the worker reports the plugin's schema.
    #: Everything but what the secrets file set; a secret set by an environment variable
    #: is here too (the loader cannot know it is one), and the validation moves it over.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Where the instance's table was first defined (file path, environment, overrides);
    #: pass it as ``source`` to :func:`config.validate_plugin_config`.
    source: str = "config"
    #: The values of the keys the secrets file set (an environment variable or override
    #: may have replaced one since), not yet validated. Never shown: not in ``repr()``,
    #: not in :meth:`HostConfig.to_dict` unless redacted.
    secrets: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: The layer that set each key of ``options`` and ``secrets`` last (a file path,
    #: ``"environment"``, ``"overrides"``), so an issue names where to fix it.
    key_sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: The keys written in the config file itself, even if a later layer replaced them:
    #: a secret found there is an error, since the file is not private. Compared, so an
    #: edit that only writes a secret into the config file is still a change to check.
    file_keys: frozenset[str] = frozenset()
    #: The secrets file that was read (or would have been): where secrets belong.
    secrets_source: str = field(default="", compare=False)


@final
@dataclass(frozen=True, slots=True)
class HostConfig:
    """The whole validated configuration. Immutable: a change is a new ``HostConfig``."""

    display: DisplayConfig
    rotation: RotationConfig
    transitions: TransitionsConfig
    ticker: TickerConfig
    #: On/off and dim windows, and the time zone they are read in.
    schedule: ScheduleConfig
    workers: WorkersConfig
    paths: PathsConfig
    web: WebConfig
    logging: LoggingConfig
    #: Instances in config order (file order, then new ones from env, then overrides).
    plugins: Mapping[str, PluginInstanceConfig]
    #: ``[layouts.<name>]`` tables, shown by ``"@<name>"`` in the rotation.
    layouts: Mapping[str, Layout] = field(default_factory=dict)
    #: ``[control]``; a default so code that builds a HostConfig by hand need not name it.
    control: ControlConfig = ControlConfig(socket="")
    #: ``[store]``; a default for the same reason.
    store: StoreConfig = StoreConfig()
    #: ``[sync]``; a default for the same reason.
    sync: SyncConfig = SyncConfig()
    #: ``[store.plugins]``: the plugins the store should install, by plugin id
    #: (:mod:`config.desired`; the reconciler, :mod:`store.reconciler`, reads it).
    store_plugins: Mapping[str, DesiredPlugin] = field(default_factory=dict)
    #: ``[mqtt]`` (:mod:`config.mqtt`); a default (the bridge off) like ``control``.
    mqtt: MqttConfig = MqttConfig()
    #: The file it was loaded from; ``None`` for the embedded default.
    path: Path | None = None
    #: The secrets file read with it (which may not exist: then there are no secrets);
    #: ``None`` if none was read (``load_config(secrets_path=False)``).
    secrets_path: Path | None = None

    @property
    def enabled_plugins(self) -> tuple[PluginInstanceConfig, ...]:
        """The enabled instances, in config order."""
        return tuple(p for p in self.plugins.values() if p.enabled)

    def to_dict(self, *, secrets: Literal["omit", "redact"] = "omit") -> dict[str, Any]:
        """Return the config as plain TOML-shaped data (for printing, JSON, writing back).

        Feeding the result to ``load_config(overrides=...)`` yields an equal config when
        there are no secrets.

        :param secrets: ``"omit"`` leaves the keys the secrets file set out (what belongs
            in the config file); ``"redact"`` shows each as :data:`config.secrets.REDACTED`
            (what ``ledhost config show`` prints). Secret values are never returned: see
            :meth:`secrets_to_dict` for the secrets file's own content.
        """
        parsed: dict[str, Any] = {
            "rotation": {
                "default_duration": self.rotation.default_duration,
                "max_dwell": self.rotation.max_dwell,
                "interrupt_max_seconds": self.rotation.interrupt_max_seconds,
                "interrupt_max_queued": self.rotation.interrupt_max_queued,
                "modes": [entry.to_toml_value() for entry in self.rotation.entries],
            },
            "schedule": self.schedule.to_dict(),
            "ticker": {
                "speed": self.ticker.speed,
                "separator": self.ticker.separator,
                "modes": [entry.to_toml_value() for entry in self.ticker.entries],
                "gap": self.ticker.gap,
            },
            "paths": {"data_dir": str(self.paths.data_dir)},
        }
        tables = {
            section: parsed.get(section)
            or {
                # list settings are tuples in the model (frozen); TOML and JSON write lists
                s.name: _listed(getattr(getattr(self, section), s.name))
                for s in SETTINGS
                if s.section == section
            }
            for section in SECTIONS
        }
        plugins: dict[str, Any] = {}
        for instance in self.plugins.values():
            table: dict[str, Any] = {"plugin": instance.plugin_id, "enabled": instance.enabled}
            if instance.memory_limit_mb:
                table["memory_limit_mb"] = instance.memory_limit_mb
            hidden = {key: REDACTED for key in instance.secrets} if secrets == "redact" else {}
            plugins[instance.instance_id] = {**table, **plain_data(instance.options), **hidden}
        layouts = {
            name: {"regions": [region.to_toml_value() for region in layout.regions]}
            for name, layout in self.layouts.items()
        }
        if self.store_plugins:
            section, key = DESIRED_PATH
            wanted = {pid: entry.to_toml_value() for pid, entry in self.store_plugins.items()}
            tables[section] = {**tables.get(section, {}), key: wanted}
        return {**tables, "plugins": plugins, **({"layouts": layouts} if layouts else {})}

    def secrets_to_dict(self) -> dict[str, Any]:
        """Return the secrets as the secrets file holds them: ``{"plugins": {id: {...}}}``.

        Only for writing that file back; never print or send the result.
        """
        return {
            "plugins": {
                instance.instance_id: plain_data(instance.secrets)
                for instance in self.plugins.values()
                if instance.secrets
            }
        }


def _listed(value: Any) -> Any:
    """A tuple as the list a config file would hold; anything else as it is."""
    return list(value) if isinstance(value, tuple) else value
