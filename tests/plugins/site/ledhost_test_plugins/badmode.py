"""Registers a mode name with a space and capitals: the worker must refuse it at boot."""

from __future__ import annotations

from collections.abc import Callable

from sdk import hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("Big Mode")
