"""Returns a config schema that is not valid JSON Schema: the author's bug, a boot error."""

from __future__ import annotations

from typing import Any

from sdk import hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("main")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"speed": {"type": "fast"}}}
