"""Host settings as JSON Schema, so the admin UI draws them with the plugins' form builder.

:data:`config.settings.SETTINGS` declares every host setting once (type, bounds, choices,
help); this turns one section of it into the same kind of schema a plugin declares, and
the list settings that hold tables (schedule windows, rotation entries) into arrays of
objects. The host stays the judge: a form's values are written with ``PUT
/api/v1/config/<section>``, which the host validates whole before writing.

Pure: imports only :mod:`config`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from config.settings import SETTINGS
from config.windows import TINTS

_TIME: Final = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
_TYPES: Final = {bool: "boolean", int: "integer", float: "number", str: "string"}

#: A time window, as ``schedule.on`` and rotation entries' ``when`` take it.
WINDOW: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "days": {"type": "string", "title": "Days", "default": "all", "maxLength": 64,
                 "description": "mon-fri, sat,sun, weekdays, weekends, all..."},
        "from": {"type": "string", "title": "From", "default": "00:00", "pattern": _TIME,
                 "description": "24-hour HH:MM"},
        "to": {"type": "string", "title": "To", "default": "24:00", "pattern": _TIME,
               "description": "24-hour HH:MM; earlier than From runs overnight"},
    },
}  # fmt: skip

#: A dim window: a window plus its brightness and tint.
DIM_WINDOW: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        **WINDOW["properties"],
        "brightness": {"type": "integer", "title": "Brightness", "minimum": 0, "maximum": 100,
                       "default": 30},
        "tint": {"type": "string", "title": "Tint", "default": "none",
                 "examples": sorted(TINTS), "maxLength": 7,
                 "description": f"{', '.join(sorted(TINTS))} or #rrggbb"},
    },
}  # fmt: skip

#: A ``[layouts.<name>]`` table: the regions of the display, each showing one mode.
LAYOUT: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "regions": {
            "type": "array", "title": "Regions", "maxItems": 16,
            "description": "Rectangles of the display, each showing one instance's mode; "
                           "they must fit the display and not overlap.",
            "items": {
                "type": "object",
                "properties": {
                    "mode": {"type": "string", "title": "Mode", "maxLength": 129,
                             "description": "instance or instance:mode"},
                    "x": {"type": "integer", "title": "X", "minimum": 0, "default": 0},
                    "y": {"type": "integer", "title": "Y", "minimum": 0, "default": 0},
                    "width": {"type": "integer", "title": "Width", "minimum": 1, "default": 32},
                    "height": {"type": "integer", "title": "Height", "minimum": 1,
                               "default": 32},
                },
            },
        }
    },
}  # fmt: skip

#: List settings whose items are tables, and their items' schema.
_LIST_ITEMS: Final[dict[str, dict[str, Any]]] = {
    "schedule.on": WINDOW,
    "schedule.dim": DIM_WINDOW,
}


def _plain(text: str) -> str:
    """The help text without Markdown backticks (the form shows it as plain text)."""
    return re.sub(r"`([^`]*)`", r"\1", text)


def section_schema(section: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON Schema of ``[section]``'s settings (except ``skip``), in reference order.

    :raises KeyError: no setting lives in ``section``.
    """
    if section == "layout":
        return LAYOUT
    props: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.section != section or setting.name in skip:
            continue
        prop: dict[str, Any] = {
            "title": setting.name.replace("_", " ").capitalize(),
            "description": _plain(setting.help),
            "default": setting.default,
        }
        if setting.type is list:
            items = _LIST_ITEMS.get(setting.key, {"type": "string", "maxLength": 129})
            prop.update(type="array", items=items)
        else:
            prop["type"] = _TYPES[setting.type]
            if setting.min is not None:
                prop["minimum"] = setting.min
            if setting.max is not None:
                prop["maximum"] = setting.max
            if setting.choices:
                prop["enum"] = list(setting.choices)
        if setting.key.endswith("timezone"):
            prop["format"] = "time-zone"
        props[setting.name] = prop
    if not props:
        raise KeyError(section)
    return {"type": "object", "properties": props}
