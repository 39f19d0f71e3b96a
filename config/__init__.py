"""ledhost's configuration: one TOML file, environment overrides, validated and frozen.

``load_config()`` reads the file, applies ``LEDHOST_<SECTION>__<NAME>`` environment
variables and an override mapping, checks everything against the settings declared once
in :mod:`config.schema`, and returns a frozen :class:`HostConfig` (:mod:`config.model`;
time windows in :mod:`config.windows`), or raises one :class:`ConfigError` listing every
problem. Plugin options are checked later, against the JSON Schema each plugin reports,
by :func:`validate_plugin_options`.

This package imports nothing else of ledhost's. Its core is pure — no I/O, clock or
process state — except :mod:`config.loader` reading the one file and
:func:`config.windows.check_timezone` reading the time-zone database (STYLE.md rule 17).
"""

from __future__ import annotations

from config.errors import ConfigError, ConfigIssue, PluginSchemaError
from config.layouts import Layout, Region
from config.loader import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_CONFIG_PATH_TEXT,
    TICKER,
    default_config_text,
    load_config,
)
from config.model import (
    DisplayConfig,
    HostConfig,
    PathsConfig,
    PluginInstanceConfig,
    RotationConfig,
    RotationEntry,
    TickerConfig,
    TransitionsConfig,
    WorkersConfig,
)
from config.plugin_schema import check_schema, fill_defaults, validate_plugin_options
from config.reference import settings_reference_markdown
from config.schema import (
    ENV_PREFIX,
    ID_PATTERN,
    TRANSITION_KINDS,
    Setting,
    is_valid_id,
)
from config.settings import INSTANCE_SETTINGS, SETTINGS
from config.windows import TINTS, DimWindow, ScheduleConfig, Window

__all__ = [
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
    "PluginInstanceConfig",
    "PluginSchemaError",
    "RotationConfig",
    "RotationEntry",
    "ScheduleConfig",
    "Setting",
    "TickerConfig",
    "TransitionsConfig",
    "Window",
    "WorkersConfig",
    "check_schema",
    "default_config_text",
    "fill_defaults",
    "is_valid_id",
    "load_config",
    "settings_reference_markdown",
    "validate_plugin_options",
]
