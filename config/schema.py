"""How a host setting is declared (:class:`Setting`), and the small helpers every part of
the config package uses to name keys and describe values.

The declarations themselves are the table in :mod:`config.settings`; the reference
document is generated from it by :mod:`config.reference`.

Pure: no I/O, no clock, no environment (STYLE.md rule 17).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from config.errors import ConfigError, ConfigIssue

__all__ = [
    "ENV_PREFIX",
    "ID_PATTERN",
    "KeyPath",
    "MODE_PATTERN",
    "TRANSITION_KINDS",
    "Setting",
    "describe_value",
    "format_key",
    "format_toml_value",
    "is_valid_id",
    "is_valid_mode",
    "parse_toml",
    "plain_data",
    "suggest",
]

#: Prefix of the environment variables that override the file (``LEDHOST_DISPLAY__FPS``).
ENV_PREFIX: Final = "LEDHOST_"
#: Instance ids and plugin ids: they become folder names, so nothing else is allowed.
ID_PATTERN: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")
#: Mode names, as ``sdk.hookspecs.register_modes`` allows them. A copy of
#: ``sdk.registration.NAME_PATTERN``, the rule's home: ``config`` may import nothing of
#: ours (it loads before anything else and in tools that have no SDK in mind), so
#: ``tests/test_rules_one_home.py`` holds the two equal instead.
MODE_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

#: A key path: table keys and array indexes, e.g. ``("rotation", "modes", 2)``.
KeyPath = tuple[str | int, ...]

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
RGB_SEQUENCES: Final = ("RGB", "RBG", "GRB", "GBR", "BRG", "BGR")
#: How one mode gives way to the next (``transitions.kind``, a rotation entry's ``transition``).
TRANSITION_KINDS: Final[tuple[str, ...]] = (
    "cut",
    "crossfade",
    *(f"{kind}-{side}" for kind in ("slide", "wipe") for side in ("left", "right", "up", "down")),
)


def is_valid_id(value: object) -> bool:
    """Return whether ``value`` is an allowed instance or plugin id (``ID_PATTERN``)."""
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def is_valid_mode(value: object) -> bool:
    """Return whether ``value`` is an allowed mode name (``MODE_PATTERN``)."""
    return isinstance(value, str) and MODE_PATTERN.fullmatch(value) is not None


def suggest(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


TYPE_NAMES: Final[dict[type, str]] = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    list: "array",
    tuple: "array",
}


def describe_value(value: object) -> str:
    """Describe a found value in TOML words: ``integer 150``, ``string 'high'``, ``a table``."""
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    name = TYPE_NAMES.get(type(value))
    if name == "array":
        return "an array"
    if name is None:
        return f"a {type(value).__name__}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{name} {text}"


def format_key(path: KeyPath) -> str:
    """Render a key path as TOML would: ``plugins.text.speed``, ``plugins."../x"``, ``modes[2]``.

    Keys that are not bare TOML keys are quoted with escapes, so a hostile id shows as
    what it is (``"..\\/"``, ``"\\u00e9"``) instead of being confused with the path around it.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
        text += f".{shown}" if text else shown
    return text


