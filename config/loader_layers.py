"""The config's layers: environment variables as a nested layer, and the deep merge.

:func:`~config.loader.load_config` stacks the config file, the secrets file, ``LEDHOST_*`` variables
and overrides, later winning. This module turns the environment into such a layer
(:func:`env_layer`, one TOML value per variable, :func:`parse_env_value`) and merges a
layer into the data while recording which source wrote each key
(:func:`merge_layer`), so that validation can name the file, the secrets file or the
variable a bad value came from. Pure: no I/O.

Split from :mod:`config.loader` to keep that module within the size of STYLE.md rule 21;
the loader keeps reading the files, validation and ``load_config``, and re-exports the
names its callers import from it (:data:`ENV_SOURCE`, :func:`env_layer`, ...).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any, Final

from config.errors import ConfigIssue
from config.schema import ENV_PREFIX, KeyPath, Setting, plain_data
from config.settings import SETTINGS

__all__ = [
    "ENV_SOURCE",
    "OVERRIDES_SOURCE",
    "env_layer",
    "is_config_variable",
    "merge_layer",
    "parse_env_value",
]

#: ``ConfigIssue.source`` of values from environment variables and from overrides.
ENV_SOURCE: Final = "environment"
OVERRIDES_SOURCE: Final = "overrides"

#: Each host setting by ``(section, name)``: a string setting keeps an env value as text.
#: (The loader builds the same index for its own checks; it is one line of SETTINGS.)
_SETTINGS_BY_KEY: Final[dict[tuple[str, str], Setting]] = {(s.section, s.name): s for s in SETTINGS}


def parse_env_value(raw: str) -> Any:
    """Parse an environment value as a TOML value (``40``, ``true``, ``["a"]``), else keep it.

    ``"hello"`` is not valid TOML, so it stays the string ``hello``; quote a string that
    would parse as something else (``'"2024"'``).
    """
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    # A value with a newline could smuggle in more keys ("1\nx = 2"): not one value.
    return parsed["v"] if list(parsed) == ["v"] else raw


def is_config_variable(name: str) -> bool:
    """Whether the environment variable ``name`` sets a config value, which is
    ``LEDHOST_<SECTION>__<NAME>...``; a switch without ``__`` (``LEDHOST_PLUGINS``) does not.

    The one test of :func:`env_layer` and of the worker dropping these variables
    (:func:`host.worker.secrets.forget_config_environment`), so the two always agree.
    """
    return name.startswith(ENV_PREFIX) and "__" in name[len(ENV_PREFIX) :]


def _env_segment(segment: str) -> str:
    # Env names are conventionally upper case while keys are lower case; a segment with
    # lower-case letters is kept as written so camelCase plugin options stay reachable.
    return segment.lower() if segment == segment.upper() else segment


def env_layer(
    env: Mapping[str, str],
) -> tuple[dict[str, Any], dict[KeyPath, str], list[ConfigIssue]]:
    """Turn ``LEDHOST_<SECTION>__<NAME>[__<SUB>...]`` variables into a nested layer.

    Variables without ``__`` (``LEDHOST_PLUGINS``, the CLI's plugin switch) are not config
    and are ignored.

    :returns: the layer, the variable that set each key path, and malformed names.
    """
    layer: dict[str, Any] = {}
    names: dict[KeyPath, str] = {}
    issues: list[ConfigIssue] = []
    for name in sorted(env):
        if not is_config_variable(name):
            continue
        segments = name[len(ENV_PREFIX) :].split("__")
        if any(not segment for segment in segments):
            issues.append(ConfigIssue(ENV_SOURCE, name, "empty key segment in the name"))
            continue
        path = tuple(_env_segment(segment) for segment in segments)
        value = parse_env_value(env[name])
        setting = _SETTINGS_BY_KEY.get((path[0], path[1])) if len(path) == 2 else None
        if setting is not None and setting.type is str and not isinstance(value, str):
            value = env[name]  # LEDHOST_DISPLAY__PIXEL_MAPPER=1 means the string "1".
        node = layer
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                other = names.get(path[: depth + 1], "another variable")
                issues.append(ConfigIssue(ENV_SOURCE, name, f"conflicts with {other}"))
                break
            node = child
        else:
            if isinstance(node.get(path[-1]), dict):
                message = "conflicts with variables that set keys inside it"
                issues.append(ConfigIssue(ENV_SOURCE, name, message))
                continue
            node[path[-1]] = value
            names[path] = name
    return layer, names, issues


def merge_layer(
    into: dict[str, Any],
    layer: Mapping[str, Any],
    source: str,
    origin: dict[KeyPath, str],
    prefix: KeyPath = (),
) -> None:
    """Deep-merge ``layer`` into ``into`` (tables merge, anything else replaces).

    ``origin`` records the source of every table and value written, so an issue found
    later names the layer its value came from.
    """
    for key, value in layer.items():
        path = (*prefix, key)
        if not (isinstance(value, Mapping) and isinstance(into.get(key), dict)):
            for stale in [p for p in origin if p[: len(path)] == path]:
                del origin[stale]
            origin[path] = source
            if not isinstance(value, Mapping):
                into[key] = plain_data(value)
                continue
            into[key] = {}
        merge_layer(into[key], value, source, origin, path)
