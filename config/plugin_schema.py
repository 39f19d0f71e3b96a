"""Validate a plugin instance's options against the JSON Schema its plugin declares.

The host learns a plugin's schema at run time, from the worker's hello (the
``config_schema`` hook); the host never imports plugin code. Two kinds of failure stay
apart: a bad *schema* is the plugin author's bug (:class:`~config.errors.PluginSchemaError`
from :func:`check_schema`), a bad *value* is the user's to fix
(:class:`~config.errors.ConfigError` from :func:`validate_plugin_config`, one issue per
key, all at once).

Secrets (properties marked ``"writeOnly": true``, see :mod:`config.secrets`) are
validated with the rest — type, length, pattern, required — but come out apart from the
options, and no issue ever quotes a secret value: jsonschema's messages quote the value
they judge (``'hunter2' is too short``), so for a secret, or for the whole table when it
holds secrets, the message is rebuilt from the failed keyword and the schema alone.

Pure: no I/O (STYLE.md rule 17).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, final

from config.errors import ConfigError, ConfigIssue, PluginSchemaError
from config.model import PluginInstanceConfig
from config.schema import describe_value, format_key, plain_data, suggest
from config.secrets import describe_failure, scrub_text, secret_keys, secret_strings

if TYPE_CHECKING:
    # jsonschema ships no type information; ``types-jsonschema`` provides it when
    # installed. "unused-ignore" keeps mypy --strict quiet in both cases.
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]


def _validator_class() -> type[Draft202012Validator]:
    """jsonschema, imported on first use: it is ~75 ms of start-up CPU, and the host's
    display path never validates a schema (workers and ``config check`` do)."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

    return Draft202012Validator  # type: ignore[no-any-return, unused-ignore]


__all__ = [
    "PluginConfig",
    "check_schema",
    "fill_defaults",
    "validate_instance",
    "validate_plugin_config",
    "validate_plugin_options",
]

_MISSING: Final = object()
#: Keywords whose message at the table's top level names keys only, never values.
_KEYS_ONLY: Final = frozenset(
    {"required", "dependentRequired", "dependencies", "propertyNames", "unevaluatedProperties"}
)
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
    Draft202012Validator = _validator_class()
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
    validator = _validator_class()(plain)
    issues = [
        ConfigIssue(source, format_key(path), f"{message} ({_BUG})")
        for path, message in _issues_in_defaults(validator, plain, ())
    ]
    if issues:
        raise PluginSchemaError(issues)


