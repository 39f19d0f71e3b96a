"""Boots fine, then raises ``RuntimeError`` (naming the hook) from every other hook.

The bad behaviour: ``register_modes``, ``config_schema``, ``register_actions`` and
``setup`` work, so the worker comes up; ``render_frame``, ``render_strip``,
``has_content``, ``refresh_data``, ``handle_action`` (for its one action, ``poke``),
``configure`` and ``teardown`` all raise. The host must report each error against the
plugin (an action error goes back to whoever asked), skip or retry the plugin under its
policy, and still stop it cleanly: a raising ``teardown`` must not hang shutdown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from sdk import Canvas, PluginContext, Strip, hookimpl


def _fail(hook: str) -> NoReturn:
    raise RuntimeError(f"grumpy: {hook}")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: grumpy")


@hookimpl
def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            # Unused: it is there so a test can change the config and trigger configure.
            "note": {"type": "string", "default": ""},
        },
        "additionalProperties": False,
    }


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    register("poke", title="Poke")


@hookimpl
def setup(context: PluginContext) -> None:
    context.log.info("grumpy is up, and already regrets it")


@hookimpl
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    _fail("configure")


@hookimpl
def refresh_data(context: PluginContext) -> float | None:
    _fail("refresh_data")


@hookimpl
def has_content(context: PluginContext, mode: str) -> bool | None:
    _fail("has_content")


@hookimpl
def render_strip(context: PluginContext, mode: str, height: int) -> Strip | None:
    _fail("render_strip")


@hookimpl
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    _fail("render_frame")


@hookimpl
def handle_action(
    context: PluginContext, name: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    _fail("handle_action")


@hookimpl
def teardown(context: PluginContext) -> None:
    _fail("teardown")
