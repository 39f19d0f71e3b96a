"""Raises in setup."""

from __future__ import annotations

from typing import Any

from sdk import PluginContext, hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("never")


@hookimpl
def setup(context: PluginContext) -> None:
    raise RuntimeError("cannot reach the sensor")
