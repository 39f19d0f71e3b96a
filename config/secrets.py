"""Plugin secrets: the private secrets file, which options are secret, and redaction.

A plugin marks a top-level property of its config schema secret with ``"writeOnly":
true`` (JSON Schema's annotation for a value that is written but never read back). The
user puts those values in a secrets file next to the config file (``secrets.toml``,
mode 0600), in the same ``[plugins.<instance_id>]`` tables as the config file uses::

    [plugins.weather]
    api_key = "..."

Host settings that are secrets (:data:`HOST_SECRETS`: the MQTT broker's password) live in
the same file, in a table named for their section::

    [mqtt]
    password = "..."

The loader merges that file between the config file and the environment, remembering
which keys came from it; :func:`config.plugin_schema.validate_plugin_config` then splits
each instance's values into options and secrets once the plugin's schema is known. The
host hands the secrets to that instance's worker alone, never logs them and never shows
them: everything here that describes a problem names keys, files and modes, never a
value.

Why the file is refused when anyone but its owner may read or write it (``st_mode &
0o077``): a secret readable by other users is not a secret, and a file others may write
lets them choose the key a plugin sends to its service. The file is judged by what is
opened: a symlink is followed and its *target*'s mode counts (a link's own mode means
nothing on Linux), so a link to a private file (a systemd credential, a mounted secret)
works and a link to a world-readable one is refused like the file itself would be.

Pure, except :func:`load_secrets_file` reading the one file (STYLE.md rule 17).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from config.errors import ConfigError, ConfigIssue
from config.schema import format_key, is_valid_id, parse_toml, plain_data, suggest
from config.settings import INSTANCE_SETTINGS

__all__ = [
    "HOST_SECRETS",
    "MIN_SCRUB_LENGTH",
    "REDACTED",
    "SECRETS_FILE_NAME",
    "SECRET_MARK",
    "default_secrets_path",
    "describe_failure",
    "load_secrets_file",
    "read_secrets",
    "read_secrets_file",
    "redact",
    "scrub_text",
    "secret_keys",
    "secret_strings",
]

#: Host settings kept in the secrets file, by section: ``[mqtt] password``. Never in the
#: config file (the loader refuses them there), never shown.
HOST_SECRETS: Final[dict[str, tuple[str, ...]]] = {"mqtt": ("password",)}
#: The JSON Schema keyword that marks a property secret (``"writeOnly": true``).
SECRET_MARK: Final = "writeOnly"
#: What is shown instead of a secret value.
REDACTED: Final = "<redacted>"
#: The secrets file's name, next to the config file.
SECRETS_FILE_NAME: Final = "secrets.toml"
#: Secret values shorter than this are not searched for in free text (log lines, error
#: messages): replacing every "1" or "ab" in a log would garble it and hide nothing that a
#: secret of that length protects.
MIN_SCRUB_LENGTH: Final = 4

_RESERVED: Final = tuple(s.name for s in INSTANCE_SETTINGS)
_FIX_MODE: Final = "chmod 600 {path}"
#: tomllib messages that quote a character of the text (which may be part of a secret).
_QUOTES_TEXT: Final = re.compile(r"^(Found invalid character|Illegal character) .*$")
_AT: Final = re.compile(r"^(?P<what>.*?)\s*\(at (?P<where>line \d+, column \d+|end of document)\)$")


def _resolve(root: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    """Follow local ``#/...`` references from ``node`` (a few hops at most)."""
    for _ in range(16):
        if not isinstance(node, Mapping):
            return {}
        ref = node.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#")):
            return node
        target: Any = root
        for token in ref[1:].split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, Mapping) else None
        if not isinstance(target, Mapping):
            return node
        if node.get(SECRET_MARK) is True:
            return node
        node = target
    return node if isinstance(node, Mapping) else {}


def secret_keys(schema: Mapping[str, Any] | None) -> frozenset[str]:
    """Return the top-level properties of ``schema`` marked ``"writeOnly": true``.

    Only top-level properties can be secret: a secret is a whole value of the
    instance's table, which is what the secrets file holds. A property whose schema is a
    local ``$ref`` counts when the referenced schema carries the mark.
    """
    if not isinstance(schema, Mapping):
        return frozenset()
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return frozenset()
    return frozenset(
        name
        for name, sub in properties.items()
        if isinstance(name, str) and _resolve(schema, sub).get(SECRET_MARK) is True
    )


