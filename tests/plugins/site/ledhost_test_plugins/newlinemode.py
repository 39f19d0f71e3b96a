"""Registers a mode name ending in a newline: the worker must refuse it at boot."""

from __future__ import annotations

from collections.abc import Callable

from sdk import hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("news\n")
