"""``ledhost config check`` and ``ledhost config show``.

``check`` answers "will this file work?" before a restart: the host settings, and the
options of every enabled plugin instance against the JSON Schema its plugin declares,
all errors at once, one per line (``file: key.path: what was expected``). Schemas come
from workers started in describe mode, as ``ledhost plugins`` does: the host never
imports plugin code. An older file is upgraded first (with a backup), as ``run`` does.

``show`` prints the config the host would run with: every default filled in, plugin
options with their schema's defaults, environment variables applied, and secrets
redacted, as TOML a user could save as a config file, or as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from config import ConfigIssue, HostConfig, PluginInstanceConfig
    from host.supervise.rules import WorkerRules

__all__ = ["add_config_parser", "cmd_config", "migrate_and_note"]

#: The first lines of ``ledhost config show``'s TOML.
SHOW_HEADER: Final = (
    "# The effective config of {name}: every default filled in (plugin options too),\n"
    '# environment variables applied, secrets shown as "<redacted>".\n'
    "# Printed by `ledhost config show`.\n"
)


#: One help text for every command's ``--plugin-path``.
PLUGIN_PATH_HELP = "another folder of plugin distributions (*.dist-info); repeatable"


def add_config_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``config check`` and ``config show`` to the ``ledhost`` parser."""
    config = sub.add_parser("config", help="check the config or show the effective one")
    actions = config.add_subparsers(dest="config_command", required=True)
    check = actions.add_parser(
        "check",
        parents=[common],
        help="validate a config file and its plugins' options; print every error",
        description="Validate the host settings and every enabled plugin instance's "
        "options against its plugin's schema. Prints each error on one line and exits 1, "
        "or prints 'config OK' and exits 0. Upgrades a file written by an older ledhost "
        "first, keeping a backup.",
    )
    check.add_argument(
        "file", nargs="?", type=Path, metavar="FILE", help="config file (default: the embedded one)"
    )
    check.add_argument(
        "--plugin-path", action="append", default=[], type=Path, help=PLUGIN_PATH_HELP
    )
    show = actions.add_parser(
        "show",
        parents=[common],
        help="print the effective config (defaults filled, secrets redacted)",
    )
    show.add_argument("--config", type=Path, help="config file (default: the embedded one)")
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    show.add_argument(
        "--plugin-path", action="append", default=[], type=Path, help=PLUGIN_PATH_HELP
    )


def cmd_config(ns: argparse.Namespace) -> int:
    """Run ``ledhost config <action>``."""
    if ns.config_command == "check":
        return cmd_check(ns)
    return cmd_show(ns)


def migrate_and_note(path: Path | None) -> None:
    """Upgrade an older config file in place (with a backup) and say so on stderr.

    ``ledhost run`` and ``ledhost config check`` call it before loading the file; the
    loader upgrades in memory whatever could not be written.

    :raises ConfigError: the file is newer than this ledhost, or cannot be upgraded.
    """
    from config.migrate import migrate_file

    if path is None:
        return
    for note in migrate_file(path):
        print(f"ledhost: note: {note}", file=sys.stderr)


@dataclass(frozen=True, slots=True)
class _Described:
    """What checking the plugin instances found: issues, and each plugin's schema."""

    issues: list[ConfigIssue]
    #: Plugin id -> its config schema (``None``: takes no options); only plugins that
    #: answered.
    schemas: dict[str, Mapping[str, Any] | None]
    #: Plugin id -> the names of the modes it registers; only plugins that answered.
    modes: dict[str, list[str]] = field(default_factory=dict)


def cmd_check(ns: argparse.Namespace) -> int:
    """``ledhost config check [FILE]``: exit 0 when everything is valid, else 1."""
    from config import DEFAULT_CONFIG_PATH_TEXT, ConfigError, load_config

    path: Path | None = ns.file
    name = str(path) if path is not None else DEFAULT_CONFIG_PATH_TEXT
    issues: list[ConfigIssue] = []
    cfg: HostConfig | None = None
    try:
        migrate_and_note(path)
        cfg = load_config(path)
    except ConfigError as exc:
        issues += exc.errors
    if cfg is not None:
        instances = list(cfg.plugins.values())
    else:
        instances = _instances_despite_host_errors(path, issues)
    enabled = [instance for instance in instances if instance.enabled]
    if enabled:
        described = _check_instances(enabled, cfg, ns.plugin_path)
        issues += described.issues
        if cfg is not None:
            issues += _mode_issues(cfg, described.modes)
    if cfg is not None:
        _warn_unshown(cfg, [i.instance_id for i in enabled])
    if issues:
        for issue in issues:
            print(issue)
        count = f"{len(issues)} error{'s' if len(issues) != 1 else ''}"
        print(f"config has {count}: {name}", file=sys.stderr)
        return 1
    count = f"{len(enabled)} plugin instance{'s' if len(enabled) != 1 else ''}"
    print(f"config OK: {name} ({count})")
    # The file is fine, but what will run it is not (host.cli.startcheck told what).
    broken = len(getattr(ns, "selfcheck", ()))
    if broken:
        print(
            f"but ledhost's own environment has {broken} problem{'s' if broken != 1 else ''}"
            " (above)",
            file=sys.stderr,
        )
        return 1
    return 0


