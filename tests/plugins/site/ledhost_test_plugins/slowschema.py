"""Hostile: a config schema whose validation takes forever (issue 13, attack 3).

``name`` has a catastrophic ``pattern`` (``^(a+)+$``) and a default that backtracks on
it (2**26 steps: seconds, doubling per character; bounded so that ``ledhost plugins``,
which boots every test plugin, still finishes); ``tree`` is a recursive ``$ref`` inside
an ``anyOf`` whose first branch walks the whole value before failing, so a value nested
``n`` deep costs 2**n checks.
Checking the default hangs the worker's boot; a deep ``tree`` in the options hangs its
start or a ``configure``. The host never runs this schema: only this plugin's worker does,
and it is ended like any hung worker while the panel goes on.

:mod:`slowref` is the same schema without the bad default.
"""

from __future__ import annotations

from typing import Any

from sdk import Canvas, hookimpl

#: Backtracks 2**26 times against ``^(a+)+$`` before failing on the ``!`` (~2 s here).
EVIL_NAME = "a" * 26 + "!"


def deep_tree(depth: int) -> dict[str, Any]:
    """A value for ``tree`` whose check costs ``2**depth`` steps."""
    tree: dict[str, Any] = {}
    for _ in range(depth):
        tree = {"c": tree}
    return tree


NODE: dict[str, Any] = {
    "anyOf": [
        # "properties" first: the recursion runs before "required" fails the branch.
        {"type": "object", "properties": {"c": {"$ref": "#/$defs/node"}}, "required": ["x"]},
        {"type": "object", "properties": {"c": {"$ref": "#/$defs/node"}}},
    ]
}


def schema(with_default: bool) -> dict[str, Any]:
    name: dict[str, Any] = {"type": "string", "pattern": "^(a+)+$"}
    if with_default:
        name["default"] = EVIL_NAME
    return {
        "type": "object",
        "$defs": {"node": NODE},
        "properties": {"name": name, "tree": {"$ref": "#/$defs/node"}},
    }


@hookimpl
def config_schema() -> dict[str, Any]:
    return schema(with_default=True)


@hookimpl
def register_modes(register: Any) -> None:
    register("main")


@hookimpl
def render_frame(canvas: Canvas) -> float:
    canvas.image.paste((255, 0, 255), (0, 0, canvas.width, canvas.height))
    return 1.0
