"""Load the host config: file, secrets file, environment, overrides; validate; freeze.

The only I/O here is reading the config file (:func:`read_config_file`) and the secrets
file (:func:`config.secrets.load_secrets_file`). Everything else — turning environment
variables into a layer, deep-merging layers while remembering where each value came
from, and validating the merged data against :data:`SETTINGS` — is pure: reload is
"call :func:`load_config` again and diff the two ``HostConfig``\\ s".

Plugin secrets join their instance's table like any other layer, but the loader keeps
note of which keys the secrets file set and which the config file wrote, so that the
plugin's schema, known only later, can tell a secret from an option
(:func:`config.plugin_schema.validate_plugin_config`).

Validation never stops at the first problem: every issue is collected and raised in one
:class:`~config.errors.ConfigError`.

The environment layer and the deep merge live in :mod:`config.loader_layers` (split off
to keep this module within STYLE.md rule 21) and are re-exported here, where callers
import them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from config.desired import DESIRED_PATH, DesiredPlugin, parse_desired
from config.errors import ConfigError, ConfigIssue
from config.layouts import Layout, parse_layouts
from config.loader_layers import (
    ENV_SOURCE,
    OVERRIDES_SOURCE,
    env_layer,
    merge_layer,
    parse_env_value,
)
from config.migrate import VERSION_KEY, migrate_document
from config.model import (
    ControlConfig,
    DisplayConfig,
    HostConfig,
    LoggingConfig,
    PathsConfig,
    PluginInstanceConfig,
    RotationConfig,
    RotationEntry,
    StoreConfig,
    SyncConfig,
    TickerConfig,
    TransitionsConfig,
    WebConfig,
    WorkersConfig,
)
from config.mqtt import parse_mqtt
from config.schema import (
    KeyPath,
    Setting,
    describe_value,
    format_key,
    is_valid_id,
    is_valid_mode,
    parse_toml,
    plain_data,
    suggest,
)
from config.secrets import (
    HOST_SECRETS,
    SecretsLayer,
    default_secrets_path,
    instance_ids,
    read_secrets,
    secrets_layer,
)
from config.settings import INSTANCE_SETTINGS, SECTIONS, SETTINGS
from config.sync import sync_problems, wall_problems
from config.webhosts import host_name_problems
from config.windows import ScheduleConfig, check_timezone, parse_dim_windows, parse_windows

__all__ = [
    "TICKER",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_CONFIG_PATH_TEXT",
    "ENV_SOURCE",
    "OVERRIDES_SOURCE",
    "default_config_text",
    "env_layer",
    "load_config",
    "parse_env_value",
    "read_config_file",
]

#: The embedded default config, used when no path is given.
DEFAULT_CONFIG_PATH: Final = Path(__file__).with_name("default.toml")
#: How help texts and messages name the config used when no path is given.
DEFAULT_CONFIG_PATH_TEXT: Final = "the built-in default config (config/default.toml)"

_ID_RULE: Final = (
    "use 1-64 characters: a lowercase ASCII letter first, then lowercase letters, "
    "digits, '_' or '-'"
)
_MODE_RULE: Final = "use 1-64 characters: lowercase ASCII letters, digits, '_' or '-'"
_RESERVED: Final = tuple(s.name for s in INSTANCE_SETTINGS)
_BY_KEY: Final[dict[tuple[str, str], Setting]] = {(s.section, s.name): s for s in SETTINGS}
#: The keys of a rotation entry written as a table, and the setting that checks each.
_ENTRY_KEYS: Final = ("mode", "duration", "transition", "transition_duration", "when")
_ENTRY_CHECKS: Final[dict[str, Setting]] = {
    "duration": _BY_KEY[("rotation", "default_duration")],
    "transition": _BY_KEY[("transitions", "kind")],
    "transition_duration": _BY_KEY[("transitions", "duration")],
}


#: The rotation item that shows the continuous ticker (ids cannot contain "@").
TICKER: Final = "@ticker"


def default_config_text() -> str:
    """Return the text of the embedded default config (a starting point for users)."""
    return DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


def read_config_file(path: Path, *, source: str | None = None) -> dict[str, Any]:
    """Read and parse one TOML config file.

    :param path: the file.
    :param source: how issues name the file; defaults to ``str(path)``.
    :returns: the parsed tables.
    :raises ConfigError: the file is missing, unreadable, not UTF-8 or not valid TOML
        (the message carries tomllib's line and column).
    """
    where = str(path) if source is None else source
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(where, "", "config file not found")]) from None
    except OSError as exc:
        message = f"cannot read the config file: {exc.strerror or exc}"
        raise ConfigError([ConfigIssue(where, "", message)]) from None
    # tomllib's message ends with "(at line L, column C)".
    return parse_toml(raw, where, lambda exc: f"invalid TOML: {exc}")


class _Validator:
    """Checks merged data against the declarations; collects every issue."""

    def __init__(
        self,
        data: dict[str, Any],
        origin: dict[KeyPath, str],
        env_names: dict[KeyPath, str],
        env: Mapping[str, str],
        secrets: SecretsLayer | None = None,
        host_secrets: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.data: Final = data
        self.origin: Final = origin
        self.env_names: Final = env_names
        self.env: Final = env
        self.secrets: Final = secrets or SecretsLayer("", {}, {})
        #: The secrets file's host tables (``[mqtt] password``): config.secrets.HOST_SECRETS.
        self.host_secrets: Final = host_secrets or {}
        self.issues: Final[list[ConfigIssue]] = []

    def origin_of(self, path: KeyPath) -> tuple[KeyPath, str]:
        """Return the longest recorded prefix of ``path`` and the layer that wrote it."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.origin:
                return path[:end], self.origin[path[:end]]
        return (), "config"

    def add(self, path: KeyPath, message: str) -> None:
        prefix, source = self.origin_of(path)
        if source == ENV_SOURCE:
            # Name the variable, or for a whole table the first variable inside it.
            names = self.env_names
            var = names.get(prefix) or next(
                (v for k, v in names.items() if k[: len(prefix)] == prefix), None
            )
            if var is not None:
                message = f"{message} (set by {var})"
        self.issues.append(ConfigIssue(source, format_key(path), message))

    def table(self, path: KeyPath, value: Any) -> Mapping[str, Any]:
        if isinstance(value, Mapping):
            return value
        self.add(path, f"expected a table, found {describe_value(value)}")
        return {}

    def check_top_level(self) -> None:
        known = (*SECTIONS, "plugins", "layouts", VERSION_KEY, DESIRED_PATH[0])
        for key in self.data:
            if key in known:
                continue
            homes = [s.key for s in SETTINGS if s.name == key]
            if homes:
                hint = f" (did you mean {homes[0]!r}? settings go inside their [table])"
            else:
                hint = suggest(key, known)
            self.add((key,), f"unknown section {key!r}{hint}")

    def section(self, name: str) -> dict[str, Any]:
        settings = {s.name: s for s in SETTINGS if s.section == name}
        values = {key: plain_data(s.default) for key, s in settings.items()}
        # Issues follow the order of the keys as written, which is what the user reads.
        for key, raw in self.table((name,), self.data.get(name, {})).items():
            if (name, key) == DESIRED_PATH:
                continue  # [store.plugins]: see store_plugins()
            setting = settings.get(key)
            if setting is None and key in HOST_SECRETS.get(name, ()):
                self.add(
                    (name, key),
                    f"{name}.{key} is a secret: put it in the secrets file's [{name}] table "
                    "(mode 0600), not in the config",
                )
                continue
            if setting is None:
                hint = suggest(key, list(settings))
                self.add((name, key), f"unknown setting {key!r} in [{name}]{hint}")
                continue
            values[key], problem = setting.check(raw)
            if problem is not None:
                self.add((name, key), problem)
        return values

    def plugins(self) -> dict[str, PluginInstanceConfig]:
        instances: dict[str, PluginInstanceConfig] = {}
        plugin_setting, enabled_setting, memory_setting = INSTANCE_SETTINGS
        for instance_id, raw in self.table(("plugins",), self.data.get("plugins", {})).items():
            path: KeyPath = ("plugins", instance_id)
            if not is_valid_id(instance_id):
                self.add(path, f"instance id {instance_id!r} is not allowed: {_ID_RULE}")
                continue
            table = self.table(path, raw)
            plugin_id, problem = plugin_setting.check(table.get("plugin", ""))
            if problem is not None:
                self.add((*path, "plugin"), problem)
            elif plugin_id == "":
                plugin_id = instance_id
            elif not is_valid_id(plugin_id):
                self.add((*path, "plugin"), f"plugin id {plugin_id!r} is not allowed: {_ID_RULE}")
            enabled, problem = enabled_setting.check(table.get("enabled", True))
            if problem is not None:
                self.add((*path, "enabled"), problem)
            memory, problem = memory_setting.check(table.get("memory_limit_mb", 0))
            if problem is not None:
                self.add((*path, "memory_limit_mb"), problem)
            secret = self.secrets.keys.get(instance_id, frozenset())
            values = {k: plain_data(v) for k, v in table.items() if k not in _RESERVED}
            instances[instance_id] = PluginInstanceConfig(
                instance_id=instance_id,
                plugin_id=plugin_id,
                enabled=bool(enabled),
                memory_limit_mb=int(memory or 0),
                options=MappingProxyType({k: v for k, v in values.items() if k not in secret}),
                source=self.origin_of(path)[1],
                secrets=MappingProxyType({k: v for k, v in values.items() if k in secret}),
                key_sources=MappingProxyType({k: self.origin_of((*path, k))[1] for k in values}),
                file_keys=self.secrets.file_keys.get(instance_id, frozenset()),
                secrets_source=self.secrets.source,
            )
        return instances

    def store_plugins(self) -> dict[str, DesiredPlugin]:
        """The ``[store.plugins]`` table (:mod:`config.desired`)."""
        section = DESIRED_PATH[0]
        if section not in SECTIONS:
            self.section(section)  # no [store] settings declared: report its other keys
        table = self.data.get(section, {})
        raw = table.get(DESIRED_PATH[1]) if isinstance(table, Mapping) else None
        return parse_desired(raw, self.add)

    def rotation_entries(
        self,
        modes: list[Any] | None,
        instances: Mapping[str, object] | None,
        where: KeyPath = ("rotation", "modes"),
        layouts: Mapping[str, Layout] | None = None,
    ) -> tuple[RotationEntry, ...]:
        """Parse ``rotation.modes`` (or ``ticker.modes``, per ``where``) into entries.

        ``instances`` is None when ``[plugins]`` itself is broken; then entries are not
        checked against it, rather than each reported as naming an unknown instance.
        ``"@ticker"`` names the ticker, in the rotation only.
        """
        entries: list[RotationEntry] = []
        for index, item in enumerate(modes or []):
            path: KeyPath = (*where, index)
            extras: dict[str, Any] = {}
            if isinstance(item, Mapping):
                for key in item:
                    if key not in _ENTRY_KEYS:
                        hint = suggest(str(key), _ENTRY_KEYS)
                        self.add((*path, key), f"unknown key {key!r} in a rotation entry{hint}")
                for key, setting in _ENTRY_CHECKS.items():
                    if key in item:
                        extras[key], problem = setting.check(item[key])
                        if problem is not None:
                            self.add((*path, key), problem)
                if "when" in item:
                    extras["when"] = parse_windows(item["when"], (*path, "when"), self.add)
                if "mode" not in item:
                    self.add(path, 'missing "mode", e.g. { mode = "clock:digital", duration = 15 }')
                    continue
                path, text = (*path, "mode"), item["mode"]
            else:
                text = item
            if not isinstance(text, str):
                self.add(
                    path,
                    f'expected "instance:mode", "instance" or a table such as '
                    f'{{ mode = "clock:digital", duration = 15 }}, found {describe_value(text)}',
                )
                continue
            if text.startswith("@") and where == ("rotation", "modes"):
                name = text[1:]
                if text != TICKER and name not in (layouts or {}):
                    hint = suggest(name, list(layouts or {}))
                    self.add(
                        path,
                        f"{text!r} names no layout{hint}: define [layouts.{name}] "
                        'or use "@ticker" for the ticker',
                    )
                    continue
                entries.append(RotationEntry(text, None, **extras))
                continue
            instance, colon, mode = text.partition(":")
            if not is_valid_id(instance):
                self.add(path, f"instance id {instance!r} in {text!r} is not allowed: {_ID_RULE}")
                continue
            if colon and not is_valid_mode(mode):
                self.add(path, f"mode name {mode!r} in {text!r} is not allowed: {_MODE_RULE}")
                continue
            if instances is not None and instance not in instances:
                hint = suggest(instance, list(instances))
                known = ", ".join(instances) or "none"
                self.add(
                    path,
                    f"{instance!r} is not a configured plugin instance{hint}; configured: {known}",
                )
                continue
            entries.append(RotationEntry(instance, mode if colon else None, **extras))
        return tuple(entries)

    def schedule(self, values: dict[str, Any]) -> ScheduleConfig:
        """Parse ``[schedule]`` (its values already checked against the declarations)."""
        timezone = values["timezone"]
        if isinstance(timezone, str) and timezone:
            problem = check_timezone(timezone)
            if problem is not None:
                self.add(("schedule", "timezone"), problem)
        on = parse_windows(values["on"], ("schedule", "on"), self.add)
        dim = parse_dim_windows(values["dim"], ("schedule", "dim"), self.add)
        return ScheduleConfig(timezone=timezone or "", on=on, dim=dim)

    def data_dir(self, raw: str | None) -> Path:
        home = Path(self.env.get("HOME") or Path.home())
        if not raw:
            # XDG Base Directory spec: a relative $XDG_DATA_HOME is invalid and ignored.
            xdg = self.env.get("XDG_DATA_HOME", "")
            base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
            return base / "ledhost"
        if raw == "~" or raw.startswith("~/"):
            return home / raw[2:]
        if Path(raw).is_absolute():
            return Path(raw)
        # A relative path would depend on the folder the host happens to start in
        # (``/`` under systemd), so it is refused rather than guessed.
        self.add(
            ("paths", "data_dir"),
            f"expected an absolute path or one starting with '~/', found {describe_value(raw)}",
        )
        return Path(raw)

    def host_config(self, path: Path | None, secrets_path: Path | None = None) -> HostConfig:
        self.check_top_level()
        sections = {name: self.section(name) for name in SECTIONS}
        instances = self.plugins()
        store_plugins = self.store_plugins()
        rotation = sections["rotation"]
        known = instances if isinstance(self.data.get("plugins", {}), Mapping) else None
        display = sections["display"]
        dims = [display[k] for k in ("cols", "chain", "rows", "parallel")]
        # An invalid display size is reported already; regions are then checked loosely.
        cols, chain, rows, parallel = (v if isinstance(v, int) else 4096 for v in dims)
        size = (cols * chain, rows * parallel)
        layouts = parse_layouts(self.data.get("layouts", {}), size, known, self.add)
        entries = self.rotation_entries(rotation.pop("modes"), known, layouts=layouts)
        ticker = sections["ticker"]
        ticker["entries"] = self.rotation_entries(ticker.pop("modes"), known, ("ticker", "modes"))
        if any(e.instance == TICKER for e in entries) and not ticker["entries"]:
            self.add(
                ("rotation", "modes"),
                '"@ticker" shows the ticker, but ticker.modes names no mode for it; '
                'add e.g. modes = ["news"] to [ticker]',
            )
        schedule = self.schedule(sections["schedule"])
        data_dir = self.data_dir(sections["paths"]["data_dir"])
        for key in ("registries", "find_links"):
            if not all(isinstance(v, str) and v for v in sections["store"][key]):
                self.add(("store", key), "expected a list of non-empty strings")
        for problem in host_name_problems(sections["web"]["allowed_hosts"]):
            self.add(("web", "allowed_hosts"), problem)
        for key, problem in sync_problems(sections["sync"]):
            self.add(("sync", key), problem)
        if not self.issues:  # the display's values are sound: its size is known
            shown = DisplayConfig(**sections["display"])
            for key, problem in wall_problems(sections["sync"], shown.width, shown.height):
                self.add(("sync", key), problem)
        mqtt = parse_mqtt(sections["mqtt"], self.host_secrets.get("mqtt", {}), self.add)
        if sections["sync"]["role"] != "off" and not mqtt.enabled:
            role = sections["sync"]["role"]
            self.add(("sync", "role"), f"{role!r} needs the MQTT bridge: set [mqtt] enabled = true")
        if self.issues:
            raise ConfigError(self.issues)
        return HostConfig(
            display=DisplayConfig(**sections["display"]),
            rotation=RotationConfig(entries=entries, **rotation),
            transitions=TransitionsConfig(**sections["transitions"]),
            ticker=TickerConfig(**ticker),
            schedule=schedule,
            workers=WorkersConfig(**sections["workers"]),
            paths=PathsConfig(data_dir=data_dir),
            web=WebConfig(
                **{**sections["web"], "allowed_hosts": tuple(sections["web"]["allowed_hosts"])}
            ),
            logging=LoggingConfig(**sections["logging"]),
            control=ControlConfig(**sections["control"]),
            store=_store_config(sections["store"]),
            sync=SyncConfig(**sections["sync"]),
            plugins=MappingProxyType(instances),
            layouts=MappingProxyType(layouts),
            store_plugins=MappingProxyType(store_plugins),
            mqtt=mqtt,
            path=path,
            secrets_path=secrets_path,
        )


def load_config(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    secrets_path: Path | str | Literal[False] | None = None,
) -> HostConfig:
    """Load, merge and validate the host config.

    Sources, later winning: the file, then the secrets file (``[plugins.<id>]`` tables of
    secret values, mode 0600), then ``LEDHOST_<SECTION>__<NAME>`` environment variables
    (``__`` nests deeper: ``LEDHOST_PLUGINS__TEXT__MESSAGE``, which may set a secret too),
    then ``overrides`` (nested, deep-merged; for tests and CLI flags).

    :param path: the TOML file; ``None`` for the embedded default (``default.toml``).
    :param env: the environment to read; ``None`` for ``os.environ``. Also supplies
        ``HOME``, ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME`` for the default folders.
    :param overrides: nested mapping applied last, e.g. ``{"display": {"fps": 30}}``.
    :param secrets_path: the secrets file; ``None`` for ``secrets.toml`` next to the
        config file (for the embedded default: ``$XDG_CONFIG_HOME/ledhost/secrets.toml``,
        see :func:`config.secrets.default_secrets_path`). A missing file means no secrets.
        ``False`` reads none: for commands that need the host settings only (worker
        limits for ``ledhost plugins``), which must not fail on a secrets file that
        belongs with another config file.
    :returns: the frozen config.
    :raises ConfigError: listing every problem found, each with its source and key. No
        issue quotes a value from the secrets file.
    """
    env = os.environ if env is None else env
    file_path = DEFAULT_CONFIG_PATH if path is None else Path(path)
    source = str(file_path)
    file_data = read_config_file(file_path, source=source)
    # A file an older ledhost wrote, which `ledhost run` / `config check` could not
    # upgrade on disk (read-only), is upgraded here in memory; a newer one is an error.
    file_data, _ = migrate_document(file_data, source=source)
    secrets_file = (
        default_secrets_path(None if path is None else file_path, env)
        if secrets_path is None or secrets_path is False
        else Path(secrets_path)
    )
    issues: list[ConfigIssue]
    host_secrets: dict[str, dict[str, Any]] = {}
    try:
        secret_tables, host_secrets, issues = (
            ({}, {}, []) if secrets_path is False else read_secrets(secrets_file)
        )
    except ConfigError as exc:
        # Reported with everything else; the rest of the config is still checked.
        issues, secret_tables = list(exc.errors), {}

    data: dict[str, Any] = {}
    origin: dict[KeyPath, str] = {}
    merge_layer(data, file_data, source, origin)
    layer, env_names, env_issues = env_layer(env)
    issues.extend(env_issues)
    defined = instance_ids(file_data) | instance_ids(layer) | instance_ids(overrides)
    secrets_data, secrets, secret_issues = secrets_layer(
        secret_tables,
        file_data,
        defined,
        str(secrets_file),
        source
        if path is not None
        else f"your own config file ({DEFAULT_CONFIG_PATH_TEXT} is in use)",
    )
    issues.extend(secret_issues)
    merge_layer(data, secrets_data, str(secrets_file), origin)
    merge_layer(data, layer, ENV_SOURCE, origin)
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            message = f"expected a mapping of tables, found {describe_value(overrides)}"
            issues.append(ConfigIssue(OVERRIDES_SOURCE, "", message))
        else:
            merge_layer(data, overrides, OVERRIDES_SOURCE, origin)

    validator = _Validator(data, origin, env_names, env, secrets, host_secrets)
    validator.issues.extend(issues)
    return validator.host_config(
        None if path is None else file_path, None if secrets_path is False else secrets_file
    )


def _store_config(values: dict[str, Any]) -> StoreConfig:
    """``[store]``, with its lists as tuples (the config is frozen)."""
    lists = {key: tuple(str(v) for v in values[key]) for key in ("registries", "find_links")}
    return StoreConfig(**{**values, **lists})
