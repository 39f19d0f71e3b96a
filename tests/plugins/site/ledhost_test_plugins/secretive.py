"""Has one secret option, ``api_key``, and is careless with it, for ``tests/test_secrets.py``.

The schema marks ``api_key`` secret (``"writeOnly": true``, at least 8 characters) next to
an ordinary option, ``label``. The mode ``show`` fills the panel green when
``context.secrets`` holds ``api_key`` and red when it does not, so a frame tells whether
the secret reached this worker. The action ``peek`` returns the *keys* of
``context.secrets`` and ``context.config`` (never a value).

The careless part, which the host must contain: ``setup`` logs the key, ``fail`` makes
``setup`` or ``configure`` raise an error quoting it, and the action ``leak`` returns it.
None of it may reach a log, an error, a status or an action result as the value itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdk import Canvas, PluginContext, hookimpl

GREEN = (0, 255, 0)
RED = (255, 0, 0)

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "minLength": 8,
            "writeOnly": True,
            "title": "API key",
        },
        "label": {"type": "string", "default": "hello"},
        "fail": {"enum": ["", "setup", "configure"], "default": ""},
    },
    "additionalProperties": False,
}


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("show", title="Secretive: green with its key, red without")


@hookimpl
def config_schema() -> dict[str, Any]:
    return CONFIG_SCHEMA


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register("peek", title="Which secrets and options it has (keys only)")
    register("leak", title="Returns its key (the host must redact it)")


@hookimpl
def setup(context: PluginContext) -> None:
    key = context.secrets.get("api_key")
    context.log.info("secretive starts with key %s and label %s", key, context.config["label"])
    if context.config["fail"] == "setup":
        raise RuntimeError(f"the service refused key {key}")


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    key = context.secrets.get("api_key")
    context.log.info("secretive reconfigured with key %s", key)
    if config["fail"] == "configure":
        raise RuntimeError(f"the service refused key {key}")


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    canvas.clear(GREEN if "api_key" in context.secrets else RED)
    return 0.5


@hookimpl
def handle_action(
    context: PluginContext, name: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    if name == "peek":
        return {"secrets": sorted(context.secrets), "config": sorted(context.config)}
    if name == "leak":
        return {"key": context.secrets.get("api_key"), "label": context.config["label"]}
    return None
