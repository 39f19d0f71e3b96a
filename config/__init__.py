"""ledhost's configuration: one TOML file, its secrets file, environment overrides.

``load_config()`` reads the file and its secrets file (:mod:`config.secrets`), applies
``LEDHOST_<SECTION>__<NAME>`` environment variables and an override mapping, checks
everything against the settings declared once in :mod:`config.schema`, and returns a
frozen :class:`HostConfig` (:mod:`config.model`; time windows in :mod:`config.windows`),
or raises one :class:`ConfigError` listing every problem. Plugin options are checked
later, against the JSON Schema each plugin reports, by :func:`validate_plugin_config`,
which also keeps the plugin's secrets apart.

Writes go through one helper, :func:`atomic_write` (:mod:`config.atomic`: temp file,
fsync, rename, fsync of the folder, backups); :mod:`config.migrate` upgrades files an
older ledhost wrote; :func:`diff_configs` (:mod:`config.diff`) says what a reload changes.

This package imports nothing else of ledhost's. Its core is pure — no I/O, clock or
process state — except :mod:`config.loader` reading the config and secrets files,
:mod:`config.atomic` and :func:`config.migrate.migrate_file` writing files, and
:func:`config.windows.check_timezone` reading the time-zone database (STYLE.md rule 17).
"""

from __future__ import annotations

from config.atomic import (
    BACKUP_DIR,
    Backup,
    BackupNotFoundError,
    atomic_write,
    list_backups,
    restore_backup,
)
from config.diff import ConfigDiff, diff_configs, keep_running_values
from config.errors import ConfigError, ConfigIssue, PluginSchemaError
from config.layouts import Layout, Region
from config.loader import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_CONFIG_PATH_TEXT,
    TICKER,
    default_config_text,
    load_config,
)
from config.migrate import CURRENT_VERSION, migrate_document, migrate_file
from config.model import (
    DisplayConfig,
    HostConfig,
    LoggingConfig,
    PathsConfig,
    PluginInstanceConfig,
    RotationConfig,
    RotationEntry,
    TickerConfig,
    TransitionsConfig,
    WebConfig,
    WorkersConfig,
)
from config.plugin_schema import (
    PluginConfig,
    check_schema,
    fill_defaults,
    validate_instance,
    validate_plugin_config,
    validate_plugin_options,
)
from config.reference import settings_reference_markdown
from config.schema import (
    ENV_PREFIX,
    ID_PATTERN,
    TRANSITION_KINDS,
    Setting,
    is_valid_id,
)
from config.secrets import (
    REDACTED,
    SECRET_MARK,
    default_secrets_path,
    load_secrets_file,
    redact,
    secret_keys,
)
from config.settings import INSTANCE_SETTINGS, SETTINGS
from config.windows import TINTS, DimWindow, ScheduleConfig, Window

__all__ = [
    "BACKUP_DIR",
    "CURRENT_VERSION",
    "Backup",
    "BackupNotFoundError",
    "ConfigDiff",
    "LoggingConfig",
    "WebConfig",
    "atomic_write",
    "diff_configs",
    "keep_running_values",
    "list_backups",
    "migrate_document",
    "migrate_file",
    "restore_backup",
    "Layout",
    "Region",
    "TICKER",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_CONFIG_PATH_TEXT",
    "ENV_PREFIX",
    "ID_PATTERN",
    "INSTANCE_SETTINGS",
    "SETTINGS",
    "TINTS",
    "TRANSITION_KINDS",
    "ConfigError",
    "ConfigIssue",
    "DimWindow",
    "DisplayConfig",
    "HostConfig",
    "PathsConfig",
    "PluginConfig",
    "PluginInstanceConfig",
    "PluginSchemaError",
    "REDACTED",
    "RotationConfig",
    "SECRET_MARK",
    "RotationEntry",
    "ScheduleConfig",
    "Setting",
    "TickerConfig",
    "TransitionsConfig",
    "Window",
    "WorkersConfig",
    "check_schema",
    "default_config_text",
    "default_secrets_path",
    "fill_defaults",
    "is_valid_id",
    "load_config",
    "load_secrets_file",
    "redact",
    "secret_keys",
    "settings_reference_markdown",
    "validate_instance",
    "validate_plugin_config",
    "validate_plugin_options",
]
