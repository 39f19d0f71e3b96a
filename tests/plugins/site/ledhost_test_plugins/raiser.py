"""Implements every hook and raises ``RuntimeError("raiser: <hook>")`` in each one.

The bad behaviour: not even ``register_modes`` works (it registers its one mode, ``main``,
and then raises), so the plugin cannot boot. The host must report a boot failure naming
the plugin and the hook, never show a half-registered ``main`` mode, and go on without the
plugin. Every other hook raises too, so no code path of the worker gets a clean answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from sdk import Canvas, PluginContext, Strip, hookimpl


def _fail(hook: str) -> NoReturn:
    raise RuntimeError(f"raiser: {hook}")


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("main", title="Zoo: raiser")
    _fail("register_modes")


@hookimpl
def config_schema() -> dict[str, Any] | None:
    _fail("config_schema")


@hookimpl
def setup(context: PluginContext) -> None:
    _fail("setup")


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
def register_actions(register: Callable[..., None]) -> None:
    _fail("register_actions")


@hookimpl
def handle_action(
    context: PluginContext, name: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    _fail("handle_action")


@hookimpl
def teardown(context: PluginContext) -> None:
    _fail("teardown")