def _mode_issues(cfg: HostConfig, plugin_modes: Mapping[str, list[str]]) -> list[ConfigIssue]:
    """Every reference to a mode its plugin does not register, with a did-you-mean."""
    from config import ConfigIssue
    from host.schedule.refs import unknown_mode_issues

    modes = {
        iid: plugin_modes[inst.plugin_id]
        for iid, inst in cfg.plugins.items()
        if inst.plugin_id in plugin_modes
    }
    source = str(cfg.path) if cfg.path is not None else "config"
    found = unknown_mode_issues(cfg, modes)
    return [ConfigIssue(source, ref.key, message) for ref, message in found]


def _warn_unshown(cfg: HostConfig, enabled: list[str]) -> None:
    """Warn (not an error: the file is valid) of enabled instances nothing shows."""
    from host.schedule.refs import shown_instances, unshown_message

    shown = shown_instances(cfg, enabled)
    for iid in enabled:
        if iid not in shown:
            print(f"ledhost: warning: {unshown_message(iid)}", file=sys.stderr)


def _instances_despite_host_errors(
    path: Path | None, issues: list[ConfigIssue]
) -> list[PluginInstanceConfig]:
    """The plugin instances of a file whose host settings are invalid, to check them too.

    The loader reports every problem but returns no config then; this reads the plugin
    tables again (file, upgraded in memory, then environment) so one run of ``check``
    shows the host errors and the plugin errors together. Tables the loader already
    found malformed are skipped, and so is everything when the file itself is unreadable.
    Secrets come from the secrets file the loader would read, when it can be read.
    """
    from config import (
        DEFAULT_CONFIG_PATH,
        INSTANCE_SETTINGS,
        ConfigError,
        PluginInstanceConfig,
        is_valid_id,
    )
    from config.loader import ENV_SOURCE, env_layer, read_config_file
    from config.migrate import migrate_document
    from config.secrets import default_secrets_path, load_secrets_file

    if any(not issue.key for issue in issues):
        return []  # missing, unreadable or not TOML: nothing to read instances from
    source = str(DEFAULT_CONFIG_PATH if path is None else path)
    try:
        data, _ = migrate_document(read_config_file(Path(source)), source=source)
    except ConfigError:
        return []
    secrets_path = default_secrets_path(path, os.environ)
    try:
        secrets = load_secrets_file(secrets_path)
    except ConfigError:  # reported already
        secrets = {}
    file_tables = data.get("plugins")
    env_tables = env_layer(os.environ)[0].get("plugins")
    tables: dict[str, tuple[Any, str]] = {}
    for layer, where in ((file_tables, source), (env_tables, ENV_SOURCE)):
        if not isinstance(layer, Mapping):
            continue
        for instance_id, table in layer.items():
            if instance_id in tables and isinstance(table, Mapping):
                merged = tables[instance_id][0]
                if isinstance(merged, Mapping):
                    tables[instance_id] = ({**merged, **table}, tables[instance_id][1])
                    continue
            tables[instance_id] = (table, where)
    reserved = {setting.name for setting in INSTANCE_SETTINGS}
    instances = []
    for instance_id, (table, where) in tables.items():
        if not (is_valid_id(instance_id) and isinstance(table, Mapping)):
            continue
        plugin_id = table.get("plugin") or instance_id
        enabled = table.get("enabled", True)
        if not is_valid_id(plugin_id) or not isinstance(enabled, bool):
            continue
        options = {key: value for key, value in table.items() if key not in reserved}
        written = file_tables.get(instance_id) if isinstance(file_tables, Mapping) else None
        hidden = dict(secrets.get(instance_id, {}))
        key_sources = {
            **{key: str(secrets_path) for key in hidden},
            **dict.fromkeys(options, where),
        }
        instances.append(
            PluginInstanceConfig(
                instance_id=instance_id,
                plugin_id=plugin_id,
                enabled=enabled,
                options=MappingProxyType(options),
                source=where,
                secrets=MappingProxyType(hidden),
                key_sources=MappingProxyType(key_sources),
                secrets_source=str(secrets_path),
                file_keys=frozenset(written) if isinstance(written, Mapping) else frozenset(),
            )
        )
    return instances


