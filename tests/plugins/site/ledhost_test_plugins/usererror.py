"""Raises sdk.PluginError in setup: a message for the user, shown without a type name."""

from __future__ import annotations

from typing import Any

from sdk import PluginContext, PluginError, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("main")


@hookimpl
def setup(context: PluginContext) -> None:
    raise PluginError("the API key was refused: check it in the plugin's settings")