def redact(options: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a plain copy of ``options`` with the value of every secret key replaced.

    :param options: an instance's values (options, secrets, or both merged).
    :param schema: the plugin's config schema; ``None`` means nothing is secret.
    :returns: the copy, with :data:`REDACTED` for each secret key present.
    """
    secret = secret_keys(schema)
    return {key: REDACTED if key in secret else plain_data(value) for key, value in options.items()}


def secret_strings(secrets: Mapping[str, Any]) -> tuple[str, ...]:
    """The texts to search for when scrubbing: every string and number inside ``secrets``.

    Longest first, so a secret that contains another is replaced whole. Values shorter
    than :data:`MIN_SCRUB_LENGTH` are left out.
    """
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            if len(text) >= MIN_SCRUB_LENGTH:
                found.add(text)
                # The same value as repr() shows it inside an error message or a dict.
                shown = repr(text)[1:-1]
                if shown != text:
                    found.add(shown)

    walk(secrets)
    return tuple(sorted(found, key=lambda text: (-len(text), text)))


def scrub_text(text: str, strings: Iterable[str]) -> str:
    """Replace every occurrence of each of ``strings`` in ``text`` by :data:`REDACTED`.

    :param strings: from :func:`secret_strings`.
    """
    for secret in strings:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _count(number: object, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def describe_failure(validator: str, validator_value: object) -> str:
    """Say what a value fails, from the schema's side only: never from the value.

    jsonschema's own messages quote the value (``'hunter2' is too short``), so for a
    secret the message is rebuilt from the keyword that failed and its argument in the
    schema, which is the plugin's and public. Every keyword gets a phrase: the ones
    below in words, any other as "fails the schema's 'x' rule".

    :param validator: the failed keyword (``error.validator``), e.g. ``"minLength"``.
    :param validator_value: its value in the schema (``error.validator_value``).
    :returns: a phrase to follow "the secret value", e.g. ``"is too short (at least 8
        characters)"``.
    """
    v = validator_value
    if validator == "type":
        kinds = v if isinstance(v, list) else [v]
        return "is not of type " + " or ".join(repr(kind) for kind in kinds)
    phrases: dict[str, str] = {
        "minLength": f"is too short (at least {_count(v, 'character')})",
        "maxLength": f"is too long (at most {_count(v, 'character')})",
        "pattern": f"does not match the pattern {_short(v)}",
        "format": f"is not a valid {v}",
        "enum": f"is not one of {_short(v)}",
        "const": f"is not {_short(v)}",
        "minimum": f"is less than the minimum of {v}",
        "maximum": f"is more than the maximum of {v}",
        "exclusiveMinimum": f"is not more than {v}",
        "exclusiveMaximum": f"is not less than {v}",
        "multipleOf": f"is not a multiple of {v}",
        "minItems": f"has too few items (at least {v})",
        "maxItems": f"has too many items (at most {v})",
        "uniqueItems": "has repeated items",
        "minProperties": f"has too few keys (at least {v})",
        "maxProperties": f"has too many keys (at most {v})",
        "required": f"lacks a required key (it needs {_short(v)})",
        "additionalProperties": "has keys the schema does not allow",
        "anyOf": "matches none of the allowed forms",
        "oneOf": "does not match exactly one of the allowed forms",
        "not": "matches a form the schema forbids",
    }
    return phrases.get(validator, f"fails the schema's {validator!r} rule")


def default_secrets_path(config_path: Path | None, env: Mapping[str, str]) -> Path:
    """Where the secrets file is looked for when ``load_config`` is not told.

    Next to the config file (``<its folder>/secrets.toml``); for the embedded default
    config, which lives inside the installed package, ``$XDG_CONFIG_HOME/ledhost/
    secrets.toml`` (``~/.config/ledhost/secrets.toml``).

    :param config_path: the config file, or ``None`` for the embedded default.
    :param env: supplies ``XDG_CONFIG_HOME`` and ``HOME``.
    """
    if config_path is not None:
        return config_path.with_name(SECRETS_FILE_NAME)
    xdg = env.get("XDG_CONFIG_HOME", "")
    # XDG Base Directory spec: a relative $XDG_CONFIG_HOME is invalid and ignored.
    if xdg and Path(xdg).is_absolute():
        base = Path(xdg)
    else:
        base = Path(env.get("HOME") or Path.home()) / ".config"
    return base / "ledhost" / SECRETS_FILE_NAME


def _toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    """tomllib's message, minus any text it quotes from the file (it may be a secret)."""
    match = _AT.match(str(exc))
    if match is None:
        return "invalid TOML (the text is not shown: it may hold a secret)"
    what = _QUOTES_TEXT.sub(r"\1", match["what"])
    return f"invalid TOML at {match['where']}: {what} (the text is not shown: it may hold a secret)"