def _worker_rules(cfg: HostConfig | None, issues: list[ConfigIssue]) -> WorkerRules | None:
    """Rules for the describing workers: the checked file's, else the default ones.

    Plugin code runs in those workers, so they are contained like the host's. When the
    checked config is invalid, the embedded default's rules apply, without ``LEDHOST_``
    variables (one of those may be what is invalid) but ``LEDHOST_WORKERS__USER``. A
    worker user that cannot run workers is an issue of the config (``None``: skip the
    plugins).
    """
    from config import ConfigError, ConfigIssue, load_config
    from config.loader_layers import is_config_variable
    from host.errors import HostError
    from host.planning import checked_rules

    if cfg is None:
        env = {k: v for k, v in os.environ.items() if not is_config_variable(k)}
        base = load_config(None, env=env)
        # ... but the worker user said in the environment (it decides who runs plugin
        # code, "root" included) still applies when it is valid on its own.
        user = os.environ.get("LEDHOST_WORKERS__USER")
        if user is not None:
            with contextlib.suppress(ConfigError):
                base = load_config(None, env={**env, "LEDHOST_WORKERS__USER": user})
    else:
        base = cfg
    try:
        return checked_rules(base)
    except HostError as exc:
        source = str(base.path) if base.path is not None else "config"
        issues.append(ConfigIssue(source, "workers.user", str(exc).removeprefix("workers.user ")))
        return None


def _check_instances(
    instances: list[PluginInstanceConfig], cfg: HostConfig | None, plugin_paths: list[Path]
) -> _Described:
    """Describe the instances' plugins in workers and validate each instance's options."""
    from config import ConfigIssue
    from host.cli.probe import describe_plugins
    from host.discovery import discover

    issues: list[ConfigIssue] = []
    # Absolute: workers start in / and must find the folder too.
    specs = discover([str(p.resolve()) for p in plugin_paths])
    wanted = {i.plugin_id: specs[i.plugin_id] for i in instances if i.plugin_id in specs}
    described: dict[str, dict[str, Any]] = {}
    if wanted:
        rules = _worker_rules(cfg, issues)
        if rules is not None:
            described = describe_plugins(list(wanted.values()), rules=rules)
    schemas: dict[str, Mapping[str, Any] | None] = {}
    modes: dict[str, list[str]] = {}
    for plugin_id, info in described.items():
        if "error" not in info:
            schema = info.get("schema")
            schemas[plugin_id] = schema if isinstance(schema, Mapping) else None
            modes[plugin_id] = [m["name"] for m in info.get("modes") or []]
    # Issues in config order, instance by instance, as the user reads the file.
    for instance in instances:
        key = f"plugins.{instance.instance_id}"
        answer = described.get(instance.plugin_id)
        if instance.plugin_id not in specs:
            named = instance.plugin_id != instance.instance_id
            message = _unknown_plugin(instance.plugin_id, list(specs))
            issues.append(ConfigIssue(instance.source, key + (".plugin" if named else ""), message))
        elif answer is not None and "error" in answer:
            message = f"plugin {instance.plugin_id!r} failed to load: {answer['error']}"
            issues.append(ConfigIssue(instance.source, key, message))
        elif answer is not None:
            issues += _instance_issues(instance, schemas.get(instance.plugin_id))
    return _Described(issues, schemas, modes)


def _unknown_plugin(plugin_id: str, installed: list[str]) -> str:
    from config.schema import suggest

    listing = ", ".join(installed) or "none"
    hint = suggest(plugin_id, installed)
    return f"no plugin {plugin_id!r} is installed{hint}; installed: {listing}"


def _instance_issues(
    instance: PluginInstanceConfig, schema: Mapping[str, Any] | None
) -> list[ConfigIssue]:
    """The instance's issues, checked in a child that a hostile schema cannot hang."""
    from config import ConfigIssue
    from host.cli.bounded import call_bounded

    try:
        return call_bounded(lambda: _schema_issues(instance, schema))
    except TimeoutError as exc:
        message = f"plugin {instance.plugin_id!r}: its config schema {exc} to check these options"
        return [ConfigIssue(instance.source, f"plugins.{instance.instance_id}", message)]


