"""Hostile: :mod:`slowschema`'s recursive ``$ref`` combinator without the bad default.

It boots; a deep ``tree`` in its options hangs its worker's check at start or in a
reload's ``configure``, a shallow one is fine.
"""

from __future__ import annotations

from typing import Any

from ledhost_test_plugins.slowschema import register_modes, render_frame, schema
from sdk import hookimpl

__all__ = ["register_modes", "render_frame"]


@hookimpl
def config_schema() -> dict[str, Any]:
    return schema(with_default=False)