def _read_private(path: Path, where: str) -> bytes | None:
    """The bytes of the file at ``path``, or ``None`` if there is none.

    :raises ConfigError: the file is not private to its owner, not a regular file, or
        unreadable.
    """
    try:
        # O_NONBLOCK: opening a FIFO someone put there must not hang the host; it is
        # refused below as not a regular file. The checks use the opened file (fstat), so
        # what is checked is what is read.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        message = f"cannot read the secrets file: {exc.strerror or exc}"
        raise ConfigError([ConfigIssue(where, "", message)]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            message = "the secrets file is not a regular file"
            raise ConfigError([ConfigIssue(where, "", message)])
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            link = f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else ""
            message = (
                f"the secrets file{link} has mode {mode:04o}: other users may read or change "
                f"it, so it is not used; make it private to its owner with: "
                f"{_FIX_MODE.format(path=path)}"
            )
            raise ConfigError([ConfigIssue(where, "", message)])
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        message = f"cannot read the secrets file: {exc.strerror or exc}"
        raise ConfigError([ConfigIssue(where, "", message)]) from None
    finally:
        os.close(fd)


def _host_tables(
    data: Mapping[str, Any], where: str, issues: list[ConfigIssue]
) -> dict[str, dict[str, Any]]:
    """The host secrets tables (:data:`HOST_SECRETS`) of the parsed file."""
    tables: dict[str, dict[str, Any]] = {}
    for section, keys in HOST_SECRETS.items():
        table = data.get(section)
        if table is None:
            continue
        if not isinstance(table, Mapping):
            message = "expected a table, found a value (not shown)"
            issues.append(ConfigIssue(where, section, message))
            continue
        for key in table:
            if key not in keys:
                issues.append(
                    ConfigIssue(
                        where,
                        format_key((section, key)),
                        f"{key!r}{suggest(str(key), list(keys))} is not a secret of [{section}]: "
                        f"the secrets file's [{section}] holds only {', '.join(keys)}",
                    )
                )
        tables[section] = {k: plain_data(v) for k, v in table.items() if k in keys}
    return tables


def _check_shape(
    data: Mapping[str, Any], where: str
) -> tuple[dict[str, dict[str, Any]], list[ConfigIssue]]:
    """Split the parsed file into instance tables and issues (which never quote values)."""
    issues: list[ConfigIssue] = []
    for key in data:
        if key in HOST_SECRETS:
            continue
        if key != "plugins":
            issues.append(
                ConfigIssue(
                    where,
                    format_key((key,)),
                    f"unknown {'table' if isinstance(data[key], Mapping) else 'key'} "
                    f"{key!r}{suggest(key, ['plugins', *HOST_SECRETS])}: the secrets file "
                    "holds only [plugins.<instance_id>] tables and "
                    + ", ".join(f"[{section}]" for section in HOST_SECRETS),
                )
            )
    plugins = data.get("plugins", {})
    if not isinstance(plugins, Mapping):
        issues.append(
            ConfigIssue(where, "plugins", "expected [plugins.<instance_id>] tables, found a value")
        )
        return {}, issues
    tables: dict[str, dict[str, Any]] = {}
    for instance_id, table in plugins.items():
        path = ("plugins", instance_id)
        if not is_valid_id(instance_id):
            issues.append(
                ConfigIssue(where, format_key(path), f"instance id {instance_id!r} is not allowed")
            )
            continue
        if not isinstance(table, Mapping):
            issues.append(
                ConfigIssue(
                    where,
                    format_key(path),
                    f"expected a table of secrets, [plugins.{instance_id}] with lines such "
                    'as api_key = "...", found a value (not shown)',
                )
            )
            continue
        bad = [key for key in table if key in _RESERVED]
        for key in bad:
            issues.append(
                ConfigIssue(
                    where,
                    format_key((*path, key)),
                    f"{key!r} is not a secret: set it in the config file's [plugins.{instance_id}]",
                )
            )
        tables[instance_id] = {k: plain_data(v) for k, v in table.items() if k not in bad}
    return tables, issues


def read_secrets(
    path: Path | str, *, source: str | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[ConfigIssue]]:
    """The secrets file's instance tables, host tables (:data:`HOST_SECRETS`) and issues.

    For the loader, which reports these issues with all others and still checks the
    tables that are fine.

    :raises ConfigError: the file cannot be used at all (its mode, unreadable, not TOML).
    """
    path = Path(path)
    where = str(path) if source is None else source
    raw = _read_private(path, where)
    if raw is None:
        return {}, {}, []
    data = parse_toml(raw, where, _toml_problem)
    tables, issues = _check_shape(data, where)
    return tables, _host_tables(data, where, issues), issues


def read_secrets_file(
    path: Path | str, *, source: str | None = None
) -> tuple[dict[str, dict[str, Any]], list[ConfigIssue]]:
    """:func:`load_secrets_file`, but returning the well-formed tables with the issues."""
    tables, _, issues = read_secrets(path, source=source)
    return tables, issues


def load_secrets_file(path: Path | str, *, source: str | None = None) -> dict[str, dict[str, Any]]:
    """Read the secrets file: ``{instance_id: {key: value}}``.

    A missing file means no secrets. No message about this file ever quotes a value from
    it: a TOML syntax error names the line and column only.

    :param path: the file; a symlink is followed and the file it leads to is judged.
    :param source: how issues name the file; defaults to ``str(path)``.
    :returns: each instance's secrets as written (not yet checked against any schema).
    :raises ConfigError: the file may be read or written by its group or by others
        (the message says ``chmod 600 <path>``), is not a regular file, cannot be read, is
        not UTF-8 or TOML, or holds anything but ``[plugins.<instance_id>]`` tables of
        secrets; every problem found is listed.
    """
    tables, issues = read_secrets_file(path, source=source)
    if issues:
        raise ConfigError(issues)
    return tables


@dataclass(frozen=True)
class SecretsLayer:
    """What the loader notes about secrets before the plugins' schemas are known.

    Internal to :mod:`config.loader`; here because it is about the secrets file.
    """

    #: The secrets file, as issues name it.
    source: str
    #: Per instance, the keys the secrets file set.
    keys: Mapping[str, frozenset[str]]
    #: Per instance, the keys the config file itself wrote.
    file_keys: Mapping[str, frozenset[str]]


def instance_ids(layer: object) -> set[str]:
    """The instance ids a layer defines (``[plugins.<id>]`` tables or values)."""
    plugins = layer.get("plugins") if isinstance(layer, Mapping) else None
    return {str(key) for key in plugins} if isinstance(plugins, Mapping) else set()


def secrets_layer(
    tables: Mapping[str, Mapping[str, Any]],
    file_data: Mapping[str, Any],
    defined: set[str],
    source: str,
    config_source: str,
) -> tuple[dict[str, Any], SecretsLayer, list[ConfigIssue]]:
    """Turn the secrets file's tables into a layer to merge after the config file.

    A table for an instance no other layer defines is an issue, not a new instance: a
    secret alone must not start a plugin (nor linger unnoticed after its instance was
    removed from the config).

    :param defined: the instance ids the config file, the environment and the overrides
        define.
    :param config_source: how issues name the config file.
    """
    file_plugins = file_data.get("plugins")
    file_plugins = file_plugins if isinstance(file_plugins, Mapping) else {}
    issues: list[ConfigIssue] = []
    layer: dict[str, Any] = {}
    for instance_id, table in tables.items():
        if instance_id not in defined:
            hint = suggest(instance_id, sorted(defined))
            issues.append(
                ConfigIssue(
                    source,
                    format_key(("plugins", instance_id)),
                    f"secrets for instance {instance_id!r}, which the config does not "
                    f"define{hint}: add [plugins.{instance_id}] to {config_source}, or remove "
                    "this table",
                )
            )
            continue
        layer[instance_id] = table
    file_keys = {
        str(iid): frozenset(str(k) for k in table if k not in _RESERVED)
        for iid, table in file_plugins.items()
        if isinstance(table, Mapping)
    }
    keys = {iid: frozenset(table) for iid, table in layer.items()}
    return {"plugins": layer} if layer else {}, SecretsLayer(source, keys, file_keys), issues
