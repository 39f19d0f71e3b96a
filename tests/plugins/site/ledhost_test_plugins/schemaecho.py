"""A schema with every default the host fills ($ref, allOf, nested, array items, secrets);
action ``show`` returns ``context.config`` and the keys of ``context.secrets``.

``tests/test_rules_one_home.py`` compares what a real worker gets with what
``sdk.testing`` gives a plugin's own tests, for the same options.
"""

from __future__ import annotations

from typing import Any

from sdk import Canvas, PluginContext, hookimpl

SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "color": {"type": "string", "default": "#ffffff"},
        "place": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "home"},
                "lat": {"type": "number", "default": 51.5},
            },
        },
    },
    "properties": {
        "color": {"$ref": "#/$defs/color"},
        "place": {"$ref": "#/$defs/place"},
        "speed": {"type": "number", "default": 30},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "align": {"type": "string", "default": "left"},
                },
                "required": ["text"],
            },
            "default": [],
        },
        "token": {"type": "string", "writeOnly": True, "minLength": 4},
    },
    "allOf": [{"properties": {"font": {"type": "string", "default": "6x10"}}}],
}


@hookimpl
def config_schema() -> dict[str, Any]:
    return SCHEMA


@hookimpl
def register_modes(register: Any) -> None:
    register("main")


@hookimpl
def register_actions(register: Any) -> None:
    register("show")


@hookimpl
def handle_action(context: PluginContext, name: str) -> dict[str, Any]:
    return {"config": dict(context.config), "secrets": sorted(context.secrets)}


@hookimpl
def render_frame(canvas: Canvas) -> float:
    return 1.0
