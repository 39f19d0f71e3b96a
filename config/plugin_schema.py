"""Validate a plugin instance's options against the JSON Schema its plugin declares.

The host learns a plugin's schema at run time, from the worker's hello (the
``config_schema`` hook); the host never imports plugin code. Two kinds of failure stay
apart: a bad *schema* is the plugin author's bug (:class:`~config.errors.PluginSchemaError`
from :func:`check_schema`), a bad *value* is the user's to fix
(:class:`~config.errors.ConfigError` from :func:`validate_plugin_options`, one issue per
key, all at once).

Pure: no I/O (STYLE.md rule 17).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

# jsonschema ships no type information; ``types-jsonschema`` provides it when installed.
# "unused-ignore" keeps mypy --strict quiet in both cases.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from config.errors import ConfigError, ConfigIssue, PluginSchemaError
from config.schema import describe_value, format_key, plain_data, suggest

__all__ = ["check_schema", "fill_defaults", "validate_plugin_options"]

_MISSING: Final = object()
_BUG: Final = "a bug in the plugin's config_schema(), not in your config: report it to its author"


def _schema_source(plugin_id: str) -> str:
    return f"plugin {plugin_id!r}"


def _resolve(root: Mapping[str, Any], ref: object) -> Mapping[str, Any] | None:
    """Follow a local ``#/...`` JSON pointer; other references carry no defaults for us."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    node: Any = root
    for token in ref[1:].split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or token not in node:
            return None
        node = node[token]
    return node if isinstance(node, Mapping) else None