def format_toml_value(value: object) -> str:
    """Render a default as it would be written in TOML (``true``, ``"auto"``, ``[]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_toml_value(item) for item in value) + "]"
    return str(value)


@final
@dataclass(frozen=True, slots=True)
class Setting:
    """The declaration of one host setting."""

    #: Table the setting lives in, e.g. ``"display"``.
    section: str
    #: Key inside the table, e.g. ``"brightness"``.
    name: str
    #: One of ``bool``, ``int``, ``float``, ``str``, ``list``. A float setting accepts
    #: TOML integers too (``fps = 30``); an int setting rejects floats and booleans.
    type: type
    #: Value used when no source sets the key; it must pass :meth:`check` itself.
    default: Any
    #: One or two sentences for the reference and the comments of ``default.toml``.
    help: str
    #: Inclusive bounds for ``int`` / ``float`` settings.
    min: int | float | None = None
    max: int | float | None = None
    #: The only allowed values of a ``str`` setting.
    choices: tuple[str, ...] | None = None
    #: Whether a running host applies a change of it at once (a live reload); otherwise
    #: the change waits for a restart, and the host says so.
    live: bool = False

    @property
    def key(self) -> str:
        """The dotted key, e.g. ``"display.brightness"``."""
        return f"{self.section}.{self.name}"

    @property
    def env_var(self) -> str:
        """The environment variable that overrides it, e.g. ``LEDHOST_DISPLAY__BRIGHTNESS``."""
        parts = [*self.section.split("."), self.name]
        return ENV_PREFIX + "__".join(part.upper() for part in parts)

    def expected(self) -> str:
        """Describe the allowed values, e.g. ``"an integer from 0 to 100"``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(choice) for choice in self.choices)
        noun = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            str: "a string",
            list: "an array",
        }[self.type]
        if self.min is not None and self.max is not None:
            return f"{noun} from {self.min} to {self.max}"
        if self.min is not None:
            return f"{noun} of at least {self.min}"
        if self.max is not None:
            return f"{noun} of at most {self.max}"
        return noun

    def check(self, value: object) -> tuple[Any, str | None]:
        """Validate one value of this setting.

        :param value: the value as parsed from TOML, the environment or overrides.
        :returns: ``(normalized value, None)`` when valid (ints become floats for float
            settings, tuples become lists), else ``(None, message)`` where the message
            says what was expected and what was found.
        """
        found = describe_value(value)
        normalized: Any
        if self.type is bool:
            ok = isinstance(value, bool)
            normalized = value
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            normalized = value
        elif self.type is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            # TOML allows nan and inf; nan would slip through both bound comparisons.
            ok = ok and math.isfinite(value)  # type: ignore[arg-type]
            normalized = float(value) if ok else None  # type: ignore[arg-type]
        elif self.type is str:
            ok = isinstance(value, str)
            normalized = value
        else:
            ok = isinstance(value, list | tuple)
            normalized = list(value) if ok else None  # type: ignore[call-overload]
        if not ok:
            return None, f"expected {self.expected()}, found {found}"
        if (self.min is not None and normalized < self.min) or (
            self.max is not None and normalized > self.max
        ):
            return None, f"expected {self.expected()}, found {found}"
        if self.choices is not None and normalized not in self.choices:
            hint = suggest(normalized, self.choices)
            return None, f"expected {self.expected()}, found {found}{hint}"
        return normalized, None


def plain_data(value: Any) -> Any:
    """Deep-copy into plain TOML/JSON-shaped data: dicts, lists, path-likes as strings.

    Also what makes a value safe to hand on: nothing shares structure with the caller's.
    """
    if isinstance(value, Mapping):
        return {key: plain_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def parse_toml(
    raw: bytes, where: str, problem: Callable[[tomllib.TOMLDecodeError], str]
) -> dict[str, Any]:
    """Decode ``raw`` as UTF-8 and parse it as TOML: the config file's and the secrets file's
    one reader.

    :param where: how the issue names the file.
    :param problem: turns tomllib's error into the issue's message (the secrets file's
        never quotes its text).
    :raises ConfigError: one issue: not UTF-8 (with the bad byte's offset), or not TOML.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"the file is not valid UTF-8 (bad byte at offset {exc.start})"
        raise ConfigError([ConfigIssue(where, "", message)]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigIssue(where, "", problem(exc))]) from None
    wide = _wide_integers(data, "")
    if wide:
        message = f"integer out of range (TOML integers are 64-bit, {INT64_MIN} to {INT64_MAX})"
        raise ConfigError([ConfigIssue(where, key, message) for key in wide[:20]])
    return data


#: TOML's integer range. Python's tomllib reads wider ones, which TOML says must be an
#: error; a wider one would also fail later, in msgpack, when the value is sent to a worker
#: or a control client, far from the line that holds it.
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def _wide_integers(value: Any, key: str) -> list[str]:
    """The dotted keys of every integer outside TOML's 64-bit range in ``value``."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [key] if not INT64_MIN <= value <= INT64_MAX else []
    found: list[str] = []
    if isinstance(value, dict):
        for name, item in value.items():
            found += _wide_integers(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _wide_integers(item, f"{key}[{index}]")
    return found