def _schema_issues(
    instance: PluginInstanceConfig, schema: Mapping[str, Any] | None
) -> list[ConfigIssue]:
    from config import ConfigError
    from config.plugin_schema import validate_plugin_config

    try:
        validate_plugin_config(
            schema,
            instance.options,
            instance.secrets,
            where=f"plugins.{instance.instance_id}",
            source=instance.source,
            plugin_id=instance.plugin_id,
            key_sources=instance.key_sources,
            file_keys=instance.file_keys,
            secrets_file=instance.secrets_source,
        )
    except ConfigError as exc:  # PluginSchemaError too: the plugin's bug, named as such
        return list(exc.errors)
    return []


def cmd_show(ns: argparse.Namespace) -> int:
    """``ledhost config show``: print the effective config, secrets redacted."""
    from config import DEFAULT_CONFIG_PATH_TEXT, load_config
    from config.loader import ENV_SOURCE
    from config.secrets import REDACTED

    cfg = load_config(ns.config)
    data = cfg.to_dict(secrets="redact")
    instances = list(cfg.plugins.values())
    described = _check_instances(instances, cfg, ns.plugin_path) if instances else None
    for instance in instances:
        table = data["plugins"][instance.instance_id]
        if described is None or instance.plugin_id not in described.schemas:
            # Without the schema nothing tells a secret from an option, and a secret may
            # come from the environment: hide every value that came from there.
            hidden = [k for k in table if instance.key_sources.get(k) == ENV_SOURCE]
            table.update(dict.fromkeys(hidden, REDACTED))
            print(
                f"ledhost: note: plugins.{instance.instance_id}: shown without its plugin's "
                "defaults, and with its values from environment variables hidden (the "
                "plugin is not installed or did not load)",
                file=sys.stderr,
            )
            continue
        data["plugins"][instance.instance_id] = _effective_options(
            table, described.schemas[instance.plugin_id]
        )
    from config.migrate import CURRENT_VERSION, VERSION_KEY

    data = {VERSION_KEY: CURRENT_VERSION, **data}
    if ns.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        name = str(cfg.path) if cfg.path is not None else DEFAULT_CONFIG_PATH_TEXT
        print(SHOW_HEADER.format(name=name) + _to_toml(data), end="")
    return 0


def _effective_options(table: dict[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """An instance's table with its schema's defaults filled in and its secrets redacted.

    ``table`` already shows the secrets file's keys as redacted; the schema also catches
    a secret set by an environment variable, which the loader cannot tell from an option.
    """
    from config import INSTANCE_SETTINGS
    from config.secrets import redact
    from host.cli.bounded import call_bounded

    reserved = {setting.name for setting in INSTANCE_SETTINGS}
    head = {key: value for key, value in table.items() if key in reserved}
    options = {key: value for key, value in table.items() if key not in reserved}
    if schema is not None:
        try:
            # check_schema checks the schema's defaults: a hostile one could hang here.
            options = call_bounded(lambda: _with_defaults(schema, options, table.get("plugin")))
        except TimeoutError:
            pass  # reported by `config check`; show the options as they are
    return {**head, **redact(options, schema)}


def _with_defaults(
    schema: Mapping[str, Any], options: dict[str, Any], plugin: object
) -> dict[str, Any]:
    """``options`` with the schema's defaults, or as they are if the schema is broken."""
    from config import PluginSchemaError, check_schema, fill_defaults

    try:
        check_schema(schema, plugin_id=str(plugin))
        return fill_defaults(schema, options)
    except PluginSchemaError:
        return options  # its own bug, reported by `config check`


def _to_toml(data: Mapping[str, Any]) -> str:
    """Render config data as TOML the way a person writes it.

    Sections become ``[tables]`` (``[plugins.<id>]`` under a super table), and arrays
    stay on their line with tables inside them inline, like ``default.toml`` writes time
    windows and rotation entries, rather than tomlkit's ``[[arrays.of.tables]]``.
    """
    import tomlkit

    def value(item: Any) -> Any:
        if isinstance(item, Mapping):
            inline = tomlkit.inline_table()
            inline.update({key: value(sub) for key, sub in item.items()})
            return inline
        if isinstance(item, list):
            array = tomlkit.array()
            array.extend(value(sub) for sub in item)
            return array
        return item

    def table(items: Mapping[str, Any]) -> Any:
        result = tomlkit.table()
        for key, item in items.items():
            result.add(key, value(item))
        return result

    document = tomlkit.document()
    for key, item in data.items():
        if not isinstance(item, Mapping):
            document.add(key, value(item))
        elif key in ("plugins", "layouts"):
            outer = tomlkit.table(is_super_table=True)
            for name, sub in item.items():
                outer.add(name, table(sub) if isinstance(sub, Mapping) else value(sub))
            document.add(key, outer)
        else:
            document.add(key, table(item))
    return tomlkit.dumps(document)
