"""Helpers for a plugin's options: schema pieces and checks the schema cannot make.

A JSON Schema can say "a string like #rrggbb" but not "a time zone this Pi knows"; both
must fail at ``setup`` with a message naming the key and the fix, the same way in every
plugin. These are the pieces every builtin needed; they are here for every plugin.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sdk.canvas import parse_color
from sdk.errors import PluginConfigError

__all__ = ["check_colors", "color_option", "time_zone", "time_zone_option"]

#: The pattern of a colour option: ``#rrggbb`` or ``#rgb``.
COLOR_PATTERN = "^#([0-9a-fA-F]{3}){1,2}$"


def color_option(default: str, title: str, description: str) -> dict[str, Any]:
    """The JSON Schema of a colour option; ``"format": "color"`` gives it a colour picker
    in the web UI's form.

    .. versionadded:: 0.1
    """
    parse_color(default)  # a plugin author's typo fails at import, not in a user's form
    return {
        "type": "string",
        "pattern": COLOR_PATTERN,
        "format": "color",
        "default": default,
        "title": title,
        "description": description,
    }


def time_zone_option(description: str = "") -> dict[str, Any]:
    """The JSON Schema of a time zone option (check the value with :func:`time_zone`).

    .. versionadded:: 0.1
    """
    return {
        "type": "string",
        "maxLength": 64,
        "default": "",
        # An annotation only (JSON Schema leaves unknown formats unchecked): the admin UI
        # offers the list of zones for it.
        "format": "time-zone",
        "title": "Time zone",
        "description": description
        or "An IANA time zone such as Europe/Berlin or America/New_York; empty for the "
        "Pi's own local time.",
    }


def time_zone(name: str, *, key: str = "timezone") -> tzinfo | None:
    """Return the time zone called ``name``, or ``None`` (the Pi's local time) for ``""``.

    :param key: the option's name, for the error message.
    :raises PluginConfigError: for a name that is not an IANA time zone.

    .. versionadded:: 0.1
    """
    if not name:
        return None
    try:
        return ZoneInfo(name)  # cached by ZoneInfo itself
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise PluginConfigError(
            f"{key}: unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin' "
            "or 'America/New_York', or leave it empty for the Pi's local time"
        ) from exc


def check_colors(config: Mapping[str, Any], *keys: str) -> None:
    """Check that each of ``keys`` present in ``config`` is a colour.

    :raises PluginConfigError: naming the first key whose value is not a colour.

    .. versionadded:: 0.1
    """
    for key in keys:
        if key in config:
            try:
                parse_color(config[key])
            except ValueError as exc:
                raise PluginConfigError(f"{key}: {exc}") from exc