def _deref(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < 16:
        target = _resolve(root, schema["$ref"])
        if target is None:
            break
        schema, seen = target, seen + 1
    return schema if isinstance(schema, Mapping) else {}


def _fill(
    schema: Any, instance: Any, root: Mapping[str, Any], refs: tuple[str, ...], building: bool
) -> None:
    if not isinstance(schema, Mapping):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        # While building objects the user did not write, a recursive schema would build
        # forever; with the user's own data the data's depth bounds the recursion.
        if not (building and ref in refs):
            _fill(_resolve(root, ref), instance, root, (*refs, ref), building)
    all_of = schema.get("allOf")
    for sub in all_of if isinstance(all_of, list) else ():
        _fill(sub, instance, root, refs, building)
    if isinstance(instance, dict):
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            for name, sub in properties.items():
                if name not in instance:
                    target = _deref(sub, root)
                    default = target.get("default", _MISSING)
                    if default is not _MISSING:
                        instance[name] = copy.deepcopy(default)
                    elif target.get("type") == "object" or "properties" in target:
                        # A missing nested object is created when its own defaults fill
                        # it completely, so plugins can read config["font"]["size"].
                        built: dict[str, Any] = {}
                        _fill(sub, built, root, refs, True)
                        required = target.get("required", [])
                        if built and all(key in built for key in required):
                            instance[name] = built
                        continue
                if name in instance:
                    _fill(sub, instance[name], root, refs, building)
    elif isinstance(instance, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in instance:
                _fill(items, item, root, refs, building)


def fill_defaults(schema: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``options`` with every missing ``default`` of ``schema`` filled in.

    Follows ``properties`` (nested objects too, creating a missing nested object when its
    defaults cover its ``required`` keys), array ``items``, ``allOf`` and local ``$ref``.
    Defaults are deep-copied, so no two configs share a mutable default.
    """
    result: dict[str, Any] = plain_data(options)
    _fill(schema, result, schema, (), False)
    return result


def _issues_in_defaults(
    validator: Any, schema: Mapping[str, Any], path: tuple[str | int, ...]
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Yield (schema path, message) for every ``default`` that fails its own subschema."""
    if "default" in schema:
        for error in validator.evolve(schema=schema).iter_errors(schema["default"]):
            yield (
                (*path, "default"),
                f"default {describe_value(schema['default'])} is invalid: {error.message}",
            )
    for keyword in ("properties", "$defs"):
        children = schema.get(keyword)
        if isinstance(children, Mapping):
            for name, sub in children.items():
                if isinstance(sub, Mapping):
                    yield from _issues_in_defaults(validator, sub, (*path, keyword, name))
    items = schema.get("items")
    if isinstance(items, Mapping):
        yield from _issues_in_defaults(validator, items, (*path, "items"))


def check_schema(schema: object, *, plugin_id: str) -> None:
    """Check that a plugin's config schema is usable, before any user value meets it.

    :param schema: what the plugin's ``config_schema`` hook returned.
    :param plugin_id: the plugin, named in every issue.
    :raises PluginSchemaError: the schema is not a JSON object, not valid Draft 2020-12,
        does not describe an object, or has a ``default`` that fails its own subschema.
    """
    if schema is None:
        return
    source = _schema_source(plugin_id)
    if not isinstance(schema, Mapping):
        message = (
            f"config_schema() must return a JSON Schema object or None, found "
            f"{describe_value(schema)} ({_BUG})"
        )
        raise PluginSchemaError([ConfigIssue(source, "", message)])
    plain: dict[str, Any] = plain_data(schema)
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    issues = [
        ConfigIssue(
            source,
            format_key(tuple(error.absolute_path)),
            f"invalid JSON Schema: {error.message} ({_BUG})",
        )
        for error in meta.iter_errors(plain)
    ]
    if issues:
        raise PluginSchemaError(issues)
    kind = plain.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and "object" in kind):
        message = (
            f"a config schema must describe an object (a table of options), found "
            f"type {kind!r} ({_BUG})"
        )
        raise PluginSchemaError([ConfigIssue(source, "type", message)])
    validator = Draft202012Validator(plain)
    issues = [
        ConfigIssue(source, format_key(path), f"{message} ({_BUG})")
        for path, message in _issues_in_defaults(validator, plain, ())
    ]
    if issues:
        raise PluginSchemaError(issues)


def _unknown_keys(error: Any) -> list[str]:
    """The keys an ``additionalProperties`` error complains about."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return [
        key
        for key in error.instance
        if key not in known and not any(re.search(pattern, key) for pattern in patterns)
    ]


def validate_plugin_options(
    schema: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    *,
    where: str,
    source: str = "config",
    plugin_id: str | None = None,
) -> dict[str, Any]:
    """Validate one instance's options and fill in the schema's defaults.

    :param schema: the plugin's JSON Schema (Draft 2020-12), or ``None`` when the plugin
        takes no options, in which case every option is an error.
    :param options: the instance's options (``PluginInstanceConfig.options``).
    :param where: the key prefix of every issue, e.g. ``"plugins.text"``.
    :param source: where the options came from (``PluginInstanceConfig.source``).
    :param plugin_id: names the plugin if its schema is broken; defaults to ``where``.
    :returns: a new plain dict: the options with defaults filled in.
    :raises PluginSchemaError: the schema itself is invalid (see :func:`check_schema`).
    :raises ConfigError: listing every bad option, e.g.
        ``plugins.text.speed: 'fast' is not of type 'number'``.
    """
    if schema is None:
        if options:
            raise ConfigError(
                ConfigIssue(
                    source,
                    f"{where}.{format_key((key,))}",
                    f"unknown option {key!r}: this plugin takes no options",
                )
                for key in options
            )
        return {}
    check_schema(schema, plugin_id=where if plugin_id is None else plugin_id)
    plain_schema: dict[str, Any] = plain_data(schema)
    result = fill_defaults(plain_schema, options)
    validator = Draft202012Validator(
        plain_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    issues: list[ConfigIssue] = []
    for error in validator.iter_errors(result):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            names = list(error.schema.get("properties", {}))
            for key in _unknown_keys(error):
                key_path = f"{where}.{format_key((*path, key))}"
                issues.append(
                    ConfigIssue(source, key_path, f"unknown option {key!r}{suggest(key, names)}")
                )
            continue
        key_path = f"{where}.{format_key(path)}" if path else where
        issues.append(ConfigIssue(source, key_path, error.message))
    if issues:
        raise ConfigError(issues)
    return result