#: Keywords whose subschemas' ``properties`` count as declared at the same level.
_COMPOSED = ("allOf", "anyOf", "oneOf")
#: Keywords by which a schema says what to do with keys it does not declare.
_OPEN = frozenset({"additionalProperties", "patternProperties", "unevaluatedProperties"})


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` refusing unknown top-level options, unless it says what to do with them.

    JSON Schema accepts any extra key by default, so a misspelt option (``mesage``) would
    be ignored without a word. An option that is not declared is reported instead, with
    a did-you-mean; a plugin that takes free-form keys says so with
    ``additionalProperties``, ``patternProperties`` or ``unevaluatedProperties``.
    ``unevaluatedProperties`` (not ``additionalProperties``) closes it, because it also
    sees the options declared through ``allOf`` or a ``$ref``.
    """
    if _OPEN & set(schema) or not _declared(schema, schema):
        return schema
    return {**schema, "unevaluatedProperties": False}


def _declared(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int = 0) -> set[str]:
    """Every option name ``schema`` declares at its top level, through ``$ref``, ``allOf``,
    ``anyOf`` and ``oneOf`` too."""
    schema = _deref(schema, root)
    names = set(schema.get("properties") or {})
    if depth < 16:
        for keyword in _COMPOSED:
            for sub in schema.get(keyword) or ():
                if isinstance(sub, Mapping):
                    names |= _declared(sub, root, depth + 1)
    return names


def _unknown_keys(error: Any, root: Mapping[str, Any]) -> list[str]:
    """The keys an ``unevaluatedProperties`` or ``additionalProperties`` error is about."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = _declared(schema, root)
    patterns = schema.get("patternProperties", {})
    return [
        key
        for key in error.instance
        if key not in known and not any(re.search(pattern, key) for pattern in patterns)
    ]


@final
@dataclass(frozen=True, slots=True)
class PluginConfig:
    """One instance's validated values: options and secrets apart, defaults filled in."""

    #: What the worker gets as ``context.config``: every non-secret key.
    options: dict[str, Any]
    #: What the worker gets as ``context.secrets``: the keys the schema marks secret.
    secrets: dict[str, Any] = field(default_factory=dict, repr=False)


def _issue_source(path: tuple[str | int, ...], sources: Mapping[str, str], default: str) -> str:
    top = path[0] if path else None
    return sources.get(top, default) if isinstance(top, str) else default


def _secret_home(secrets_file: str) -> str:
    return f"the secrets file {secrets_file}" if secrets_file else "the secrets file"


def _misplaced_secret_issues(
    schema_props: Mapping[str, Any],
    marked: frozenset[str],
    options: Mapping[str, Any],
    secrets: Mapping[str, Any],
    where: str,
    source: str,
    sources: Mapping[str, str],
    file_keys: Collection[str],
    secrets_file: str,
) -> list[ConfigIssue]:
    """A secret written in the config file, and a non-secret in the secrets file."""
    issues = [
        ConfigIssue(
            source,
            f"{where}.{format_key((key,))}",
            f"this option is secret: move it to {_secret_home(secrets_file)} "
            "(readable by its owner only, mode 0600) and remove it from this file",
        )
        # Also when the secrets file or the environment set it again afterwards: the
        # config file still holds it.
        for key in dict.fromkeys((*options, *secrets))
        if key in marked and key in file_keys
    ]
    home = secrets_file or "the secrets file"
    for key in secrets:
        if key in marked:
            continue
        if key in schema_props:
            message = (
                f"{key!r} is an ordinary option of this plugin, not a secret: set it in the "
                f"config file's [{where}] instead"
            )
        else:
            known = ", ".join(sorted(marked)) or "none"
            message = (
                f"unknown secret {key!r}{suggest(key, sorted(marked))}: this plugin's "
                f"secret options are: {known}"
            )
        issues.append(ConfigIssue(sources.get(key, home), f"{where}.{format_key((key,))}", message))
    return issues


def _hidden_message(error: Any, marked: frozenset[str], instance: Mapping[str, Any]) -> str | None:
    """The message for ``error`` if jsonschema's own could quote a secret, else ``None``."""
    path = tuple(error.absolute_path)
    if path and path[0] in marked:
        phrase = describe_failure(error.validator, error.validator_value)
        return f"the secret value {phrase} (value hidden)"
    if not path and error.validator not in _KEYS_ONLY and marked & instance.keys():
        phrase = describe_failure(error.validator, error.validator_value)
        return f"the table {phrase} (values hidden: it holds secrets)"
    return None


def validate_plugin_config(
    schema: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    secrets: Mapping[str, Any] | None = None,
    *,
    where: str,
    source: str = "config",
    plugin_id: str | None = None,
    key_sources: Mapping[str, str] | None = None,
    file_keys: Collection[str] = frozenset(),
    secrets_file: str = "",
) -> PluginConfig:
    """Validate one instance's values, fill in defaults, and split secrets from options.

    A key the schema marks ``"writeOnly": true`` is a secret. Its value is validated like
    any other, then returned in :attr:`PluginConfig.secrets`, never in the options.

    :param schema: the plugin's JSON Schema (Draft 2020-12), or ``None`` when the plugin
        takes no options, in which case every option and secret is an error.
    :param options: the instance's options (``PluginInstanceConfig.options``): values
        from the config file, the environment and overrides. A secret among them is fine
        (an environment variable may set one) unless the config file wrote it.
    :param secrets: the values the secrets file set (``PluginInstanceConfig.secrets``);
        each must be a key the schema marks secret.
    :param where: the key prefix of every issue, e.g. ``"plugins.text"``.
    :param source: where the options came from (``PluginInstanceConfig.source``): the
        source of issues about keys without an entry in ``key_sources``.
    :param plugin_id: names the plugin if its schema is broken; defaults to ``where``.
    :param key_sources: the layer that set each key (``PluginInstanceConfig.key_sources``).
    :param file_keys: the keys written in the config file itself; a secret among them is
        an error, since that file is not private (``PluginInstanceConfig.file_keys``).
    :param secrets_file: the secrets file, named in the hint of that error.
    :returns: the options and the secrets, each a new plain dict with defaults filled in.
    :raises PluginSchemaError: the schema itself is invalid (see :func:`check_schema`).
    :raises ConfigError: listing every bad value, e.g.
        ``plugins.text.speed: 'fast' is not of type 'number'``, or for a secret
        ``plugins.weather.api_key: the secret value is too short (at least 16
        characters)``: an issue never quotes a secret value.
    """
    secrets = secrets or {}
    sources = key_sources or {}
    if schema is None:
        validate_plugin_options(None, {**options, **secrets}, where=where, source=source)
        return PluginConfig({}, {})
    check_schema(schema, plugin_id=where if plugin_id is None else plugin_id)
    plain_schema: dict[str, Any] = plain_data(schema)
    marked = secret_keys(plain_schema)
    props = plain_schema.get("properties")
    issues = _misplaced_secret_issues(
        props if isinstance(props, Mapping) else {},
        marked,
        options,
        secrets,
        where,
        source,
        sources,
        file_keys,
        secrets_file,
    )
    # A non-secret from the secrets file was reported above; it is a secret to us all the
    # same (the user put it there), so it stays out of what is checked and quoted.
    merged = {**options, **{k: v for k, v in secrets.items() if k in marked}}
    hidden = secret_strings({**{k: v for k, v in options.items() if k in marked}, **dict(secrets)})
    result = fill_defaults(plain_schema, merged)
    Draft202012Validator = _validator_class()
    validator = Draft202012Validator(
        _closed(plain_schema), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for error in validator.iter_errors(result):
        path = tuple(error.absolute_path)
        if error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(
            error.instance, dict
        ):
            names = sorted(_declared(error.schema, plain_schema))
            for key in _unknown_keys(error, plain_schema):
                key_path = f"{where}.{format_key((*path, key))}"
                message = f"unknown option {key!r}{suggest(key, names)}"
                issues.append(
                    ConfigIssue(_issue_source((key,), sources, source), key_path, message)
                )
            continue
        message = _hidden_message(error, marked, result) or error.message
        if error.validator == "required":
            missing = [k for k in marked if error.message == f"{k!r} is a required property"]
            if missing and not path:
                message += f": it is secret, so set it in {_secret_home(secrets_file)}"
        key_path = f"{where}.{format_key(path)}" if path else where
        issues.append(
            ConfigIssue(_issue_source(path, sources, source), key_path, scrub_text(message, hidden))
        )
    if issues:
        raise ConfigError(issues)
    return PluginConfig(
        options={k: v for k, v in result.items() if k not in marked},
        secrets={k: v for k, v in result.items() if k in marked},
    )


def validate_instance(
    schema: Mapping[str, Any] | None,
    instance: PluginInstanceConfig,
    *,
    plugin_id: str | None = None,
) -> PluginConfig:
    """:func:`validate_plugin_config` for one loaded instance, with all it knows.

    :param schema: the plugin's JSON Schema, or ``None`` for a plugin without options.
    :param instance: from ``HostConfig.plugins``: options, secrets and where each came from.
    :param plugin_id: names the plugin if its schema is broken; defaults to the key prefix.
    """
    return validate_plugin_config(
        schema,
        instance.options,
        instance.secrets,
        where=f"plugins.{instance.instance_id}",
        source=instance.source,
        plugin_id=plugin_id,
        key_sources=instance.key_sources,
        file_keys=instance.file_keys,
        secrets_file=instance.secrets_source,
    )


def validate_plugin_options(
    schema: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    *,
    where: str,
    source: str = "config",
    plugin_id: str | None = None,
) -> dict[str, Any]:
    """Validate one instance's options and fill in the schema's defaults.

    :func:`validate_plugin_config` without secrets: a key the schema marks secret is
    validated and then left out of the result.

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
    return validate_plugin_config(
        schema, options, where=where, source=source, plugin_id=plugin_id
    ).options
