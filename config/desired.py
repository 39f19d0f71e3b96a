"""The store's desired state: the ``[store.plugins]`` table, one entry per plugin id.

What a user writes to say "this sign should have these plugins, at these versions, from
here"; the reconciler (:mod:`store.reconciler`) compares it with what is installed::

    [store.plugins]
    clockplus = "1.2.*"                     # from the registry, any 1.2 release
    stocks = "*"                            # from the registry, any version
    weather2 = { source = "https://example.org/weather2-1.0-py3-none-any.whl#sha256=..." }
    rss = { source = "pypi:ledhost-rss", version = ">=2,<3" }

Why a table of its own, keyed by plugin id, rather than ``source``/``version`` keys in
each ``[plugins.<instance>]`` table:

- an install is per plugin, an instance is per use: two instances of one plugin
  (``[plugins.news]`` and ``[plugins.sports]``, both ``plugin = "text"``) could otherwise
  ask for two versions, and there is one environment per plugin;
- every key of an instance table that is not reserved is the plugin's own option, checked
  against its JSON Schema; reserving ``source`` and ``version`` there would take them from
  every plugin (a feed plugin may well have a ``source`` option);
- builtins and plugins pip-installed into ledhost's own environment need no entry at all.

The version is a PEP 440 specifier (``">=2,<3"``), a bare version meaning exactly that one
(``"1.2.0"`` is ``"==1.2.0"``, ``"1.2.*"`` is ``"==1.2.*"``), or ``"*"`` / ``""`` for any.
The source is ``"registry"`` (the default: the registries of ``[store]``, by plugin id), a
wheel URL (``https://``, optionally ``#sha256=<hex>``), a wheel file (``file:`` or an
absolute path) or ``pypi:NAME``; :func:`store.sources.parse_source` reads it.

Pure: no I/O, no clock, no environment (STYLE.md rule 17). ``config`` imports nothing of
ours, so the source's finer checks happen in the store, which names the plugin too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from config.schema import KeyPath, describe_value, is_valid_id, suggest

__all__ = [
    "DESIRED_PATH",
    "REFERENCE",
    "REGISTRY",
    "DesiredPlugin",
    "normalize_version",
    "parse_desired",
]

#: Where the table lives: ``[store.plugins]``.
DESIRED_PATH: Final[tuple[str, str]] = ("store", "plugins")
#: The default source: the configured registries, looked up by plugin id.
REGISTRY: Final = "registry"
_KEYS: Final = ("source", "version")
#: The section of ``docs/settings.md`` (:func:`config.settings_reference_markdown`).
REFERENCE: Final[tuple[str, ...]] = (
    "## `[store.plugins]`",
    "",
    "The plugins the store should install ([desired state](store.md#desired-state)): one "
    'key per plugin id, whose value is a version (`"1.2.*"`, `">=2,<3"`, `"1.2.0"` '
    'for exactly that one, `"*"` for any) or a table `{ source = ..., version = ... }`. '
    '`source` is `"registry"` (the default: the registries of `[store]`, by plugin id), '
    "a wheel URL (`https://...whl`, optionally `#sha256=<hex>`), a wheel file, or "
    "`pypi:NAME`. `ledhost run` (at start, before any worker) and `ledhost reconcile` "
    "install what is missing and update what does not fit. Removing an entry never "
    "uninstalls (`ledhost uninstall ID` does), and a plugin removed with `ledhost "
    "uninstall` is not installed again from a stale entry (`ledhost install ID` brings it "
    "back). Builtins and plugins pip-installed beside ledhost need no entry. Applied on "
    "the next `ledhost run` or `ledhost reconcile`, not live.",
    "",
    "```toml",
    "[store.plugins]",
    'clockplus = "1.2.*"',
    'rss = { source = "pypi:ledhost-rss", version = ">=2" }',
    "```",
)
_MAX_SOURCE: Final = 2048
_EXAMPLE: Final = '"1.2.*" or { source = "pypi:ledhost-rss", version = ">=2" }'


@final
@dataclass(frozen=True, slots=True)
class DesiredPlugin:
    """One entry of ``[store.plugins]``: a plugin that should be installed."""

    #: The plugin id (its ``ledhost.plugins`` entry point name).
    plugin_id: str
    #: ``"registry"`` or a wheel URL, a file or ``pypi:NAME`` as written.
    source: str = REGISTRY
    #: A PEP 440 specifier (``"==1.2.*"``, ``">=2,<3"``); ``""`` means any version.
    version: str = ""

    def allows(self, version: str) -> bool:
        """Whether an installed ``version`` satisfies this entry (pre-releases included)."""
        if not self.version:
            return True
        try:
            return SpecifierSet(self.version).contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False

    def to_toml_value(self) -> str | dict[str, str]:
        """Return the entry as written in the config file (the short form when it can)."""
        if self.source == REGISTRY:
            return self.version or "*"
        table = {"source": self.source}
        if self.version:
            table["version"] = self.version
        return table


def normalize_version(text: str) -> str:
    """Turn what a user writes into a specifier: ``"1.2"`` -> ``"==1.2"``, ``"*"`` -> ``""``.

    :raises ValueError: neither a version, a wildcard version nor a specifier; the message
        says what is allowed.
    """
    text = text.strip()
    if text in ("", "*"):
        return ""
    if text[0].isdigit():
        text = f"=={text}"
    try:
        return str(SpecifierSet(text))
    except InvalidSpecifier:
        raise ValueError(
            f"{text!r} is not a version or version specifier; write e.g. "
            '"1.2.0", "1.2.*", ">=2,<3" or "*" for any'
        ) from None


def parse_desired(
    raw: object, add: Callable[[KeyPath, str], None], where: KeyPath = DESIRED_PATH
) -> dict[str, DesiredPlugin]:
    """Read the ``[store.plugins]`` table; report each bad entry through ``add``.

    :param raw: the table as parsed (``None`` when absent).
    :param add: called with ``(key path, message)`` per problem; the entry is left out.
    :returns: the valid entries by plugin id, in file order.
    """
    found: dict[str, DesiredPlugin] = {}
    if raw is None:
        return found
    if not isinstance(raw, Mapping):
        add(where, f"expected a table of plugin ids, found {describe_value(raw)}")
        return found
    for plugin_id, value in raw.items():
        path: KeyPath = (*where, plugin_id)
        if not is_valid_id(plugin_id):
            add(
                path,
                f"plugin id {plugin_id!r} is not allowed: a lowercase letter first, then "
                "up to 63 lowercase letters, digits, '_' or '-'",
            )
            continue
        entry = _entry(plugin_id, value, path, add)
        if entry is not None:
            found[plugin_id] = entry
    return found


def _entry(
    plugin_id: str, value: Any, path: KeyPath, add: Callable[[KeyPath, str], None]
) -> DesiredPlugin | None:
    if isinstance(value, str):
        value = {"version": value}
    if not isinstance(value, Mapping):
        add(path, f"expected a version or a table, found {describe_value(value)}; e.g. {_EXAMPLE}")
        return None
    ok = True
    for key in value:
        if key not in _KEYS:
            add((*path, key), f"unknown key {key!r}{suggest(str(key), _KEYS)}: use source, version")
            ok = False
    source = value.get("source", REGISTRY)
    if not isinstance(source, str) or not source.strip():
        add((*path, "source"), f"expected a non-empty string, found {describe_value(source)}")
        ok = False
    elif len(source) > _MAX_SOURCE or not source.isprintable():
        add(
            (*path, "source"),
            f"expected a URL, file or pypi:NAME of printable characters (at most {_MAX_SOURCE})",
        )
        ok = False
    version = value.get("version", "")
    if not isinstance(version, str):
        add(
            (*path, "version"),
            f'expected a string such as "1.2.*", found {describe_value(version)}',
        )
        return None
    try:
        version = normalize_version(version)
    except ValueError as exc:
        add((*path, "version"), str(exc))
        return None
    return DesiredPlugin(plugin_id, source.strip(), version) if ok else None
